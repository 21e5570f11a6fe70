// Run by `npm run build` before jco: a fresh clone has no partitioner.wasm (it is built by
// cargo, not kept in git), and jco would say so with a stack trace. Say in one line what to run.

import fs from 'node:fs';

const COMPONENT = new URL('../partitioner.wasm', import.meta.url);

if (!fs.existsSync(COMPONENT)) {
  console.error(
    'blockpart-node: no partitioner.wasm to transpile; build it from the repository root with '
      + '`cargo run --release -- component -o node/partitioner.wasm`',
  );
  process.exit(1);
}
