// Where the guest calls the JS devices. jco calls a device's methods from inside the guest's
// frames, and turns a thrown object with an own `payload` into the WIT error; anything else
// (an exception without a payload, a payload that is no `device-error`, a result jco cannot
// lower) unwinds through those frames. The guest's stack pointer is a global of its own that
// only its epilogues restore, so each such throw leaves the stack those frames held in use: 64
// bytes here, and the 16,384th throw ran off the guest's 1 MiB stack ("out of bounds memory
// access"), killing the instance.
//
// So jco is never given a device: it is given a `GuestDevice` in front of it, which lets
// nothing escape. A device-error goes to the guest as it is; anything else the device throws,
// or a result jco could not lower, is kept, the guest is told `io`, and the package throws the
// original to its caller once the guest has returned (`DeviceBoundary.call`).

import { DeviceFailure, deviceError } from './devices.js';
import { u32, u64 } from './integers.js';

/** What the guest is told when a device threw something that is no device-error. */
const THREW = deviceError.io('the device threw an exception, which the package throws to its caller');

/** What the guest is told when `info` threw: a sector size it refuses, so the handover fails. */
const NO_INFO = Object.freeze({ readWrite: false, sectorSize: 0, sizeSectors: 0n });

/** The `device-error` cases with no value. */
const PLAIN = new Set(['disconnected', 'is-read-only', 'out-of-bounds', 'unaligned']);

/**
 * The device-error `thrown` carries where jco looks for one (an own `payload`), as a fresh
 * value, if jco can lower it; otherwise undefined. Reading `thrown` may run the device's code
 * (a getter, a proxy), hence the try.
 */
function deviceErrorIn(thrown) {
  try {
    if (typeof thrown !== 'object' || thrown === null || !Object.hasOwn(thrown, 'payload')) return undefined;
    const { tag, val } = thrown.payload;
    if (tag === 'io') return typeof val === 'string' ? deviceError.io(val) : undefined;
    return PLAIN.has(tag) ? { tag } : undefined;
  } catch {
    return undefined;
  }
}

/** `info` as jco can lower it: its integers checked, since jco would wrap them. */
function lowerableInfo(info) {
  const { readWrite, sectorSize, sizeSectors } = info;
  return {
    readWrite: Boolean(readWrite),
    sectorSize: u32(sectorSize, "the device's info().sectorSize"),
    sizeSectors: u64(sizeSectors, "the device's info().sizeSectors"),
  };
}

/** `data`, a device's `read` result, if jco can lower it as the `list<u8>`. */
function lowerableBytes(data) {
  if (!(data instanceof Uint8Array)) throw new TypeError(`the device's read returned ${typeof data}, not a Uint8Array`);
  return data;
}

/**
 * A device as jco sees it: the `Device` class of the import object jco is given. Each method
 * calls the device's own and returns what jco can lower, whatever the device does; its length
 * is left to the guest, which refuses a short read as `invalid-device`.
 */
export class GuestDevice {
  #device;
  #keep;

  /**
   * @param {object} device the device handed over
   * @param {(error: unknown) => void} keep where an exception for the caller goes
   */
  constructor(device, keep) {
    this.#device = device;
    this.#keep = keep;
  }

  info() {
    try {
      return lowerableInfo(this.#device.info());
    } catch (error) {
      this.#keep(error);
      return NO_INFO;
    }
  }

  read(sectorStart, len) {
    return this.#request(() => lowerableBytes(this.#device.read(sectorStart, len)));
  }

  write(sectorStart, data) {
    this.#request(() => { this.#device.write(sectorStart, data); });
  }

  flush() {
    this.#request(() => { this.#device.flush(); });
  }

  discard(sectorStart, sectors) {
    this.#request(() => { this.#device.discard(sectorStart, sectors); });
  }

  writeZeroes(sectorStart, sectors) {
    this.#request(() => { this.#device.writeZeroes(sectorStart, sectors); });
  }

  disconnect() {
    this.#quietly(() => this.#device.disconnect());
  }

  // jco calls this when the guest drops the device.
  [Symbol.dispose]() {
    this.#quietly(() => this.#device[Symbol.dispose]?.());
  }

  /** A request, whose result is a `result`: a failure that is no device-error is kept, and the guest told `io`. */
  #request(run) {
    try {
      return run();
    } catch (error) {
      const payload = deviceErrorIn(error);
      if (payload === undefined) this.#keep(error);
      throw new DeviceFailure(payload ?? THREW);
    }
  }

  /** A call with nothing to return: whatever it throws is kept. */
  #quietly(run) {
    try {
      run();
    } catch (error) {
      this.#keep(error);
    }
  }
}

/**
 * The devices of one instance: hands each over behind a `GuestDevice`, and throws what they
 * threw to the caller of the guest call they threw in.
 */
export class DeviceBoundary {
  #Device;
  /** What devices threw during the call into the guest now running; undefined between calls. */
  #thrown;

  /** @param {Function} Device the import object's class, which every device handed over must be an instance of */
  constructor(Device) {
    if (typeof Device !== 'function') {
      throw new TypeError('the import object has no Device class for blockpart:partition/block-device');
    }
    this.#Device = Device;
  }

  /** What jco is handed in place of `device`. */
  handOver(device) {
    if (!(device instanceof this.#Device)) {
      throw new TypeError(`a device handed over must be an instance of the import object's Device class (${this.#Device.name})`);
    }
    return new GuestDevice(device, (error) => this.#keep(error));
  }

  /**
   * Runs `run`, a call into the guest, and returns its result; but if a device threw during it,
   * throws the first thing it threw instead (the guest only saw `io`, or a refused handover).
   */
  call(run) {
    const outer = this.#thrown;
    const thrown = [];
    this.#thrown = thrown;
    try {
      const result = run();
      if (thrown.length === 0) return result;
    } catch (error) {
      if (thrown.length === 0) throw error;
    } finally {
      this.#thrown = outer;
    }
    throw thrown[0];
  }

  #keep(error) {
    if (this.#thrown !== undefined) {
      this.#thrown.push(error);
    } else {
      // No call is running: jco's finalizer is dropping a partition the program let go of, and
      // the guest its device. There is no caller, so it is thrown on its own, as any exception
      // in a finalizer would be: uncaught.
      queueMicrotask(() => { throw error; });
    }
  }
}
