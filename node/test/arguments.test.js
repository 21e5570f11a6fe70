// Every u64 and u32 argument of the package is checked before the call, as the Python package
// checks its own: jco stores a u64 modulo 2^64 and a u32 with `>>> 0`, so unchecked,
// `write(2n ** 64n + 5n, data)` wrote sector 5 and `partitionTable.open(disk, 1.9)` opened entry 1.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import zlib from 'node:zlib';

import { DeviceStats, MemoryDevice, PartitionError, instantiate } from '../src/index.js';

const SECTOR = 512;
const U64_MAX = (1n << 64n) - 1n;
const TABLES = fileURLToPath(new URL('../../conformance/fixtures/tables/', import.meta.url));

/** Values no u64 argument may take, and what each must throw. */
const NOT_U64 = [
  [2n ** 64n, RangeError], [2n ** 64n + 5n, RangeError], [-1n, RangeError], [-1, RangeError],
  [2 ** 64, RangeError], [2 ** 53, RangeError],
  [1.9, TypeError], [true, TypeError], ['5', TypeError], [undefined, TypeError], [null, TypeError],
  [NaN, TypeError], [Infinity, TypeError], [{}, TypeError],
];

/** Values no u32 argument may take, and what each must throw. */
const NOT_U32 = [
  [2 ** 32, RangeError], [2 ** 32 + 1, RangeError], [-1, RangeError],
  [1.9, TypeError], [true, TypeError], ['1', TypeError], [1n, TypeError], [undefined, TypeError], [NaN, TypeError],
];

/** Asserts `call` throws `Kind` (not a refusal by the partitioner) with a message naming `name`. */
function assertChecked(call, Kind, name, what) {
  assert.throws(call, (error) => {
    assert.ok(error instanceof Kind && !(error instanceof PartitionError), `${what}: ${error}`);
    assert.match(error.message, new RegExp(name), what);
    return true;
  }, what);
}

/** `n` sectors, each byte telling where it is. */
const pattern = (n) => new Uint8Array(n * SECTOR).map((_, i) => (i * 7 + (i >> 9)) & 0xff);

test('every u64 argument of a partition is checked before the call', async () => {
  const { partition: { Partition } } = await instantiate();
  const bytes = pattern(64);
  const stats = new DeviceStats();
  const device = () => new MemoryDevice(bytes, { sectorSize: SECTOR, stats });
  const [, rest] = Partition.connect(8n, device());
  const buffer = new Uint8Array(SECTOR);
  // Each call with the u64 argument it names replaced: every one of them would reach the
  // device, or split, if the value wrapped to a small one.
  const calls = {
    'connect firstSectors': (v) => Partition.connect(v, device()),
    'subpartition firstSectors': (v) => rest.subpartition(v),
    'slice sectorStart': (v) => rest.slice(v, 1n),
    'slice sectors': (v) => rest.slice(0n, v),
    'map sectorStart': (v) => rest.map('read', v, 512n),
    'map len': (v) => rest.map('write', 0n, v),
    'read sectorStart': (v) => rest.read(v, 512n),
    'read len': (v) => rest.read(0n, v),
    'readInto sectorStart': (v) => rest.readInto(v, buffer),
    'write sectorStart': (v) => rest.write(v, buffer),
    'readList sectorStart': (v) => rest.readList(v, 512n),
    'readList len': (v) => rest.readList(0n, v),
    'writeList sectorStart': (v) => rest.writeList(v, buffer),
    'discard sectorStart': (v) => rest.discard(v, 1n),
    'discard sectors': (v) => rest.discard(0n, v),
    'writeZeroes sectorStart': (v) => rest.writeZeroes(v, 1n),
    'writeZeroes sectors': (v) => rest.writeZeroes(0n, v),
  };
  const requests = stats.requests;
  const before = bytes.slice();
  for (const [what, call] of Object.entries(calls)) {
    const name = what.split(' ')[1];
    for (const [value, Kind] of NOT_U64) assertChecked(() => call(value), Kind, name, `${what} = ${String(value)}`);
  }
  assert.deepStrictEqual(bytes, before, 'nothing was written');
  assert.equal(stats.requests, requests, 'no request reached the device');
  // The issue's own cases, by name.
  assert.throws(() => rest.write(2n ** 64n + 5n, buffer), RangeError);
  assert.throws(() => rest.read(2n ** 64n, 512n), RangeError);
  assert.throws(() => rest.subpartition(2n ** 64n + 10n), RangeError);
});

test('the largest u64 and safe Numbers pass the check, to be judged by the partitioner', async () => {
  const { partition: { Partition } } = await instantiate();
  const bytes = pattern(64);
  const whole = Partition.whole(new MemoryDevice(bytes, { sectorSize: SECTOR }));
  assert.deepStrictEqual(whole.read(3, 1024), bytes.slice(3 * SECTOR, 5 * SECTOR));
  const [head] = whole.subpartition(8);
  assert.equal(head.info().sizeSectors, 8n);
  for (const start of [U64_MAX, Number.MAX_SAFE_INTEGER]) {
    assert.throws(() => whole.read(start, 512n), (error) => error instanceof PartitionError && error.payload.tag === 'out-of-bounds');
  }
});

test('the entry number of partitionTable.open is a u32, checked before the call', async () => {
  const { partition: { Partition }, partitionTable } = await instantiate();
  const image = new Uint8Array(zlib.gunzipSync(fs.readFileSync(path.join(TABLES, 'gpt-one.img.gz'))));
  const disk = Partition.whole(new MemoryDevice(image, { sectorSize: SECTOR }));
  // Entry 1 is the one entry: 2^32 + 1, 1.9 and `true` all opened it.
  assert.equal(partitionTable.open(disk, 1).getOffset(), 2048n);
  for (const [value, Kind] of NOT_U32) {
    assertChecked(() => partitionTable.open(disk, value), Kind, 'number', `open(disk, ${String(value)})`);
  }
});

test("every u64 argument of a device's own methods is checked", () => {
  const bytes = pattern(8);
  const stats = new DeviceStats();
  const device = new MemoryDevice(bytes, { sectorSize: SECTOR, stats });
  const calls = {
    'read sectorStart': (v) => device.read(v, 512n),
    'read len': (v) => device.read(0n, v),
    'readInto sectorStart': (v) => device.readInto(v, new Uint8Array(SECTOR)),
    'write sectorStart': (v) => device.write(v, new Uint8Array(SECTOR)),
    'discard sectorStart': (v) => device.discard(v, 1n),
    'discard sectors': (v) => device.discard(0n, v),
    'writeZeroes sectorStart': (v) => device.writeZeroes(v, 1n),
    'writeZeroes sectors': (v) => device.writeZeroes(0n, v),
  };
  const before = bytes.slice();
  for (const [what, call] of Object.entries(calls)) {
    const name = what.split(' ')[1];
    for (const [value, Kind] of NOT_U64) assertChecked(() => call(value), Kind, name, `${what} = ${String(value)}`);
  }
  assert.deepStrictEqual(bytes, before, 'nothing was written');
  assert.equal(stats.requests, 0, 'a bad argument is no request');
  // A negative sector once read from the end of a memory device's array.
  assert.deepStrictEqual(device.read(7, 512), bytes.slice(7 * SECTOR));
});
