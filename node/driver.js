#!/usr/bin/env node
// The conformance driver: the Rust suite (`blockpart conformance --host "node driver.js"`)
// talks to this process in JSON lines over stdin and stdout, and this process does what it asks
// with the package's own `instantiate` and devices. The protocol, with every request, is
// docs/driver-protocol.md at the repository's root; in short, one request per line in, one
// reply per line out, in order:
//
//   {"ok": value}                  the call succeeded
//   {"error": {"tag": ..., ...}}   the call failed with its WIT error (error, table-error or
//                                  device-error), as jco gives it
//   {"failure": "message"}         anything else: the case fails with this message
//
// u64 values travel as decimal strings both ways, byte data as base64. Nothing else may be
// written to stdout; the suite reads stderr when the driver dies.

import fs from 'node:fs';
import readline from 'node:readline';

import { FileDevice, MemoryDevice, DeviceFailure, DeviceStats, PartitionError, instantiate } from './src/index.js';
import { u32 as checkU32, u64 as checkU64 } from './src/integers.js';

/** The protocol version this driver speaks. */
const PROTOCOL = 2;

/** A request the driver cannot make sense of: a failure reply, never an error reply. */
class ProtocolError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** The call's WIT error, to send back as `{"error": ...}`. */
class Refusal {
  constructor(payload) {
    this.payload = payload;
  }
}

// Reading requests.

function field(request, name) {
  if (!Object.hasOwn(request, name)) throw new ProtocolError(`"${request.op}" needs "${name}"`);
  return request[name];
}

/** A u64 argument: a decimal string, 0 to 2^64 - 1 (the range checked as the package checks it). */
function u64(request, name) {
  const value = field(request, name);
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]*)$/.test(value)) {
    throw new ProtocolError(`"${name}" must be a u64 as a decimal string, not ${JSON.stringify(value)}`);
  }
  return checkU64(BigInt(value), `"${name}"`);
}

/** A u32 argument: a JSON number, checked as the package checks it. */
function u32(request, name) {
  return checkU32(field(request, name), `"${name}"`);
}

function bool(request, name) {
  const value = field(request, name);
  if (typeof value !== 'boolean') throw new ProtocolError(`"${name}" must be a boolean`);
  return value;
}

function string(request, name) {
  const value = field(request, name);
  if (typeof value !== 'string') throw new ProtocolError(`"${name}" must be a string`);
  return value;
}

/** Byte data: base64 (RFC 4648, with padding). */
function bytes(request, name) {
  const value = string(request, name);
  if (value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
    throw new ProtocolError(`"${name}" must be base64`);
  }
  const buffer = Buffer.from(value, 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
}

// Writing replies: jco's values with BigInt as decimal strings, bytes as base64, none as null.

function toWire(value) {
  if (typeof value === 'bigint') return value.toString();
  if (value === undefined) return null;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.length).toString('base64');
  if (Array.isArray(value)) return value.map(toWire);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, toWire(inner)]));
  }
  return value;
}

// What the driver holds: disks (an instance and the device counts), their partitions, devices.

let nextId = 0;
const disks = new Map();
const partitions = new Map();
const devices = new Map();

function lookup(map, request, name, what) {
  const id = field(request, name);
  const found = map.get(id);
  if (found === undefined) throw new ProtocolError(`there is no ${what} ${JSON.stringify(id)}`);
  return found;
}

const diskOf = (request) => lookup(disks, request, 'disk', 'disk');
const partitionOf = (request) => lookup(partitions, request, 'part', 'partition');
const deviceOf = (request) => lookup(devices, request, 'device', 'device');

/** Keeps `partition` (so that the garbage collector never drops it) and numbers it. */
function keep(disk, partition) {
  const id = nextId++;
  partitions.set(id, { disk, partition });
  disk.parts.add(id);
  return id;
}

function dropPartition(id) {
  const { disk, partition } = partitions.get(id);
  partitions.delete(id);
  disk.parts.delete(id);
  partition[Symbol.dispose]();
}

/**
 * A partition call: its result, or its WIT error as a Refusal. The package throws a
 * `PartitionError` whose `payload` is the error; any other exception (a trap, a jco
 * TypeError, a partitioner that broke its contract) is a failure.
 */
function partitionCall(call) {
  try {
    return call();
  } catch (error) {
    if (error instanceof PartitionError) throw new Refusal(error.payload);
    throw error;
  }
}

