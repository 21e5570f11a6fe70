//! Random sequences of partition operations, replayed on two backends that must agree.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::{Backend, Direction, Disk, DiskSpec, ModelBackend, Part, pattern};

/// One operation; partitions are named by their index among those not yet dropped.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[expect(
    missing_docs,
    reason = "each variant is the `Disk` method of the same name"
)]
pub enum Op {
    Whole,
    Connect {
        first: u64,
    },
    Subpartition {
        part: usize,
        first: u64,
    },
    Slice {
        part: usize,
        start: u64,
        sectors: u64,
    },
    Offset {
        part: usize,
    },
    Info {
        part: usize,
    },
    Read {
        part: usize,
        start: u64,
        len: u64,
    },
    Write {
        part: usize,
        start: u64,
        len: u64,
        seed: u8,
    },
    Map {
        part: usize,
        write: bool,
        start: u64,
        len: u64,
    },
    Flush {
        part: usize,
    },
    Discard {
        part: usize,
        start: u64,
        sectors: u64,
    },
    WriteZeroes {
        part: usize,
        start: u64,
        sectors: u64,
    },
    Disconnect {
        part: usize,
    },
    Drop {
        part: usize,
    },
}

/// Sizes of the disks the sequences run on, in sectors.
pub const DISK_SECTORS: u64 = 48;

/// Sector numbers and counts: mostly near the disk's size, sometimes anywhere in `u64`.
fn sector() -> impl Strategy<Value = u64> {
    prop_oneof![8 => 0..DISK_SECTORS + 4, 1 => Just(u64::MAX), 1 => any::<u64>()]
}

/// Byte lengths for `sector_size`: mostly whole sectors, sometimes not.
fn length(sector_size: u32) -> impl Strategy<Value = u64> {
    let sector_size = u64::from(sector_size);
    (
        0..10u64,
        prop_oneof![6 => Just(0), 1 => Just(1), 1 => Just(sector_size - 1)],
    )
        .prop_map(move |(sectors, extra)| sectors * sector_size + extra)
}

/// A disk and the operations to run on it.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Scenario {
    /// Whether the disk refuses writes.
    pub read_only: bool,
    /// The operations, in order.
    pub ops: Vec<Op>,
}

/// Scenarios of up to `max` operations on disks of `sector_size`; one disk in eight read-only.
pub fn scenarios(sector_size: u32, max: usize) -> impl Strategy<Value = Scenario> {
    (prop::bool::weighted(0.125), ops(sector_size, max))
        .prop_map(|(read_only, ops)| Scenario { read_only, ops })
}

fn ops(sector_size: u32, max: usize) -> impl Strategy<Value = Vec<Op>> {
    let part = || 0..8usize;
    let op = prop_oneof![
        2 => Just(Op::Whole),
        2 => sector().prop_map(|first| Op::Connect { first }),
        3 => (part(), sector()).prop_map(|(part, first)| Op::Subpartition { part, first }),
        3 => (part(), sector(), sector())
            .prop_map(|(part, start, sectors)| Op::Slice { part, start, sectors }),
        1 => part().prop_map(|part| Op::Offset { part }),
        1 => part().prop_map(|part| Op::Info { part }),
        4 => (part(), sector(), length(sector_size))
            .prop_map(|(part, start, len)| Op::Read { part, start, len }),
        4 => (part(), sector(), length(sector_size), any::<u8>())
            .prop_map(|(part, start, len, seed)| Op::Write { part, start, len, seed }),
        2 => (part(), any::<bool>(), sector(), length(sector_size))
            .prop_map(|(part, write, start, len)| Op::Map { part, write, start, len }),
        1 => part().prop_map(|part| Op::Flush { part }),
        1 => (part(), sector(), sector())
            .prop_map(|(part, start, sectors)| Op::Discard { part, start, sectors }),
        1 => (part(), sector(), sector())
            .prop_map(|(part, start, sectors)| Op::WriteZeroes { part, start, sectors }),
        1 => part().prop_map(|part| Op::Disconnect { part }),
        1 => part().prop_map(|part| Op::Drop { part }),
    ];
    prop::collection::vec(op, 1..max)
}

