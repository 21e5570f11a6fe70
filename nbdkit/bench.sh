#!/usr/bin/env bash
# Benchmark (not a test): the blockpart plugin against nbdkit's own `partition` filter over its
# `file` plugin, the same disk, client and Unix-socket transport, interleaved, repeated.
# Prints each time and the median ratio ours/theirs. Usage: nbdkit/bench.sh [ROUNDS] [MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
mib=${2:-512}
cargo build --release -q -p blockpart-nbdkit
plugin=$PWD/target/release/libblockpart_nbdkit.so
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT

# One partition of MIB MiB from sector 2048, full of random bytes (so no client can skip
# holes: nbdkit's file plugin reports extents, this plugin does not).
disk=$dir/disk.img
truncate -s $(( (mib + 2) << 20 )) "$disk"
python3 - "$disk" $(( mib << 11 )) <<'PY'
import struct, sys
mbr = bytearray(512)
mbr[446:462] = struct.pack('<B3sB3sII', 0, b'\0' * 3, 0x83, b'\0' * 3, 2048, int(sys.argv[2]))
mbr[510:512] = b'\x55\xaa'
with open(sys.argv[1], 'r+b') as f:
    f.write(mbr)
PY
dd if=/dev/urandom of="$disk" bs=1M seek=1 count="$mib" conv=notrunc status=none

nbdkit -f --exit-with-parent -r -U "$dir/ours" "$plugin" "$disk" partition=1 & pids+=($!)
nbdkit -f --exit-with-parent -r -U "$dir/theirs" file "$disk" --filter=partition partition=1 & pids+=($!)
for s in ours theirs; do while [ ! -S "$dir/$s" ]; do sleep 0.05; done; done
uri() { echo "nbd+unix:///?socket=$dir/$1"; }
[ "$(nbdinfo --size "$(uri ours)")" = "$(nbdinfo --size "$(uri theirs)")" ]
cat "$disk" >/dev/null   # both read from the page cache

seconds() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null || { echo "failed: $*" >&2; exit 1; }
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
declare -A clients=(
    [nbdcopy-1conn]='nbdcopy --connections=1 URI null:'
    [nbdcopy-default]='nbdcopy URI null:'
    [qemu-img]="qemu-img convert -n -f raw --target-image-opts URI driver=null-co,size=$(( mib << 20 ))"
)
declare -A t
for name in nbdcopy-1conn nbdcopy-default qemu-img; do
    ratios=()
    for ((i = 0; i < rounds; i++)); do
        for s in ours theirs; do
            cmd=${clients[$name]//URI/$(uri $s)}
            t[$s]=$(seconds $cmd)
        done
        ratios+=("$(echo "${t[ours]} / ${t[theirs]}" | bc -l)")
        printf '%-16s round %d: ours %.3f s, theirs %.3f s\n' "$name" "$i" "${t[ours]}" "${t[theirs]}"
    done
    median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    printf '%-16s %d MiB, median ratio ours/theirs: %.2fx\n' "$name" "$mib" "$median"
done
