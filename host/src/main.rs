//! `blockpart`: partitions of disk images, through the sandboxed partitioner component.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use blockpart_conformance::{CASES, SECTOR_SIZES, random, run_case};
use blockpart_core::{MAX_TRANSFER_BYTES, SectorSize};
use blockpart_host::bench::{self, Op, Pattern, REQUEST_SIZES, Workload, report};
use blockpart_host::{
    ComponentBackend, FileDevice, GUEST_COMPONENT, Instance, Limits, PartitionHandle, Runtime,
    WASMTIME_VERSION,
};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

mod list;

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

/// Bounds on the partitioner component, which a hostile or broken one cannot pass.
#[derive(Args)]
struct LimitArgs {
    /// Most memory the component may use, in MiB (a 64 MiB transfer needs a little more).
    #[arg(long, global = true, value_name = "MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    memory_limit: u32,
    /// Most time one call into the component may take, in milliseconds.
    #[arg(long, global = true, value_name = "MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    time_limit: u64,
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        let mib = usize::try_from(self.memory_limit).unwrap_or(usize::MAX);
        Limits {
            memory_bytes: mib.saturating_mul(1 << 20),
            call_time: Duration::from_millis(self.time_limit),
            ..Limits::default()
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Runs the conformance suite against the partitioner, on fresh temporary disks.
    Conformance {
        /// A component of the `partitioner` world to test instead of the built-in one.
        #[arg(long, value_name = "FILE")]
        component: Option<PathBuf>,
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
    /// Writes the built-in partitioner component, for jco, wac or another host.
    Component {
        /// Where to write it.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

#[derive(Args)]
struct DiskArgs {
    /// The disk image: a file whose size is a whole number of sectors.
    disk: PathBuf,
    /// Bytes per sector: a power of two, at least 512.
    #[arg(long, value_name = "BYTES", default_value = "512", value_parser = sector_size)]
    sector_size: SectorSize,
    /// Partition N of the disk's partition table, as `blockpart list` numbers them, instead of
    /// the whole disk. A `--range` is then relative to it.
    #[arg(short, long, value_name = "N")]
    partition: Option<u32>,
}

/// `START:LEN`, in sectors.
#[derive(Clone, Copy)]
struct Range {
    start: u64,
    sectors: u64,
}

impl FromStr for Range {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (start, sectors) = text
            .split_once(':')
            .ok_or("expected START:LEN, in sectors")?;
        let number = |s: &str| s.parse::<u64>().map_err(|e| format!("{s:?}: {e}"));
        Ok(Self {
            start: number(start)?,
            sectors: number(sectors)?,
        })
    }
}

fn sector_size(text: &str) -> Result<SectorSize, String> {
    text.parse::<u32>()
        .ok()
        .and_then(SectorSize::new)
        .ok_or_else(|| format!("{text} is not a power of two of at least 512"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command, cli.limits.limits()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("blockpart: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, limits: Limits) -> Result<ExitCode> {
    match command {
        Command::Conformance {
            component,
            sector_size,
        } => conformance(component, sector_size, limits),
        Command::List { disk, json } => {
            let (mut instance, part) = open(&disk, None, true, limits)?;
            let table = instance.read_table(part).with_context(|| {
                format!("reading the partition table of {}", disk.disk.display())
            })?;
            let device = disk.disk.display().to_string();
            if json {
                let json = serde_json::to_string_pretty(&list::sfdisk_json(&table, &device))?;
                println!("{json}");
            } else {
                print!("{}", list::readable(&table, &device));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Info { disk, range } => {
            let (mut instance, part) = open(&disk, range, true, limits)?;
            let info = instance.info(part)?;
            let offset = instance.offset(part)?;
            #[expect(
                clippy::arithmetic_side_effects,
                reason = "two 64-bit factors fit in 128 bits"
            )]
            let bytes = u128::from(info.size_sectors) * u128::from(info.sector_size);
            let mode = if info.read_write {
                "read-write"
            } else {
                "read-only"
            };
            println!(
                "{}: {} sectors of {} bytes ({bytes} bytes) from sector {offset}, {mode}",
                disk.disk.display(),
                info.size_sectors,
                info.sector_size,
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Cat { disk, range } => {
            let (mut instance, part) = open(&disk, range, true, limits)?;
            let sectors = instance.info(part)?.size_sectors;
            cat(&mut instance, part, disk.sector_size, sectors)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Write { disk, range, at } => {
            let (mut instance, part) = open(&disk, range, false, limits)?;
            let sectors = instance.info(part)?.size_sectors;
            let target = instance
                .slice(part, at, sectors.saturating_sub(at))
                .with_context(|| format!("--at {at} is not within its {sectors} sectors"))?;
            write(&mut instance, target, disk.sector_size)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            disk,
            sector_size,
            write,
            rounds,
            slice,
            out,
        } => {
            let options = BenchOptions {
                limits,
                sector_size,
                write,
                rounds,
                slice: Duration::from_millis(slice),
            };
            bench(&disk, &options, &out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Component { output } => {
            std::fs::write(&output, GUEST_COMPONENT)
                .with_context(|| format!("writing {}", output.display()))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn conformance(
    component: Option<PathBuf>,
    sector_size: Option<SectorSize>,
    limits: Limits,
) -> Result<ExitCode> {
    let runtime = match &component {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Runtime::from_component(&bytes)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("{} is not a partitioner component", path.display()))?
                .with_limits(limits)
        }
        None => runtime(limits)?,
    };
    let backend = ComponentBackend::new(runtime);
    let sizes = sector_size.map_or(SECTOR_SIZES.to_vec(), |size| vec![size.get()]);
    // Cases report their failures as values; the default hook would print each one twice.
    std::panic::set_hook(Box::new(|_| {}));
    let (mut passed, mut failed) = (0u32, 0u32);
    let mut report = |name: &str, sector_size: u32, outcome: Result<(), String>| match outcome {
        Ok(()) => {
            passed = passed.saturating_add(1);
            println!("ok      {sector_size:>4}  {name}");
        }
        Err(message) => {
            failed = failed.saturating_add(1);
            println!("FAILED  {sector_size:>4}  {name}: {message}");
        }
    };
    for &size in &sizes {
        for case in CASES {
            report(case.name, size, run_case(case, &backend, size));
        }
        report("agrees_with_model_on_random_operations", size, {
            random::agrees_with_model(&backend, size, 256)
        });
    }
    let _ = std::panic::take_hook();
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

struct BenchOptions {
    limits: Limits,
    sector_size: SectorSize,
    write: bool,
    rounds: u32,
    slice: Duration,
}

fn bench(disk: &Path, options: &BenchOptions, out: &Path) -> Result<()> {
    let runtime = runtime(options.limits)?;
    let ops: &[Op] = if options.write {
        &[Op::Read, Op::Write]
    } else {
        &[Op::Read]
    };
    let mut results = Vec::new();
    for &op in ops {
        for pattern in [Pattern::Sequential, Pattern::Random] {
            for request_bytes in REQUEST_SIZES {
                let workload = Workload {
                    op,
                    pattern,
                    request_bytes,
                };
                let measured = bench::measure(
                    &runtime,
                    disk,
                    options.sector_size,
                    workload,
                    options.rounds,
                    options.slice,
                )
                .with_context(|| format!("measuring {workload:?} on {}", disk.display()))?;
                results.extend(measured);
            }
        }
    }
    let mut text = format!(
        "blockpart bench {}: {}-byte sectors, best of {} rounds of {} ms; wasmtime {}\n\n",
        disk.display(),
        options.sector_size.get(),
        options.rounds,
        options.slice.as_millis(),
        WASMTIME_VERSION,
    );
    text.push_str(&report::table(&results));
    text.push_str(&start_up(disk, options)?);
    print!("{text}");
    io::stdout().flush().context("writing to standard output")?;

    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let title = format!(
        "blockpart bench: {}-byte sectors, wasmtime {WASMTIME_VERSION}",
        options.sector_size.get()
    );
    let svg = report::svg(&results, &title).map_err(anyhow::Error::msg)?;
    for (name, contents) in [
        ("bench.txt", text),
        ("bench.csv", report::csv(&results)),
        ("bench.svg", svg),
    ] {
        let path = out.join(name);
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "wrote bench.txt, bench.csv and bench.svg to {}",
        out.display()
    );
    Ok(())
}

/// Start-up costs, in this process and as a whole process.
fn start_up(disk: &Path, options: &BenchOptions) -> Result<String> {
    let sector_size = options.sector_size;
    let timed = |f: &mut dyn FnMut() -> Result<()>| -> Result<Duration> {
        let start = Instant::now();
        f()?;
        Ok(start.elapsed())
    };
    let compile = timed(&mut || Ok(Runtime::new().map(drop)?))?;
    runtime(options.limits)?; // fills the cache, if it was empty
    let load = timed(&mut || runtime(options.limits).map(drop))?;
    let runtime = Runtime::new()?;
    let first_read = timed(&mut || {
        let mut instance = runtime.instantiate()?;
        let whole = instance.whole(FileDevice::open(disk, sector_size, true)?)?;
        instance.read(whole, 0, sector_size.get().into())?;
        Ok(())
    })?;
    // The whole of `blockpart cat --range 0:1`, from exec to exit, with the cache warm.
    let exe = std::env::current_exe().context("finding blockpart's own path")?;
    let mut processes = Vec::new();
    for _ in 0..11 {
        processes.push(timed(&mut || {
            let status = std::process::Command::new(&exe)
                .args(["cat", "--range", "0:1", "--sector-size"])
                .arg(sector_size.get().to_string())
                .arg(disk)
                .stdout(std::process::Stdio::null())
                .status()?;
            anyhow::ensure!(status.success(), "blockpart cat failed: {status}");
            Ok(())
        })?);
    }
    processes.sort();
    let median = processes.get(5).copied().unwrap_or_default();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Ok(format!(
        "\nstart-up: compiling the component {:.1} ms, loading it from the cache {:.1} ms, \
         instantiating and the first read {:.2} ms\n\
         process start to first read (`blockpart cat --range 0:1`, warm cache): {:.1} ms \
         (median of 11)\n",
        ms(compile),
        ms(load),
        ms(first_read),
        ms(median),
    ))
}

/// An instance of the built-in partitioner with `disk` handed to it, and the partition the
/// arguments select: the whole disk or its `--partition`, then `range` of that.
fn open(
    disk: &DiskArgs,
    range: Option<Range>,
    read_only: bool,
    limits: Limits,
) -> Result<(Instance, PartitionHandle)> {
    let device = FileDevice::open(&disk.disk, disk.sector_size, read_only)?;
    let mut instance = runtime(limits)?.instantiate()?;
    let mut part = instance.whole(device)?;
    let mut what = disk.disk.display().to_string();
    if let Some(number) = disk.partition {
        part = instance
            .open_entry(part, number)
            .with_context(|| format!("opening partition {number} of {what}"))?;
        what = format!("partition {number}");
    }
    if let Some(range) = range {
        part = instance
            .slice(part, range.start, range.sectors)
            .with_context(|| {
                format!(
                    "--range {}:{} is not within {what}",
                    range.start, range.sectors
                )
            })?;
    }
    Ok((instance, part))
}

/// The built-in partitioner, its compiled code cached across runs when the cache directory can
/// be set up (compiling takes tens of milliseconds; loading, about one).
fn runtime(limits: Limits) -> Result<Runtime> {
    let runtime = Runtime::cached(GUEST_COMPONENT).or_else(|_| Runtime::new())?;
    Ok(runtime.with_limits(limits))
}

/// Sectors per request on long copies: 1 MiB, or one sector if that is larger.
fn chunk_sectors(sector_size: SectorSize) -> u64 {
    (1u64 << 20)
        .checked_div(sector_size.get().into())
        .unwrap_or(1)
        .max(1)
}

fn cat(
    instance: &mut Instance,
    part: PartitionHandle,
    sector_size: SectorSize,
    sectors: u64,
) -> Result<()> {
    let chunk = chunk_sectors(sector_size);
    let progress = progress(sector_size.bytes_in(sectors));
    let mut out = io::stdout().lock();
    let mut at = 0;
    while at < sectors {
        let count = chunk.min(sectors.saturating_sub(at));
        let len = sector_size
            .bytes_in(count)
            .context("a chunk is at most 1 MiB")?;
        let data = instance.read(part, at, len)?;
        out.write_all(&data).context("writing to standard output")?;
        progress.inc(len);
        at = at.saturating_add(count);
    }
    out.flush().context("writing to standard output")?;
    progress.finish_and_clear();
    Ok(())
}

fn write(instance: &mut Instance, part: PartitionHandle, sector_size: SectorSize) -> Result<()> {
    let info = instance.info(part)?;
    let capacity = sector_size.bytes_in(info.size_sectors);
    let mut input = io::stdin().lock();
    let known_len = input_len();
    if let Some(len) = known_len {
        if sector_size.sectors_in(len).is_none() {
            bail!(
                "the input is {len} bytes, not a whole number of {}-byte sectors",
                sector_size.get()
            );
        }
        if capacity.is_some_and(|capacity| len > capacity) {
            bail!(
                "the input is {len} bytes; the range holds {} sectors",
                info.size_sectors
            );
        }
    }
    let chunk = sector_size
        .bytes_in(chunk_sectors(sector_size))
        .context("a chunk fits")?;
    let chunk = usize::try_from(chunk.min(MAX_TRANSFER_BYTES))?;
    let progress = progress(known_len);
    let mut buffer = vec![0; chunk];
    let mut at = 0u64;
    loop {
        let filled = read_full(&mut input, &mut buffer)?;
        let Some(data) = buffer.get(..filled).filter(|data| !data.is_empty()) else {
            break;
        };
        instance.write(part, at, data).with_context(|| {
            if at == 0 {
                "the input does not fit: nothing was written".to_owned()
            } else {
                format!("the input does not fit: its first {at} sectors were written")
            }
        })?;
        let written = u64::try_from(filled)?;
        progress.inc(written);
        at = at.saturating_add(sector_size.sectors_in(written).unwrap_or(0));
    }
    instance.flush(part)?;
    progress.finish_and_clear();
    Ok(())
}

/// The length of standard input when it is a regular file.
fn input_len() -> Option<u64> {
    let file = File::open(Path::new("/dev/stdin")).ok()?;
    let metadata = file.metadata().ok()?;
    metadata.is_file().then_some(metadata.len())
}

/// Reads until `buffer` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buffer: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buffer.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match input.read(rest) {
            Ok(0) => break,
            Ok(n) => filled = filled.saturating_add(n),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error).context("reading standard input"),
        }
    }
    Ok(filled)
}

/// A progress bar on standard error when it is a terminal; hidden otherwise.
fn progress(len: Option<u64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = len.map_or_else(ProgressBar::new_spinner, ProgressBar::new);
    bar.set_style(
        ProgressStyle::with_template("{bytes}/{total_bytes} {wide_bar} {bytes_per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