/// Replays a scenario on a fresh disk of each backend; every result, the live device count
/// after each step, and the final bytes must be the same.
pub fn check_same(
    expected: &dyn Backend,
    actual: &dyn Backend,
    sector_size: u32,
    scenario: &Scenario,
) -> Result<(), TestCaseError> {
    let spec = DiskSpec {
        sector_size,
        sectors: DISK_SECTORS,
        read_only: scenario.read_only,
    };
    let contents = pattern(spec.len(), 1);
    let mut expected = Replay::new(expected.disk(&spec, &contents));
    let mut actual = Replay::new(actual.disk(&spec, &contents));
    for (step, op) in scenario.ops.iter().enumerate() {
        let want = expected.apply(op);
        let got = actual.apply(op);
        prop_assert_eq!(got, want, "step {} ({:?})", step, op);
    }
    prop_assert!(
        actual.disk.bytes() == expected.disk.bytes(),
        "the final disk bytes differ"
    );
    Ok(())
}

/// A disk with the handles of its partitions not yet dropped, in the order they were made.
struct Replay {
    disk: Box<dyn Disk>,
    parts: Vec<Part>,
}

impl Replay {
    fn new(disk: Box<dyn Disk>) -> Self {
        Self {
            disk,
            parts: Vec::new(),
        }
    }

    /// Applies `op`, and describes its outcome (`None` when it names no existing partition).
    fn apply(&mut self, op: &Op) -> Option<String> {
        let outcome = match *op {
            Op::Whole => self.added(|disk| disk.whole().map(|p| vec![p])),
            Op::Connect { first } => {
                self.added(|disk| disk.connect(first).map(|(a, b)| vec![a, b]))
            }
            Op::Subpartition { part, first } => {
                let part = self.part(part)?;
                self.added(|disk| disk.subpartition(part, first).map(|(a, b)| vec![a, b]))
            }
            Op::Slice {
                part,
                start,
                sectors,
            } => {
                let part = self.part(part)?;
                self.added(|disk| disk.slice(part, start, sectors).map(|p| vec![p]))
            }
            Op::Offset { part } => format!("{}", self.disk.offset(self.part(part)?)),
            Op::Info { part } => format!("{:?}", self.disk.info(self.part(part)?)),
            Op::Read { part, start, len } => {
                format!("{:?}", self.disk.read(self.part(part)?, start, len))
            }
            Op::Write {
                part,
                start,
                len,
                seed,
            } => {
                let data = pattern(usize::try_from(len).ok()?, seed);
                format!("{:?}", self.disk.write(self.part(part)?, start, &data))
            }
            Op::Map {
                part,
                write,
                start,
                len,
            } => {
                let direction = if write {
                    Direction::Write
                } else {
                    Direction::Read
                };
                let part = self.part(part)?;
                format!("{:?}", self.disk.map(part, direction, start, len))
            }
            Op::Flush { part } => format!("{:?}", self.disk.flush(self.part(part)?)),
            Op::Discard {
                part,
                start,
                sectors,
            } => {
                format!("{:?}", self.disk.discard(self.part(part)?, start, sectors))
            }
            Op::WriteZeroes {
                part,
                start,
                sectors,
            } => {
                format!(
                    "{:?}",
                    self.disk.write_zeroes(self.part(part)?, start, sectors)
                )
            }
            Op::Disconnect { part } => {
                self.disk.disconnect(self.part(part)?);
                String::new()
            }
            Op::Drop { part } => {
                let index = part % self.parts.len().max(1);
                let part = self.parts.get(index).copied()?;
                self.parts.remove(index);
                self.disk.drop_partition(part);
                String::new()
            }
        };
        Some(format!(
            "{outcome}; {} live devices",
            self.disk.live_devices()
        ))
    }

    fn part(&self, index: usize) -> Option<Part> {
        self.parts.get(index % self.parts.len().max(1)).copied()
    }

    fn added(
        &mut self,
        make: impl FnOnce(&mut dyn Disk) -> Result<Vec<Part>, crate::Error>,
    ) -> String {
        match make(&mut *self.disk) {
            Ok(parts) => {
                self.parts.extend(&parts);
                format!("Ok({parts:?})")
            }
            Err(error) => format!("Err({error:?})"),
        }
    }
}

/// Checks `actual` against the model on `cases` random scenarios with `sector_size`; `Err`
/// describes the smallest failing scenario found.
pub fn agrees_with_model(actual: &dyn Backend, sector_size: u32, cases: u32) -> Result<(), String> {
    // No failure file: the callers are not tests with a source tree to keep it in.
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    runner
        .run(&scenarios(sector_size, 48), |scenario| {
            check_same(&ModelBackend, actual, sector_size, &scenario)
        })
        .map_err(|failure| failure.to_string())
}
