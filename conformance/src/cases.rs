//! The conformance cases: one function per behaviour that users rely on.

use crate::{
    Backend, Direction, Disk, DiskSpec, Error, Info, MAX_TRANSFER_BYTES, OutOfBounds, Part, pattern,
};

/// A conformance case: a named behaviour and the check of it.
pub struct Case {
    /// What the case checks, as a sentence in snake case.
    pub name: &'static str,
    /// Runs the case against a backend with a sector size; panics on failure.
    pub run: fn(&dyn Backend, u32),
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        /// Every conformance case.
        pub const CASES: &[Case] = &[$(Case { name: stringify!($name), run: $name }),*];
    };
}

cases![
    whole_device_is_one_partition,
    connect_splits_at_first_sector,
    connect_at_zero_gives_empty_first_partition,
    connect_at_size_gives_empty_second_partition,
    connect_past_size_is_out_of_bounds_and_drops_device,
    connect_at_u64_max_is_out_of_bounds,
    refused_subpartition_keeps_the_partition,
    subpartitions_nest_three_deep_with_absolute_offsets,
    slice_takes_start_and_length,
    slice_past_end_or_overflowing_is_out_of_bounds,
    read_returns_the_disk_bytes_at_the_offset,
    write_lands_at_the_offset_and_nowhere_else,
    last_sector_reads_and_writes,
    one_past_the_end_changes_nothing,
    request_spanning_the_end_changes_nothing,
    u64_max_starts_and_lengths_are_out_of_bounds,
    unaligned_lengths_are_refused_and_change_nothing,
    zero_length_requests_succeed_up_to_the_end,
    transfers_over_the_limit_are_too_large,
    read_only_device_refuses_every_write,
    write_zeroes_zeroes_exactly_its_sectors,
    discard_stays_inside_its_sectors,
    flush_reaches_the_device,
    refused_requests_never_reach_the_device,
    disconnect_affects_only_that_partition,
    dropping_the_last_partition_releases_the_device,
    map_says_where_a_transfer_lands_and_makes_no_request,
    map_refuses_what_read_and_write_refuse,
];

const SECTORS: u64 = 64;

/// A disk filled with a pattern, and what it held at the start.
struct Fixture {
    disk: Box<dyn Disk>,
    original: Vec<u8>,
    sector_size: u64,
}

impl Fixture {
    fn new(backend: &dyn Backend, sector_size: u32, read_only: bool) -> Self {
        let spec = DiskSpec {
            sector_size,
            sectors: SECTORS,
            read_only,
        };
        let original = pattern(spec.len(), 7);
        Self {
            disk: backend.disk(&spec, &original),
            original,
            sector_size: sector_size.into(),
        }
    }

    /// Bytes in `count` sectors.
    fn len(&self, count: u64) -> u64 {
        count * self.sector_size
    }

    /// The original bytes of `count` device sectors from `sector`.
    fn original(&self, sector: u64, count: u64) -> &[u8] {
        &self.original[self.byte(sector)..self.byte(sector + count)]
    }

    fn byte(&self, sector: u64) -> usize {
        usize::try_from(sector * self.sector_size).unwrap()
    }

    #[track_caller]
    fn assert_unchanged(&self) {
        assert!(
            self.disk.bytes() == self.original,
            "the disk's bytes changed"
        );
    }

    #[track_caller]
    fn split(&mut self, part: Part, first: u64) -> (Part, Part) {
        self.disk.subpartition(part, first).unwrap()
    }

    #[track_caller]
    fn whole(&mut self) -> Part {
        self.disk.whole().unwrap()
    }
}

fn out_of_bounds(sector_start: u64, sectors: u64, size_sectors: u64) -> Error {
    Error::OutOfBounds(OutOfBounds {
        sector_start,
        sectors,
        size_sectors,
    })
}

fn whole_device_is_one_partition(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let whole = f.whole();
    let expected = Info {
        read_write: true,
        sector_size,
        size_sectors: SECTORS,
    };
    assert_eq!(f.disk.info(whole), expected);
    assert_eq!(f.disk.offset(whole), 0);
    let all = f.disk.read(whole, 0, f.len(SECTORS)).unwrap();
    assert!(
        all == f.original,
        "reading the whole device gives its bytes"
    );
}

