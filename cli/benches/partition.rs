//! `cargo bench`: each request size, pattern and op, made natively, through the host's file
//! device, and through the component's partition, on one 64 MiB file; then the start-up costs.
//! Besides criterion's own report, writes the table, CSV and SVG of `blockpart bench` (from the
//! median time per request of criterion's samples) to `target/blockpart-bench/`.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    missing_docs
)]

use std::cell::RefCell;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use blockpart_cli::bench::{
    BenchDisk, Measurement, Op, Pattern, Positions, REQUEST_SIZES, Target, Via, report,
};
use blockpart_core::SectorSize;
use blockpart_host::{DiskOptions, FileDevice, ImageRuntime, PARTITIONER_COMPONENT, Runtime};
use criterion::{Criterion, Throughput};

const DISK_BYTES: u64 = 64 << 20;

fn disk() -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let chunk: Vec<u8> = (0..=250u8).cycle().take(1 << 20).collect();
    for _ in 0..DISK_BYTES >> 20 {
        file.write_all(&chunk).unwrap();
    }
    file.as_file().sync_all().unwrap();
    file
}

fn requests(c: &mut Criterion, results: &RefCell<Vec<Measurement>>) {
    let disk = disk();
    let runtime = Runtime::new().unwrap();
    let sector_size = SectorSize::B512;
    for op in [Op::Read, Op::Write] {
        for pattern in [Pattern::Sequential, Pattern::Random] {
            for bytes in REQUEST_SIZES {
                let name = format!("{}-{}-{bytes}", op.name(), pattern.name());
                let mut group = c.benchmark_group(name);
                group.throughput(Throughput::Bytes(bytes));
                for via in Via::ALL {
                    let writable = op == Op::Write;
                    let images = || Ok(ImageRuntime::new().unwrap());
                    let bench_disk = BenchDisk {
                        path: disk.path(),
                        options: DiskOptions {
                            format: None,
                            backing: Vec::new(),
                            sector_size,
                            writable,
                            partial_last_sector: false,
                        },
                        images: &images,
                    };
                    let mut target =
                        Target::open(via, &bench_disk, bytes, writable, &runtime).unwrap();
                    let sectors = bytes / 512;
                    let mut positions = Positions::new(pattern, sectors, DISK_BYTES / 512).unwrap();
                    let mut samples = Vec::new();
                    group.bench_function(via.name(), |b| {
                        b.iter_custom(|iters| {
                            let start = Instant::now();
                            for sector in positions.by_ref().take(iters as usize) {
                                target.request(op, sector).unwrap();
                            }
                            let elapsed = start.elapsed();
                            samples.push((iters, elapsed));
                            elapsed
                        });
                    });
                    results
                        .borrow_mut()
                        .extend(median(via, op, pattern, bytes, &samples));
                }
                group.finish();
            }
        }
    }
}

/// The sample with the median time per request, as a [`Measurement`]; none without samples.
fn median(
    via: Via,
    op: Op,
    pattern: Pattern,
    request_bytes: u64,
    samples: &[(u64, Duration)],
) -> Option<Measurement> {
    let mut samples = samples.to_vec();
    samples.sort_by(|a, b| {
        let per = |(n, t): &(u64, Duration)| t.as_secs_f64() / *n as f64;
        per(a).total_cmp(&per(b))
    });
    let (requests, elapsed) = *samples.get(samples.len() / 2)?;
    Some(Measurement {
        via,
        op,
        pattern,
        request_bytes,
        requests,
        elapsed,
    })
}

fn start(c: &mut Criterion) {
    let disk = disk();
    let mut group = c.benchmark_group("start");
    group.sample_size(10);
    group.bench_function("compile", |b| b.iter(|| Runtime::new().unwrap()));
    Runtime::cached(PARTITIONER_COMPONENT).unwrap();
    group.bench_function("load-cached", |b| {
        b.iter(|| Runtime::cached(PARTITIONER_COMPONENT).unwrap())
    });
    let runtime = Runtime::new().unwrap();
    group.bench_function("instantiate-and-first-read", |b| {
        b.iter(|| first_read(&runtime, disk.path()))
    });
    group.finish();

    // The floor under every request: one call into the guest that moves no data, a mapped read
    // of one sector (one call in, the host reads), and a read of one sector through the guest
    // (one call in, one back out to the device, the bytes copied twice).
    let mut group = c.benchmark_group("call");
    let mut instance = runtime.instantiate().unwrap();
    let device = FileDevice::open(disk.path(), SectorSize::B512, true).unwrap();
    let whole = instance.whole(device).unwrap();
    group.bench_function("get-offset", |b| b.iter(|| instance.offset(whole).unwrap()));
    let mut sector = [0; 512];
    group.bench_function("read-512", |b| {
        b.iter(|| instance.read(whole, 0, &mut sector).unwrap());
    });
    group.bench_function("read-list-512", |b| {
        b.iter(|| instance.read_list(whole, 0, 512).unwrap())
    });
    group.finish();
}

fn first_read(runtime: &Runtime, disk: &Path) -> Vec<u8> {
    let mut instance = runtime.instantiate().unwrap();
    let device = FileDevice::open(disk, SectorSize::B512, true).unwrap();
    let whole = instance.whole(device).unwrap();
    let mut sector = vec![0; 512];
    instance.read(whole, 0, &mut sector).unwrap();
    sector
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
        .configure_from_args();
    let results = RefCell::new(Vec::new());
    requests(&mut c, &results);
    start(&mut c);
    c.final_summary();

    let results = results.into_inner();
    if results.is_empty() {
        return; // A filter left no request benchmark to report.
    }
    let table = report::table(&results);
    println!("\n{table}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/blockpart-bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("bench.txt"), &table).unwrap();
    std::fs::write(out.join("bench.csv"), report::csv(&results)).unwrap();
    let title = format!(
        "cargo bench: {} MiB file, 512-byte sectors",
        DISK_BYTES >> 20
    );
    std::fs::write(
        out.join("bench.svg"),
        report::svg(&results, &title).unwrap(),
    )
    .unwrap();
    println!("wrote {}", out.display());
}
