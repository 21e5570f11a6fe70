// The package's `Partition`: jco's partition resource, with the device it reaches beside it, so
// that reads and writes take the mapped path of WIT 0.2.0. The partitioner checks a transfer
// and says where on the device it lands (`partition.map`); this side then moves the bytes on
// the device it handed over, straight between the device and the caller's Uint8Array. The
// bytes never enter guest memory, and jco copies nothing.
//
// Which device a partition reaches is known here, never asked of the guest: `whole` and
// `connect` record the device they hand over, and every partition made from a partition
// (`subpartition`, `slice`, `partition-table.open`) inherits its parent's. The guest only
// says where in that device; the device's own bounds checks stop a sector outside it.
//
// Every u64 and u32 argument is checked here before the call (src/integers.js), since jco
// would wrap it; every call into the guest goes through the instance's device boundary
// (src/boundary.js), which throws what a device threw during it.

import { DeviceFailure, readIntoDevice } from './devices.js';
import { u32, u64 } from './integers.js';

/** A refusal by the partitioner, or a device's failure of a mapped transfer. */
export class PartitionError extends Error {
  /** @param {{tag: string, val?: unknown}} payload the WIT `error` (or `table-error`) */
  constructor(payload) {
    super(`partition error: ${describe(payload)}`);
    this.name = 'PartitionError';
    this.payload = payload;
  }
}

/** `out-of-bounds`, `device (disconnected)`, `invalid-device (why)`: a payload for a message. */
function describe(payload) {
  const { tag, val } = payload ?? {};
  if (val === undefined) return String(tag);
  if (typeof val === 'object' && val !== null && 'tag' in val) return `${tag} (${describe(val)})`;
  if (typeof val === 'object' && val !== null) {
    return `${tag} (${Object.entries(val).map(([key, inner]) => `${key} ${inner}`).join(', ')})`;
  }
  return `${tag} (${val})`;
}

/**
 * What a call into the guest threw, to throw on: jco's `ComponentError` (the WIT error, in
 * `payload`) as a `PartitionError`; anything else (a trap, a jco TypeError) unchanged.
 */
function translated(error) {
  if (error?.constructor?.name === 'ComponentError' && Object.hasOwn(error, 'payload')) {
    return new PartitionError(error.payload);
  }
  return error;
}

/** Runs a mapped transfer on a device: its `DeviceFailure` becomes the WIT error `device(...)`. */
function onDevice(call) {
  try {
    call();
  } catch (error) {
    if (error instanceof DeviceFailure) throw new PartitionError({ tag: 'device', val: error.payload });
    throw error;
  }
}

/** Lets only this module construct partitions. */
const MADE_HERE = Symbol('partition');

/**
 * The `Partition` class and `partitionTable` of one jco instance (`root`, what jco's
 * `instantiate` returns), whose devices pass `boundary` (a `DeviceBoundary`).
 */