fn connect_splits_at_first_sector(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let (a, b) = f.disk.connect(10).unwrap();
    assert_eq!(f.disk.info(a).size_sectors, 10);
    assert_eq!(f.disk.info(b).size_sectors, SECTORS - 10);
    assert_eq!((f.disk.offset(a), f.disk.offset(b)), (0, 10));
    for part in [a, b] {
        let info = f.disk.info(part);
        assert_eq!((info.read_write, info.sector_size), (true, sector_size));
    }
    assert_eq!(f.disk.read(b, 0, f.len(1)).unwrap(), f.original(10, 1));
    assert_eq!(f.disk.read(a, 9, f.len(1)).unwrap(), f.original(9, 1));
}

fn connect_at_zero_gives_empty_first_partition(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let (a, b) = f.disk.connect(0).unwrap();
    assert_eq!(f.disk.info(a).size_sectors, 0);
    assert_eq!(f.disk.info(b).size_sectors, SECTORS);
    assert_eq!(f.disk.read(a, 0, 0).unwrap(), Vec::<u8>::new());
    assert_eq!(f.disk.read(a, 0, f.len(1)), Err(out_of_bounds(0, 1, 0)));
    assert_eq!(f.disk.read(b, 0, f.len(1)).unwrap(), f.original(0, 1));
}

fn connect_at_size_gives_empty_second_partition(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let (a, b) = f.disk.connect(SECTORS).unwrap();
    assert_eq!(f.disk.info(a).size_sectors, SECTORS);
    assert_eq!(f.disk.info(b).size_sectors, 0);
    assert_eq!(f.disk.offset(b), SECTORS);
    assert_eq!(f.disk.write(b, 0, &[]), Ok(()));
    assert_eq!(
        f.disk.write(b, 0, &pattern(sector_size as usize, 1)),
        Err(out_of_bounds(0, 1, 0))
    );
    f.assert_unchanged();
}

fn connect_past_size_is_out_of_bounds_and_drops_device(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    assert_eq!(
        f.disk.connect(SECTORS + 1).err(),
        Some(out_of_bounds(SECTORS + 1, 0, SECTORS))
    );
    assert_eq!(
        f.disk.live_devices(),
        0,
        "a refused connect drops the device it was given"
    );
    assert_eq!(f.disk.device_requests(), 0);
}

fn connect_at_u64_max_is_out_of_bounds(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    assert_eq!(
        f.disk.connect(u64::MAX).err(),
        Some(out_of_bounds(u64::MAX, 0, SECTORS))
    );
}

fn refused_subpartition_keeps_the_partition(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let whole = f.whole();
    let refused = f.disk.subpartition(whole, SECTORS + 1);
    assert_eq!(refused, Err(out_of_bounds(SECTORS + 1, 0, SECTORS)));
    assert_eq!(f.disk.live_devices(), 1);
    assert_eq!(f.disk.read(whole, 3, f.len(2)).unwrap(), f.original(3, 2));
}

fn subpartitions_nest_three_deep_with_absolute_offsets(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let (_, b) = f.disk.connect(8).unwrap(); // b: [8, 64)
    let (_, c) = f.split(b, 16); // c: [24, 64)
    let (d, _) = f.split(c, 20); // d: [24, 44)
    let (_, e) = f.split(d, 5); // e: [29, 44)
    assert_eq!([b, c, d, e].map(|p| f.disk.offset(p)), [8, 24, 24, 29]);
    assert_eq!(f.disk.info(e).size_sectors, 15);
    let data = pattern(f.byte(2), 42);
    f.disk.write(e, 14, &data[..f.byte(1)]).unwrap();
    f.disk.write(e, 0, &data).unwrap();
    let bytes = f.disk.bytes();
    assert!(
        bytes[f.byte(29)..f.byte(31)] == data[..],
        "the write landed at sector 29"
    );
    assert!(
        bytes[f.byte(43)..f.byte(44)] == data[..f.byte(1)],
        "the write landed at sector 43"
    );
    assert_eq!(
        f.disk.write(e, 15, &data[..f.byte(1)]),
        Err(out_of_bounds(15, 1, 15))
    );
}

