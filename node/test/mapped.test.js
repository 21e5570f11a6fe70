// The mapped path of the package's `Partition`: `read`, `readInto` and `write` ask the
// partitioner where a transfer lands (`partition.map`) and move the bytes on the device this
// side handed over. The conformance suite runs every case on this path through driver.js; what
// it cannot see from there is here: the caller's buffer, which device is reached, and the
// requests a refusal does not make.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { DeviceStats, FileDevice, MemoryDevice, PartitionError, instantiate } from '../src/index.js';

const SECTOR = 512;
const U64_MAX = (1n << 64n) - 1n;
const MAX_TRANSFER_BYTES = 64n << 20n;

/** `n` sectors, each byte telling where it is. */
const pattern = (n) => new Uint8Array(n * SECTOR).map((_, i) => (i * 7 + (i >> 9)) & 0xff);

/** Asserts `call` fails with the partition error `payload`. */
function assertRefused(call, payload) {
  assert.throws(call, (error) => {
    assert.ok(error instanceof PartitionError, `${error}`);
    assert.deepStrictEqual(error.payload, payload);
    return true;
  });
}

/** A fresh instance, a 64-sector memory disk and its counters. */
async function disk({ readOnly = false } = {}) {
  const { partition: { Partition }, partitionTable } = await instantiate();
  const bytes = pattern(64);
  const stats = new DeviceStats();
  const device = () => new MemoryDevice(bytes, { sectorSize: SECTOR, readOnly, stats });
  return { Partition, partitionTable, bytes, stats, device };
}

test('mapped reads land the device bytes of the partition, at any depth', async () => {
  const { Partition, bytes, stats, device } = await disk();
  const [, rest] = Partition.connect(8n, device());
  const [, inner] = rest.subpartition(4n);
  const slice = inner.slice(2n, 10n);
  // `slice` starts at device sector 8 + 4 + 2 = 14.
  assert.equal(slice.map('read', 3n, 1024n), 17n);
  assert.equal(stats.requests, 0, 'map makes no device request');

  assert.deepStrictEqual(slice.read(3n, 1024n), bytes.slice(17 * SECTOR, 19 * SECTOR));
  const buffer = new Uint8Array(3 * SECTOR).fill(0x5a);
  slice.readInto(0n, buffer.subarray(SECTOR, 3 * SECTOR));
  assert.deepStrictEqual(buffer.subarray(0, SECTOR), new Uint8Array(SECTOR).fill(0x5a), 'nothing before the view');
  assert.deepStrictEqual(buffer.subarray(SECTOR), bytes.slice(14 * SECTOR, 16 * SECTOR));
  assert.deepStrictEqual(slice.read(0n, 5120n), slice.readList(0n, 5120n));
  assert.equal(stats.requests, 4, 'one device request per read, mapped or not');
});

test('mapped writes land where the partition maps them, and nowhere else', async () => {
  const { Partition, bytes, stats, device } = await disk();
  const [, rest] = Partition.connect(8n, device());
  const slice = rest.slice(2n, 4n);
  const before = bytes.slice();
  const data = new Uint8Array(2 * SECTOR).fill(0xee);
  slice.write(1n, data);
  const expected = before.slice();
  expected.set(data, 11 * SECTOR);
  assert.deepStrictEqual(bytes, expected);
  assert.equal(stats.requests, 1);
  // The list path and the mapped one agree on the bytes.
  slice.writeList(3n, new Uint8Array(SECTOR).fill(0x11));
  expected.fill(0x11, 13 * SECTOR, 14 * SECTOR);
  assert.deepStrictEqual(bytes, expected);
  assert.deepStrictEqual(slice.read(0n, 2048n), expected.slice(10 * SECTOR, 14 * SECTOR));
});

test('refused mapped requests change nothing and reach no device', async () => {
  const { Partition, bytes, stats, device } = await disk();
  const [boot, rest] = Partition.connect(8n, device());
  const before = bytes.slice();
  const buffer = new Uint8Array(2 * SECTOR).fill(0x5a);
  const untouched = buffer.slice();
  const refusals = [
    [() => boot.readInto(7n, buffer), { tag: 'out-of-bounds', val: { sectorStart: 7n, sectors: 2n, sizeSectors: 8n } }],
    [() => boot.readInto(U64_MAX, buffer), { tag: 'out-of-bounds', val: { sectorStart: U64_MAX, sectors: 2n, sizeSectors: 8n } }],
    [() => boot.readInto(0n, buffer.subarray(1)), { tag: 'unaligned', val: 1023n }],
    [() => boot.write(7n, buffer), { tag: 'out-of-bounds', val: { sectorStart: 7n, sectors: 2n, sizeSectors: 8n } }],
    [() => boot.write(0n, buffer.subarray(0, 100)), { tag: 'unaligned', val: 100n }],
    [() => rest.read(0n, MAX_TRANSFER_BYTES + 512n), { tag: 'too-large', val: MAX_TRANSFER_BYTES + 512n }],
    [() => rest.read(56n, 512n), { tag: 'out-of-bounds', val: { sectorStart: 56n, sectors: 1n, sizeSectors: 56n } }],
  ];
  for (const [call, payload] of refusals) assertRefused(call, payload);
  rest.disconnect();
  assertRefused(() => rest.readInto(0n, buffer), { tag: 'disconnected' });
  assertRefused(() => rest.write(0n, buffer), { tag: 'disconnected' });
  assert.deepStrictEqual(buffer, untouched, 'the caller\'s buffer');
  assert.deepStrictEqual(bytes, before, 'the device');
  assert.equal(stats.requests, 0);
});

