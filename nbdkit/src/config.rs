//! The plugin's parameters, `key=value` as nbdkit hands them over, checked before it serves.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use blockpart_core::SectorSize;
use blockpart_host::{Format, Limits};

/// `nbdkit <plugin> --help`: the parameters, as nbdkit prints them.
pub const HELP: &str = "\
[file=]DISK          The disk image or block device (required).
partition=N          Serve entry N of its MBR or GPT, numbered as `blockpart list`
                     and nbdkit's partition filter number them (default: the whole disk).
sector-size=BYTES    Bytes per sector: a power of two, at least 512 (default 512).
format=FORMAT        auto (by content, the default), raw, qcow2, vmdk or vhd; images
                     other than raw are read inside the sandbox and served read-only.
backing=FILE         A backing file of the image, nearest first; repeat for a chain.
                     No file the image names is ever opened.
component=FILE.wasm  Another partitioner component instead of the built-in one.
time-limit=MS        Most guest time one call may take, in milliseconds (default 10000).
memory-limit=MIB     Most memory one instance may use, in MiB (default 256).";

/// What nbdkit was told, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The disk image.
    pub file: PathBuf,
    /// The table entry to serve, or `None` for the whole disk.
    pub partition: Option<u32>,
    /// Bytes per sector.
    pub sector_size: SectorSize,
    /// The image's format, or `None` to detect it.
    pub format: Option<Format>,
    /// The image's backing chain, nearest first.
    pub backing: Vec<PathBuf>,
    /// A partitioner component to load instead of the built-in one.
    pub component: Option<PathBuf>,
    /// Bounds on each instance of the component.
    pub limits: Limits,
}

/// The parameters as they arrive, one `key=value` at a time.
#[derive(Debug, Default)]
pub struct Builder {
    file: Option<PathBuf>,
    partition: Option<u32>,
    sector_size: Option<SectorSize>,
    /// `Some(None)` for an explicit `auto`.
    format: Option<Option<Format>>,
    backing: Vec<PathBuf>,
    component: Option<PathBuf>,
    time_limit: Option<Duration>,
    memory_limit: Option<usize>,
}

/// Why a parameter was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// A key this plugin does not take.
    UnknownKey(String),
    /// A key given twice.
    Repeated(&'static str),
    /// A value that does not parse, with what was expected.
    BadValue {
        /// The key.
        key: &'static str,
        /// The value given.
        value: String,
        /// What the key takes.
        expected: &'static str,
    },
    /// No `file=`.
    NoFile,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownKey(key) => write!(
                f,
                "unknown parameter {key:?}: the plugin takes file, partition, sector-size, \
                 format, backing, component, time-limit and memory-limit"
            ),
            Self::Repeated(key) => write!(f, "{key}= is given more than once"),
            Self::BadValue {
                key,
                value,
                expected,
            } => write!(f, "{key}={value:?}: expected {expected}"),
            Self::NoFile => write!(f, "no disk: give its path, as file=DISK or just DISK"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Sets `slot` to `value`, unless it was set before.
fn once<T>(slot: &mut Option<T>, key: &'static str, value: T) -> Result<(), ConfigError> {
    if slot.is_some() {
        return Err(ConfigError::Repeated(key));
    }
    *slot = Some(value);
    Ok(())
}

/// `value` as a positive number, or the error naming `key` and `expected`.
fn positive(key: &'static str, value: &str, expected: &'static str) -> Result<u64, ConfigError> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ConfigError::BadValue {
            key,
            value: value.to_owned(),
            expected,
        })
}

/// `value` as a path, or the error naming `key` and `expected` if it is empty.
fn path(key: &'static str, value: &str, expected: &'static str) -> Result<PathBuf, ConfigError> {
    if value.is_empty() {
        return Err(ConfigError::BadValue {
            key,
            value: value.to_owned(),
            expected,
        });
    }
    Ok(PathBuf::from(value))
}

