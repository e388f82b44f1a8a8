#!/usr/bin/env bash
# The bench image in every container format: `check --no-scan` and the full
# `check` against the raw image in the same run, and, for the compressed
# formats, against `qemu-img convert -O raw` followed by `check` of the raw
# (what a user does without snapaudit's container layer). Then the peak heap
# (valgrind massif) of `check` on a qcow2 of 2 GiB and of 8 GiB virtual size.
#
#   benches/scripts/formats.sh [IMAGE.raw]     (default target/bench/debian12.raw)
#
# Knobs: SNAPAUDIT (binary), RUNS (default 10), FORMATS (names below),
# HEAP=0 to skip massif. Prints a Markdown table; the containers are cached
# in target/bench/formats/ next to the image they were made from.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
image="${1:-$repo/target/bench/debian12.raw}"
snapaudit="${SNAPAUDIT:-$repo/target/release/snapaudit}"
runs="${RUNS:-10}"
for t in qemu-img hyperfine python3; do
    command -v "$t" >/dev/null || { echo "formats.sh: $t is needed (apt-get install -y qemu-utils hyperfine)" >&2; exit 2; }
done
[[ -f "$image" ]] || { echo "formats.sh: no image $image (benches/scripts/make-debian-image.sh)" >&2; exit 2; }
[[ -x "$snapaudit" ]] || (cd "$repo" && cargo build --release -q -p snapaudit-cli)
cache="$(dirname "$image")/formats"
mkdir -p "$cache"
work="$(mktemp -d "${TMPDIR:-/tmp}/snapaudit-formats.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# name: qemu-img convert arguments (-O FORMAT [options]).
declare -A convert=(
    [qcow2]="-O qcow2"
    [qcow2-deflate]="-O qcow2 -c"
    [qcow2-zstd]="-O qcow2 -c -o compression_type=zstd"
    [vhd-fixed]="-O vpc -o subformat=fixed,force_size=on"
    [vhd-dynamic]="-O vpc -o force_size=on"
    [vhdx]="-O vhdx"
    [vmdk-sparse]="-O vmdk"
    [vmdk-stream]="-O vmdk -o subformat=streamOptimized"
    [vdi]="-O vdi"
)
compressed=" qcow2-deflate qcow2-zstd vmdk-stream "
formats="${FORMATS:-qcow2 qcow2-deflate qcow2-zstd vhd-fixed vhd-dynamic vhdx vmdk-sparse vmdk-stream vdi}"

# mean of a hyperfine JSON export, in ms
mean_ms() { python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["mean"]*1000))' "$1"; }
bench() { # NAME COMMAND...
    local name=$1; shift
    hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/$name.json" "$*" >/dev/null 2>&1 ||
        hyperfine --warmup 2 --runs "$runs" -i --export-json "$work/$name.json" "$*" >/dev/null
    mean_ms "$work/$name.json"
}

raw_noscan=$(bench raw-noscan "$snapaudit" check --no-scan --format json "$image")
raw_full=$(bench raw-full "$snapaudit" check --format json "$image")
printf '| format | file size | `check --no-scan` | vs raw | `check` | vs raw | convert + check raw | snapaudit is |\n'
printf '|---|---|---|---|---|---|---|---|\n'
printf '| raw | %s | %s ms | 1.00× | %s ms | 1.00× | | |\n' "$(du -h "$image" | cut -f1)" "$raw_noscan" "$raw_full"
for f in $formats; do
    file="$cache/$(basename "$image" .raw).$f"
    if [[ ! -f "$file" || "$file" -ot "$image" ]]; then
        # shellcheck disable=SC2086
        qemu-img convert ${convert[$f]} "$image" "$file"
    fi
    noscan=$(bench "$f-noscan" "$snapaudit" check --no-scan --format json "$file")
    full=$(bench "$f-full" "$snapaudit" check --format json "$file")
    peer="" ratio=""
    if [[ "$compressed" == *" $f "* ]]; then
        # A shell command line: hyperfine runs it through sh.
        hyperfine --warmup 1 --runs "$runs" --export-json "$work/$f-peer.json" \
            "qemu-img convert -O raw '$file' '$work/x.raw' && '$snapaudit' check --format json '$work/x.raw' >/dev/null; rm -f '$work/x.raw'" >/dev/null
        peer=$(mean_ms "$work/$f-peer.json")
        ratio=$(python3 -c "print('%.2f× faster' % ($peer / $full))")
        peer="$peer ms"
    fi
    printf '| %s | %s | %s ms | %s× | %s ms | %s× | %s | %s |\n' "$f" "$(du -h "$file" | cut -f1)" \
        "$noscan" "$(python3 -c "print('%.2f' % ($noscan / $raw_noscan))")" \
        "$full" "$(python3 -c "print('%.2f' % ($full / $raw_full))")" "$peer" "$ratio"
done

# The raw baseline once more, after the containers: the VM's speed drifts,
# and the ratios above are only as good as the baseline.
printf '| raw (again) | | %s ms | | %s ms | | | |\n' \
    "$(bench raw-noscan-2 "$snapaudit" check --no-scan --format json "$image")" \
    "$(bench raw-full-2 "$snapaudit" check --format json "$image")"

[[ "${HEAP:-1}" == 1 ]] || exit 0
command -v valgrind >/dev/null || { echo "formats.sh: valgrind is needed for the heap table" >&2; exit 2; }
peak() { # FILE [ARGS]
    local out="$work/massif.$RANDOM"
    valgrind --tool=massif --massif-out-file="$out" --pages-as-heap=no \
        "$snapaudit" check --format json "$@" >/dev/null 2>/dev/null || true
    awk -F= '/^mem_heap_B/ {h=$2} /^mem_heap_extra_B/ {t=h+$2; if (t>m) m=t} END {printf "%.1f", m/1048576}' "$out"
}
big_raw="$work/big.raw"
cp --sparse=always "$image" "$big_raw"
truncate -s 8G "$big_raw"
qemu-img convert -O qcow2 "$image" "$work/2g.qcow2"
qemu-img convert -O qcow2 "$big_raw" "$work/8g.qcow2"
qemu-img convert -O qcow2 -c "$image" "$work/2g-c.qcow2"
qemu-img convert -O qcow2 -c "$big_raw" "$work/8g-c.qcow2"
printf '\n| qcow2 | virtual size | peak heap of `check` (massif) |\n|---|---|---|\n'
for v in 2g 8g 2g-c 8g-c; do
    printf '| %s | %s | %s MiB |\n' "$([[ $v == *-c ]] && echo deflate || echo plain)" "${v%%-*}" "$(peak "$work/$v.qcow2")"
done
