#!/usr/bin/env bash
# Time and peak memory of the release CLI over the peer corpus's 218
# e2fsprogs images: `snapaudit check`, `inspect` and `ls -R -l /` per image,
# each under /usr/bin/time. Prints the slowest runs and the largest peak RSS,
# and fails if any run crashed (exit status other than 0, 1 or 2) or took
# longer than its bound.
#
#   bash fuzz/measure-corpus.sh [BOUND_SECONDS]     # default 30 s per run
#
# Not part of the CI test command: the test suite's robust_e2fsprogs.rs
# checks the same images in-process (debug build, CPU-time and RSS bounds).
set -euo pipefail
cd "$(dirname "$0")/.."
bound=${1:-30}
corpus=testdata/peer-corpus/e2fsprogs
[ -d "$corpus" ] || { echo "no peer corpus at $corpus" >&2; exit 2; }
cargo build --release -q -p snapaudit-cli
bin=$(pwd)/target/release/snapaudit
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=$work/results.tsv
fail=0
for gz in "$corpus"/*.img.gz; do
    name=$(basename "$gz" .img.gz)
    gzip -dc "$gz" >"$work/img"
    for cmd in check inspect ls; do
        args=("$cmd" "$work/img")
        [ "$cmd" = check ] && args=(check --format json "$work/img")
        [ "$cmd" = ls ] && args=(ls -R -l "$work/img" /)
        set +e
        /usr/bin/time -f '%e %M' -o "$work/time" timeout $((bound * 3)) "$bin" "${args[@]}" \
            >/dev/null 2>"$work/stderr"
        rc=$?
        set -e
        # The last line: /usr/bin/time puts "Command exited with non-zero
        # status N" before it.
        read -r secs kib < <(tail -1 "$work/time") || { secs=0; kib=0; }
        printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$cmd" "$secs" "$kib" "$rc" >>"$results"
        if [ "$rc" -gt 2 ] || awk -v s="$secs" -v b="$bound" 'BEGIN{exit !(s > b)}'; then
            echo "FAIL $name $cmd: exit $rc, ${secs}s" >&2
            grep -m3 -i 'panic' "$work/stderr" >&2 || true
            fail=1
        fi
    done
done
set +o pipefail # head closes the sort pipes early
echo "runs: $(wc -l <"$results") (218 images x check, inspect, ls -R -l)"
echo "slowest:"
sort -t$'\t' -k3,3 -g -r "$results" | head -5 | awk -F'\t' '{printf "  %-34s %-8s %6.2f s  %6d MiB\n", $1, $2, $3, $4/1024}'
echo "largest peak RSS:"
sort -t$'\t' -k4,4 -g -r "$results" | head -5 | awk -F'\t' '{printf "  %-34s %-8s %6.2f s  %6d MiB\n", $1, $2, $3, $4/1024}'
for cmd in check inspect ls; do
    awk -F'\t' -v c="$cmd" '$2 == c { if ($3 > t) { t = $3; tn = $1 } if ($4 > m) { m = $4; mn = $1 } }
        END { printf "%-8s slowest %.2f s (%s), peak RSS %d MiB (%s)\n", c, t, tn, m / 1024, mn }' "$results"
done
echo "exit codes: $(cut -f5 "$results" | sort | uniq -c | tr -s ' ' | tr '\n' ' ')"
exit $fail
