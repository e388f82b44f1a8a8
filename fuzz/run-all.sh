#!/usr/bin/env bash
# Run every fuzz target for a while, one after the other, and summarise.
#
#   bash fuzz/run-all.sh SECONDS [TARGET...]
#
# Each target runs SECONDS (the disk-image targets check, ext4_fs and
# ext4_layout run LONG_FACTOR × SECONDS, default 3), niced, one libFuzzer
# process at a time. Not part of the CI test command (scripts/test-all.sh):
# it needs a nightly toolchain (or RUSTC_BOOTSTRAP=1) and takes an hour at
# SECONDS=240. See fuzz/README.md.
#
# Inputs: fuzz/seeds/TARGET (committed), fuzz/corpus/TARGET (the growing
# working corpus, not committed), and for some targets the peer corpus
# (testdata/peer-corpus). Crashes, timeouts and
# out-of-memory inputs land in fuzz/artifacts/TARGET/. The summary (one line
# per target: executions, executions/s, new corpus size, peak RSS, result)
# is printed and appended to fuzz/runs.tsv.
set -uo pipefail
cd "$(dirname "$0")"
fuzz_dir=$(pwd)
seconds=${1:?usage: run-all.sh SECONDS [TARGET...]}
shift
long_factor=${LONG_FACTOR:-3}
all_targets=(partition_table probe fstab grub2 bls grub_legacy os_release accounts
    selinux cmdline scan_stream ext4_layout ext4_fs check rpmdb container_qcow2 container_vmdk container_vdi
    container_vhd container_vhdx sparse_tar jbd2_replay lvm_metadata)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

# nightly if rustup has it; otherwise let stable accept the -Z flags.
if rustup run nightly rustc -V >/dev/null 2>&1; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi
# Release code with debug assertions (overflow checks) and no sanitizer:
# the library forbids unsafe code outside the image mmap, so ASan buys
# little and halves the speed; libFuzzer itself catches timeouts and OOM.
build_flags=(-O -a -s none)
nice "${fuzz[@]}" build "${build_flags[@]}" || exit 2

[ -d seeds ] || bash seeds.sh

peer=$fuzz_dir/../testdata/peer-corpus
extra=$(mktemp -d)
trap 'rm -rf "$extra"' EXIT

# peer_seeds TARGET: print extra read-only seed directories for TARGET.
peer_seeds() {
    local t=$1 d=$extra/$1
    [ -d "$peer" ] || return 0
    mkdir -p "$d"
    case $t in
    fstab) find "$peer/fstab" -type f ! -name SOURCES.txt -size -64k -exec cp -t "$d" {} + ;;
    grub2 | grub_legacy | bls | cmdline)
        find "$peer/grub" -type f ! -name SOURCES.txt ! -name '*.md' -size -256k -exec cp --backup=numbered -t "$d" {} + ;;
    partition_table | probe)
        # Raw disks and probe images, cut to their first 64 KiB (plus
        # 72 KiB for the probes): that is where tables and magics are.
        find "$peer/partitions" "$peer/images" -type f ! -name '*.txt' ! -name '*.md' ! -name '*.tgz' \
            -size -64M | while read -r f; do
            case $f in
            *.xz) xz -dc "$f" 2>/dev/null | head -c 73728 >"$d/$(basename "$f").raw" ;;
            *.gz) gzip -dc "$f" 2>/dev/null | head -c 73728 >"$d/$(basename "$f").raw" ;;
            *) head -c 73728 "$f" >"$d/$(basename "$f")" ;;
            esac
        done ;;
    ext4_layout | ext4_fs)
        # e2fsprogs' corrupt filesystems: their first 256 KiB hold the
        # superblock, descriptors and the first inode tables.
        for f in "$peer"/e2fsprogs/*.img.gz; do
            gzip -dc "$f" | head -c 262144 >"$d/$(basename "$f" .img.gz)"
        done ;;
    esac
    echo "$d"
}

max_len_of() {
    case $1 in
    check) echo 262144 ;;
    ext4_layout | ext4_fs) echo 262144 ;;
    partition_table | probe) echo 73728 ;;
    container_vmdk) echo 131072 ;;
    *) echo 65536 ;;
    esac
}

printf 'target\tseconds\texecs\texecs_per_s\tcorpus\tpeak_rss_mb\tresult\n' >"$extra/summary"
for t in "${targets[@]}"; do
    secs=$seconds
    case $t in check | ext4_fs | ext4_layout) secs=$((seconds * long_factor)) ;; esac
    mkdir -p "corpus/$t" "artifacts/$t" logs
    dirs=("corpus/$t")
    [ -d "seeds/$t" ] && dirs+=("seeds/$t")
    p=$(peer_seeds "$t") && [ -n "$p" ] && dirs+=("$p")
    # Not in artifacts/: cargo-fuzz reports every file there as a crash.
    log=logs/$t.log
    echo "==> $t: ${secs}s" >&2
    nice "${fuzz[@]}" run "${build_flags[@]}" "$t" "${dirs[@]}" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -max_len="$(max_len_of "$t")" -print_final_stats=1 -artifact_prefix="artifacts/$t/" \
        >"$log" 2>&1
    rc=$?
    stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
    result=ok
    [ $rc -eq 0 ] || result="FAIL (exit $rc, see $log)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$secs" "$(stat number_of_executed_units)" \
        "$(stat average_exec_per_sec)" "$(ls "corpus/$t" | wc -l)" "$(stat peak_rss_mb)" \
        "$result" >>"$extra/summary"
done
column -t -s $'\t' "$extra/summary"
{
    printf '# %s  %s\n' "$(date -u +%FT%TZ)" "$(git -C .. rev-parse --short HEAD 2>/dev/null)"
    cat "$extra/summary"
} >>runs.tsv
! grep -q FAIL "$extra/summary"
