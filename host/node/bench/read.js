// What a read costs in Node, and what part of it is whose: `npm run bench` (after `npm run
// build`). Each line is the best of ROUNDS rounds, time per call:
//
//   slice         Uint8Array.prototype.slice of the disk: a copy, the floor for a read that
//                 hands back bytes the caller may keep
//   device.read   MemoryDevice.read called directly: this package's checks, no component
//   getOffset     an export call that touches no device: jco's fixed cost of a call into the guest
//   flush         an export call that calls the device once (its flush, a no-op here): add one
//                 call back out to JS
//   read          Partition.read through the component: both calls, and the bytes copied into
//                 guest memory (lowering) and out of it again (lifting)
//
// Profile a size with `node --cpu-prof bench/read.js SIZE`.

import { instantiate, MemoryDevice } from '../src/index.js';

const ROUNDS = 5;
const DISK_BYTES = 64 << 20;
const SIZES = process.argv[2] ? [Number(process.argv[2])] : [512, 4096, 65536, 1 << 20];

const disk = new Uint8Array(DISK_BYTES).map((_, i) => i & 0xff);
const sectors = DISK_BYTES / 512;
const device = new MemoryDevice(disk, { sectorSize: 512 });
const { partition: { Partition } } = await instantiate();
const partition = Partition.whole(new MemoryDevice(disk, { sectorSize: 512 }));

/** The best time per call of `call(sector)`, in microseconds, over ROUNDS rounds of `calls` calls. */
function best(calls, step, call) {
  let fastest = Infinity;
  for (let round = 0; round < ROUNDS; round += 1) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i += 1) call((i * step) % (sectors - step));
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - start) / calls / 1000);
  }
  return fastest;
}

const format = (us) => (us < 100 ? us.toFixed(2) : us.toFixed(0)).padStart(13);

console.log(`${'size'.padStart(8)} ${['slice', 'device.read', 'getOffset', 'flush', 'read'].map((h) => h.padStart(13)).join('')}   (us per call)`);
for (const size of SIZES) {
  const step = size / 512;
  const calls = Math.max(20, Math.min(50_000, Math.floor((64 << 20) / size)));
  const row = [
    best(calls, step, (s) => disk.slice(s * 512, s * 512 + size)),
    best(calls, step, (s) => device.read(BigInt(s), BigInt(size))),
    best(calls, step, () => partition.getOffset()),
    best(calls, step, () => partition.flush()),
    best(calls, step, (s) => partition.read(BigInt(s), BigInt(size))),
  ];
  console.log(`${String(size).padStart(8)} ${row.map(format).join('')}`);
}
