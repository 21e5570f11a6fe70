// What the conformance cases do not reach: the jco bindings themselves (import keys, custom
// devices, device errors passing up, handle misuse) and partition tables. The mapped path has
// its own file, mapped.test.js; the README example runs in package.test.js, from the packed
// and installed package.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import zlib from 'node:zlib';

import { instantiate as instantiateGenerated } from '../gen/partitioner.js';
import { BlockDevice, DeviceStats, FileDevice, MemoryDevice, PartitionError, instantiate } from '../src/index.js';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const TABLES = path.join(PACKAGE, '../conformance/fixtures/tables');

/** Asserts `call` fails with the partition (or table) error `payload`. */
function assertRefused(call, payload) {
  assert.throws(call, (error) => {
    assert.ok(error instanceof PartitionError, `${error}`);
    assert.deepStrictEqual(error.payload, payload);
    return true;
  });
}

const zeroes = (sectors, sectorSize = 512) => new Uint8Array(sectors * sectorSize);

test('the generated code reads the unversioned import key its .d.ts does not declare', async () => {
  // A canary for the workaround in src/index.js: if a jco upgrade makes this fail, the
  // versioned key alone is enough.
  const getCoreModule = async (name) => WebAssembly.compile(await readFile(path.join(PACKAGE, 'gen', name)));
  // The wrapping async function: "async" instantiation throws this synchronously.
  await assert.rejects(
    async () => instantiateGenerated(getCoreModule, {
      'blockpart:partition/block-device@0.2.0': { Device: BlockDevice },
      'blockpart:partition/types@0.2.0': {},
    }),
    TypeError,
  );
  const root = await instantiateGenerated(getCoreModule, { 'blockpart:partition/block-device': { Device: BlockDevice } });
  assert.equal(typeof root.partition.Partition.whole, 'function');
});

test('an import object with a Device class of its own, keyed either way', async () => {
  // A device that is no BlockDevice: a fixed 4-sector disk reading as its sector numbers.
  class Numbered {
    info() { return { readWrite: false, sectorSize: 512, sizeSectors: 4n }; }
    read(start, len) { return new Uint8Array(Number(len)).map((_, i) => Number(start) + Math.floor(i / 512)); }
  }
  for (const key of ['blockpart:partition/block-device@0.2.0', 'blockpart:partition/block-device']) {
    const { partition: { Partition } } = await instantiate({ [key]: { Device: Numbered } });
    const [, b] = Partition.connect(1n, new Numbered());
    // The mapped read falls back on the device's `read`, since it has no `readInto`.
    assert.deepStrictEqual(b.read(2n, 512n), new Uint8Array(512).fill(3));
    assert.deepStrictEqual(b.readList(2n, 512n), new Uint8Array(512).fill(3));
    assertRefused(() => b.write(0n, zeroes(1)), { tag: 'is-read-only' });
    assertRefused(() => b.writeList(0n, zeroes(1)), { tag: 'is-read-only' });
    // jco checks devices against the import object's class.
    assert.throws(() => Partition.whole(new MemoryDevice(zeroes(1), { sectorSize: 512 })), TypeError);
  }
});

