console.log("tuf-client");
