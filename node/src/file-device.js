// A block device over a disk image or a block device, as the Rust host's (host/src/file_device.rs):
// anything else is refused when opened, never waited on.

import fs from 'node:fs';

import { BlockDevice, DeviceFailure, deviceError } from './devices.js';
import { checkSectorSize } from './sector-size.js';

const { O_NONBLOCK, O_RDONLY, O_RDWR } = fs.constants;

/** What a file that is no disk is, for the message. */
function kindOf(stat) {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isSocket()) return 'a socket';
  return 'neither a regular file nor a block device';
}

/**
 * The size in bytes of the block device `rdev`. fstat says 0 and Node has no lseek, so it is
 * the kernel's own count in sysfs, in 512-byte units whatever the device's sector size (Linux).
 */
function blockDeviceBytes(rdev, path) {
  // Linux's dev_t, as glibc's gnu_dev_major and gnu_dev_minor split it.
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  const file = `/sys/dev/block/${major}:${minor}/size`;
  let units;
  try {
    units = fs.readFileSync(file, 'latin1').trim();
  } catch (error) {
    throw new Error(`cannot tell the size of ${path}, a block device: ${error.message}`, { cause: error });
  }
  if (!/^[0-9]+$/.test(units)) throw new Error(`cannot tell the size of ${path}, a block device: ${file} says ${JSON.stringify(units)}`);
  return BigInt(units) * 512n;
}

/** The size in bytes of the file open as `fd`, if it is a disk image or a block device. */
function diskBytes(fd, path) {
  const stat = fs.fstatSync(fd, { bigint: true });
  if (stat.isFile()) return stat.size;
  if (stat.isBlockDevice()) return blockDeviceBytes(stat.rdev, path);
  throw new Error(`${path} is ${kindOf(stat)}, not a disk image or block device`);
}

/** Runs `operation`, reporting a file system error as the device error `io`. */
function io(operation) {
  try {
    return operation();
  } catch (error) {
    if (error instanceof DeviceFailure) throw error;
    throw new DeviceFailure(deviceError.io(error.message));
  }
}

/**
 * A device backed by a regular file or a block device, with positional I/O: `flush` is
 * `fdatasync`, `discard` and `write-zeroes` write zeroes (Node has no `fallocate`). Its size is
 * the file's when opened, in whole sectors; the device never grows the file. The file is closed
 * when the guest drops the device.
 */
export class FileDevice extends BlockDevice {
  static #ZERO_CHUNK = 1 << 20;
  #fd;

  /**
   * Opens `path`, a regular file or a block device whose size can be told; anything else (a
   * FIFO, a directory, /dev/null and other character devices, a socket) is refused at once.
   *
   * @param {string} path the file
   * @param {object} options `sectorSize`, and optionally `readOnly` and `stats`
   */
  static open(path, { sectorSize, readOnly = false, stats } = {}) {
    checkSectorSize(sectorSize);
    // Non-blocking, so that a FIFO is refused below instead of hanging the open until a writer
    // comes. Node cannot clear the flag (it has no fcntl), and need not: it has no effect on
    // regular files and block devices (open(2)).
    const fd = fs.openSync(path, (readOnly ? O_RDONLY : O_RDWR) | O_NONBLOCK);
    try {
      const size = diskBytes(fd, path);
      if (size % BigInt(sectorSize) !== 0n) {
        throw new RangeError(`${path} is ${size} bytes, not a whole number of ${sectorSize}-byte sectors`);
      }
      return new FileDevice(fd, { sectorSize, sizeSectors: size / BigInt(sectorSize), readOnly, stats });
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
  }

  /** Takes `fd`, open for reading (and writing unless read-only); use `FileDevice.open`. */
  constructor(fd, geometry) {
    super(geometry);
    this.#fd = fd;
  }

  _read(offset, bytes) {
    const data = new Uint8Array(bytes);
    this._readInto(offset, data);
    return data;
  }

  _readInto(offset, buffer) {
    io(() => {
      const bytes = buffer.length;
      let done = 0;
      // readSync may return less than asked; zero means the file ended under us.
      while (done < bytes) {
        const n = fs.readSync(this.#fd, buffer, done, bytes - done, offset + done);
        if (n === 0) throw new Error(`the file ends ${done} bytes into a read of ${bytes}`);
        done += n;
      }
    });
  }

  _write(offset, data) {
    io(() => {
      let done = 0;
      while (done < data.length) {
        done += fs.writeSync(this.#fd, data, done, data.length - done, offset + done);
      }
    });
  }

  _zero(offset, bytes) {
    const zeroes = new Uint8Array(Math.min(bytes, FileDevice.#ZERO_CHUNK));
    for (let done = 0; done < bytes; done += zeroes.length) {
      this._write(offset + done, zeroes.subarray(0, Math.min(zeroes.length, bytes - done)));
    }
  }

  _flush() {
    io(() => fs.fdatasyncSync(this.#fd));
  }

  _close() {
    fs.closeSync(this.#fd);
  }
}
