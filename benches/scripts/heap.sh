#!/usr/bin/env bash
# Peak heap of `snapaudit scan` on the bench image and on the same disk
# doubled in size (valgrind massif), to show that the scanner's memory does
# not grow with the image: the image is mapped, not loaded, and each worker
# keeps fixed-size buffers.
#
#   benches/scripts/heap.sh [IMAGE.raw]     (default target/bench/debian12.raw)
#
# The doubled disk holds the same files: the image is copied sparsely, the
# MBR's one partition grown to the end of a disk twice as large, and the ext4
# filesystem grown into it with resize2fs, so the scan has twice the disk and
# about twice the free blocks to walk (the free blocks are holes in the file,
# as on a fresh cloud disk). Resident memory (RSS) is not the measure: it
# counts the page cache of the mapped image pages the scan touched, which
# belongs to the kernel.
#
# Needs valgrind, sfdisk, resize2fs, e2fsck; prints a Markdown table.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
image="${1:-$repo/target/bench/debian12.raw}"
snapaudit="${SNAPAUDIT:-$repo/target/release/snapaudit}"
export PATH="$PATH:/usr/sbin:/sbin"
for t in valgrind ms_print sfdisk resize2fs e2fsck; do
    command -v "$t" >/dev/null || { echo "heap.sh: $t is needed" >&2; exit 2; }
done
[[ -f "$image" ]] || { echo "heap.sh: no image $image (benches/scripts/make-debian-image.sh)" >&2; exit 2; }
[[ -x "$snapaudit" ]] || (cd "$repo" && cargo build --release -q -p snapaudit-cli)

work="$(mktemp -d "${TMPDIR:-/tmp}/snapaudit-heap.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# --- the doubled disk --------------------------------------------------------
size=$(stat -c %s "$image")
big="$work/double.raw"
cp --sparse=always "$image" "$big"
truncate -s $((size * 2)) "$big"
start=$(sfdisk -d "$big" | sed -n 's/.*start= *\([0-9]*\).*/\1/p' | tail -1)
[[ -n "$start" ]] || { echo "heap.sh: no partition in $image" >&2; exit 2; }
# Grow the last partition to the end of the disk.
last=$(sfdisk -d "$big" | grep -c 'start=')
echo ", +" | sfdisk -q --no-reread -N "$last" "$big" >/dev/null
new_sectors=$(sfdisk -d "$big" | sed -n "s/.*start= *$start, size= *\([0-9]*\).*/\1/p")
# resize2fs works on a file: cut the partition out, grow it, put it back.
part="$work/part.ext4"
dd if="$big" of="$part" bs=512 skip="$start" count="$new_sectors" conv=sparse status=none
e2fsck -fy "$part" >/dev/null 2>&1 || true
resize2fs -f "$part" >/dev/null 2>&1
dd if="$part" of="$big" bs=1M seek="$((start * 512))" oflag=seek_bytes conv=sparse,notrunc status=none
rm -f "$part"

# --- massif -------------------------------------------------------------------
peak() {
    local out="$work/massif.$1"
    valgrind --tool=massif --massif-out-file="$out" --pages-as-heap=no \
        "$snapaudit" scan --format json "$2" >/dev/null 2>"$work/valgrind.$1.log" || true
    # mem_heap_B + mem_heap_extra_B of the largest snapshot, in MiB.
    awk -F= '/^mem_heap_B/ {h=$2} /^mem_heap_extra_B/ {t=h+$2; if (t>m) m=t} END {printf "%.1f", m/1048576}' "$out"
}
printf '| disk | size | allocated | peak heap (massif) |\n|---|---|---|---|\n'
for which in "$image" "$big"; do
    name=$(basename "$which")
    printf '| %s | %s GiB | %s MiB | %s MiB |\n' "$name" \
        "$(($(stat -c %s "$which") / 1073741824))" \
        "$(($(stat -c %b "$which") * 512 / 1048576))" \
        "$(peak "$name" "$which")"
done
