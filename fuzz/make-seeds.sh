#!/usr/bin/env bash
# Small disks with tables made by sfdisk, as seeds for the `tables` fuzz target. The first byte
# of each seed is the target's flags byte (bit 0: 4096-byte sectors; bit 1: fix GPT CRC32s).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p seeds/tables
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make() { # NAME FLAGS SECTORS, table script on stdin
    truncate -s $(($3 * 512)) "$work/$1"
    sfdisk --quiet --no-reread --no-tell-kernel "$work/$1" >/dev/null
    { printf "\\x$2"; cat "$work/$1"; } > "seeds/tables/$1"
}
make mbr 00 64 <<'T'
label: dos
start=1, size=7, type=83, bootable
start=8, size=40, type=5
start=50, size=10, type=7
start=10, size=8, type=83
start=20, size=8, type=82
start=30, size=8, type=c
T
make gpt 00 48 <<'T'
label: gpt
table-length: 4
first-lba: 3
start=3, size=10, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="a"
start=20, size=10, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="b", attrs="GUID:60"
T
cp seeds/tables/gpt seeds/tables/gpt-fix-crcs
printf '\x02' | dd of=seeds/tables/gpt-fix-crcs bs=1 conv=notrunc status=none
ls -l seeds/tables

# Tiny VMDK and VHD images made by qemu-img, as seeds for the `vmdk` and `vhd` targets: a
# 192 KiB disk of a data grain, a hole and a run of one byte (needs qemu-img).
if command -v qemu-img >/dev/null; then
    mkdir -p seeds/vmdk seeds/vhd
    { head -c 65536 /dev/urandom; head -c 65536 /dev/zero; head -c 65536 /dev/zero | tr '\0' 'A'; } > "$work/disk.raw"
    for sub in monolithicSparse streamOptimized; do
        qemu-img convert -f raw -O vmdk -o subformat=$sub "$work/disk.raw" "seeds/vmdk/$sub"
    done
    for sub in fixed dynamic; do
        qemu-img convert -f raw -O vpc -o subformat=$sub "$work/disk.raw" "seeds/vhd/$sub"
    done
    ls -l seeds/vmdk seeds/vhd
fi

# Tiny qcow2 images made by qemu-img, as seeds for the `qcow2` target: small clusters so that
# the seeds stay a few KiB, one per layout (version 2, compressed with each method, extended
# L2 entries). Skipped without qemu-img.
if command -v qemu-img >/dev/null; then
    mkdir -p seeds/qcow2
    { for i in $(seq 1 300); do printf 'qcow2 seed %04d ' "$i"; done; } > "$work/disk.raw"
    truncate -s 64K "$work/disk.raw"
    seed() { # NAME OPTIONS...
        local name=$1
        shift
        qemu-img convert -q -f raw -O qcow2 "$@" "$work/disk.raw" "seeds/qcow2/$name"
    }
    seed v3 -o cluster_size=512
    seed v2 -o cluster_size=512,compat=0.10
    seed deflate -c -o cluster_size=512
    seed zstd -c -o cluster_size=512,compression_type=zstd
    seed extended-l2 -o cluster_size=16k,extended_l2=on
    ls -l seeds/qcow2
fi
