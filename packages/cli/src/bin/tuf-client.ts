/** Entry point of `tuf-client` (packages/cli/bin/tuf-client imports the compiled file). */
import { run } from '../tuf-client/cli.js';

process.exitCode = await run(process.argv.slice(2));
