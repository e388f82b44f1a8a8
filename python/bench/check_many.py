"""Time check_many at 1 and 2 workers, and one check from Python against the CLI.

    python python/bench/check_many.py IMAGE... [--repeat 3] [--cli target/release/snapaudit]
    python python/bench/check_many.py IMAGE... --job open   # the batch machinery alone

Issue 4 asks for workers=2 at least 1.7x faster than workers=1 on 2 cores,
and Python under 5 % over the CLI for one check (open + check in-process
against the `snapaudit check --format json` process). Times are the best of
`--repeat` runs (the least disturbed by other load).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from typing import Callable

import snapaudit


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="+")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--job", choices=["check", "open"], default="check")
    ap.add_argument("--profile", default="alibaba-ecs")
    ap.add_argument("--no-scan", action="store_true")
    ap.add_argument("--cli", help="path of the snapaudit binary, to compare one check with it")
    args = ap.parse_args()
    scan = not args.no_scan

    def batch(workers: int) -> None:
        if args.job == "check":
            n = sum(1 for _ in snapaudit.check_many(args.images, workers=workers, profile=args.profile, scan=scan))
        else:
            n = sum(1 for _ in snapaudit._native._batch(args.images, workers, "open"))
        assert n == len(args.images)

    t1 = best_of(args.repeat, lambda: batch(1))
    t2 = best_of(args.repeat, lambda: batch(2))
    print(f"{len(args.images)} images, job {args.job}: workers=1 {t1:.3f} s, workers=2 {t2:.3f} s, speedup {t1 / t2:.2f}x")

    if args.cli and args.job == "check":
        image = args.images[0]
        cli_args = [args.cli, "check", "--format", "json", "--profile", args.profile, image]
        if not scan:
            cli_args.insert(2, "--no-scan")
        # The CLI exits 1 when the image has error findings: not a failure here.
        t_cli = best_of(args.repeat, lambda: subprocess.run(cli_args, stdout=subprocess.DEVNULL, check=False))
        # Like the CLI: open the image, audit it, and have the findings in
        # hand (the CLI also prints them; the process start is its own cost).
        t_py = best_of(args.repeat, lambda: snapaudit.open(image).check(profile=args.profile, scan=scan).findings)
        print(f"one check of {image}: CLI {t_cli:.3f} s, Python {t_py:.3f} s, overhead {100 * (t_py / t_cli - 1):+.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