test('a read-only device refuses mapped writes before any device request', async () => {
  const { Partition, bytes, stats, device } = await disk({ readOnly: true });
  const whole = Partition.whole(device());
  const before = bytes.slice();
  assertRefused(() => whole.write(0n, new Uint8Array(SECTOR)), { tag: 'is-read-only' });
  assertRefused(() => whole.map('write', 0n, 512n), { tag: 'is-read-only' });
  assertRefused(() => whole.write(0n, new Uint8Array(0)), { tag: 'is-read-only' });
  assert.deepStrictEqual(bytes, before);
  assert.equal(stats.requests, 0);
  assert.deepStrictEqual(whole.read(63n, 512n), before.slice(63 * SECTOR));
  assert.equal(stats.requests, 1, 'reads still work');
});

test('zero-length mapped transfers succeed up to the end and make no device request', async () => {
  const { Partition, bytes, stats, device } = await disk();
  const [, rest] = Partition.connect(8n, device());
  const before = bytes.slice();
  assert.deepStrictEqual(rest.read(56n, 0n), new Uint8Array(0));
  rest.readInto(56n, new Uint8Array(0));
  rest.write(56n, new Uint8Array(0));
  assert.equal(rest.map('read', 56n, 0n), 64n);
  assertRefused(() => rest.read(57n, 0n), { tag: 'out-of-bounds', val: { sectorStart: 57n, sectors: 0n, sizeSectors: 56n } });
  assert.deepStrictEqual(bytes, before);
  assert.equal(stats.requests, 0);
});

test('a device failure of a mapped transfer is the error device(...)', async () => {
  const { Partition, device } = await disk();
  const dev = device();
  const whole = Partition.whole(dev);
  dev.disconnect();
  assertRefused(() => whole.readInto(0n, new Uint8Array(SECTOR)), { tag: 'device', val: { tag: 'disconnected' } });
  assertRefused(() => whole.write(0n, new Uint8Array(SECTOR)), { tag: 'device', val: { tag: 'disconnected' } });
});

test('a mapped request on a device the guest no longer holds is an error, not a request', async () => {
  // What a guest that mapped onto a device it had dropped would leave this side with.
  const { Partition, stats, device } = await disk();
  const dev = device();
  const whole = Partition.whole(dev);
  dev[Symbol.dispose]();
  assert.throws(() => whole.read(0n, 512n), (error) => !(error instanceof PartitionError) && /device was dropped/.test(error.message));
  assert.equal(stats.requests, 0);
});

test('a device of its own without readInto is read with read, and a short read is io', async () => {
  class Short {
    info() { return { readWrite: false, sectorSize: SECTOR, sizeSectors: 4n }; }
    read(_start, len) { return new Uint8Array(Number(len) - 1); }
  }
  const { partition: { Partition } } = await instantiate({ 'blockpart:partition/block-device': { Device: Short } });
  const whole = Partition.whole(new Short());
  assertRefused(() => whole.read(0n, 512n), { tag: 'device', val: { tag: 'io', val: 'asked for 512 bytes, the device read 511 bytes' } });
});

test('a file device reads mapped requests straight into the buffer at the byte position', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blockpart-mapped-'));
  try {
    const file = path.join(dir, 'disk.img');
    const bytes = pattern(16);
    fs.writeFileSync(file, bytes);
    const { partition: { Partition } } = await instantiate();
    const [, rest] = Partition.connect(4n, FileDevice.open(file, { sectorSize: SECTOR }));
    const buffer = new Uint8Array(4 * SECTOR);
    rest.readInto(2n, buffer.subarray(SECTOR, 3 * SECTOR));
    assert.deepStrictEqual(buffer.subarray(SECTOR, 3 * SECTOR), bytes.subarray(6 * SECTOR, 8 * SECTOR));
    assert.deepStrictEqual(buffer.subarray(0, SECTOR), new Uint8Array(SECTOR));
    rest.write(11n, new Uint8Array(SECTOR).fill(0xcc));
    rest.flush();
    const expected = bytes.slice();
    expected.fill(0xcc, 15 * SECTOR);
    assert.deepStrictEqual(new Uint8Array(fs.readFileSync(file)), expected);
    rest[Symbol.dispose]();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
