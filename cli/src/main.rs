//! `blockpart`: partitions of disk images, through the sandboxed partitioner component.
//!
//! This file is the command line's shape; each command lives in a module of `commands`.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use blockpart_core::SectorSize;
use blockpart_host::{Limits, PARTITIONER_COMPONENT, READER_COMPONENT, READER_ON_IMAGE_COMPONENT};
use clap::{Parser, Subcommand, ValueEnum};

use args::{DiskArgs, LimitArgs, Range, sector_size};
use commands::{bench, conformance, copy, files, show};
use disk::FormatArg;

mod args;
mod commands;
mod disk;
mod streams;

use streams::Stream;

/// Partition disk images inside a WebAssembly sandbox.
///
/// Every access goes through the partitioner component, which sees nothing but the disk it is
/// handed. Positions and lengths are in sectors.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the conformance suite against the partitioner, on fresh temporary disks.
    ///
    /// `--memory-limit` and `--time-limit` apply to the component run here, not to a `--host`.
    Conformance {
        /// A component of the `partitioner` world to test instead of the built-in one.
        #[arg(long, value_name = "FILE")]
        component: Option<PathBuf>,
        /// Runs the suite in a host in another language, through its conformance driver: the
        /// command line "CMD ARGS..." (split at whitespace), such as "node node/driver.js".
        /// Adds the device contract on the host's own devices.
        #[arg(long, value_name = "CMD ARGS...", conflicts_with = "component")]
        host: Option<String>,
        /// Runs with this sector size only (default: 512 and 4096).
        #[arg(long, value_name = "BYTES", value_parser = sector_size)]
        sector_size: Option<SectorSize>,
    },
    /// Lists the partitions of a disk's MBR or GPT, read inside the sandbox.
    ///
    /// Partition tables are untrusted input: the partitioner reads them with nothing but the
    /// disk in reach, and refuses a table whose entries overlap, run past the disk or loop.
    /// Disk images do not record their sector size: give `--sector-size 4096` for 4Kn disks.
    List {
        #[command(flatten)]
        disk: DiskArgs,
        /// Prints JSON in the shape of `sfdisk --json`, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Describes a disk, or a range of it, as the partitioner sees it.
    Info {
        #[command(flatten)]
        disk: DiskArgs,
        /// Only this range of the disk.
        #[arg(long, value_name = "START:LEN")]
        range: Option<Range>,
    },
    /// Copies a disk, a partition or a range of either to standard output.
    Cat {
        #[command(flatten)]
        disk: DiskArgs,
        /// Only this range (default: all of it).
        #[arg(long, value_name = "START:LEN")]
        range: Option<Range>,
    },
    /// Writes standard input into a disk, a partition or a range of either.
    ///
    /// The input must be whole sectors and fit from `--at`. When the input is a
    /// regular file this is checked before anything is written; from a pipe, the copy stops at
    /// the first chunk that does not fit, after writing the chunks before it.
    Write {
        #[command(flatten)]
        disk: DiskArgs,
        /// Only this range (default: all of it).
        #[arg(long, value_name = "START:LEN")]
        range: Option<Range>,
        /// The sector to start at, relative to the partition or range.
        #[arg(long, value_name = "SECTOR", default_value_t = 0)]
        at: u64,
    },
    /// Lists a directory of the filesystem on a disk or one of its partitions: ext2, ext3,
    /// ext4, FAT12, FAT16 or FAT32, detected, read inside the sandbox.
    ///
    /// Names one a line, sorted, with control characters (and a `/` in a name) escaped.
    /// Without -p, the whole disk must hold the filesystem (a disk with a partition table is
    /// refused with a hint).
    Ls {
        #[command(flatten)]
        disk: DiskArgs,
        /// The directory, from the filesystem's root (a file lists itself).
        #[arg(default_value = "/")]
        path: OsString,
        /// Adds each entry's type, permission bits (`-` on FAT), size and a link's target.
        #[arg(short, long)]
        long: bool,
    },
    /// Copies a file of the filesystem on a disk or one of its partitions to standard output.
    ///
    /// Streamed in 4 MiB reads, so a file of any size takes bounded memory; a progress bar on
    /// a terminal. A symbolic link is followed.
    Get {
        #[command(flatten)]
        disk: DiskArgs,
        /// The file, from the filesystem's root.
        path: OsString,
    },
    /// Measures what the component costs: the same requests on DISK made natively (pread and
    /// pwrite), through the host's file device, and through the component's partition.
    ///
    /// Prints MB/s, requests per second and the ratio to native for reads (and writes, with
    /// `--write`) of 512 B to 1 MiB, sequential and random; then the start-up time. Writes the
    /// table, `bench.csv` and a plot, `bench.svg`, to `--out`.
    Bench {
        /// The disk image, at least 1 MiB; the bigger, the less a cache flatters random reads.
        disk: PathBuf,
        /// Bytes per sector: a power of two, at least 512.
        #[arg(long, value_name = "BYTES", default_value = "512", value_parser = sector_size)]
        sector_size: SectorSize,
        /// The image's format: auto (by its content), raw, qcow2, vmdk or vhd. For an image,
        /// native reads the image file at the same offsets as the virtual disk's requests.
        #[arg(long, value_name = "FORMAT", default_value = "auto")]
        format: FormatArg,
        /// A backing file of the image, nearest first; repeat it for a chain.
        #[arg(long, value_name = "FILE")]
        backing: Vec<PathBuf>,
        /// Also measures writes, which overwrite the disk with a pattern.
        #[arg(long)]
        write: bool,
        /// Rounds per workload; each way's best round is kept.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
        rounds: u32,
        /// Milliseconds each way runs per round.
        #[arg(long, value_name = "MS", default_value_t = 200)]
        slice: u64,
        /// Directory for bench.txt, bench.csv and bench.svg.
        #[arg(short, long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
    /// Writes a built-in component, for jco, wac or another host.
    Component {
        /// Where to write it; `-` is standard output.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Which: the partitioner (imports a `block-device`), the filesystem reader composed
        /// on it, or both composed on the image reader (imports only an image `file`).
        #[arg(long, value_enum, default_value_t = Stack::Partitioner)]
        stack: Stack,
    },
}

impl Command {
    /// The standard streams the command reads or writes: it refuses to run if one was closed.
    fn streams(&self) -> &'static [Stream] {
        match self {
            Self::Write { .. } => &[Stream::Input],
            Self::Component { output, .. } if output.as_os_str() != "-" => &[],
            _ => &[Stream::Output],
        }
    }
}

