// The 26 conformance cases of tests/src/cases.rs, one function per behaviour users rely on,
// each against a fresh Fixture (see fixture.js). Sector positions and lengths are BigInt (WIT
// u64); byte indices into the oracle are Numbers.

import assert from 'node:assert/strict';

import {
  DISCONNECTED,
  IS_READ_ONLY,
  MAX_TRANSFER_BYTES,
  SECTORS,
  U64_MAX,
  assertBytes,
  assertRefused,
  outOfBounds,
  pattern,
  tooLarge,
  unaligned,
} from './fixture.js';

/** @type {{ name: string, readOnly?: boolean, run: (f: import('./fixture.js').Fixture) => void }[]} */
export const CASES = [
  {
    name: 'whole_device_is_one_partition',
    run(f) {
      const whole = f.whole();
      assert.deepStrictEqual(whole.info(), {
        readWrite: true,
        sectorSize: Number(f.sectorSize),
        sizeSectors: SECTORS,
      });
      assert.equal(whole.getOffset(), 0n);
      assertBytes(whole.read(0n, f.len(SECTORS)), f.original, 'reading the whole device gives its bytes');
    },
  },
  {
    name: 'connect_splits_at_first_sector',
    run(f) {
      const [a, b] = f.connect(10n);
      assert.equal(a.info().sizeSectors, 10n);
      assert.equal(b.info().sizeSectors, SECTORS - 10n);
      assert.deepStrictEqual([a.getOffset(), b.getOffset()], [0n, 10n]);
      for (const part of [a, b]) {
        const { readWrite, sectorSize } = part.info();
        assert.deepStrictEqual([readWrite, sectorSize], [true, Number(f.sectorSize)]);
      }
      assertBytes(b.read(0n, f.len(1)), f.originalAt(10, 1));
      assertBytes(a.read(9n, f.len(1)), f.originalAt(9, 1));
    },
  },
  {
    name: 'connect_at_zero_gives_empty_first_partition',
    run(f) {
      const [a, b] = f.connect(0n);
      assert.equal(a.info().sizeSectors, 0n);
      assert.equal(b.info().sizeSectors, SECTORS);
      assertBytes(a.read(0n, 0n), new Uint8Array());
      assertRefused(() => a.read(0n, f.len(1)), outOfBounds(0n, 1n, 0n));
      assertBytes(b.read(0n, f.len(1)), f.originalAt(0, 1));
    },
  },
  {
    name: 'connect_at_size_gives_empty_second_partition',
    run(f) {
      const [a, b] = f.connect(SECTORS);
      assert.equal(a.info().sizeSectors, SECTORS);
      assert.equal(b.info().sizeSectors, 0n);
      assert.equal(b.getOffset(), SECTORS);
      assert.equal(b.write(0n, new Uint8Array()), undefined);
      assertRefused(() => b.write(0n, pattern(f.byte(1), 1)), outOfBounds(0n, 1n, 0n));
      f.assertUnchanged();
    },
  },
  {
    name: 'connect_past_size_is_out_of_bounds_and_drops_device',
    run(f) {
      assertRefused(() => f.connect(SECTORS + 1n), outOfBounds(SECTORS + 1n, 0n, SECTORS));
      assert.equal(f.liveDevices(), 0, 'a refused connect drops the device it was given');
      assert.equal(f.deviceRequests(), 0);
    },
  },
  {
    name: 'connect_at_u64_max_is_out_of_bounds',
    run(f) {
      assertRefused(() => f.connect(U64_MAX), outOfBounds(U64_MAX, 0n, SECTORS));
    },
  },
  {
    name: 'refused_subpartition_keeps_the_partition',
    run(f) {
      const whole = f.whole();
      assertRefused(() => f.split(whole, SECTORS + 1n), outOfBounds(SECTORS + 1n, 0n, SECTORS));
      assert.equal(f.liveDevices(), 1);
      assertBytes(whole.read(3n, f.len(2)), f.originalAt(3, 2));
    },
  },
  {
    name: 'subpartitions_nest_three_deep_with_absolute_offsets',
    run(f) {
      const [, b] = f.connect(8n); // b: [8, 64)
      const [, c] = f.split(b, 16n); // c: [24, 64)
      const [d] = f.split(c, 20n); // d: [24, 44)
      const [, e] = f.split(d, 5n); // e: [29, 44)
      assert.deepStrictEqual([b, c, d, e].map((p) => p.getOffset()), [8n, 24n, 24n, 29n]);
      assert.equal(e.info().sizeSectors, 15n);
      const data = pattern(f.byte(2), 42);
      const first = data.subarray(0, f.byte(1));
      e.write(14n, first);
      e.write(0n, data);
      const bytes = f.bytes();
      assertBytes(bytes.subarray(f.byte(29), f.byte(31)), data, 'the write landed at sector 29');
      assertBytes(bytes.subarray(f.byte(43), f.byte(44)), first, 'the write landed at sector 43');
      assertRefused(() => e.write(15n, first), outOfBounds(15n, 1n, 15n));
    },
  },
  {
    name: 'slice_takes_start_and_length',
    run(f) {
      const whole = f.whole();
      const s = f.slice(whole, 10n, 20n);
      const t = f.slice(s, 5n, 15n);
      assert.deepStrictEqual([s.getOffset(), s.info().sizeSectors], [10n, 20n]);
      assert.deepStrictEqual([t.getOffset(), t.info().sizeSectors], [15n, 15n]);
      assertBytes(t.read(14n, f.len(1)), f.originalAt(29, 1));
      const empty = f.slice(whole, SECTORS, 0n);
      assert.equal(empty.info().sizeSectors, 0n);
    },
  },
  {
    name: 'slice_past_end_or_overflowing_is_out_of_bounds',
    run(f) {
      const whole = f.whole();
      const s = f.slice(whole, 10n, 20n);
      for (const [start, sectors] of [
        [0n, 21n],
        [20n, 1n],
        [21n, 0n],
        [U64_MAX, 1n],
        [1n, U64_MAX],
        [U64_MAX, U64_MAX],
      ]) {
        assertRefused(() => f.slice(s, start, sectors), outOfBounds(start, sectors, 20n), `slice(${start}, ${sectors})`);
      }
    },
  },
  {
    name: 'read_returns_the_disk_bytes_at_the_offset',
    run(f) {
      const [, b] = f.connect(17n);
      for (const [start, count] of [[0n, 1n], [3n, 4n], [0n, SECTORS - 17n], [SECTORS - 18n, 1n]]) {
        assertBytes(b.read(start, f.len(count)), f.originalAt(17n + start, count), `read of ${count} sectors at ${start}`);
      }
    },
  },
  {
    name: 'write_lands_at_the_offset_and_nowhere_else',
    run(f) {
      const [, b] = f.connect(17n);
      const data = pattern(f.byte(3), 99);
      b.write(5n, data);
      const expected = f.original.slice();
      expected.set(data, f.byte(22));
      assertBytes(f.bytes(), expected, 'exactly sectors 22..25 of the disk changed');
      assertBytes(b.read(5n, f.len(3)), data);
    },
  },
  {
    name: 'last_sector_reads_and_writes',
    run(f) {
      const [a] = f.connect(40n);
      assertBytes(a.read(39n, f.len(1)), f.originalAt(39, 1));
      const data = pattern(f.byte(1), 5);
      a.write(39n, data);
      assertBytes(f.bytes().subarray(f.byte(39), f.byte(40)), data);
    },
  },
  {
    name: 'one_past_the_end_changes_nothing',
    run(f) {
      const [a] = f.connect(40n);
      const refused = outOfBounds(40n, 1n, 40n);
      assertRefused(() => a.read(40n, f.len(1)), refused);
      assertRefused(() => a.write(40n, pattern(f.byte(1), 3)), refused);
      assertRefused(() => a.writeZeroes(40n, 1n), refused);
      assertRefused(() => a.discard(40n, 1n), refused);
      f.assertUnchanged();
    },
  },
  {
    name: 'request_spanning_the_end_changes_nothing',
    run(f) {
      const [a] = f.connect(40n);
      assertRefused(() => a.read(38n, f.len(3)), outOfBounds(38n, 3n, 40n));
      assertRefused(() => a.write(39n, pattern(f.byte(2), 3)), outOfBounds(39n, 2n, 40n));
      assertRefused(() => a.writeZeroes(30n, 11n), outOfBounds(30n, 11n, 40n));
      assertRefused(() => a.discard(0n, 41n), outOfBounds(0n, 41n, 40n));
      f.assertUnchanged();
    },
  },
  {
    name: 'u64_max_starts_and_lengths_are_out_of_bounds',
    run(f) {
      const [, b] = f.connect(8n);
      const size = SECTORS - 8n;
      const one = f.len(1);
      assertRefused(() => b.read(U64_MAX, one), outOfBounds(U64_MAX, 1n, size));
      assertRefused(() => b.read(U64_MAX, 0n), outOfBounds(U64_MAX, 0n, size));
      const data = pattern(f.byte(1), 3);
      assertRefused(() => b.write(U64_MAX, data), outOfBounds(U64_MAX, 1n, size));
      // A start that wraps to inside the partition if added without a check.
      const wraps = U64_MAX - 7n;
      assertRefused(() => b.write(wraps, data), outOfBounds(wraps, 1n, size));
      for (const [start, sectors] of [[U64_MAX, U64_MAX], [1n, U64_MAX], [U64_MAX, 1n]]) {
        const refused = outOfBounds(start, sectors, size);
        assertRefused(() => b.writeZeroes(start, sectors), refused, `write-zeroes(${start}, ${sectors})`);
        assertRefused(() => b.discard(start, sectors), refused, `discard(${start}, ${sectors})`);
      }
      // u64::MAX bytes is not whole sectors; the largest whole-sector length is too large.
      assertRefused(() => b.read(0n, U64_MAX), unaligned(U64_MAX));
      const max = U64_MAX - (U64_MAX % f.sectorSize);
      assertRefused(() => b.read(0n, max), tooLarge(max));
      f.assertUnchanged();
      assert.equal(f.deviceRequests(), 0);
    },
  },
  {
    name: 'unaligned_lengths_are_refused_and_change_nothing',
    run(f) {
      const whole = f.whole();
      const ss = f.sectorSize;
      for (const len of [1n, ss - 1n, ss + 1n, 2n * ss - 1n, 3n * ss + 7n]) {
        assertRefused(() => whole.read(0n, len), unaligned(len), `read of ${len} bytes`);
        const data = pattern(Number(len), 1);
        assertRefused(() => whole.write(0n, data), unaligned(len), `write of ${len} bytes`);
      }
      f.assertUnchanged();
    },
  },
  {
    name: 'zero_length_requests_succeed_up_to_the_end',
    run(f) {
      const [a] = f.connect(40n);
      for (const start of [0n, 39n, 40n]) {
        assertBytes(a.read(start, 0n), new Uint8Array(), `read at ${start}`);
        assert.equal(a.write(start, new Uint8Array()), undefined);
        assert.equal(a.writeZeroes(start, 0n), undefined);
        assert.equal(a.discard(start, 0n), undefined);
      }
      assertRefused(() => a.read(41n, 0n), outOfBounds(41n, 0n, 40n));
      assertRefused(() => a.write(41n, new Uint8Array()), outOfBounds(41n, 0n, 40n));
      f.assertUnchanged();
    },
  },
  {
    name: 'transfers_over_the_limit_are_too_large',
    run(f) {
      const whole = f.whole();
      const over = MAX_TRANSFER_BYTES + f.len(1);
      assertRefused(() => whole.read(0n, over), tooLarge(over));
      const data = new Uint8Array(Number(over)).fill(0xab);
      assertRefused(() => whole.write(0n, data), tooLarge(over));
      f.assertUnchanged();
      // Up to the limit is only bounds-checked.
      const limit = MAX_TRANSFER_BYTES;
      const sectors = limit / f.sectorSize;
      assertRefused(() => whole.read(0n, limit), outOfBounds(0n, sectors, SECTORS));
    },
  },
  {
    name: 'read_only_device_refuses_every_write',
    readOnly: true,
    run(f) {
      const [a, b] = f.connect(10n);
      assert.ok(!a.info().readWrite && !b.info().readWrite);
      const data = pattern(f.byte(1), 8);
      assertRefused(() => b.write(0n, data), IS_READ_ONLY);
      assertRefused(() => b.write(0n, new Uint8Array()), IS_READ_ONLY);
      assertRefused(() => b.writeZeroes(0n, 1n), IS_READ_ONLY);
      assertRefused(() => b.discard(0n, 1n), IS_READ_ONLY);
      assertRefused(() => a.write(U64_MAX, data), IS_READ_ONLY);
      assertBytes(b.read(0n, f.len(1)), f.originalAt(10, 1));
      assert.equal(b.flush(), undefined);
      f.assertUnchanged();
    },
  },
  {
    name: 'write_zeroes_zeroes_exactly_its_sectors',
    run(f) {
      const [, b] = f.connect(20n);
      b.writeZeroes(4n, 3n);
      const expected = f.original.slice();
      expected.fill(0, f.byte(24), f.byte(27));
      assertBytes(f.bytes(), expected, 'exactly sectors 24..27 of the disk are zero');
      assert.ok(b.read(4n, f.len(3)).every((byte) => byte === 0));
    },
  },
  {
    name: 'discard_stays_inside_its_sectors',
    run(f) {
      const [, b] = f.connect(20n);
      b.discard(4n, 3n);
      const bytes = f.bytes();
      assertBytes(bytes.subarray(0, f.byte(24)), f.originalAt(0, 24), 'the bytes before are kept');
      assertBytes(bytes.subarray(f.byte(27)), f.originalAt(27, SECTORS - 27n), 'the bytes after are kept');
    },
  },
  {
    name: 'flush_reaches_the_device',
    run(f) {
      const [a] = f.connect(1n);
      const before = f.deviceRequests();
      assert.equal(a.flush(), undefined);
      assert.equal(f.deviceRequests(), before + 1);
    },
  },
  {
    name: 'refused_requests_never_reach_the_device',
    run(f) {
      // The Rust case only asks for an error; the errors here are the ones the README's
      // order of checks gives.
      const [a, b] = f.connect(30n);
      const before = f.deviceRequests();
      const one = f.len(1);
      const data = pattern(f.byte(1), 2);
      assertRefused(() => a.read(30n, one), outOfBounds(30n, 1n, 30n));
      assertRefused(() => a.read(0n, one - 1n), unaligned(one - 1n));
      assertRefused(() => b.write(34n, data), outOfBounds(34n, 1n, 34n));
      assertRefused(() => b.write(0n, data.subarray(1)), unaligned(one - 1n));
      assertRefused(() => a.writeZeroes(29n, 2n), outOfBounds(29n, 2n, 30n));
      assertRefused(() => b.discard(U64_MAX, 1n), outOfBounds(U64_MAX, 1n, 34n));
      assertRefused(() => f.split(a, 31n), outOfBounds(31n, 0n, 30n));
      assertRefused(() => f.slice(b, 1n, 34n), outOfBounds(1n, 34n, 34n));
      a.disconnect();
      assertRefused(() => a.read(0n, one), DISCONNECTED);
      assertRefused(() => a.flush(), DISCONNECTED);
      assert.equal(f.deviceRequests(), before);
      f.assertUnchanged();
    },
  },
  {
    name: 'disconnect_affects_only_that_partition',
    run(f) {
      const whole = f.whole();
      const [a, b] = f.split(whole, 32n);
      a.disconnect();
      const one = f.len(1);
      const data = pattern(f.byte(1), 4);
      assertRefused(() => a.read(0n, one), DISCONNECTED);
      assertRefused(() => a.write(0n, data), DISCONNECTED);
      assertRefused(() => a.flush(), DISCONNECTED);
      assertRefused(() => a.discard(0n, 1n), DISCONNECTED);
      assertRefused(() => a.writeZeroes(0n, 1n), DISCONNECTED);
      assertRefused(() => f.split(a, 1n), DISCONNECTED);
      assertRefused(() => f.slice(a, 0n, 1n), DISCONNECTED);
      assert.equal(a.info().sizeSectors, 32n, 'info still describes the partition');
      f.assertUnchanged();
      // Its sibling, its parent and the device carry on.
      b.write(0n, data);
      assertBytes(whole.read(32n, one), data);
      assertBytes(whole.read(0n, one), f.originalAt(0, 1));
      assert.equal(f.liveDevices(), 1);
      const again = f.whole();
      assertBytes(again.read(32n, one), data);
    },
  },
  {
    name: 'dropping_the_last_partition_releases_the_device',
    run(f) {
      const whole = f.whole();
      const [a, b] = f.split(whole, 10n);
      const s = f.slice(b, 1n, 2n);
      f.drop(whole);
      f.drop(a);
      f.drop(b);
      assert.equal(f.liveDevices(), 1, 'the slice still holds the device');
      assertBytes(s.read(0n, f.len(1)), f.originalAt(11, 1));
      f.drop(s);
      assert.equal(f.liveDevices(), 0, 'the last partition took the device with it');
      const [c, d] = f.connect(5n);
      c.disconnect();
      assert.equal(f.liveDevices(), 1);
      d.disconnect();
      assert.equal(f.liveDevices(), 0, 'disconnected partitions hold no device');
    },
  },
];
