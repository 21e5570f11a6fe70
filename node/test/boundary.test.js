// What a device throws that is no DeviceFailure (a bug, a thrown string, a payload that is no
// device-error) or returns that jco cannot lower reaches the caller of the partition call as
// itself, and never unwinds through the guest: each one that did left 64 bytes of the guest's
// 1 MiB stack in use, and the 16,384th killed the instance ("out of bounds memory access").

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import zlib from 'node:zlib';

import { DeviceFailure, DeviceStats, MemoryDevice, PartitionError, instantiate } from '../src/index.js';

const SECTOR = 512;
/** Past the 16,384 throws that killed the instance. */
const THROWS = 20_000;
const TABLES = fileURLToPath(new URL('../../conformance/fixtures/tables/', import.meta.url));

/** What `call` threw (it must throw). */
function thrownBy(call) {
  try {
    call();
  } catch (thrown) {
    return thrown;
  }
  assert.fail('nothing was thrown');
}

/** A memory device whose requests do `fault()` instead of their work while it is set. */
class Faulty extends MemoryDevice {
  fault = null;
  read(start, len) { return this.fault ? this.fault() : super.read(start, len); }
  write(start, data) { return this.fault ? this.fault() : super.write(start, data); }
  flush() { return this.fault ? this.fault() : super.flush(); }
  writeZeroes(start, sectors) { return this.fault ? this.fault() : super.writeZeroes(start, sectors); }
}

test(`${THROWS} exceptions from a device reach the caller as themselves, and the instance lives on`, async () => {
  const { partition: { Partition }, partitionTable } = await instantiate();
  const image = new Uint8Array(zlib.gunzipSync(fs.readFileSync(path.join(TABLES, 'gpt-one.img.gz'))));
  const device = new Faulty(image, { sectorSize: SECTOR });
  const disk = Partition.whole(device);
  const sector = new Uint8Array(SECTOR);

  const bug = new Error('a bug in the device');
  const badPayload = { payload: { tag: 'no-such-error' } };
  const badMessage = new DeviceFailure({ tag: 'io', val: 42 });
  // Each: what the device does, the call that reaches it, and what the caller must get.
  const scenarios = [
    [() => { throw bug; }, () => disk.readList(0n, 512n), (thrown) => thrown === bug],
    [() => { throw 'a string'; }, () => disk.writeList(0n, sector), (thrown) => thrown === 'a string'],
    [() => { throw badPayload; }, () => disk.flush(), (thrown) => thrown === badPayload],
    [() => { throw badMessage; }, () => disk.writeZeroes(0n, 1n), (thrown) => thrown === badMessage],
    [() => undefined, () => disk.readList(0n, 512n), (thrown) => thrown instanceof TypeError && /read returned undefined/.test(thrown.message)],
    [() => { throw bug; }, () => partitionTable.read(disk), (thrown) => thrown === bug],
  ];
  for (let i = 0; i < THROWS; i += 1) {
    const [fault, call, expected] = scenarios[i % scenarios.length];
    device.fault = fault;
    const thrown = thrownBy(call);
    assert.ok(expected(thrown), `throw ${i + 1}: ${thrown}`);
  }

  device.fault = null;
  assert.deepStrictEqual(disk.readList(1n, 512n), image.slice(SECTOR, 2 * SECTOR));
  assert.equal(partitionTable.read(disk).entries.length, 1);
  device.fault = () => { throw new DeviceFailure({ tag: 'unaligned' }); };
  assert.throws(() => disk.readList(0n, 512n), (error) => error instanceof PartitionError
    && error.payload.tag === 'device' && error.payload.val.tag === 'unaligned');
});

test("a device whose info throws is refused and dropped, and the caller gets the exception", async () => {
  // Unwinding out of `whole` left no stack in use, but it left every such device held by the
  // guest, never dropped.
  const { partition: { Partition } } = await instantiate();
  const stats = new DeviceStats();
  const bug = new Error('no info today');
  class NoInfo extends MemoryDevice {
    info() { throw bug; }
  }
  const devices = 1000;
  for (let i = 0; i < devices; i += 1) {
    assert.equal(thrownBy(() => Partition.whole(new NoInfo(new Uint8Array(SECTOR), { sectorSize: SECTOR, stats }))), bug);
  }
  assert.equal(stats.drops, devices, 'each refused device was dropped');
  assert.equal(Partition.whole(new MemoryDevice(new Uint8Array(SECTOR), { sectorSize: SECTOR })).info().sizeSectors, 1n);
});

test('a device that throws when dropped: the drop or disconnect that dropped it throws it', async () => {
  const { partition: { Partition } } = await instantiate();
  const stats = new DeviceStats();
  const bug = new Error('cannot close');
  class BadClose extends MemoryDevice {
    _close() { throw bug; }
  }
  const make = () => new BadClose(new Uint8Array(8 * SECTOR), { sectorSize: SECTOR, stats });
  const [a, b] = Partition.connect(4n, make());
  a[Symbol.dispose]();
  assert.equal(stats.drops, 0, 'b still holds the device');
  assert.equal(thrownBy(() => b.disconnect()), bug);
  assert.equal(stats.drops, 1);
  const whole = Partition.whole(make());
  assert.equal(thrownBy(() => whole[Symbol.dispose]()), bug);
  assert.equal(stats.drops, 2);
  assert.equal(Partition.whole(new MemoryDevice(new Uint8Array(SECTOR), { sectorSize: SECTOR })).info().sizeSectors, 1n);
});
