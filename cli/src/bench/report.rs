//! Benchmark results as a table, CSV and an SVG plot, the same for `cargo bench` and
//! `blockpart bench`.

use std::fmt::Write as _;

use plotters::prelude::*;

use super::{Measurement, Op, Pattern, REQUEST_SIZES, Via};

/// A workload's four measurements, in [`Via::ALL`] order.
fn rows(results: &[Measurement]) -> Vec<[&Measurement; 4]> {
    let mut rows = Vec::new();
    for op in [Op::Read, Op::Write] {
        for pattern in [Pattern::Sequential, Pattern::Random] {
            for size in REQUEST_SIZES {
                let find = |via| {
                    results.iter().find(|m| {
                        m.via == via
                            && m.op == op
                            && m.pattern == pattern
                            && m.request_bytes == size
                    })
                };
                if let [Some(native), Some(device), Some(partition), Some(lists)] =
                    Via::ALL.map(find)
                {
                    rows.push([native, device, partition, lists]);
                }
            }
        }
    }
    rows
}

/// How many times the time per request of `m` is the native one.
fn ratio(m: &Measurement, native: &Measurement) -> f64 {
    m.nanos_per_request() / native.nanos_per_request()
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// A table for people: per workload, MB/s each way, requests per second through the
/// partition, and each way's time per request as a multiple of native.
pub fn table(results: &[Measurement]) -> String {
    let mut out = format!(
        "{:<6} {:<10} {:>7} {:>12} {:>12} {:>12} {:>12} {:>13} {:>9} {:>9} {:>9}\n",
        "op",
        "pattern",
        "size",
        "native MB/s",
        "device MB/s",
        "part. MB/s",
        "lists MB/s",
        "part. req/s",
        "device/n",
        "part./n",
        "lists/n"
    );
    for [native, device, partition, lists] in rows(results) {
        let _ = writeln!(
            out,
            "{:<6} {:<10} {:>7} {:>12.1} {:>12.1} {:>12.1} {:>12.1} {:>13.0} {:>8.2}x {:>8.2}x {:>8.2}x",
            native.op.name(),
            native.pattern.name(),
            size(native.request_bytes),
            native.megabytes_per_second(),
            device.megabytes_per_second(),
            partition.megabytes_per_second(),
            lists.megabytes_per_second(),
            partition.requests_per_second(),
            ratio(device, native),
            ratio(partition, native),
            ratio(lists, native),
        );
    }
    out
}

/// The same as CSV, one line per measurement, with the ratio to native of its workload.
pub fn csv(results: &[Measurement]) -> String {
    let mut out = String::from(
        "op,pattern,request_bytes,via,requests,seconds,ns_per_request,mb_per_s,requests_per_s,ratio_to_native\n",
    );
    for row in rows(results) {
        let native = row[0];
        for m in row {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{:.6},{:.1},{:.3},{:.1},{:.4}",
                m.op.name(),
                m.pattern.name(),
                m.request_bytes,
                m.via.name(),
                m.requests,
                m.elapsed.as_secs_f64(),
                m.nanos_per_request(),
                m.megabytes_per_second(),
                m.requests_per_second(),
                ratio(m, native),
            );
        }
    }
    out
}

/// Throughput against request size, both on log scales: one panel per op and pattern, one
/// line per way.
pub fn svg(results: &[Measurement], title: &str) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, 800)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root
            .titled(title, ("sans-serif", 20))
            .map_err(|e| e.to_string())?;
        let panels = root.split_evenly((2, 2));
        let workloads = [
            (Op::Read, Pattern::Sequential),
            (Op::Read, Pattern::Random),
            (Op::Write, Pattern::Sequential),
            (Op::Write, Pattern::Random),
        ];
        let max = results
            .iter()
            .map(Measurement::megabytes_per_second)
            .fold(1.0, f64::max);
        let min = results
            .iter()
            .map(Measurement::megabytes_per_second)
            .fold(max, f64::min)
            .max(0.01);
        for (panel, (op, pattern)) in panels.iter().zip(workloads) {
            let mut chart = ChartBuilder::on(panel)
                .caption(
                    format!("{} {}", pattern.name(), op.name()),
                    ("sans-serif", 16),
                )
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(60)
                .build_cartesian_2d(
                    (256u64..(2u64 << 20))
                        .log_scale()
                        .with_key_points(REQUEST_SIZES.to_vec()),
                    (min / 2.0..max * 2.0).log_scale(),
                )
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc("request size")
                .y_desc("MB/s")
                .x_label_formatter(&|bytes| size(*bytes))
                .draw()
                .map_err(|e| e.to_string())?;
            // Native under the others, wide, so it shows where the device's line covers it.
            for (via, color, width) in [
                (Via::Native, BLACK, 5),
                (Via::Device, BLUE, 2),
                (Via::Partition, RED, 2),
                (Via::Lists, MAGENTA, 2),
            ] {
                let points: Vec<(u64, f64)> = REQUEST_SIZES
                    .iter()
                    .filter_map(|&bytes| {
                        results
                            .iter()
                            .find(|m| {
                                m.via == via
                                    && m.op == op
                                    && m.pattern == pattern
                                    && m.request_bytes == bytes
                            })
                            .map(|m| (bytes, m.megabytes_per_second()))
                    })
                    .collect();
                chart
                    .draw_series(LineSeries::new(points.clone(), color.stroke_width(width)))
                    .map_err(|e| e.to_string())?
                    .label(via.name())
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x.saturating_add(20), y)], color)
                    });
                chart
                    .draw_series(
                        points
                            .into_iter()
                            .map(|p| Circle::new(p, 3, color.filled())),
                    )
                    .map_err(|e| e.to_string())?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .position(SeriesLabelPosition::LowerRight)
                .draw()
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}