fn slice_takes_start_and_length(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let whole = f.whole();
    let s = f.disk.slice(whole, 10, 20).unwrap();
    let t = f.disk.slice(s, 5, 15).unwrap();
    assert_eq!((f.disk.offset(s), f.disk.info(s).size_sectors), (10, 20));
    assert_eq!((f.disk.offset(t), f.disk.info(t).size_sectors), (15, 15));
    assert_eq!(f.disk.read(t, 14, f.len(1)).unwrap(), f.original(29, 1));
    let empty = f.disk.slice(whole, SECTORS, 0).unwrap();
    assert_eq!(f.disk.info(empty).size_sectors, 0);
}

fn slice_past_end_or_overflowing_is_out_of_bounds(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let whole = f.whole();
    let s = f.disk.slice(whole, 10, 20).unwrap();
    for (start, sectors) in [
        (0, 21),
        (20, 1),
        (21, 0),
        (u64::MAX, 1),
        (1, u64::MAX),
        (u64::MAX, u64::MAX),
    ] {
        assert_eq!(
            f.disk.slice(s, start, sectors),
            Err(out_of_bounds(start, sectors, 20))
        );
    }
}

fn read_returns_the_disk_bytes_at_the_offset(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let (_, b) = f.disk.connect(17).unwrap();
    for (start, count) in [(0, 1), (3, 4), (0, SECTORS - 17), (SECTORS - 18, 1)] {
        let read = f.disk.read(b, start, f.len(count)).unwrap();
        assert!(
            read == f.original(17 + start, count),
            "read of {count} sectors at {start}"
        );
    }
}

fn write_lands_at_the_offset_and_nowhere_else(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let (_, b) = f.disk.connect(17).unwrap();
    let data = pattern(f.byte(3), 99);
    f.disk.write(b, 5, &data).unwrap();
    let mut expected = f.original.clone();
    expected[f.byte(22)..f.byte(25)].copy_from_slice(&data);
    assert!(
        f.disk.bytes() == expected,
        "exactly sectors 22..25 of the disk changed"
    );
    assert_eq!(f.disk.read(b, 5, f.len(3)).unwrap(), data);
}

fn last_sector_reads_and_writes(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let (a, _) = f.disk.connect(40).unwrap();
    assert_eq!(f.disk.read(a, 39, f.len(1)).unwrap(), f.original(39, 1));
    let data = pattern(f.byte(1), 5);
    f.disk.write(a, 39, &data).unwrap();
    assert!(f.disk.bytes()[f.byte(39)..f.byte(40)] == data[..]);
}

fn one_past_the_end_changes_nothing(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let (a, _) = f.disk.connect(40).unwrap();
    let one = f.len(1);
    assert_eq!(f.disk.read(a, 40, one), Err(out_of_bounds(40, 1, 40)));
    assert_eq!(
        f.disk.write(a, 40, &pattern(f.byte(1), 3)),
        Err(out_of_bounds(40, 1, 40))
    );
    assert_eq!(f.disk.write_zeroes(a, 40, 1), Err(out_of_bounds(40, 1, 40)));
    assert_eq!(f.disk.discard(a, 40, 1), Err(out_of_bounds(40, 1, 40)));
    f.assert_unchanged();
}

fn request_spanning_the_end_changes_nothing(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let (a, _) = f.disk.connect(40).unwrap();
    assert_eq!(f.disk.read(a, 38, f.len(3)), Err(out_of_bounds(38, 3, 40)));
    assert_eq!(
        f.disk.write(a, 39, &pattern(f.byte(2), 3)),
        Err(out_of_bounds(39, 2, 40))
    );
    assert_eq!(
        f.disk.write_zeroes(a, 30, 11),
        Err(out_of_bounds(30, 11, 40))
    );
    assert_eq!(f.disk.discard(a, 0, 41), Err(out_of_bounds(0, 41, 40)));
    f.assert_unchanged();
}