/// The built-in components `blockpart component` writes.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Stack {
    /// The partitioner: world `partitioner`.
    Partitioner,
    /// The filesystem reader on the partitioner: world `reader-on-partitioner`.
    Reader,
    /// The filesystem reader on the partitioner on the image reader: world `reader-on-image`.
    Image,
}

impl Stack {
    fn bytes(self) -> &'static [u8] {
        match self {
            Self::Partitioner => PARTITIONER_COMPONENT,
            Self::Reader => READER_COMPONENT,
            Self::Image => READER_ON_IMAGE_COMPONENT,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command, cli.limits.limits()) {
        Ok(code) => code,
        Err(error) => {
            // Even with standard error full or closed, exit with the code, never a panic.
            let _ = writeln!(io::stderr(), "blockpart: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, limits: Limits) -> Result<ExitCode> {
    for stream in command.streams() {
        streams::ensure_open(*stream)?;
    }
    match command {
        Command::Conformance {
            component,
            host,
            sector_size,
        } => return conformance::run(component, host, sector_size, limits),
        Command::List { disk, json } => show::list(&disk, json, limits)?,
        Command::Info { disk, range } => show::info(&disk, range, limits)?,
        Command::Cat { disk, range } => copy::cat(&disk, range, limits)?,
        Command::Write { disk, range, at } => copy::write(&disk, range, at, limits)?,
        Command::Ls { disk, path, long } => files::ls(&disk, &path, long, limits)?,
        Command::Get { disk, path } => files::get(&disk, &path, limits)?,
        Command::Bench {
            disk,
            sector_size,
            format,
            backing,
            write,
            rounds,
            slice,
            out,
        } => {
            let options = bench::BenchOptions {
                limits,
                sector_size,
                format: format.format(),
                backing,
                write,
                rounds,
                slice: Duration::from_millis(slice),
            };
            bench::run(&disk, &options, &out)?;
        }
        Command::Component { output, stack } if output.as_os_str() == "-" => io::stdout()
            .write_all(stack.bytes())
            .and_then(|()| io::stdout().flush())
            .context("writing the component to standard output")?,
        Command::Component { output, stack } => std::fs::write(&output, stack.bytes())
            .with_context(|| format!("writing {}", output.display()))?,
    }
    Ok(ExitCode::SUCCESS)
}
