// The WIT's integer types, checked before a value reaches jco or a device. jco stores a u64
// modulo 2^64 (`BigInt.asUintN`) and a u32 with `>>> 0`, so unchecked, sector 2^64 + 5 is
// sector 5, entry 2^32 + 2 is entry 2, and 1.9 or `true` is 1. Every u64 and u32 argument of
// the package goes through these two functions, as the Python package's through `_u64` and
// `_u32`: a TypeError for a value that is not an integer, a RangeError for one outside the type.

const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 2 ** 32 - 1;

/** `value` for a message: numbers as written, anything else by its type (calls no user code). */
function shown(value) {
  switch (typeof value) {
    case 'bigint': return `${value}n`;
    case 'number':
    case 'boolean':
    case 'undefined': return String(value);
    case 'string': return JSON.stringify(value);
    default: return value === null ? 'null' : `a value of type ${typeof value}`;
  }
}

/**
 * `value` as a u64 BigInt: a BigInt, or a Number that is a safe integer (a Number past 2^53 - 1
 * may already have lost its low bits, so it must come as a BigInt).
 *
 * @param {unknown} value
 * @param {string} name what the value is, for the message
 * @returns {bigint}
 */
export function u64(value, name) {
  if (typeof value === 'bigint') {
    if (value < 0n || value > U64_MAX) throw new RangeError(`${name} must be a u64 (0 to 2^64 - 1), not ${shown(value)}`);
    return value;
  }
  if (!Number.isInteger(value)) {
    throw new TypeError(`${name} must be a u64 (a BigInt, or a Number that is a safe integer), not ${shown(value)}`);
  }
  if (value < 0) throw new RangeError(`${name} must be a u64 (0 to 2^64 - 1), not ${shown(value)}`);
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${name} is ${shown(value)}, past 2^53 - 1, where a Number is no longer exact: give it as a BigInt`);
  }
  return BigInt(value);
}

/**
 * `value` as a u32: a Number that is an integer from 0 to 2^32 - 1 (as jco represents a u32).
 *
 * @param {unknown} value
 * @param {string} name what the value is, for the message
 * @returns {number}
 */
export function u32(value, name) {
  if (!Number.isInteger(value)) throw new TypeError(`${name} must be a u32 (an integer Number), not ${shown(value)}`);
  if (value < 0 || value > U32_MAX) throw new RangeError(`${name} must be a u32 (0 to 2^32 - 1), not ${shown(value)}`);
  return value;
}
