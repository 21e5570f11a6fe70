// Run by `npm run build` after jco: jco 1.35's generated `_debugLog` reads
// `process.env.JCO_DEBUG` on each of its ~10 calls per export call, and Node answers each
// read with the C library's `getenv`: about half of a small read's time (README, "What a read
// costs"). This reads it once, when the component is instantiated, and is otherwise jco's
// code unchanged. If jco's output changes, the build stops here rather than ship it unpatched
// without saying so.

import fs from 'node:fs';

const GENERATED = new URL('../gen/partitioner.js', import.meta.url);
const PER_CALL = `  const _debugLog = (...args) => {
    if (!globalThis?.process?.env?.JCO_DEBUG) { return; }
    console.debug(...args);
  };`;
const ONCE = `  const _debugLog = globalThis?.process?.env?.JCO_DEBUG
    ? (...args) => console.debug(...args)
    : () => {};`;

const code = fs.readFileSync(GENERATED, 'utf8');
const found = code.split(PER_CALL).length - 1;
if (found !== 1) {
  console.error(
    `blockpart-node: gen/partitioner.js has ${found} copies of jco 1.35's _debugLog, not 1: `
      + 'update scripts/read-jco-debug-once.js for this jco',
  );
  process.exit(1);
}
fs.writeFileSync(GENERATED, code.replace(PER_CALL, ONCE));