fn u64_max_starts_and_lengths_are_out_of_bounds(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let (_, b) = f.disk.connect(8).unwrap();
    let size = SECTORS - 8;
    let one = f.len(1);
    assert_eq!(
        f.disk.read(b, u64::MAX, one),
        Err(out_of_bounds(u64::MAX, 1, size))
    );
    assert_eq!(
        f.disk.read(b, u64::MAX, 0),
        Err(out_of_bounds(u64::MAX, 0, size))
    );
    let data = pattern(f.byte(1), 3);
    assert_eq!(
        f.disk.write(b, u64::MAX, &data),
        Err(out_of_bounds(u64::MAX, 1, size))
    );
    // A start that wraps to inside the partition if added without a check.
    let wraps = u64::MAX - 7;
    assert_eq!(
        f.disk.write(b, wraps, &data),
        Err(out_of_bounds(wraps, 1, size))
    );
    for (start, sectors) in [(u64::MAX, u64::MAX), (1, u64::MAX), (u64::MAX, 1)] {
        let refused = Err(out_of_bounds(start, sectors, size));
        assert_eq!(f.disk.write_zeroes(b, start, sectors), refused);
        assert_eq!(f.disk.discard(b, start, sectors), refused);
    }
    // u64::MAX bytes is not whole sectors; the largest whole-sector length is too large.
    assert_eq!(f.disk.read(b, 0, u64::MAX), Err(Error::Unaligned(u64::MAX)));
    let max = u64::MAX - u64::MAX % f.sector_size;
    assert_eq!(f.disk.read(b, 0, max), Err(Error::TooLarge(max)));
    f.assert_unchanged();
    assert_eq!(f.disk.device_requests(), 0);
}

fn unaligned_lengths_are_refused_and_change_nothing(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let whole = f.whole();
    let ss = f.sector_size;
    for len in [1, ss - 1, ss + 1, 2 * ss - 1, 3 * ss + 7] {
        assert_eq!(f.disk.read(whole, 0, len), Err(Error::Unaligned(len)));
        let data = pattern(usize::try_from(len).unwrap(), 1);
        assert_eq!(f.disk.write(whole, 0, &data), Err(Error::Unaligned(len)));
    }
    f.assert_unchanged();
}

fn zero_length_requests_succeed_up_to_the_end(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let (a, _) = f.disk.connect(40).unwrap();
    // They never reach the device: a device may treat an empty request as an error.
    let requests = f.disk.device_requests();
    for start in [0, 39, 40] {
        assert_eq!(f.disk.read(a, start, 0), Ok(Vec::new()));
        assert_eq!(f.disk.device_requests(), requests, "read at {start}");
        assert_eq!(f.disk.write(a, start, &[]), Ok(()));
        assert_eq!(f.disk.device_requests(), requests, "write at {start}");
        assert_eq!(f.disk.write_zeroes(a, start, 0), Ok(()));
        assert_eq!(
            f.disk.device_requests(),
            requests,
            "write-zeroes at {start}"
        );
        assert_eq!(f.disk.discard(a, start, 0), Ok(()));
        assert_eq!(f.disk.device_requests(), requests, "discard at {start}");
    }
    assert_eq!(f.disk.read(a, 41, 0), Err(out_of_bounds(41, 0, 40)));
    assert_eq!(f.disk.write(a, 41, &[]), Err(out_of_bounds(41, 0, 40)));
    f.assert_unchanged();
}

fn transfers_over_the_limit_are_too_large(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let whole = f.whole();
    let over = MAX_TRANSFER_BYTES + f.len(1);
    assert_eq!(f.disk.read(whole, 0, over), Err(Error::TooLarge(over)));
    let data = vec![0xAB; usize::try_from(over).unwrap()];
    assert_eq!(f.disk.write(whole, 0, &data), Err(Error::TooLarge(over)));
    f.assert_unchanged();
    // Up to the limit is only bounds-checked.
    let limit = MAX_TRANSFER_BYTES;
    let sectors = limit / f.sector_size;
    assert_eq!(
        f.disk.read(whole, 0, limit),
        Err(out_of_bounds(0, sectors, SECTORS))
    );
}

