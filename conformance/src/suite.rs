//! The suite as a list: every check a runner runs, with its sector size and data path, made by
//! one loop over cases, sector sizes and data paths.
//!
//! Each runner picks what applies to its implementation with a [`Selection`] and runs the
//! [`Check`]s it gets: the native and model tests, the component's, `blockpart conformance` on
//! a component or a driven host. A case added to the suite reaches all of them.

use crate::{
    Backend, CASES, Case, DEVICE_CASES, DataPath, DeviceBackend, DeviceCase, SECTOR_SIZES,
    TABLE_CASES, TableCase, random, run_case, run_device_case, run_table_case,
};

/// How many random operation sequences a comparison with the model runs.
pub const RANDOM_SEQUENCES: u32 = 256;

/// One check of the suite: what it runs, with which sector size, on which data path.
#[derive(Clone, Copy)]
pub enum Check {
    /// A partition case on a data path.
    Case {
        /// The case.
        case: &'static Case,
        /// Bytes per sector.
        sector_size: u32,
        /// How its reads and writes move their bytes.
        path: DataPath,
    },
    /// Random operation sequences, compared with the model, on a data path.
    Random {
        /// Bytes per sector.
        sector_size: u32,
        /// How the reads and writes move their bytes.
        path: DataPath,
    },
    /// A table case, on a fixture of this sector size.
    Table {
        /// The case.
        case: &'static TableCase,
        /// Bytes per sector.
        sector_size: u32,
    },
    /// A case of the device contract, on the devices of one kind.
    Device {
        /// The case.
        case: &'static DeviceCase,
        /// Bytes per sector.
        sector_size: u32,
        /// The kind of device, as names show it (`memory_device`).
        kind: &'static str,
    },
}

/// Which checks a runner takes.
#[derive(Clone, Copy, Debug)]
pub struct Selection<'a> {
    /// The sector sizes checks run with; a table case runs with those of its fixtures.
    pub sector_sizes: &'a [u32],
    /// The partition cases, on both data paths.
    pub cases: bool,
    /// The random comparison with the model, on both data paths.
    pub random: bool,
    /// The table cases.
    pub tables: bool,
    /// Kinds of device held to the device contract.
    pub device_kinds: &'a [&'static str],
}

impl Selection<'static> {
    /// What an implementation of the partitioner runs: every partition case, the random
    /// comparison and the table cases, with every sector size.
    pub const IMPLEMENTATION: Self = Self {
        sector_sizes: &SECTOR_SIZES,
        cases: true,
        random: true,
        tables: true,
        device_kinds: &[],
    };

    /// What the model runs: the partition cases (it reads no tables, and is what random
    /// sequences are compared with).
    pub const MODEL: Self = Self {
        random: false,
        tables: false,
        ..Self::IMPLEMENTATION
    };

    /// Nothing: for a selection of a few kinds of check (`..Selection::NONE`).
    pub const NONE: Self = Self {
        sector_sizes: &SECTOR_SIZES,
        cases: false,
        random: false,
        tables: false,
        device_kinds: &[],
    };
}

impl Selection<'_> {
    /// The checks, in the order `blockpart conformance` reports them: for each sector size,
    /// the partition cases and the random comparison on each data path, then the table cases,
    /// then the device contract on each kind of device.
    pub fn checks(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        for &sector_size in self.sector_sizes {
            for path in DataPath::ALL {
                if self.cases {
                    checks.extend(CASES.iter().map(|case| Check::Case {
                        case,
                        sector_size,
                        path,
                    }));
                }
                if self.random {
                    checks.push(Check::Random { sector_size, path });
                }
            }
            if self.tables {
                checks.extend(
                    TABLE_CASES
                        .iter()
                        .filter(|case| case.sector_sizes().contains(&sector_size))
                        .map(|case| Check::Table { case, sector_size }),
                );
            }
            for &kind in self.device_kinds {
                checks.extend(DEVICE_CASES.iter().map(|case| Check::Device {
                    case,
                    sector_size,
                    kind,
                }));
            }
        }
        checks
    }
}

impl Check {
    /// The check's sector size.
    pub fn sector_size(&self) -> u32 {
        match *self {
            Self::Case { sector_size, .. }
            | Self::Random { sector_size, .. }
            | Self::Table { sector_size, .. }
            | Self::Device { sector_size, .. } => sector_size,
        }
    }

    /// The check's name in `blockpart conformance`'s report, beside its sector size:
    /// `lists::whole_device_is_one_partition`, `mapped::agrees_with_model_on_random_operations`,
    /// a table case's name, `memory_device::reads_...`.
    pub fn name(&self) -> String {
        match *self {
            Self::Case { case, path, .. } => format!("{}::{}", path.name(), case.name),
            Self::Random { path, .. } => {
                format!("{}::agrees_with_model_on_random_operations", path.name())
            }
            Self::Table { case, .. } => case.name.to_owned(),
            Self::Device { case, kind, .. } => format!("{kind}::{}", case.name),
        }
    }

    /// The check's name as a test of `implementation` (`native`, `component`):
    /// `native::512::lists::whole_device_is_one_partition`,
    /// `random::512::lists::native_agrees_with_model`, `native::512::<table case>`, and
    /// `<kind>::512::<device case>` for the device contract.
    pub fn test_name(&self, implementation: &str) -> String {
        match *self {
            Self::Case {
                case,
                sector_size,
                path,
            } => format!(
                "{implementation}::{sector_size}::{}::{}",
                path.name(),
                case.name
            ),
            Self::Random { sector_size, path } => format!(
                "random::{sector_size}::{}::{implementation}_agrees_with_model",
                path.name()
            ),
            Self::Table { case, sector_size } => {
                format!("{implementation}::{sector_size}::{}", case.name)
            }
            Self::Device {
                case,
                sector_size,
                kind,
            } => format!("{kind}::{sector_size}::{}", case.name),
        }
    }

    /// Runs the check: a partition, random or table check on `backend`, a device check on the
    /// `devices` of its kind. `Err` with the failure.
    pub fn run(
        &self,
        backend: &dyn Backend,
        devices: &[(&str, &dyn DeviceBackend)],
    ) -> Result<(), String> {
        match *self {
            Self::Case {
                case,
                sector_size,
                path,
            } => path.on(backend, |backend| run_case(case, backend, sector_size)),
            Self::Random { sector_size, path } => path.on(backend, |backend| {
                random::agrees_with_model(backend, sector_size, RANDOM_SEQUENCES)
            }),
            Self::Table { case, sector_size } => run_table_case(case, backend, sector_size),
            Self::Device {
                case,
                sector_size,
                kind,
            } => match devices.iter().find(|(name, _)| *name == kind) {
                Some((_, devices)) => run_device_case(case, *devices, sector_size),
                None => Err(format!("there are no devices of kind {kind}")),
            },
        }
    }
}
