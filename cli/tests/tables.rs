//! Partition tables made by sfdisk (`conformance/fixtures/tables`, see its `make.sh`), read through
//! the partitioner component: `blockpart list --json` must say what `sfdisk --json` said, and
//! each partition must reach exactly its own sectors of the image.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    missing_docs
)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;

/// Images whose table blockpart reads, with their sector size.
const READ: [(&str, u32); 8] = [
    ("mbr-one", 512),
    ("mbr-primaries", 512),
    ("mbr-logical", 512),
    ("gpt-one", 512),
    ("gpt-128", 512),
    ("gpt-slots", 512),
    ("gpt-primary-corrupt", 512),
    ("gpt-4k", 4096),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/fixtures/tables")
}

/// The fixture `name`, unpacked as `name.img` in a fresh directory.
fn unpack(name: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let packed = std::fs::File::open(fixtures().join(format!("{name}.img.gz"))).unwrap();
    let mut image = Vec::new();
    flate2::read::GzDecoder::new(packed)
        .read_to_end(&mut image)
        .unwrap();
    let path = dir.path().join(format!("{name}.img"));
    std::fs::write(&path, image).unwrap();
    (dir, path)
}

/// Runs `blockpart ARGS` in `dir`.
fn blockpart(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_blockpart"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn list_json_agrees_with_sfdisk_on_every_image() {
    for (name, sector_size) in READ {
        let (dir, _) = unpack(name);
        let image = format!("{name}.img");
        let output = blockpart(
            dir.path(),
            &[
                "list",
                "--json",
                "--sector-size",
                &sector_size.to_string(),
                &image,
            ],
        );
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let ours: Value = serde_json::from_slice(&output.stdout).unwrap();
        let expected = std::fs::read(fixtures().join(format!("{name}.json"))).unwrap();
        let mut sfdisk: Value = serde_json::from_slice(&expected).unwrap();
        // sfdisk's alignment grain for new partitions, shown when the table is not 1 MiB
        // aligned: a setting of sfdisk's, not something the table records.
        sfdisk["partitiontable"]
            .as_object_mut()
            .unwrap()
            .remove("grain");
        assert_eq!(ours, sfdisk, "{name}");
    }
}

#[test]
fn a_damaged_primary_gpt_is_read_from_the_backup_and_said_so() {
    let (dir, _) = unpack("gpt-primary-corrupt");
    let output = blockpart(dir.path(), &["list", "gpt-primary-corrupt.img"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("read from the backup"), "{text}");
}

/// Images blockpart refuses, where sfdisk goes on: for the loop, sfdisk lists logical
/// partitions 5 to 60 over the same two (see `mbr-ebr-loop.json`); for the GPT with both
/// headers damaged, sfdisk reads the protective MBR as a DOS table with one 0xEE partition.
#[test]
fn damaged_tables_are_refused_with_a_clear_error() {
    let refused = [
        (
            "mbr-ebr-loop",
            "extended partition 2: the extended boot record at sector 6143 links back to \
             sector 4096: a loop",
        ),
        (
            "gpt-both-corrupt",
            "no valid GPT header: the primary at sector 1 fails its header CRC32; the backup \
             at sector 8191 fails its header CRC32",
        ),
    ];
    for (name, message) in refused {
        let (dir, _) = unpack(name);
        let output = blockpart(dir.path(), &["list", &format!("{name}.img")]);
        assert_eq!(output.status.code(), Some(1), "{name}");
        assert!(output.stdout.is_empty(), "{name}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(message), "{name}: {stderr}");
    }
}

/// The extended partition holds the logicals: `write -p 2` of more than its first 1 KiB must
/// be refused, and leave every extended boot record and logical as it was.
#[test]
fn the_extended_partition_is_not_handed_out_over_its_logicals() {
    let (dir, path) = unpack("mbr-logical");
    let before = std::fs::read(&path).unwrap();
    let info = blockpart(dir.path(), &["info", "-p", "2", "mbr-logical.img"]);
    let info = String::from_utf8(info.stdout).unwrap();
    // Linux shows its first 1 KiB; here the first logical starts one sector in.
    assert!(info.contains(": 1 sectors of 512 bytes"), "{info}");
    let input = dir.path().join("input");
    std::fs::write(&input, [0xEE; 4096]).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_blockpart"))
        .args(["write", "-p", "2"])
        .arg(&path)
        .stdin(std::fs::File::open(&input).unwrap())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("the range holds 1 sectors"), "{stderr}");
    assert!(std::fs::read(&path).unwrap() == before);
}

#[test]
fn cat_of_a_partition_is_its_bytes_of_the_image() {
    let (dir, path) = unpack("mbr-logical");
    let image = std::fs::read(&path).unwrap();
    // Logical partition 6: sectors 6144 to 8191.
    let output = blockpart(dir.path(), &["cat", "--partition", "6", "mbr-logical.img"]);
    assert!(output.status.success());
    assert!(output.stdout == image[6144 * 512..8192 * 512]);

    let output = blockpart(
        dir.path(),
        &[
            "cat",
            "--partition",
            "6",
            "--range",
            "2047:2",
            "mbr-logical.img",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("not within partition 6"), "{stderr}");
}

#[test]
fn list_shows_a_row_per_partition_and_a_picture_of_the_disk() {
    let (dir, _) = unpack("mbr-primaries");
    let output = blockpart(dir.path(), &["list", "mbr-primaries.img"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let rows: Vec<_> = text
        .lines()
        .filter(|line| line.starts_with("   "))
        .collect();
    assert_eq!(
        rows,
        [
            "   #      start        end    sectors       size  boot type                     name",
            "   1         63        999        937  468.5 KiB  *    W95 FAT32 (LBA)",
            "   2       2048       4095       2048      1 MiB       Linux",
            "   3       4500       4599        100     50 KiB       Linux swap / Solaris",
            "   4       6000       7999       2000   1000 KiB       HPFS/NTFS/exFAT",
        ]
    );
    // One column per 128 sectors: partition 3 (sectors 4500 to 4599) is one column wide.
    assert!(
        text.contains("\n|11111111........2222222222222222...3..........44444444444444444.|\n")
    );
}
