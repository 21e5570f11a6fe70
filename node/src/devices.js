// Block devices for the partitioner's `block-device` import, written in JS.
//
// The guest's calls reach the methods of the object passed to `partition.whole` or
// `partition.connect` (through src/boundary.js, which jco calls instead): `info()`,
// `read(sectorStart, len)`, `write(sectorStart, data)`, `flush()`, `discard(sectorStart,
// sectors)`, `writeZeroes(sectorStart, sectors)`, `disconnect()`. The package's own mapped
// transfers (src/partition.js) call `readInto(sectorStart, buffer)` and `write(sectorStart,
// data)` on the same object, with the sector the partitioner mapped. Numbers of WIT type u64
// arrive as BigInt; `list<u8>` is a Uint8Array. A `result` error is reported by throwing an
// object with a `payload` property, a `DeviceFailure`: the guest gets `payload` as the `err`
// case. Anything else a device throws reaches the caller of the partition call it happened
// in, once the guest has returned. `FileDevice` is in src/file-device.js.

import { u64 } from './integers.js';
import { checkSectorSize } from './sector-size.js';

/** The `device-error` variants, as jco represents them: `{ tag }` or `{ tag, val }`. */
export const deviceError = Object.freeze({
  disconnected: () => ({ tag: 'disconnected' }),
  isReadOnly: () => ({ tag: 'is-read-only' }),
  outOfBounds: () => ({ tag: 'out-of-bounds' }),
  unaligned: () => ({ tag: 'unaligned' }),
  io: (message) => ({ tag: 'io', val: String(message) }),
});

/** A device's refusal of a request: jco turns `payload` into the `result`'s error. */
export class DeviceFailure extends Error {
  constructor(payload) {
    super(`block device error: ${payload.tag}${payload.val === undefined ? '' : ` (${payload.val})`}`);
    this.name = 'DeviceFailure';
    // An own property: that is what jco's getErrorPayload looks for.
    this.payload = payload;
  }
}

/**
 * What a host wants to know of the devices it handed out: requests that reached them (every
 * method but `info` and `disconnect`, counted before the device's own checks) and handles the
 * guest dropped. Share one between devices to count them together.
 */
export class DeviceStats {
  requests = 0;
  drops = 0;
}

/**
 * `data`, which a device's `read` returned for a request of `bytes` bytes, if it is that long;
 * otherwise the device broke its contract, reported as `io` (as the Rust host's default
 * `read_into` does).
 */
function readExactly(data, bytes) {
  if (!(data instanceof Uint8Array) || data.length !== bytes) {
    const got = data instanceof Uint8Array ? `${data.length} bytes` : typeof data;
    throw new DeviceFailure(deviceError.io(`asked for ${bytes} bytes, the device read ${got}`));
  }
  return data;
}

/**
 * Reads from `device` into `buffer` from sector `sectorStart`: with the device's `readInto`
 * when it has one (every `BlockDevice` does), otherwise with its `read` and a copy (a device
 * class of one's own, given to `instantiate` in the import object). Not re-exported by the
 * package: the mapped transfers of src/partition.js use it.
 */
export function readIntoDevice(device, sectorStart, buffer) {
  if (typeof device.readInto === 'function') {
    device.readInto(sectorStart, buffer);
  } else {
    buffer.set(readExactly(device.read(sectorStart, BigInt(buffer.length)), buffer.length));
  }
}

/**
 * The base of every device: the class given to jco as the `device` resource, since jco checks
 * `disk instanceof Device` before taking ownership. Subclasses implement the `_read`, `_write`,
 * `_flush` and `_zero` hooks, called only with requests this class has checked.
 */
export class BlockDevice {
  #sectorSize;
  #sizeSectors;
  #readOnly;
  #connected = true;
  #dropped = false;

  /**
   * @param {object} geometry
   * @param {number} geometry.sectorSize bytes per sector: a power of two from 512 to 2^31
   * @param {bigint | number} geometry.sizeSectors size in sectors, a u64
   * @param {boolean} [geometry.readOnly] whether writes are refused
   * @param {DeviceStats} [geometry.stats] counters to update
   */
  constructor({ sectorSize, sizeSectors, readOnly = false, stats = new DeviceStats() }) {
    this.#sectorSize = checkSectorSize(sectorSize);
    this.#sizeSectors = u64(sizeSectors, 'sizeSectors');
    this.#readOnly = readOnly;
    this.stats = stats;
  }

