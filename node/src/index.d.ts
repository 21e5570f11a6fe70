// The types of src/index.js, src/partition.js and src/devices.js. The WIT's own types are jco's
// (gen/interfaces/*.d.ts, made by `npm run build` from wit/blockpart.wit).

import type { DeviceError, Direction, Error as WitError, Info } from '../gen/interfaces/blockpart-partition-types.js';
import type { Error as TableError, Table } from '../gen/interfaces/blockpart-partition-partition-table.js';

export type { DeviceError, Direction, Info, Table, TableError };
export type { WitError };

/**
 * A WIT u64 argument: a BigInt from 0 to 2^64 - 1, or a Number that is a safe integer. Checked
 * before the call: anything that is not an integer (1.9, `true`, a string) throws a TypeError,
 * a negative value, one past 2^64 - 1 or a Number past 2^53 - 1 a RangeError. Results are BigInt.
 */
export type U64 = bigint | number;

/**
 * A WIT u32 argument: a Number that is an integer from 0 to 2^32 - 1; otherwise a TypeError (not
 * an integer Number) or a RangeError (outside the u32), before the call.
 */
export type U32 = number;

/** The `device-error` variants, as jco represents them. */
export declare const deviceError: Readonly<{
  disconnected(): DeviceError;
  isReadOnly(): DeviceError;
  outOfBounds(): DeviceError;
  unaligned(): DeviceError;
  io(message: unknown): DeviceError;
}>;

/** A device's refusal of a request: jco turns `payload` into the `result`'s error. */
export declare class DeviceFailure extends Error {
  constructor(payload: DeviceError);
  readonly payload: DeviceError;
}

/** Requests that reached a device (all but `info` and `disconnect`) and handles the guest dropped. */
export declare class DeviceStats {
  requests: number;
  drops: number;
}

export interface Geometry {
  /**
   * Bytes per sector: a power of two from 512 to 2^31, what the partitioner takes. Checked when
   * the device is made: a RangeError otherwise (a TypeError if it is not an integer Number).
   */
  sectorSize: number;
  sizeSectors: U64;
  readOnly?: boolean;
  stats?: DeviceStats;
}

export interface DeviceOptions {
  /** Bytes per sector, checked as `Geometry.sectorSize`. */
  sectorSize: number;
  readOnly?: boolean;
  stats?: DeviceStats;
}

/**
 * The base of every device: the default `Device` class of the import object. Checks each
 * request (connected, writable, whole sectors, inside the device), then calls the subclass's
 * hooks `_read`, `_readInto` (defaults to `_read` and a copy), `_write`, `_zero`, `_flush`, `_close`.
 * Its u64 arguments are checked as `U64` says. A failure reported to the partitioner is a
 * thrown `DeviceFailure`; anything else a device throws is thrown by the partition call it
 * happened in, once the partitioner has returned.
 */
export declare class BlockDevice {
  constructor(geometry: Geometry);
  readonly sectorSize: number;
  readonly sizeSectors: bigint;
  readonly readOnly: boolean;
  readonly connected: boolean;
  /** Whether the guest dropped its handle to this device. */
  readonly dropped: boolean;
  stats: DeviceStats;
  info(): Info;
  read(sectorStart: U64, len: U64): Uint8Array;
  /** Reads `buffer.length` bytes from `sectorStart` into `buffer`, with the checks of `read`. */
  readInto(sectorStart: U64, buffer: Uint8Array): void;
  write(sectorStart: U64, data: Uint8Array): void;
  flush(): void;
  discard(sectorStart: U64, sectors: U64): void;
  writeZeroes(sectorStart: U64, sectors: U64): void;
  disconnect(): void;
  [Symbol.dispose](): void;
  protected _read(offset: number, bytes: number): Uint8Array;
  protected _readInto(offset: number, buffer: Uint8Array): void;
  protected _write(offset: number, data: Uint8Array): void;
  protected _zero(offset: number, bytes: number): void;
  protected _flush(): void;
  protected _close(): void;
}

/** A device over a Uint8Array of whole sectors, used in place. */
export declare class MemoryDevice extends BlockDevice {
  constructor(bytes: Uint8Array, options: DeviceOptions);
  readonly bytes: Uint8Array;
}

/** A device over a regular file or a block device, with positional I/O; closed when the guest drops it. */
export declare class FileDevice extends BlockDevice {
  /**
   * Opens `path`: a regular file, or a block device whose size the kernel tells (sysfs). Anything
   * else (a FIFO, a directory, /dev/null and other character devices, a socket) throws an
   * `Error` naming the path and what it is, at once, without waiting on it.
   */
  static open(path: string, options: DeviceOptions): FileDevice;
  constructor(fd: number, geometry: Geometry);
}

/** A refusal by the partitioner (or a device's failure of a mapped transfer): `payload` is the WIT error. */
export declare class PartitionError extends Error {
  constructor(payload: WitError | TableError);
  readonly payload: WitError | TableError;
}

/**
 * A partition of one instance: a bounds-checked window onto the device handed over. Every u64
 * argument is checked before the call (`U64`). A call that reaches a device (a disconnect or a
 * drop too, when it drops the device) throws what the device threw, if that is no `DeviceFailure`.
 */
export interface Partition extends Disposable {
  subpartition(firstSectors: U64): [Partition, Partition];
  slice(sectorStart: U64, sectors: U64): Partition;
  getOffset(): bigint;
  info(): Info;
  /** The device sector where a transfer of `len` bytes from `sectorStart` lands; no device request. */
  map(direction: Direction, sectorStart: U64, len: U64): bigint;
  /** Mapped: the device reads straight into `buffer` (whole sectors). */
  readInto(sectorStart: U64, buffer: Uint8Array): void;
  /** Mapped, into a new Uint8Array of `len` bytes. */
  read(sectorStart: U64, len: U64): Uint8Array;
  /** Mapped: the device writes straight from `data` (whole sectors). */
  write(sectorStart: U64, data: Uint8Array): void;
  /** `partition.read`: the bytes pass through guest memory. */
  readList(sectorStart: U64, len: U64): Uint8Array;
  /** `partition.write`: the bytes pass through guest memory. */
  writeList(sectorStart: U64, data: Uint8Array): void;
  flush(): void;
  discard(sectorStart: U64, sectors: U64): void;
  writeZeroes(sectorStart: U64, sectors: U64): void;
  disconnect(): void;
}

/** A device handed over: a `BlockDevice`, or an instance of the import object's own `Device` class. */
export type Device = BlockDevice | object;

/** Hands a device over; a TypeError if it is no instance of the import object's `Device` class. */
export interface PartitionClass {
  whole(device: Device): Partition;
  connect(firstSectors: U64, device: Device): [Partition, Partition];
}

export interface Instance {
  partition: { Partition: PartitionClass };
  partitionTable: {
    read(partition: Partition): Table;
    /** Entry `number` (a `U32`, checked before the call) as a partition of the same device. */
    open(partition: Partition, number: U32): Partition;
  };
}

/** The import object for devices derived from `BlockDevice`. */
export declare function defaultImports(): Record<string, unknown>;

/** A new instance of the partitioner, with its own memory and handle tables. */
export declare function instantiate(imports?: Record<string, unknown>): Promise<Instance>;

/** Drops a partition handle now, instead of when the garbage collector gets to it. */
export declare function dropPartition(partition: Partition): void;
