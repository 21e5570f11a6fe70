#!/bin/bash
# Reading disk images: `blockpart cat IMG` against `qemu-img convert -n -O raw IMG`, both into
# the same preallocated file on tmpfs (qemu-img cannot write to /dev/null), interleaved, ROUNDS
# rounds; and `blockpart list` of a qcow2 against the same disk raw, warm. Prints the median
# time of each and the median ratio with its spread (min..max of the per-round ratios).
#
#   docs/bench/images.sh [ROUNDS] [MIB]      (defaults: 7 rounds, a 512 MiB disk)
#
# Needs qemu-img, sfdisk and a release build (cargo build --release -p blockpart-cli). Leaves
# nothing behind: its files are in a temporary directory and /dev/shm, removed at exit.
set -euo pipefail
rounds=${1:-7}
mib=${2:-512}
root=$(cd "$(dirname "$0")/../.." && pwd)
blockpart=$root/target/release/blockpart
work=$(mktemp -d)
sink=$(mktemp -p /dev/shm blockpart-sink.XXXXXX)
trap 'rm -rf "$work" "$sink"' EXIT

# A disk of mixed content: a GPT, then alternating MiB of random bytes and of text (which
# compresses), so compressed images have both kinds of cluster.
raw=$work/disk.raw
for ((i = 0; i < mib; i += 2)); do
    head -c 1M /dev/urandom
    { yes "blockpart image benchmark line $i" || true; } | head -c 1M
done > "$raw"
printf 'label: gpt\n,,L\n' | sfdisk -q "$raw"

declare -A images=(
    [qcow2]="-O qcow2"
    [qcow2-deflate]="-O qcow2 -c"
    [qcow2-zstd]="-O qcow2 -c -o compression_type=zstd"
    [vmdk-stream]="-O vmdk -o subformat=streamOptimized"
    [vhd-dynamic]="-O vpc -o subformat=dynamic"
)
declare -A qemu_format=([qcow2]=qcow2 [qcow2-deflate]=qcow2 [qcow2-zstd]=qcow2 [vmdk-stream]=vmdk [vhd-dynamic]=vpc)
for name in "${!images[@]}"; do
    # shellcheck disable=SC2086
    qemu-img convert -f raw ${images[$name]} "$raw" "$work/$name"
done

now() { date +%s%N; }
# Seconds, as a decimal, that "$@" takes.
timed() {
    local start end
    start=$(now)
    "$@"
    end=$(now)
    echo "scale=4; ($end - $start) / 1000000000" | bc
}
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
spread() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f..%.2f", lo, hi }'; }

# `1<>`: into the same file without truncating it, as qemu-img -n writes.
bp_cat() { "$blockpart" cat "$1" 1<> "$sink"; }
qemu_cat() { qemu-img convert -n -f "$2" -O raw "$1" "$sink"; }

virtual=$(stat -c %s "$raw")
# Room for the largest virtual disk (VHD's geometry rounds up); qemu-img -n writes into it.
truncate -s $((virtual + 64 * 1024 * 1024)) "$sink"
printf '%-14s %10s %10s %8s %12s\n' image blockpart qemu-img ratio spread
for name in qcow2 qcow2-deflate qcow2-zstd vmdk-stream vhd-dynamic; do
    image=$work/$name
    # VHD rounds the disk up to its geometry: the raw disk is a prefix of it.
    cmp -n "$virtual" <("$blockpart" cat "$image" 2>/dev/null) "$raw" \
        || { echo "$name: blockpart cat differs from the raw disk" >&2; exit 1; }
    ours=() theirs=() ratios=()
    bp_cat "$image"; qemu_cat "$image" "${qemu_format[$name]}"   # warm the page cache
    for ((r = 0; r < rounds; r++)); do
        a=$(timed bp_cat "$image")
        b=$(timed qemu_cat "$image" "${qemu_format[$name]}")
        ours+=("$a") theirs+=("$b")
        ratios+=("$(echo "scale=4; $a / $b" | bc)")
    done
    printf '%-14s %9ss %9ss %7sx %12s\n' "$name" \
        "$(printf '%s\n' "${ours[@]}" | median)" "$(printf '%s\n' "${theirs[@]}" | median)" \
        "$(printf '%s\n' "${ratios[@]}" | median)" "$(printf '%s\n' "${ratios[@]}" | spread)"
done

list_raw() { "$blockpart" list "$raw" > /dev/null; }
list_qcow2() { "$blockpart" list "$work/qcow2" > /dev/null; }
list_raw; list_qcow2
ours=() theirs=() ratios=()
for ((r = 0; r < rounds; r++)); do
    a=$(timed list_qcow2)
    b=$(timed list_raw)
    ours+=("$a") theirs+=("$b")
    ratios+=("$(echo "scale=4; $a / $b" | bc)")
done
printf '%-14s %9ss %9ss %7sx %12s   (list: qcow2 against raw)\n' list \
    "$(printf '%s\n' "${ours[@]}" | median)" "$(printf '%s\n' "${theirs[@]}" | median)" \
    "$(printf '%s\n' "${ratios[@]}" | median)" "$(printf '%s\n' "${ratios[@]}" | spread)"