/** A `direction` argument: "read" or "write", as jco spells the WIT enum. */
function direction(request, name) {
  const value = field(request, name);
  if (value !== 'read' && value !== 'write') {
    throw new ProtocolError(`"${name}" must be "read" or "write", not ${JSON.stringify(value)}`);
  }
  return value;
}

/** A direct device call: its result, or the `DeviceFailure` it threw as a Refusal. */
function deviceCall(call) {
  try {
    return call();
  } catch (error) {
    if (error instanceof DeviceFailure) throw new Refusal(error.payload);
    throw error;
  }
}

/** A fresh device over the disk's file, counted with the disk's other devices. */
function handOver(disk) {
  const device = FileDevice.open(disk.path, { sectorSize: disk.sectorSize, readOnly: disk.readOnly, stats: disk.stats });
  disk.handedOver += 1;
  return device;
}

function readBytes(result) {
  if (!(result instanceof Uint8Array)) throw new Error(`a read returned ${typeof result}, not a Uint8Array`);
  return result;
}

function hostName() {
  const own = JSON.parse(fs.readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
  let jco = 'jco (version unknown)';
  try {
    const url = new URL('./node_modules/@bytecodealliance/jco/package.json', import.meta.url);
    jco = `jco ${JSON.parse(fs.readFileSync(url, 'utf8')).version}`;
  } catch {
    // Installed some other way: the version is only for the suite's first line.
  }
  return `${own.name} ${own.version} (${jco}, node ${process.version})`;
}

const OPS = {
  hello(request) {
    const protocol = field(request, 'protocol');
    if (protocol !== PROTOCOL) throw new ProtocolError(`this driver speaks protocol ${PROTOCOL}, not ${protocol}`);
    return { protocol: PROTOCOL, host: hostName() };
  },

  // Disks: a file, its geometry, and a fresh partitioner instance reaching it.
  async disk(request) {
    const root = await instantiate();
    const id = nextId++;
    disks.set(id, {
      path: string(request, 'path'),
      sectorSize: u32(request, 'sectorSize'),
      readOnly: bool(request, 'readOnly'),
      Partition: root.partition.Partition,
      partitionTable: root.partitionTable,
      stats: new DeviceStats(),
      handedOver: 0,
      parts: new Set(),
    });
    return id;
  },
  counts(request) {
    const disk = diskOf(request);
    return { requests: BigInt(disk.stats.requests), liveDevices: disk.handedOver - disk.stats.drops };
  },
  'drop-disk'(request) {
    const disk = diskOf(request);
    disks.delete(request.disk);
    for (const id of [...disk.parts]) dropPartition(id);
    return null;
  },

  // The `partition` resource.
  whole(request) {
    const disk = diskOf(request);
    return keep(disk, partitionCall(() => disk.Partition.whole(handOver(disk))));
  },
  connect(request) {
    const disk = diskOf(request);
    const first = u64(request, 'firstSectors');
    const pair = partitionCall(() => disk.Partition.connect(first, handOver(disk)));
    return pair.map((partition) => keep(disk, partition));
  },
  subpartition(request) {
    const { disk, partition } = partitionOf(request);
    const first = u64(request, 'firstSectors');
    return partitionCall(() => partition.subpartition(first)).map((part) => keep(disk, part));
  },
  slice(request) {
    const { disk, partition } = partitionOf(request);
    const [start, sectors] = [u64(request, 'sectorStart'), u64(request, 'sectors')];
    return keep(disk, partitionCall(() => partition.slice(start, sectors)));
  },
  'get-offset': (request) => partitionOf(request).partition.getOffset(),
  info: (request) => partitionOf(request).partition.info(),
  // `read` and `write` are the list path, through the partitioner; `read-mapped` and
  // `write-mapped` the package's own `read` and `write`, which `map` and move the bytes here.
  read(request) {
    const { partition } = partitionOf(request);
    const [start, len] = [u64(request, 'sectorStart'), u64(request, 'len')];
    return readBytes(partitionCall(() => partition.readList(start, len)));
  },
  write(request) {
    const { partition } = partitionOf(request);
    const [start, data] = [u64(request, 'sectorStart'), bytes(request, 'data')];
    return partitionCall(() => partition.writeList(start, data));
  },
  map(request) {
    const { partition } = partitionOf(request);
    const [way, start, len] = [direction(request, 'direction'), u64(request, 'sectorStart'), u64(request, 'len')];
    return partitionCall(() => partition.map(way, start, len));
  },
  'read-mapped'(request) {
    const { partition } = partitionOf(request);
    const [start, len] = [u64(request, 'sectorStart'), u64(request, 'len')];
    return readBytes(partitionCall(() => partition.read(start, len)));
  },
  'write-mapped'(request) {
    const { partition } = partitionOf(request);
    const [start, data] = [u64(request, 'sectorStart'), bytes(request, 'data')];
    return partitionCall(() => partition.write(start, data));
  },
  flush: (request) => partitionCall(() => partitionOf(request).partition.flush()),
  discard(request) {
    const { partition } = partitionOf(request);
    const [start, sectors] = [u64(request, 'sectorStart'), u64(request, 'sectors')];
    return partitionCall(() => partition.discard(start, sectors));
  },
  'write-zeroes'(request) {
    const { partition } = partitionOf(request);
    const [start, sectors] = [u64(request, 'sectorStart'), u64(request, 'sectors')];
    return partitionCall(() => partition.writeZeroes(start, sectors));
  },
  disconnect: (request) => partitionOf(request).partition.disconnect(),
  drop(request) {
    partitionOf(request);
    dropPartition(request.part);
    return null;
  },

  // The `partition-table` interface.
  'table-read'(request) {
    const { disk, partition } = partitionOf(request);
    return partitionCall(() => disk.partitionTable.read(partition));
  },
  'table-open'(request) {
    const { disk, partition } = partitionOf(request);
    const number = u32(request, 'number');
    return keep(disk, partitionCall(() => disk.partitionTable.open(partition, number)));
  },

  // JS devices on their own, for the device contract. The sector size goes to the package as
  // it came, so that the package's own check is the one the contract tests.
  device(request) {
    const kind = string(request, 'kind');
    const path = string(request, 'path');
    const options = { sectorSize: field(request, 'sectorSize'), readOnly: bool(request, 'readOnly') };
    let device;
    if (kind === 'file') {
      device = FileDevice.open(path, options);
    } else if (kind === 'memory') {
      // A copy of the file's bytes: the device's backing is this array, read by device-bytes.
      device = new MemoryDevice(new Uint8Array(fs.readFileSync(path)), options);
    } else {
      throw new ProtocolError(`there is no device kind ${JSON.stringify(kind)}: "file" or "memory"`);
    }
    const id = nextId++;
    devices.set(id, { device, path });
    return id;
  },
  'device-info': (request) => deviceOf(request).device.info(),
  'device-read'(request) {
    const { device } = deviceOf(request);
    const [start, len] = [u64(request, 'sectorStart'), u64(request, 'len')];
    return readBytes(deviceCall(() => device.read(start, len)));
  },
  'device-write'(request) {
    const { device } = deviceOf(request);
    const [start, data] = [u64(request, 'sectorStart'), bytes(request, 'data')];
    return deviceCall(() => device.write(start, data));
  },
  'device-flush': (request) => deviceCall(() => deviceOf(request).device.flush()),
  'device-discard'(request) {
    const { device } = deviceOf(request);
    const [start, sectors] = [u64(request, 'sectorStart'), u64(request, 'sectors')];
    return deviceCall(() => device.discard(start, sectors));
  },
  'device-write-zeroes'(request) {
    const { device } = deviceOf(request);
    const [start, sectors] = [u64(request, 'sectorStart'), u64(request, 'sectors')];
    return deviceCall(() => device.writeZeroes(start, sectors));
  },
  'device-bytes'(request) {
    const { device, path } = deviceOf(request);
    return device instanceof MemoryDevice ? device.bytes : new Uint8Array(fs.readFileSync(path));
  },
  'drop-device'(request) {
    const { device } = deviceOf(request);
    devices.delete(request.device);
    device[Symbol.dispose]();
    return null;
  },
};

/** The reply to one request line. */
async function reply(line) {
  try {
    let request;
    try {
      request = JSON.parse(line);
    } catch (error) {
      throw new ProtocolError(`a request is not JSON: ${error.message}`);
    }
    if (request === null || typeof request !== 'object' || !Object.hasOwn(OPS, request.op)) {
      throw new ProtocolError(`there is no op ${JSON.stringify(request?.op)}`);
    }
    return { ok: toWire(await OPS[request.op](request)) };
  } catch (error) {
    if (error instanceof Refusal) return { error: toWire(error.payload) };
    return { failure: error instanceof Error ? `${error.name}: ${error.message}` : `thrown: ${String(error)}` };
  }
}

// The suite closing the pipe ends the driver, like the end of its input.
process.stdout.on('error', () => process.exit(0));

for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line.trim() === '') continue;
  process.stdout.write(`${JSON.stringify(await reply(line))}\n`);
}