fn read_only_device_refuses_every_write(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, true);
    let (a, b) = f.disk.connect(10).unwrap();
    assert!(!f.disk.info(a).read_write && !f.disk.info(b).read_write);
    let data = pattern(f.byte(1), 8);
    assert_eq!(f.disk.write(b, 0, &data), Err(Error::ReadOnly));
    assert_eq!(f.disk.write(b, 0, &[]), Err(Error::ReadOnly));
    assert_eq!(f.disk.write_zeroes(b, 0, 1), Err(Error::ReadOnly));
    assert_eq!(f.disk.discard(b, 0, 1), Err(Error::ReadOnly));
    assert_eq!(f.disk.write(a, u64::MAX, &data), Err(Error::ReadOnly));
    assert_eq!(f.disk.read(b, 0, f.len(1)).unwrap(), f.original(10, 1));
    assert_eq!(f.disk.flush(b), Ok(()));
    f.assert_unchanged();
}

fn write_zeroes_zeroes_exactly_its_sectors(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let (_, b) = f.disk.connect(20).unwrap();
    f.disk.write_zeroes(b, 4, 3).unwrap();
    let mut expected = f.original.clone();
    expected[f.byte(24)..f.byte(27)].fill(0);
    assert!(
        f.disk.bytes() == expected,
        "exactly sectors 24..27 of the disk are zero"
    );
    assert!(
        f.disk
            .read(b, 4, f.len(3))
            .unwrap()
            .iter()
            .all(|&byte| byte == 0)
    );
}

fn discard_stays_inside_its_sectors(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let (_, b) = f.disk.connect(20).unwrap();
    f.disk.discard(b, 4, 3).unwrap();
    let bytes = f.disk.bytes();
    assert!(
        bytes[..f.byte(24)] == *f.original(0, 24),
        "the bytes before are kept"
    );
    assert!(
        bytes[f.byte(27)..] == *f.original(27, SECTORS - 27),
        "the bytes after are kept"
    );
}

fn flush_reaches_the_device(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let (a, _) = f.disk.connect(1).unwrap();
    let before = f.disk.device_requests();
    assert_eq!(f.disk.flush(a), Ok(()));
    assert_eq!(f.disk.device_requests(), before + 1);
}