export function bind(root, boundary) {
  const Resource = root.partition.Partition;
  const table = root.partitionTable;

  /** Runs a call into the guest, through the device boundary, its WIT error as a `PartitionError`. */
  const guest = (call) => boundary.call(() => {
    try {
      return call();
    } catch (error) {
      throw translated(error);
    }
  });

  /**
   * A contiguous range of a device's sectors, itself usable as a block device. Made by
   * `Partition.whole`, `Partition.connect`, `subpartition`, `slice` or `partitionTable.open`.
   */
  class Partition {
    #resource;
    #device;

    constructor(token, resource, device) {
      if (token !== MADE_HERE) throw new TypeError('partitions are made by Partition.whole, Partition.connect and their methods');
      this.#resource = resource;
      this.#device = device;
    }

    /** The whole of `device`, handed over to the partitioner. */
    static whole(device) {
      const handed = boundary.handOver(device);
      return new Partition(MADE_HERE, guest(() => Resource.whole(handed)), device);
    }

    /** `device`, handed over, split at `firstSectors` sectors: `[first, rest]`. */
    static connect(firstSectors, device) {
      const first = u64(firstSectors, 'firstSectors');
      const handed = boundary.handOver(device);
      const pair = guest(() => Resource.connect(first, handed));
      return pair.map((resource) => new Partition(MADE_HERE, resource, device));
    }

    /** This partition split at `firstSectors` of its sectors: `[first, rest]`. */
    subpartition(firstSectors) {
      const first = u64(firstSectors, 'firstSectors');
      const pair = guest(() => this.#resource.subpartition(first));
      return pair.map((resource) => new Partition(MADE_HERE, resource, this.#device));
    }

    /** `sectors` sectors of this partition from `sectorStart`. */
    slice(sectorStart, sectors) {
      const [start, count] = [u64(sectorStart, 'sectorStart'), u64(sectors, 'sectors')];
      return new Partition(MADE_HERE, guest(() => this.#resource.slice(start, count)), this.#device);
    }

    /** The partition's first sector on its device. */
    getOffset() { return guest(() => this.#resource.getOffset()); }

    /** `{ readWrite, sectorSize, sizeSectors }`. */
    info() { return guest(() => this.#resource.info()); }

    /**
     * Where on the device a transfer of `len` bytes from `sectorStart` lands (`partition.map`):
     * `direction` is `'read'` or `'write'`. Checked as `read` or `write` would check it, with
     * the same errors; moves no byte and makes no device request.
     */
    map(direction, sectorStart, len) {
      const [start, bytes] = [u64(sectorStart, 'sectorStart'), u64(len, 'len')];
      return guest(() => this.#resource.map(direction, start, bytes));
    }

    /**
     * Reads `buffer.length` bytes (whole sectors) from sector `sectorStart` into `buffer`, a
     * Uint8Array: mapped by the partitioner, read by the device straight into `buffer`. A
     * refused request leaves `buffer` as it was; on a device failure it may hold part of the data.
     */
    readInto(sectorStart, buffer) {
      if (!(buffer instanceof Uint8Array)) throw new TypeError('readInto needs a Uint8Array');
      const at = this.map('read', sectorStart, BigInt(buffer.length));
      if (buffer.length === 0) return;
      const device = this.#mapped();
      onDevice(() => readIntoDevice(device, at, buffer));
    }

    /** Reads `len` bytes (whole sectors) from sector `sectorStart` into a new Uint8Array, as `readInto`. */
    read(sectorStart, len) {
      const at = this.map('read', sectorStart, len);
      // The partitioner refuses a transfer past its limit (MAX_TRANSFER_BYTES): `len` is small.
      const buffer = new Uint8Array(Number(len));
      if (buffer.length === 0) return buffer;
      const device = this.#mapped();
      onDevice(() => readIntoDevice(device, at, buffer));
      return buffer;
    }

    /**
     * Writes `data` (a Uint8Array of whole sectors) from sector `sectorStart`: mapped by the
     * partitioner, written by the device straight from `data`. A refused request writes nothing.
     */
    write(sectorStart, data) {
      if (!(data instanceof Uint8Array)) throw new TypeError('write needs a Uint8Array');
      const at = this.map('write', sectorStart, BigInt(data.length));
      if (data.length === 0) return;
      const device = this.#mapped();
      onDevice(() => device.write(at, data));
    }

    /** `partition.read` itself: the partitioner reads the device and returns a `list<u8>`, the bytes passing through guest memory. */
    readList(sectorStart, len) {
      const [start, bytes] = [u64(sectorStart, 'sectorStart'), u64(len, 'len')];
      return guest(() => this.#resource.read(start, bytes));
    }

    /** `partition.write` itself: `data` is copied into guest memory, and the partitioner writes the device. */
    writeList(sectorStart, data) {
      const start = u64(sectorStart, 'sectorStart');
      guest(() => this.#resource.write(start, data));
    }

    /** Flushes the device: every completed write becomes durable. */
    flush() { guest(() => this.#resource.flush()); }

    /** Discards `sectors` sectors from `sectorStart`; their contents are unspecified after. */
    discard(sectorStart, sectors) {
      const [start, count] = [u64(sectorStart, 'sectorStart'), u64(sectors, 'sectors')];
      guest(() => this.#resource.discard(start, count));
    }

    /** Writes zeroes to `sectors` sectors from `sectorStart`. */
    writeZeroes(sectorStart, sectors) {
      const [start, count] = [u64(sectorStart, 'sectorStart'), u64(sectors, 'sectors')];
      guest(() => this.#resource.writeZeroes(start, count));
    }

    /** Disconnects the partition: every later request is refused. */
    disconnect() { guest(() => this.#resource.disconnect()); }

    /** Drops the partition handle now (the guest drops the device with its last partition). */
    [Symbol.dispose]() { guest(() => this.#resource[Symbol.dispose]()); }

    /** jco's resource, for `partitionTable`. */
    static resourceOf(partition) { return partition.#resource; }

    /** The device of `partition`, for `partitionTable.open`. */
    static deviceOf(partition) { return partition.#device; }

    /**
     * The device a transfer the partitioner just mapped goes to. The partitioner keeps a
     * device while a partition of it is connected, and it said this one is: a device it has
     * dropped means it broke its contract, an error rather than a request of a closed device.
     * jco also disposes a device object handed over twice when the first handle goes (see the
     * README), which looks the same from here. Only a device with a `dropped` property, as
     * every `BlockDevice` has, can tell.
     */
    #mapped() {
      if (this.#device.dropped === true) {
        throw new Error(
          'the partitioner mapped a request on a partition whose device was dropped (by the partitioner, '
            + 'or by jco for another handle to the same device object)',
        );
      }
      return this.#device;
    }
  }

  const partitionTable = {
    /** The partition table on `partition`: `{ label, sectorSize, sizeSectors, entries }`. */
    read(partition) {
      return guest(() => table.read(Partition.resourceOf(partition)));
    },
    /** Entry `number` of the table on `partition`, as a partition of the same device. */
    open(partition, number) {
      const entry = u32(number, 'number');
      const resource = guest(() => table.open(Partition.resourceOf(partition), entry));
      return new Partition(MADE_HERE, resource, Partition.deviceOf(partition));
    },
  };

  return { partition: { Partition }, partitionTable };
}
