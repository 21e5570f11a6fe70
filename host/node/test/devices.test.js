// The JS devices on their own: each checks its own requests, as the partitioner assumes a
// device may (it never relies on it), and counts what reaches it.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { DeviceFailure, DeviceStats, FileDevice, MemoryDevice } from '../src/devices.js';

/** Asserts `call` throws the device error `payload`, as jco will read it. */
function assertDeviceError(call, payload) {
  assert.throws(call, (error) => {
    assert.ok(error instanceof DeviceFailure);
    assert.deepStrictEqual(error.payload, payload);
    return true;
  });
}

const SECTOR = 512;
const sectors = (n) => new Uint8Array(n * SECTOR).map((_, i) => (i * 7 + 3) & 0xff);

/** Each device kind over 8 sectors, read-write or not; `bytes()` is the disk's content now. */
const kinds = {
  memory: {
    make(readOnly, stats) {
      const bytes = sectors(8);
      return { device: new MemoryDevice(bytes, { sectorSize: SECTOR, readOnly, stats }), bytes: () => bytes };
    },
    cleanup() {},
  },
  file: {
    dir: null,
    make(readOnly, stats) {
      this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blockpart-dev-'));
      const file = path.join(this.dir, 'disk.img');
      fs.writeFileSync(file, sectors(8));
      const device = FileDevice.open(file, { sectorSize: SECTOR, readOnly, stats });
      return { device, bytes: () => new Uint8Array(fs.readFileSync(file)), file };
    },
    cleanup() {
      fs.rmSync(this.dir, { recursive: true, force: true });
    },
  },
};

for (const [name, kind] of Object.entries(kinds)) {
  describe(`${name} device`, () => {
    let stats;
    beforeEach(() => { stats = new DeviceStats(); });
    afterEach(() => kind.cleanup());

    test('reports its geometry and serves whole sectors inside it', () => {
      const { device, bytes } = kind.make(false, stats);
      assert.deepStrictEqual(device.info(), { readWrite: true, sectorSize: SECTOR, sizeSectors: 8n });
      assert.deepStrictEqual(device.read(7n, 512n), sectors(8).subarray(7 * SECTOR));
      device.write(1n, new Uint8Array(SECTOR).fill(0xee));
      device.writeZeroes(2n, 2n);
      device.discard(4n, 1n);
      device.flush();
      const expected = sectors(8);
      expected.fill(0xee, SECTOR, 2 * SECTOR);
      expected.fill(0, 2 * SECTOR, 5 * SECTOR);
      assert.deepStrictEqual(bytes(), expected);
      assert.equal(stats.requests, 5, 'info is not a request');
    });

    test('reads into a buffer what read returns, and refuses what read refuses, leaving it as it was', () => {
      const { device } = kind.make(false, stats);
      const buffer = new Uint8Array(4 * SECTOR).fill(0x5a);
      device.readInto(6n, buffer.subarray(SECTOR, 3 * SECTOR));
      assert.deepStrictEqual(buffer.subarray(SECTOR, 3 * SECTOR), device.read(6n, 1024n));
      const before = buffer.slice();
      assertDeviceError(() => device.readInto(7n, buffer.subarray(0, 2 * SECTOR)), { tag: 'out-of-bounds' });
      assertDeviceError(() => device.readInto(2n ** 64n - 1n, buffer.subarray(0, SECTOR)), { tag: 'out-of-bounds' });
      assertDeviceError(() => device.readInto(0n, buffer.subarray(0, 100)), { tag: 'unaligned' });
      device.disconnect();
      assertDeviceError(() => device.readInto(0n, buffer.subarray(0, SECTOR)), { tag: 'disconnected' });
      assert.deepStrictEqual(buffer, before);
      assert.equal(stats.requests, 6, 'each readInto is a request');
      assert.throws(() => device.readInto(0n, [0]), TypeError);
    });

    test('refuses what is outside it, unaligned, or a write when read-only', () => {
      const { device } = kind.make(true, stats);
      assertDeviceError(() => device.read(8n, 512n), { tag: 'out-of-bounds' });
      assertDeviceError(() => device.read(7n, 1024n), { tag: 'out-of-bounds' });
      assertDeviceError(() => device.read(2n ** 64n - 1n, 512n), { tag: 'out-of-bounds' });
      assertDeviceError(() => device.read(0n, 511n), { tag: 'unaligned' });
      assertDeviceError(() => device.write(0n, new Uint8Array(SECTOR)), { tag: 'is-read-only' });
      assertDeviceError(() => device.writeZeroes(0n, 1n), { tag: 'is-read-only' });
      assertDeviceError(() => device.discard(0n, 1n), { tag: 'is-read-only' });
      device.flush();
      assert.equal(stats.requests, 8, 'refused requests still reached the device');
    });

    test('refuses everything once disconnected, and counts its drop once', () => {
      const { device } = kind.make(false, stats);
      device.disconnect();
      assertDeviceError(() => device.read(0n, 512n), { tag: 'disconnected' });
      assertDeviceError(() => device.flush(), { tag: 'disconnected' });
      assert.deepStrictEqual(device.info().sizeSectors, 8n);
      device[Symbol.dispose]();
      device[Symbol.dispose]();
      assert.equal(stats.drops, 1);
      assert.ok(device.dropped);
    });
  });
}

test('a memory device needs whole sectors of a valid size', () => {
  assert.throws(() => new MemoryDevice(new Uint8Array(1000), { sectorSize: 512 }), RangeError);
  assert.throws(() => new MemoryDevice(new Uint8Array(1536), { sectorSize: 768 }), RangeError);
  assert.throws(() => new MemoryDevice(new Uint8Array(512), { sectorSize: 256 }), RangeError);
});

test('a file device reports a file that shrank under it as io', () => {
  const { device, file } = kinds.file.make(false, new DeviceStats());
  try {
    fs.truncateSync(file, 4 * SECTOR);
    assertDeviceError(() => device.read(6n, 512n), { tag: 'io', val: 'the file ends 0 bytes into a read of 512' });
  } finally {
    device[Symbol.dispose]();
    kinds.file.cleanup();
  }
});
