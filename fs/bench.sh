#!/usr/bin/env bash
# The filesystem reader against the C tools, from the page cache, in one run (not a test):
#   get of a MIB MiB file:   blockpart get  vs  debugfs -R "dump" (ext4)  and  mcopy (FAT32)
#   ls of 10,000 entries:    blockpart ls   vs  debugfs -R "ls"
#   start-up:                blockpart ls of a directory of one entry
# Each timing is the best of ROUNDS, the ways interleaved; prints the ratios (ours/theirs).
# Usage: fs/bench.sh [MIB] [ROUNDS]    (needs mke2fs, debugfs, mkfs.vfat, mcopy)
set -euo pipefail
MIB=${1:-256}
ROUNDS=${2:-5}
cd "$(dirname "$0")/.."
PATH=$PATH:/usr/sbin:/sbin

cargo build --release --quiet -p blockpart-cli
blockpart=${CARGO_TARGET_DIR:-target}/release/blockpart

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/tree" "$work/many" "$work/one"
head -c "${MIB}M" /dev/urandom > "$work/tree/big"
python3 -c "
import os, sys
for i in range(10000):
    open(os.path.join(sys.argv[1], f'file-{i:05}'), 'w').close()" "$work/many"
: > "$work/one/only"
mke2fs -q -F -t ext4 -d "$work/tree" "$work/ext4.img" "$((MIB + 64))M"
mke2fs -q -F -t ext4 -d "$work/many" "$work/many.img" 64M
mke2fs -q -F -t ext4 -d "$work/one" "$work/one.img" 8M
truncate -s "$((MIB + 64))M" "$work/fat.img"
mkfs.vfat -F 32 "$work/fat.img" > /dev/null
MTOOLS_SKIP_CHECK=1 mcopy -i "$work/fat.img" "$work/tree/big" ::/big
# The compile cache warmed, as every run after the first finds it.
"$blockpart" ls "$work/one.img" > /dev/null

# Best wall time of "$@", in ms, over ROUNDS runs (standard output to $work/out).
declare -A best
run() {
    local name=$1
    shift
    local start end ms
    start=$(date +%s%N)
    "$@" > "$work/out"
    end=$(date +%s%N)
    ms=$(((end - start) / 1000))
    if [[ -z ${best[$name]:-} || $ms -lt ${best[$name]} ]]; then best[$name]=$ms; fi
}
for ((round = 0; round < ROUNDS; round++)); do
    run get-ext4 "$blockpart" get "$work/ext4.img" /big
    cmp -s "$work/out" "$work/tree/big" || { echo "blockpart get (ext4) gave other bytes" >&2; exit 1; }
    rm -f "$work/dump"
    run dump-ext4 debugfs -R "dump /big $work/dump" "$work/ext4.img"
    run get-fat "$blockpart" get "$work/fat.img" /big
    cmp -s "$work/out" "$work/tree/big" || { echo "blockpart get (FAT) gave other bytes" >&2; exit 1; }
    rm -f "$work/mcopy"
    run mcopy-fat env MTOOLS_SKIP_CHECK=1 mcopy -i "$work/fat.img" ::/big "$work/mcopy"
    run ls-many "$blockpart" ls "$work/many.img" /
    run debugfs-ls debugfs -R "ls -l /" "$work/many.img"
    run ls-one "$blockpart" ls "$work/one.img" /
done

ratio() { python3 -c "print(f'{$1 / $2:.2f}x')"; }
ms() { python3 -c "print(f'{$1 / 1000:.1f} ms')"; }
echo "best of $ROUNDS, $(nproc) cores, $(date -u +%F)"
printf '%-28s %12s %12s %8s\n' what blockpart theirs ratio
printf '%-28s %12s %12s %8s\n' "get ${MIB} MiB, ext4 vs dump" "$(ms "${best[get-ext4]}")" "$(ms "${best[dump-ext4]}")" "$(ratio "${best[get-ext4]}" "${best[dump-ext4]}")"
printf '%-28s %12s %12s %8s\n' "get ${MIB} MiB, FAT32 vs mcopy" "$(ms "${best[get-fat]}")" "$(ms "${best[mcopy-fat]}")" "$(ratio "${best[get-fat]}" "${best[mcopy-fat]}")"
printf '%-28s %12s %12s %8s\n' "ls 10000, ext4 vs debugfs" "$(ms "${best[ls-many]}")" "$(ms "${best[debugfs-ls]}")" "$(ratio "${best[ls-many]}" "${best[debugfs-ls]}")"
printf '%-28s %12s\n' "start-up (ls of one entry)" "$(ms "${best[ls-one]}")"
