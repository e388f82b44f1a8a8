#!/usr/bin/env python3
"""How fast this machine can read an image's data from the page cache.

    python3 benches/scripts/read-limit.py [IMAGE] [--repeat 7]

Reads only the allocated parts of the (sparse) image file (SEEK_DATA /
SEEK_HOLE), in 8 MiB pieces into reused buffers, with 1 and then 2 threads
(os.preadv releases the GIL, so the threads read in parallel), after one
warm-up pass, and prints the best time of each. `cat IMAGE` is the read limit
compare.sh reports, but it also copies the holes as zeros; this is the floor
for anything that looks at every allocated byte once, as a scanner of files
and free blocks must. Issue 7's "10x faster than rg" asks for 79 ms on the
bench image; the data alone does not come in faster than this on the
2-core VM (README, Performance).
"""

from __future__ import annotations

import argparse
import os
import threading
import time

PIECE = 8 << 20


def data_pieces(fd: int, size: int) -> list[tuple[int, int]]:
    """(offset, length) pieces of at most PIECE bytes covering the data."""
    pieces = []
    pos = 0
    while pos < size:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:  # ENXIO: no data after pos
            break
        end = os.lseek(fd, start, os.SEEK_HOLE)
        for off in range(start, end, PIECE):
            pieces.append((off, min(PIECE, end - off)))
        pos = end
    return pieces


def read_all(fd: int, pieces: list[tuple[int, int]], threads: int) -> float:
    def work(mine: list[tuple[int, int]]) -> None:
        buf = memoryview(bytearray(PIECE))
        for off, length in mine:
            done = 0
            while done < length:
                n = os.preadv(fd, [buf[: length - done]], off + done)
                if n <= 0:
                    return
                done += n

    start = time.perf_counter()
    workers = [threading.Thread(target=work, args=(pieces[i::threads],)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - start


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "target", "bench", "debian12.raw")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image", nargs="?", default=default)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    fd = os.open(args.image, os.O_RDONLY)
    pieces = data_pieces(fd, os.fstat(fd).st_size)
    total = sum(n for _, n in pieces)
    read_all(fd, pieces, 2)  # warm the page cache
    for threads in (1, 2):
        best = min(read_all(fd, pieces, threads) for _ in range(args.repeat))
        print(f"{threads} thread(s): {total / 1e6:.0f} MB of data in {best * 1000:.0f} ms ({total / best / 1e9:.2f} GB/s)")


if __name__ == "__main__":
    main()
