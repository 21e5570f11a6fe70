// The conformance suite's fixture, after tests/src/lib.rs and cases.rs: a disk filled with a
// pattern, a fresh partitioner instance reaching it, and the disk's own bytes as the oracle.
//
// This lives outside test/ because `node --test` runs every .js file under test/ as a test file.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { DeviceStats, FileDevice, MemoryDevice, instantiate } from '../src/index.js';

/** Sectors of every case's disk. */
export const SECTORS = 64n;
/** The largest transfer a partition accepts, in bytes (core's MAX_TRANSFER_BYTES). */
export const MAX_TRANSFER_BYTES = 64n << 20n;
export const U64_MAX = (1n << 64n) - 1n;

/** The sector sizes every case runs with. */
export const SECTOR_SIZES = [512, 4096];

/**
 * `len` bytes of a pattern that differs with `seed` and along the buffer, so misplaced data
 * shows: the xorshift32 of tests/src/lib.rs, byte for byte.
 */
export function pattern(len, seed) {
  const out = new Uint8Array(len);
  let state = Math.imul(seed, 0x9e3779b9) | 1;
  for (let i = 0; i < len; i++) {
    // Bitwise operators work modulo 2^32, as u32 does; `>>>` shifts in zeroes as u32's `>>`.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}

// The partition `error` variants, as jco lifts them.
export const outOfBounds = (sectorStart, sectors, sizeSectors) => ({
  tag: 'out-of-bounds',
  val: { sectorStart, sectors, sizeSectors },
});
export const unaligned = (len) => ({ tag: 'unaligned', val: len });
export const tooLarge = (len) => ({ tag: 'too-large', val: len });
export const DISCONNECTED = Object.freeze({ tag: 'disconnected' });
export const IS_READ_ONLY = Object.freeze({ tag: 'is-read-only' });

const describe = (value) =>
  JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));

/**
 * Asserts that `call` fails with the partition error `expected`, carried as the payload of
 * jco's ComponentError: any other exception (a guest trap, a host bug) is not a refusal.
 */
export function assertRefused(call, expected, message) {
  let error;
  try {
    call();
  } catch (caught) {
    error = caught;
  }
  const what = message ? `${message}: ` : '';
  assert.ok(error, `${what}expected the error ${describe(expected)}, but the call succeeded`);
  if (error.constructor?.name !== 'ComponentError') throw error;
  assert.deepStrictEqual(error.payload, expected, `${what}wrong error`);
}

/** Asserts two byte arrays are equal, naming the first byte that differs (not a 256 KiB diff). */
export function assertBytes(actual, expected, message = 'bytes differ') {
  assert.ok(actual instanceof Uint8Array, `${message}: not a Uint8Array`);
  assert.equal(actual.length, expected.length, `${message}: length`);
  const at = actual.findIndex((byte, i) => byte !== expected[i]);
  assert.equal(at, -1, `${message}: first difference at byte ${at}`);
}

/** Where a disk's bytes live: each backend hands out devices of its own kind over them. */
export const BACKENDS = {
  memory: {
    name: 'memory device',
    disk(spec, contents) {
      const bytes = contents.slice();
      return {
        device: (stats) => new MemoryDevice(bytes, { ...spec, stats }),
        bytes: () => bytes.slice(),
        remove() {},
      };
    },
  },
  file: {
    name: 'file device',
    disk(spec, contents) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blockpart-'));
      const file = path.join(dir, 'disk.img');
      fs.writeFileSync(file, contents);
      return {
        device: (stats) => FileDevice.open(file, { ...spec, stats }),
        bytes: () => new Uint8Array(fs.readFileSync(file)),
        remove: () => fs.rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
};

/**
 * A disk of SECTORS sectors filled with a pattern, and a new partitioner instance. `whole` and
 * `connect` hand the instance a fresh device over the disk each time, as the Rust suite does;
 * the partitions made through the fixture are kept, so that none is dropped by the garbage
 * collector behind a case's back, and dropped at `close`.
 */
export class Fixture {
  #disk;
  #partitioner;
  #parts = new Set();
  #handedOver = 0;
  #stats = new DeviceStats();

  static async create(backend, sectorSize, { readOnly = false } = {}) {
    const { partition } = await instantiate();
    return new Fixture(backend, sectorSize, readOnly, partition.Partition);
  }

  constructor(backend, sectorSize, readOnly, Partition) {
    this.sectorSize = BigInt(sectorSize);
    this.original = pattern(Number(SECTORS) * sectorSize, 7);
    this.#disk = backend.disk({ sectorSize, readOnly }, this.original);
    this.#partitioner = Partition;
  }

  /** Bytes in `count` sectors, as a u64 argument. */
  len(count) {
    return BigInt(count) * this.sectorSize;
  }

  /** The byte index of sector `sector`. */
  byte(sector) {
    return Number(BigInt(sector) * this.sectorSize);
  }

  /** The original bytes of `count` device sectors from `sector`. */
  originalAt(sector, count) {
    return this.original.subarray(this.byte(sector), this.byte(BigInt(sector) + BigInt(count)));
  }

  /** The disk's bytes now, read around the partitioner. */
  bytes() {
    return this.#disk.bytes();
  }

  assertUnchanged() {
    assertBytes(this.bytes(), this.original, "the disk's bytes changed");
  }

  /** Device handles the partitioner holds: given to it and not yet dropped. */
  liveDevices() {
    return this.#handedOver - this.#stats.drops;
  }

  /** Requests the devices received from the partitioner. */
  deviceRequests() {
    return this.#stats.requests;
  }

  #device() {
    this.#handedOver += 1;
    return this.#disk.device(this.#stats);
  }

  #keep(...parts) {
    for (const part of parts) this.#parts.add(part);
    return parts.length === 1 ? parts[0] : parts;
  }

  whole() {
    return this.#keep(this.#partitioner.whole(this.#device()));
  }

  connect(first) {
    return this.#keep(...this.#partitioner.connect(first, this.#device()));
  }

  split(part, first) {
    return this.#keep(...part.subpartition(first));
  }

  slice(part, start, sectors) {
    return this.#keep(part.slice(start, sectors));
  }

  /** Drops a partition handle: jco's `[Symbol.dispose]`. */
  drop(part) {
    assert.ok(this.#parts.delete(part), 'the case dropped a partition it does not hold');
    part[Symbol.dispose]();
  }

  /**
   * Drops every partition left and removes the disk. After a passing case, no device may be
   * left with the partitioner then (a file device closes its file when dropped).
   */
  close({ passed }) {
    try {
      for (const part of this.#parts) part[Symbol.dispose]();
      this.#parts.clear();
      if (passed) assert.equal(this.liveDevices(), 0, 'a device outlived its last partition');
    } finally {
      this.#disk.remove();
    }
  }
}
