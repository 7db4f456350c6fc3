// Process entry: runs the CLI and exits with its code. Exiting explicitly
// matters: a finished command must not linger on an idle keep-alive socket.
import { main } from './cli.js';
import { tuneHeap } from './heap-tuning.js';

tuneHeap(process.execArgv);

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`vigil: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