impl Builder {
    /// Takes one `key=value`.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        match key {
            "file" => once(
                &mut self.file,
                "file",
                path("file", value, "the path of a disk image or block device")?,
            ),
            "partition" => {
                let n = positive("partition", value, "a table entry number, from 1")?;
                let n = u32::try_from(n).map_err(|_| ConfigError::BadValue {
                    key: "partition",
                    value: value.to_owned(),
                    expected: "a table entry number, from 1",
                })?;
                once(&mut self.partition, "partition", n)
            }
            "sector-size" => {
                let size = value
                    .parse::<u32>()
                    .ok()
                    .and_then(SectorSize::new)
                    .ok_or_else(|| ConfigError::BadValue {
                        key: "sector-size",
                        value: value.to_owned(),
                        expected: "a power of two, at least 512",
                    })?;
                once(&mut self.sector_size, "sector-size", size)
            }
            "format" => {
                let format = match value {
                    "auto" => None,
                    name => Some(
                        Format::from_name(name).ok_or_else(|| ConfigError::BadValue {
                            key: "format",
                            value: value.to_owned(),
                            expected: "auto, raw, qcow2, vmdk or vhd",
                        })?,
                    ),
                };
                once(&mut self.format, "format", format)
            }
            "backing" => {
                self.backing
                    .push(path("backing", value, "the path of a backing file")?);
                Ok(())
            }
            "component" => once(
                &mut self.component,
                "component",
                path("component", value, "the path of a component")?,
            ),
            "time-limit" => {
                let ms = positive("time-limit", value, "milliseconds, at least 1")?;
                once(
                    &mut self.time_limit,
                    "time-limit",
                    Duration::from_millis(ms),
                )
            }
            "memory-limit" => {
                let expected = "MiB, from 1 to 4096";
                let mib = positive("memory-limit", value, expected)?;
                let bytes = Some(mib)
                    .filter(|mib| *mib <= 4096)
                    .and_then(|mib| usize::try_from(mib).ok())
                    .and_then(|mib| mib.checked_mul(1 << 20))
                    .ok_or_else(|| ConfigError::BadValue {
                        key: "memory-limit",
                        value: value.to_owned(),
                        expected,
                    })?;
                once(&mut self.memory_limit, "memory-limit", bytes)
            }
            _ => Err(ConfigError::UnknownKey(key.to_owned())),
        }
    }

    /// The settings, once every parameter is in.
    pub fn finish(&self) -> Result<Settings, ConfigError> {
        let defaults = Limits::default();
        Ok(Settings {
            file: self.file.clone().ok_or(ConfigError::NoFile)?,
            partition: self.partition,
            sector_size: self.sector_size.unwrap_or(SectorSize::B512),
            format: self.format.flatten(),
            backing: self.backing.clone(),
            component: self.component.clone(),
            limits: Limits {
                memory_bytes: self.memory_limit.unwrap_or(defaults.memory_bytes),
                call_time: self.time_limit.unwrap_or(defaults.call_time),
                ..defaults
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut builder = Builder::default();
        for (key, value) in pairs {
            builder.set(key, value)?;
        }
        builder.finish()
    }

    #[test]
    fn format_and_a_backing_chain_are_taken_in_order() {
        let settings = parse(&[
            ("file", "top.qcow2"),
            ("format", "qcow2"),
            ("backing", "mid.qcow2"),
            ("backing", "base.qcow2"),
        ])
        .unwrap();
        assert_eq!(settings.format, Some(Format::Qcow2));
        assert_eq!(
            settings.backing,
            [PathBuf::from("mid.qcow2"), PathBuf::from("base.qcow2")]
        );
        assert_eq!(
            parse(&[("file", "d"), ("format", "auto")]).unwrap().format,
            None
        );
        assert_eq!(
            parse(&[("file", "d"), ("format", "vpc")]).unwrap().format,
            Some(Format::Vhd)
        );
        assert!(matches!(
            parse(&[("file", "d"), ("format", "vhdx")]),
            Err(ConfigError::BadValue { key: "format", .. })
        ));
        assert_eq!(
            parse(&[("file", "d"), ("format", "raw"), ("format", "raw")]),
            Err(ConfigError::Repeated("format"))
        );
    }

    #[test]
    fn a_bare_file_serves_the_whole_disk_with_512_byte_sectors() {
        let settings = parse(&[("file", "disk.img")]).unwrap();
        assert_eq!(settings.file, PathBuf::from("disk.img"));
        assert_eq!(settings.partition, None);
        assert_eq!(settings.sector_size, SectorSize::B512);
        assert_eq!(settings.component, None);
        assert_eq!(settings.limits, Limits::default());
    }

    #[test]
    fn every_key_is_taken() {
        let settings = parse(&[
            ("file", "disk.img"),
            ("partition", "5"),
            ("sector-size", "4096"),
            ("component", "my.wasm"),
            ("time-limit", "250"),
            ("memory-limit", "64"),
        ])
        .unwrap();
        assert_eq!(settings.partition, Some(5));
        assert_eq!(settings.sector_size, SectorSize::B4096);
        assert_eq!(settings.component, Some(PathBuf::from("my.wasm")));
        assert_eq!(settings.limits.call_time, Duration::from_millis(250));
        assert_eq!(settings.limits.memory_bytes, 64 << 20);
    }

    #[test]
    fn no_file_is_refused() {
        assert_eq!(parse(&[("partition", "1")]), Err(ConfigError::NoFile));
    }

    #[test]
    fn bad_values_are_refused_with_the_key() {
        for (key, value) in [
            ("partition", "0"),
            ("partition", "-1"),
            ("partition", "two"),
            ("partition", "4294967296"),
            ("sector-size", "1000"),
            ("sector-size", "256"),
            ("time-limit", "0"),
            ("memory-limit", "0"),
            ("memory-limit", "4097"),
            ("file", ""),
            ("component", ""),
        ] {
            let error = parse(&[("file", "d"), (key, value)]).unwrap_err();
            assert!(
                matches!(&error, ConfigError::BadValue { key: k, .. } if *k == key),
                "{key}={value}: {error}"
            );
            assert!(error.to_string().contains(value), "{error}");
        }
    }

    #[test]
    fn unknown_and_repeated_keys_are_refused() {
        assert_eq!(
            parse(&[("file", "d"), ("partiton", "1")]),
            Err(ConfigError::UnknownKey("partiton".into()))
        );
        assert_eq!(
            parse(&[("file", "d"), ("file", "e")]),
            Err(ConfigError::Repeated("file"))
        );
    }
}
