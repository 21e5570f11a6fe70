// What a read or write costs in Node, on each data path, against plain Uint8Array copies of the
// same bytes: `npm run bench` (after `npm run build`), or `node bench/read.js SIZE...`.
//
// Every size runs ROUNDS rounds; in each round every column runs once, in turn, `calls` calls
// at consecutive sectors of a 64 MiB MemoryDevice, so a slow spell of the machine hits every
// column alike. A cell is the median time per call over the rounds, in microseconds, and the
// spread (slowest round / fastest round). The ratio columns divide medians of the same run.
//
//   slice       Uint8Array.prototype.slice of the disk: a fresh copy, the floor for `read`
//   set         Uint8Array.prototype.set of the disk's bytes into a reused buffer, the floor
//               for `readInto`, and (the other way) for `write`
//   readList    partition.read through the component: the bytes copied into guest memory and
//               out again into a fresh array (the list path)
//   read        mapped: partition.map, then the device copies into a fresh array
//   readInto    mapped, into one reused buffer
//   writeList   partition.write: the bytes copied into guest memory, then to the device
//   write       mapped: partition.map, then the device copies from the caller's array
//   getOffset   an export call that reaches no device: jco's fixed cost of a call
//
// Profile one size with `node --cpu-prof bench/read.js SIZE`.

import { instantiate, MemoryDevice } from '../src/index.js';

const ROUNDS = 15;
const DISK_BYTES = 64 << 20;
const SECTOR = 512;
const SIZES = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [512, 4096, 65536, 1 << 20];

const disk = new Uint8Array(DISK_BYTES).map((_, i) => i & 0xff);
const sectors = DISK_BYTES / SECTOR;
const { partition: { Partition } } = await instantiate();
const partition = Partition.whole(new MemoryDevice(disk, { sectorSize: SECTOR }));

/** The columns for transfers of `size` bytes: each a function of a sector number. */
function columns(size) {
  const buffer = new Uint8Array(size);
  const data = new Uint8Array(size).fill(0x5a);
  const len = BigInt(size);
  return {
    slice: (s) => disk.slice(s * SECTOR, s * SECTOR + size),
    set: (s) => buffer.set(disk.subarray(s * SECTOR, s * SECTOR + size)),
    readList: (s) => partition.readList(BigInt(s), len),
    read: (s) => partition.read(BigInt(s), len),
    readInto: (s) => partition.readInto(BigInt(s), buffer),
    writeList: (s) => partition.writeList(BigInt(s), data),
    write: (s) => partition.write(BigInt(s), data),
    getOffset: () => partition.getOffset(),
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

/** Median and spread (slowest / fastest round) of each column, in microseconds per call. */
function measure(size) {
  const step = size / SECTOR;
  const calls = Math.max(20, Math.min(20_000, Math.floor((16 << 20) / size)));
  const cols = columns(size);
  const times = Object.fromEntries(Object.keys(cols).map((name) => [name, []]));
  let cursor = 0;
  // One warm-up round, not kept: the JIT, and the first touch of fresh memory.
  for (let round = -1; round < ROUNDS; round += 1) {
    for (const [name, call] of Object.entries(cols)) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < calls; i += 1) {
        call(cursor);
        cursor = (cursor + step) % (sectors - step);
      }
      const us = Number(process.hrtime.bigint() - start) / calls / 1000;
      if (round >= 0) times[name].push(us);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([name, values]) => [
    name,
    { median: median(values), spread: Math.max(...values) / Math.min(...values) },
  ]));
}

const us = (t) => (t < 100 ? t.toFixed(2) : t.toFixed(0));
const cell = ({ median: m, spread }) => `${us(m)} ±${spread.toFixed(1)}`.padStart(14);
const NAMES = Object.keys(columns(SECTOR));

console.log(`node ${process.version}, ${ROUNDS} interleaved rounds; median us per call, ±slowest/fastest round`);
console.log(`${'size'.padStart(8)}${NAMES.map((n) => n.padStart(14)).join('')}`);
const ratios = [];
for (const size of SIZES) {
  const row = measure(size);
  console.log(`${String(size).padStart(8)}${NAMES.map((n) => cell(row[n])).join('')}`);
  const r = (a, b) => (row[a].median / row[b].median).toFixed(2).padStart(10);
  ratios.push(`${String(size).padStart(8)}${r('readList', 'slice')}${r('read', 'slice')}${r('readInto', 'set')}${r('writeList', 'set')}${r('write', 'set')}`);
}
console.log('\nratios of medians to the Uint8Array floor');
console.log(`${'size'.padStart(8)}${['readList/', 'read/', 'readInto/', 'writeList/', 'write/'].map((n) => n.padStart(10)).join('')}`);
console.log(`${''.padStart(8)}${['slice', 'slice', 'set', 'set', 'set'].map((n) => n.padStart(10)).join('')}`);
for (const line of ratios) console.log(line);