/// Every refused request gives the error of the first rule it breaks, in the order the contract
/// gives (`docs/contract.md`: disconnected; is-read-only for a write, discard or write-zeroes;
/// unaligned; too-large; out-of-bounds), however many it breaks, and sends the device nothing.
fn refused_requests_never_reach_the_device(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let (a, b) = f.disk.connect(30).unwrap(); // a: [0, 30), b: [30, 64)
    let size_b = SECTORS - 30;
    let before = f.disk.device_requests();
    let one = f.len(1);
    let data = pattern(f.byte(1), 2);
    let unaligned = &data[1..];
    let odd = one - 1;
    // Whole sectors over the largest transfer, and one byte more: too large and unaligned.
    let over = MAX_TRANSFER_BYTES + one;
    let big = vec![0xAB; usize::try_from(over + 1).unwrap()];
    let (too_large, too_large_unaligned) = (&big[..big.len() - 1], &big[..]);

    // One rule each.
    assert_eq!(f.disk.read(a, 30, one), Err(out_of_bounds(30, 1, 30)));
    assert_eq!(f.disk.read(a, 0, odd), Err(Error::Unaligned(odd)));
    assert_eq!(f.disk.read(a, 0, over), Err(Error::TooLarge(over)));
    assert_eq!(
        f.disk.write(b, size_b, &data),
        Err(out_of_bounds(size_b, 1, size_b))
    );
    assert_eq!(f.disk.write(b, 0, unaligned), Err(Error::Unaligned(odd)));
    assert_eq!(f.disk.write_zeroes(a, 29, 2), Err(out_of_bounds(29, 2, 30)));
    assert_eq!(
        f.disk.discard(b, u64::MAX, 1),
        Err(out_of_bounds(u64::MAX, 1, size_b))
    );
    assert_eq!(f.disk.subpartition(a, 31), Err(out_of_bounds(31, 0, 30)));
    assert_eq!(
        f.disk.slice(b, 1, size_b),
        Err(out_of_bounds(1, size_b, size_b))
    );
    // Several rules: the first in the order decides.
    assert_eq!(f.disk.read(a, 30, odd), Err(Error::Unaligned(odd)));
    assert_eq!(
        f.disk.write(b, u64::MAX, unaligned),
        Err(Error::Unaligned(odd))
    );
    assert_eq!(f.disk.read(a, 0, over + 1), Err(Error::Unaligned(over + 1)));
    assert_eq!(f.disk.read(a, u64::MAX, over), Err(Error::TooLarge(over)));
    assert_eq!(
        f.disk.write(b, size_b, too_large),
        Err(Error::TooLarge(over))
    );
    assert_eq!(
        f.disk.read(a, u64::MAX, over + 1),
        Err(Error::Unaligned(over + 1))
    );
    // Disconnected comes first, whatever else the request breaks.
    f.disk.disconnect(a);
    assert_eq!(f.disk.read(a, 0, one), Err(Error::Disconnected));
    assert_eq!(f.disk.flush(a), Err(Error::Disconnected));
    assert_eq!(f.disk.read(a, u64::MAX, over + 1), Err(Error::Disconnected));
    assert_eq!(
        f.disk.write(a, u64::MAX, too_large_unaligned),
        Err(Error::Disconnected)
    );
    assert_eq!(
        f.disk.write_zeroes(a, u64::MAX, u64::MAX),
        Err(Error::Disconnected)
    );
    assert_eq!(f.disk.discard(a, 30, 1), Err(Error::Disconnected));
    assert_eq!(f.disk.subpartition(a, 31), Err(Error::Disconnected));
    assert_eq!(f.disk.slice(a, u64::MAX, 1), Err(Error::Disconnected));
    assert_eq!(f.disk.device_requests(), before);
    f.assert_unchanged();

    let mut f = Fixture::new(backend, sector_size, true);
    let (c, d) = f.disk.connect(30).unwrap();
    let before = f.disk.device_requests();
    // Read-only comes before the rules of the request's own arguments, for writes only.
    assert_eq!(f.disk.write(d, size_b, &data), Err(Error::ReadOnly));
    assert_eq!(f.disk.write(c, u64::MAX, unaligned), Err(Error::ReadOnly));
    assert_eq!(
        f.disk.write(d, u64::MAX, too_large_unaligned),
        Err(Error::ReadOnly)
    );
    assert_eq!(f.disk.write_zeroes(c, 29, 2), Err(Error::ReadOnly));
    assert_eq!(f.disk.discard(c, u64::MAX, u64::MAX), Err(Error::ReadOnly));
    assert_eq!(f.disk.read(c, 30, odd), Err(Error::Unaligned(odd)));
    assert_eq!(f.disk.read(c, 30, one), Err(out_of_bounds(30, 1, 30)));
    // And disconnected before read-only.
    f.disk.disconnect(c);
    assert_eq!(
        f.disk.write(c, u64::MAX, too_large_unaligned),
        Err(Error::Disconnected)
    );
    assert_eq!(f.disk.discard(c, u64::MAX, 1), Err(Error::Disconnected));
    assert_eq!(f.disk.device_requests(), before);
    f.assert_unchanged();
}

fn disconnect_affects_only_that_partition(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let whole = f.whole();
    let (a, b) = f.split(whole, 32);
    f.disk.disconnect(a);
    let one = f.len(1);
    let data = pattern(f.byte(1), 4);
    assert_eq!(f.disk.read(a, 0, one), Err(Error::Disconnected));
    assert_eq!(f.disk.write(a, 0, &data), Err(Error::Disconnected));
    assert_eq!(f.disk.flush(a), Err(Error::Disconnected));
    assert_eq!(f.disk.discard(a, 0, 1), Err(Error::Disconnected));
    assert_eq!(f.disk.write_zeroes(a, 0, 1), Err(Error::Disconnected));
    assert_eq!(f.disk.subpartition(a, 1), Err(Error::Disconnected));
    assert_eq!(f.disk.slice(a, 0, 1), Err(Error::Disconnected));
    assert_eq!(
        f.disk.info(a).size_sectors,
        32,
        "info still describes the partition"
    );
    f.assert_unchanged();
    // Its sibling, its parent and the device carry on.
    f.disk.write(b, 0, &data).unwrap();
    assert_eq!(f.disk.read(whole, 32, one).unwrap(), data);
    assert_eq!(f.disk.read(whole, 0, one).unwrap(), f.original(0, 1));
    assert_eq!(f.disk.live_devices(), 1);
    let again = f.whole();
    assert_eq!(f.disk.read(again, 32, one).unwrap(), data);
}

