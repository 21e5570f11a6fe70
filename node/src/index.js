// The blockpart partitioner component in Node.js: instantiation of the jco-transpiled
// component (in ../gen, made by `npm run build`, shipped in the package), the `Partition` that
// reads and writes through `partition.map` (./partition.js), and the devices to hand it.

import { readFile } from 'node:fs/promises';

import { DeviceBoundary, GuestDevice } from './boundary.js';
import { BlockDevice } from './devices.js';
import { bind } from './partition.js';

export { BlockDevice, DeviceFailure, DeviceStats, MemoryDevice, deviceError } from './devices.js';
export { FileDevice } from './file-device.js';
export { PartitionError } from './partition.js';

const BLOCK_DEVICE = 'blockpart:partition/block-device';
const TYPES = 'blockpart:partition/types';
const VERSION = '@0.2.0';

const GENERATED = new URL('../gen/', import.meta.url);

// Core modules compiled once per process; every instance reuses them.
const compiled = new Map();

/**
 * jco's module, imported on first use rather than statically, so that a checkout that has not
 * been built says what to run instead of failing the import of this package.
 */
let generated;
function loadGenerated() {
  generated ??= import(new URL('partitioner.js', GENERATED).href).catch((error) => {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new Error(
      'blockpart-node: gen/partitioner.js is missing; build it in node with `npm run build` '
        + '(after `cargo run --release -- component -o node/partitioner.wasm` at the repository root)',
      { cause: error },
    );
  });
  return generated;
}

function getCoreModule(name) {
  if (!compiled.has(name)) {
    compiled.set(name, readFile(new URL(name, GENERATED)).then((bytes) => WebAssembly.compile(bytes)));
  }
  return compiled.get(name);
}

/** The import object for devices derived from `BlockDevice` (all of this package's). */
export function defaultImports() {
  return {
    [BLOCK_DEVICE + VERSION]: { Device: BlockDevice },
    [TYPES + VERSION]: {},
  };
}

/**
 * The import object jco gets for `imports`, and the `Device` class `imports` names. jco's
 * `Device` is the package's `GuestDevice` (src/boundary.js), so that jco never calls a device
 * itself. Both keys are there: jco 1.35's generated code reads the unversioned one
 * (`blockpart:partition/block-device`), its .d.ts declares `...@0.2.0`, and `imports` may use
 * either, whatever the jco version asks for.
 */
function forJco(imports) {
  const out = { ...imports };
  for (const name of [BLOCK_DEVICE, TYPES]) {
    const value = imports[name + VERSION] ?? imports[name] ?? {};
    out[name] = value;
    out[name + VERSION] = value;
  }
  const { Device } = out[BLOCK_DEVICE];
  const devices = { ...out[BLOCK_DEVICE], Device: GuestDevice };
  out[BLOCK_DEVICE] = devices;
  out[BLOCK_DEVICE + VERSION] = devices;
  return { imports: out, Device };
}

/**
 * A new instance of the partitioner, with its own memory and handle tables: `{ partition: {
 * Partition }, partitionTable }`. `Partition.whole(device)` and `Partition.connect(first,
 * device)` hand a device over; a partition's `read`, `readInto` and `write` are mapped (the
 * partitioner checks and maps, the device moves the bytes), `readList` and `writeList` go
 * through the partitioner. `partitionTable` has `read(partition)` and `open(partition,
 * number)`. Refusals throw `PartitionError`, whose `payload` is the WIT `error` (`{ tag, val }`).
 *
 * The import object's `Device` class is the one every device handed over must be an instance
 * of; the default, `BlockDevice`, is the base of `MemoryDevice` and `FileDevice`. An exception
 * a device throws that is no `DeviceFailure` is thrown by the partition call it happened in,
 * once the guest has returned.
 *
 * @param {object} [imports] the import object, as in jco's `ImportObject`
 */
export async function instantiate(imports = defaultImports()) {
  const { instantiate: instantiateGenerated } = await loadGenerated();
  const { imports: jcoImports, Device } = forJco(imports);
  const boundary = new DeviceBoundary(Device);
  return bind(await instantiateGenerated(getCoreModule, jcoImports), boundary);
}

/** Drops a partition handle now, instead of when the garbage collector gets to it. */
export function dropPartition(partition) {
  partition[Symbol.dispose]();
}
