console.log("reflash");