fn dropping_the_last_partition_releases_the_device(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let whole = f.whole();
    let (a, b) = f.split(whole, 10);
    let s = f.disk.slice(b, 1, 2).unwrap();
    f.disk.drop_partition(whole);
    f.disk.drop_partition(a);
    f.disk.drop_partition(b);
    assert_eq!(f.disk.live_devices(), 1, "the slice still holds the device");
    assert_eq!(f.disk.read(s, 0, f.len(1)).unwrap(), f.original(11, 1));
    f.disk.drop_partition(s);
    assert_eq!(
        f.disk.live_devices(),
        0,
        "the last partition took the device with it"
    );
    let (c, d) = f.disk.connect(5).unwrap();
    f.disk.disconnect(c);
    assert_eq!(f.disk.live_devices(), 1);
    f.disk.disconnect(d);
    assert_eq!(
        f.disk.live_devices(),
        0,
        "disconnected partitions hold no device"
    );
}

fn map_says_where_a_transfer_lands_and_makes_no_request(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, false);
    let whole = f.whole();
    let (_, b) = f.split(whole, 10);
    let (_, c) = f.split(b, 5);
    let size = SECTORS - 15;
    let requests = f.disk.device_requests();
    let (one, two, all) = (f.len(1), f.len(2), f.len(size));
    let over = MAX_TRANSFER_BYTES + one;
    for direction in [Direction::Read, Direction::Write] {
        let mut map = |start, len| f.disk.map(c, direction, start, len);
        assert_eq!(map(3, two), Ok(18), "{direction:?} inside");
        assert_eq!(map(0, all), Ok(15), "{direction:?} of all of it");
        assert_eq!(
            map(size - 1, one),
            Ok(SECTORS - 1),
            "{direction:?} of its last sector"
        );
        assert_eq!(
            map(size, 0),
            Ok(SECTORS),
            "{direction:?} of nothing at its end"
        );
        assert_eq!(map(size, one), Err(out_of_bounds(size, 1, size)));
        assert_eq!(map(size - 1, two), Err(out_of_bounds(size - 1, 2, size)));
        assert_eq!(map(u64::MAX, one), Err(out_of_bounds(u64::MAX, 1, size)));
        assert_eq!(map(0, one + 1), Err(Error::Unaligned(one + 1)));
        assert_eq!(map(0, over), Err(Error::TooLarge(over)));
        assert_eq!(map(0, u64::MAX), Err(Error::Unaligned(u64::MAX)));
    }
    assert_eq!(
        f.disk.device_requests(),
        requests,
        "map made a device request"
    );
    f.assert_unchanged();
}

fn map_refuses_what_read_and_write_refuse(backend: &dyn Backend, sector_size: u32) {
    let mut f = Fixture::new(backend, sector_size, true);
    let whole = f.whole();
    let (a, b) = f.split(whole, 8);
    let one = f.len(1);
    assert_eq!(f.disk.map(b, Direction::Read, 1, one), Ok(9));
    assert_eq!(
        f.disk.map(b, Direction::Write, 1, one),
        Err(Error::ReadOnly)
    );
    // Read-only comes before the bounds, as for `write`.
    assert_eq!(
        f.disk.map(b, Direction::Write, u64::MAX, one),
        Err(Error::ReadOnly)
    );
    f.disk.disconnect(a);
    for direction in [Direction::Read, Direction::Write] {
        assert_eq!(f.disk.map(a, direction, 0, one), Err(Error::Disconnected));
    }
    assert_eq!(
        f.disk.map(b, Direction::Read, 0, one),
        Ok(8),
        "b is still connected"
    );
    f.assert_unchanged();
}
