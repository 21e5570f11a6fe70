// The size of a sector, as the Rust core accepts it (core/src/sector_size.rs): a power of two,
// at least 512, carried in the WIT's u32, so at most 2^31. Checked when a device is made:
// a device reporting a size the partitioner refuses would fail only when handed over, and jco
// would carry 2^32 into the u32 as 0.

import { u32 } from './integers.js';

/**
 * `value`, checked as a sector size: a TypeError for a value that is no u32 integer, a
 * RangeError for one outside the u32 or no power of two of at least 512.
 *
 * @param {unknown} value bytes per sector
 * @returns {number}
 */
export function checkSectorSize(value) {
  const bytes = u32(value, 'the sector size');
  // `&` works on 32 bits, which hold any u32 exactly.
  if (bytes < 512 || (bytes & (bytes - 1)) !== 0) {
    throw new RangeError(`sector size ${bytes} is not a power of two of at least 512`);
  }
  return bytes;
}