  get sectorSize() { return this.#sectorSize; }
  get sizeSectors() { return this.#sizeSectors; }
  get readOnly() { return this.#readOnly; }
  get connected() { return this.#connected; }
  /** Whether the guest dropped its handle to this device. */
  get dropped() { return this.#dropped; }

  info() {
    return { readWrite: !this.#readOnly, sectorSize: this.#sectorSize, sizeSectors: this.#sizeSectors };
  }

  read(sectorStart, len) {
    const { offset, bytes } = this.#check({ start: u64(sectorStart, 'sectorStart'), len: u64(len, 'len'), writes: false });
    return this._read(offset, bytes);
  }

  /**
   * Reads `buffer.length` bytes from sector `sectorStart` into `buffer` (a Uint8Array), with
   * the checks of `read`; on a failure `buffer` may hold part of the data.
   */
  readInto(sectorStart, buffer) {
    if (!(buffer instanceof Uint8Array)) throw new TypeError('readInto needs a Uint8Array');
    const { offset } = this.#check({ start: u64(sectorStart, 'sectorStart'), len: BigInt(buffer.length), writes: false });
    this._readInto(offset, buffer);
  }

  write(sectorStart, data) {
    const { offset } = this.#check({ start: u64(sectorStart, 'sectorStart'), len: BigInt(data.length), writes: true });
    this._write(offset, data);
  }

  flush() {
    this.#check({});
    this._flush();
  }

  // Discarded contents are unspecified: zeroes are what a hole in a file reads as.
  discard(sectorStart, sectors) {
    this.writeZeroes(sectorStart, sectors);
  }

  writeZeroes(sectorStart, sectors) {
    const { offset, bytes } = this.#check({
      start: u64(sectorStart, 'sectorStart'),
      len: u64(sectors, 'sectors') * BigInt(this.#sectorSize),
      writes: true,
    });
    this._zero(offset, bytes);
  }

  disconnect() {
    this.#connected = false;
  }

  // jco calls this when the guest drops its own handle (the `[resource-drop]device` import).
  [Symbol.dispose]() {
    if (this.#dropped) return;
    this.#dropped = true;
    this.#connected = false;
    this.stats.drops += 1;
    this._close();
  }

  /**
   * Counts a request, then checks it as the Rust devices do: connected, writable, whole
   * sectors, inside the device. BigInt arithmetic cannot overflow, so no u64 wrap sneaks past.
   * Returns the byte offset and length, as Numbers: inside the device, so they are small.
   */
  #check({ start = 0n, len = 0n, writes = false }) {
    this.stats.requests += 1;
    const fail = (payload) => { throw new DeviceFailure(payload); };
    if (!this.#connected) fail(deviceError.disconnected());
    if (writes && this.#readOnly) fail(deviceError.isReadOnly());
    const size = BigInt(this.#sectorSize);
    if (len % size !== 0n) fail(deviceError.unaligned());
    if (start + len / size > this.#sizeSectors) fail(deviceError.outOfBounds());
    return { offset: Number(start * size), bytes: Number(len) };
  }

  // The hooks a subclass provides. `_readInto` defaults to `_read` and a copy; a device that
  // can fill the buffer itself should.
  _read(_offset, _bytes) { throw new Error('BlockDevice._read is abstract'); }
  _readInto(offset, buffer) { buffer.set(readExactly(this._read(offset, buffer.length), buffer.length)); }
  _write(_offset, _data) { throw new Error('BlockDevice._write is abstract'); }
  _zero(_offset, _bytes) { throw new Error('BlockDevice._zero is abstract'); }
  _flush() {}
  _close() {}
}

/**
 * A device over a Uint8Array of whole sectors, used in place (not copied): devices made over
 * the same array share its bytes, and the caller sees every write, as a test oracle should.
 */
export class MemoryDevice extends BlockDevice {
  #bytes;

  /**
   * @param {Uint8Array} bytes the device's contents, a whole number of sectors
   * @param {object} options `sectorSize`, and optionally `readOnly` and `stats`
   */
  constructor(bytes, { sectorSize, readOnly = false, stats } = {}) {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('a MemoryDevice needs a Uint8Array');
    checkSectorSize(sectorSize); // before it divides the length
    if (bytes.length % sectorSize !== 0) {
      throw new RangeError(`${bytes.length} bytes is not a whole number of ${sectorSize}-byte sectors`);
    }
    super({ sectorSize, sizeSectors: BigInt(bytes.length / sectorSize), readOnly, stats });
    this.#bytes = bytes;
  }

  /** The device's bytes (the array it was made over). */
  get bytes() { return this.#bytes; }

  // A view, not a copy: jco copies the returned bytes into guest memory straight away.
  _read(offset, bytes) { return this.#bytes.subarray(offset, offset + bytes); }
  _readInto(offset, buffer) { buffer.set(this.#bytes.subarray(offset, offset + buffer.length)); }
  _write(offset, data) { this.#bytes.set(data, offset); }
  _zero(offset, bytes) { this.#bytes.fill(0, offset, offset + bytes); }
}
