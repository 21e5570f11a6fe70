// The types of src/index.js, src/partition.js and src/devices.js. The WIT's own types are jco's
// (gen/interfaces/*.d.ts, made by `npm run build` from wit/blockpart.wit).

import type { DeviceError, Direction, Error as WitError, Info } from '../gen/interfaces/blockpart-partition-types.js';
import type { Error as TableError, Table } from '../gen/interfaces/blockpart-partition-partition-table.js';

export type { DeviceError, Direction, Info, Table, TableError };
export type { WitError };

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
  /** Bytes per sector: a power of two, at least 512. */
  sectorSize: number;
  sizeSectors: bigint | number;
  readOnly?: boolean;
  stats?: DeviceStats;
}

export interface DeviceOptions {
  sectorSize: number;
  readOnly?: boolean;
  stats?: DeviceStats;
}

/**
 * The base of every device: the class given to jco as the `block-device` resource. Checks each
 * request (connected, writable, whole sectors, inside the device), then calls the subclass's
 * hooks `_read`, `_readInto` (defaults to `_read` and a copy), `_write`, `_zero`, `_flush`, `_close`.
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
  read(sectorStart: bigint, len: bigint): Uint8Array;
  /** Reads `buffer.length` bytes from `sectorStart` into `buffer`, with the checks of `read`. */
  readInto(sectorStart: bigint, buffer: Uint8Array): void;
  write(sectorStart: bigint, data: Uint8Array): void;
  flush(): void;
  discard(sectorStart: bigint, sectors: bigint): void;
  writeZeroes(sectorStart: bigint, sectors: bigint): void;
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

/** A device over a regular file, with positional I/O; closed when the guest drops it. */
export declare class FileDevice extends BlockDevice {
  static open(path: string, options: DeviceOptions): FileDevice;
  constructor(fd: number, geometry: Geometry);
}

/** A refusal by the partitioner (or a device's failure of a mapped transfer): `payload` is the WIT error. */
export declare class PartitionError extends Error {
  constructor(payload: WitError | TableError);
  readonly payload: WitError | TableError;
}

/** A partition of one instance: a bounds-checked window onto the device handed over. */
export interface Partition extends Disposable {
  subpartition(firstSectors: bigint): [Partition, Partition];
  slice(sectorStart: bigint, sectors: bigint): Partition;
  getOffset(): bigint;
  info(): Info;
  /** The device sector where a transfer of `len` bytes from `sectorStart` lands; no device request. */
  map(direction: Direction, sectorStart: bigint, len: bigint): bigint;
  /** Mapped: the device reads straight into `buffer` (whole sectors). */
  readInto(sectorStart: bigint, buffer: Uint8Array): void;
  /** Mapped, into a new Uint8Array of `len` bytes. */
  read(sectorStart: bigint, len: bigint): Uint8Array;
  /** Mapped: the device writes straight from `data` (whole sectors). */
  write(sectorStart: bigint, data: Uint8Array): void;
  /** `partition.read`: the bytes pass through guest memory. */
  readList(sectorStart: bigint, len: bigint): Uint8Array;
  /** `partition.write`: the bytes pass through guest memory. */
  writeList(sectorStart: bigint, data: Uint8Array): void;
  flush(): void;
  discard(sectorStart: bigint, sectors: bigint): void;
  writeZeroes(sectorStart: bigint, sectors: bigint): void;
  disconnect(): void;
}

/** A device handed over: a `BlockDevice`, or an instance of the import object's own `Device` class. */
export type Device = BlockDevice | object;

export interface PartitionClass {
  whole(device: Device): Partition;
  connect(firstSectors: bigint, device: Device): [Partition, Partition];
}

export interface Instance {
  partition: { Partition: PartitionClass };
  partitionTable: {
    read(partition: Partition): Table;
    open(partition: Partition, number: number): Partition;
  };
}

/** The import object for devices derived from `BlockDevice`. */
export declare function defaultImports(): Record<string, unknown>;

/** A new instance of the partitioner, with its own memory and handle tables. */
export declare function instantiate(imports?: Record<string, unknown>): Promise<Instance>;

/** Drops a partition handle now, instead of when the garbage collector gets to it. */
export declare function dropPartition(partition: Partition): void;
