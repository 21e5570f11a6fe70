//! `blockpart bench`: the cost of the component, against native I/O, on the user's disk.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use blockpart_cli::bench::{self, BenchDisk, Op, Pattern, REQUEST_SIZES, Workload, report};
use blockpart_core::SectorSize;
use blockpart_host::{DiskOptions, Format, Limits, Runtime, WASMTIME_VERSION};

use crate::args::{lock, print, runtime};
use crate::disk::{described, image_runtime};

pub struct BenchOptions {
    pub limits: Limits,
    pub sector_size: SectorSize,
    /// The image's format, `None` to detect it.
    pub format: Option<Format>,
    pub backing: Vec<PathBuf>,
    pub write: bool,
    pub rounds: u32,
    pub slice: Duration,
}

pub fn run(path: &Path, options: &BenchOptions, out: &Path) -> Result<()> {
    let runtime = runtime(options.limits)?;
    // Held while measuring as `cat` (shared) or `write` (exclusive) holds a disk, so --write
    // never writes its pattern over a disk another program is using.
    let lock = lock(path, options.write)?;
    let images = || image_runtime(options.limits);
    let disk = BenchDisk {
        path,
        options: DiskOptions {
            format: options.format,
            backing: options.backing.clone(),
            sector_size: options.sector_size,
            writable: options.write,
            partial_last_sector: false,
        },
        images: &images,
    };
    // Opened once first, so that a disk that cannot be (a write to an image) fails before
    // anything is measured, and so that the report names its format.
    let format = disk.open(options.write)?.format();
    let ops: &[Op] = if options.write {
        &[Op::Read, Op::Write]
    } else {
        &[Op::Read]
    };
    let mut results = Vec::new();
    for &op in ops {
        for pattern in [Pattern::Sequential, Pattern::Random] {
            // Requests are whole sectors: sizes below the sector size are left out.
            let sizes = REQUEST_SIZES
                .into_iter()
                .filter(|&bytes| bytes >= u64::from(options.sector_size.get()));
            for request_bytes in sizes {
                let workload = Workload {
                    op,
                    pattern,
                    request_bytes,
                };
                let measured =
                    bench::measure(&runtime, &disk, workload, options.rounds, options.slice)
                        .with_context(|| {
                            format!(
                                "measuring {} {}s of {request_bytes} bytes on {}",
                                pattern.name(),
                                op.name(),
                                path.display()
                            )
                        })?;
                results.extend(measured);
            }
        }
    }
    // The start-up step runs `blockpart cat`, which takes its own lock.
    drop(lock);
    let mut text = format!(
        "blockpart bench {}: {}-byte sectors, best of {} rounds of {} ms; wasmtime {}\n\n",
        described(path, format),
        options.sector_size.get(),
        options.rounds,
        options.slice.as_millis(),
        WASMTIME_VERSION,
    );
    text.push_str(&report::table(&results));
    text.push_str(&start_up(&disk, options)?);
    print(&text)?;

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
fn start_up(disk: &BenchDisk<'_>, options: &BenchOptions) -> Result<String> {
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
        let whole = instance.whole(disk.open(false)?)?;
        let mut sector = vec![0; usize::try_from(sector_size.get())?];
        instance.read(whole, 0, &mut sector)?;
        Ok(())
    })?;
    // The whole of `blockpart cat --range 0:1`, from exec to exit, with the cache warm.
    let exe = std::env::current_exe().context("finding blockpart's own path")?;
    let mut processes = Vec::new();
    for _ in 0..11 {
        processes.push(timed(&mut || {
            let mut cat = std::process::Command::new(&exe);
            cat.args(["cat", "--range", "0:1", "--sector-size"])
                .arg(sector_size.get().to_string())
                .arg(disk.path);
            if let Some(format) = options.format {
                cat.args(["--format", format.name()]);
            }
            for backing in &options.backing {
                cat.arg("--backing").arg(backing);
            }
            let status = cat.stdout(std::process::Stdio::null()).status()?;
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