test("a device's own errors pass up as device(...)", async () => {
  const { partition: { Partition } } = await instantiate();
  const device = new MemoryDevice(zeroes(8), { sectorSize: 512 });
  const whole = Partition.whole(device);
  device.disconnect();
  assertRefused(() => whole.readList(0n, 512n), { tag: 'device', val: { tag: 'disconnected' } });
  assertRefused(() => whole.read(0n, 512n), { tag: 'device', val: { tag: 'disconnected' } });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blockpart-io-'));
  try {
    const file = path.join(dir, 'disk.img');
    fs.writeFileSync(file, zeroes(8));
    const [, b] = Partition.connect(2n, FileDevice.open(file, { sectorSize: 512 }));
    fs.truncateSync(file, 512 * 4);
    for (const read of [() => b.readList(5n, 512n), () => b.read(5n, 512n)]) {
      assertRefused(read, {
        tag: 'device',
        val: { tag: 'io', val: 'the file ends 0 bytes into a read of 512' },
      });
    }
    b[Symbol.dispose]();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a device breaking its contract is invalid-device, and the instance carries on', async () => {
  const { partition: { Partition } } = await instantiate();
  class ShortReads extends MemoryDevice {
    _read(offset, bytes) { return super._read(offset, bytes).subarray(1); }
  }
  const short = Partition.whole(new ShortReads(zeroes(8), { sectorSize: 512 }));
  assertRefused(() => short.readList(0n, 512n), { tag: 'invalid-device', val: 'asked for 512 bytes, the device read 511' });
  class OddSectors extends MemoryDevice {
    info() { return { ...super.info(), sectorSize: 1000 }; }
  }
  const stats = new DeviceStats();
  assertRefused(() => Partition.whole(new OddSectors(zeroes(8), { sectorSize: 512, stats })), {
    tag: 'invalid-device',
    val: 'sector size 1000 is not a power of two of at least 512',
  });
  assert.equal(stats.drops, 1, 'a refused device is dropped');
  const fine = Partition.whole(new MemoryDevice(zeroes(8), { sectorSize: 512 }));
  assert.equal(fine.info().sizeSectors, 8n);
});

test('a dropped partition handle is refused by jco, and dropping twice is harmless', async () => {
  const { partition: { Partition } } = await instantiate();
  const stats = new DeviceStats();
  const whole = Partition.whole(new MemoryDevice(zeroes(8), { sectorSize: 512, stats }));
  whole[Symbol.dispose]();
  whole[Symbol.dispose]();
  assert.equal(stats.drops, 1);
  assert.throws(() => whole.read(0n, 512n), TypeError);
  assert.throws(() => whole.readList(0n, 512n), TypeError);
});

test('one device object handed over twice is disposed by the first drop', async () => {
  // Documents the jco behaviour behind "a new device object per whole/connect".
  const { partition: { Partition } } = await instantiate();
  const device = new MemoryDevice(zeroes(8), { sectorSize: 512 });
  const first = Partition.whole(device);
  const second = Partition.whole(device);
  first[Symbol.dispose]();
  assert.ok(device.dropped);
  assertRefused(() => second.readList(0n, 512n), { tag: 'device', val: { tag: 'disconnected' } });
  // The guest still holds its device for `second` and maps the read; this side finds the
  // device dropped, which it cannot tell from a guest that mapped onto a device it dropped.
  assert.throws(() => second.read(0n, 512n), /whose device was dropped/);
});

/** The sfdisk-made image `name` of conformance/fixtures/tables as a memory device. */
function image(name) {
  const bytes = new Uint8Array(zlib.gunzipSync(fs.readFileSync(path.join(TABLES, `${name}.img.gz`))));
  return new MemoryDevice(bytes, { sectorSize: 512 });
}

test('partition tables are read through a borrowed partition', async () => {
  const { partition: { Partition }, partitionTable } = await instantiate();
  const gpt = Partition.whole(image('gpt-one'));
  assert.deepStrictEqual(partitionTable.read(gpt), {
    label: {
      tag: 'gpt',
      val: { diskGuid: '6C3A1B6E-3D1B-4E1F-9A59-1F3C1E6D2A01', firstUsable: 34n, lastUsable: 4062n, fromBackup: false },
    },
    sectorSize: 512,
    sizeSectors: 4096n,
    entries: [{
      number: 1,
      start: 2048n,
      sectors: 1024n,
      partitionType: { tag: 'gpt', val: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' },
      guid: '1CF4AA75-3DEC-D343-840B-0A1EDF2B5951',
      name: 'only',
      bootable: false,
      attributes: 0n,
    }],
  });

  const mbr = Partition.whole(image('mbr-logical'));
  const table = partitionTable.read(mbr);
  assert.deepStrictEqual(table.label, { tag: 'mbr', val: 0xfeedf00d });
  assert.deepStrictEqual(
    table.entries.map((e) => [e.number, e.start, e.sectors, e.partitionType.val, e.bootable, e.guid]),
    [
      [1, 2048n, 2048n, 0x83, false, undefined],
      [2, 4096n, 8192n, 0x0f, false, undefined],
      [3, 12288n, 2048n, 0x83, true, undefined],
      [5, 4097n, 1023n, 0x83, false, undefined],
      [6, 6144n, 2048n, 0x82, false, undefined],
      [7, 10240n, 1024n, 0x0b, false, undefined],
    ],
  );
  const logical = partitionTable.open(mbr, 5);
  assert.deepStrictEqual([logical.getOffset(), logical.info().sizeSectors], [4097n, 1023n]);
  // An opened entry reads, mapped, from the device of the partition it was opened on.
  assert.deepStrictEqual(logical.read(1n, 1024n), logical.readList(1n, 1024n));
  assertRefused(() => partitionTable.open(mbr, 4), { tag: 'no-entry', val: 4 });
  // The borrow left the disk's partition usable.
  assert.equal(mbr.info().sizeSectors, 16384n);

  const blank = Partition.whole(new MemoryDevice(zeroes(8), { sectorSize: 512 }));
  assertRefused(() => partitionTable.read(blank), { tag: 'no-table' });
});
