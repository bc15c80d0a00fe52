#!/usr/bin/env python3
"""bench/python-pool.py — parx's framed protocol and python/parx against multiprocessing.Pool.

Two workloads of issue 25, each variant run side by side (A B C, A B C, ...), several rounds,
medians; every run's output is checked against the first variant's:

  faults  5,000 records of which 50 raise, with a 1 s initializer, -j2: parx.serve under
          `parx --pool process --framed -k` against multiprocessing.Pool(initializer=...)
          .imap with try/except in the mapped function (the failures on stderr in both).
  mpool   200,000 lines through a sha1 map, in order, -j2: parx.serve under
          `parx --pool process --framed -k` against the mpool.py that
          ../shared/bench/make-data.sh writes into its data directory (--data, default
          /tmp/parx-bench; multiprocessing.Pool.imap, chunksize 1000; an identical copy is used
          when it is absent), and the line-protocol worker stream.py under parx for reference.

Prints `RATIO <workload> <variant> <x>` (x = the variant's median / parx-framed's: above 1,
parx is faster) and the load (`uptime`) before and after.

usage: bench/python-pool.py [--parx PATH] [--rounds N] [--only faults,mpool] [-j N] [--data DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SERVE_SHA1 = """import hashlib, parx
parx.serve(lambda x: hashlib.sha1(x).hexdigest(), codec="bytes")
"""

# The line-protocol twin (the shared bench's stream.py).
STREAM = """import hashlib, sys
out = sys.stdout.buffer
for line in sys.stdin.buffer:
    out.write(hashlib.sha1(line.rstrip(b"\\n")).hexdigest().encode() + b"\\n")
"""

# A copy of the mpool.py of ../shared/bench/make-data.sh, used when that one is not there.
MPOOL = '''import hashlib
import sys
from multiprocessing import Pool


def sha1(line):
    return hashlib.sha1(line.rstrip(b"\\n")).hexdigest().encode() + b"\\n"


if __name__ == "__main__":
    jobs = int(sys.argv[1])
    with Pool(jobs) as pool:
        out = sys.stdout.buffer
        for r in pool.imap(sha1, sys.stdin.buffer, chunksize=1000):
            out.write(r)
'''

# faults: every 100th record raises; a 1 s initializer (a model load).
FAULT_SERVE = """import hashlib, time, parx
def init():
    time.sleep(1)
def f(v):
    if int(v) % 100 == 0:
        raise ValueError("bad record " + v.decode())
    return hashlib.sha1(v).hexdigest()
parx.serve(f, initializer=init, codec="bytes")
"""

FAULT_POOL = """import hashlib, sys, time, traceback
from multiprocessing import Pool
def init():
    time.sleep(1)
def f(line):
    v = line.rstrip(b"\\n")
    try:
        if int(v) % 100 == 0:
            raise ValueError("bad record " + v.decode())
        return hashlib.sha1(v).hexdigest().encode() + b"\\n", None
    except Exception:
        return None, traceback.format_exc()
if __name__ == "__main__":
    with Pool(int(sys.argv[1]), initializer=init) as pool:
        out = sys.stdout.buffer
        for r, err in pool.imap(f, sys.stdin.buffer, chunksize=1):
            if err is None:
                out.write(r)
            else:
                sys.stderr.write(err)
"""


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parx", default=str(REPO / "target/release/parx"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default="faults,mpool")
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("--data", default="/tmp/parx-bench")
    a = ap.parse_args()
    if not os.access(a.parx, os.X_OK):
        print(f"no parx at {a.parx}: cargo build --release, or --parx PATH", file=sys.stderr)
        return 2
    # The interpreter itself (not a pyenv shim), without site start-up hooks, as
    # ../shared/bench/compare.py runs it.
    py = f"{os.path.realpath(sys.executable)} -S"
    tmp = Path(tempfile.mkdtemp(prefix="parx-pybench-"))
    try:
        for name, body in [
            ("serve_sha1.py", SERVE_SHA1), ("stream.py", STREAM), ("fault_serve.py", FAULT_SERVE),
            ("fault_pool.py", FAULT_POOL),
        ]:
            (tmp / name).write_text(body)
        shared = Path(a.data) / "mpool.py"
        mpool = shared if shared.exists() else tmp / "mpool.py"
        if not shared.exists():
            mpool.write_text(MPOOL)
        (tmp / "n200k").write_text("".join(f"{i}\n" for i in range(1, 200_001)))
        (tmp / "n5000").write_text("".join(f"{i}\n" for i in range(1, 5001)))
        env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
        env.pop("PYTHONUNBUFFERED", None)  # Python's default buffering, as users have it
        j, px = a.j, a.parx
        workloads = {
            "faults": [
                ("parx-framed", f"{px} -j{j} --pool process --framed -k {py} fault_serve.py < n5000", 50),
                ("multiprocessing", f"{py} fault_pool.py {j} < n5000", 0),
            ],
            "mpool": [
                ("parx-framed", f"{px} -j{j} --pool process --framed -k {py} serve_sha1.py < n200k", 0),
                ("multiprocessing", f"{py} {mpool} {j} < n200k", 0),
                ("parx-lines", f"{px} -j{j} --pool process -k {py} stream.py < n200k", 0),
            ],
        }
        print(f"machine: {os.uname().sysname} {os.uname().machine}, {os.cpu_count()} CPUs; parx {px}")
        print(f"python: {py}; rounds: {a.rounds}; -j{j}; Pool's map: {mpool}")
        print(f"load before: {uptime()}")
        failed = False
        for w in a.only.split(","):
            variants = workloads[w]
            times: dict = {v[0]: [] for v in variants}
            want = None
            for rnd in range(a.rounds + 1):  # round 0: check and warm-up, not timed
                for vname, cmd, status in variants:
                    t0 = time.perf_counter()
                    p = subprocess.run(cmd, shell=True, cwd=tmp, env=env, capture_output=True)
                    dt = time.perf_counter() - t0
                    digest = hashlib.sha256(p.stdout).hexdigest()
                    if p.returncode != status:
                        print(f"{w} {vname}: status {p.returncode}, wanted {status}\n{p.stderr[-800:]!r}")
                        failed = True
                    want = want or digest
                    if digest != want:
                        print(f"{w} {vname}: output differs from the first variant's")
                        failed = True
                    if w == "faults" and p.stderr.count(b"Traceback") != 50:
                        print(f"{w} {vname}: {p.stderr.count(b'Traceback')} tracebacks, not 50")
                        failed = True
                    if rnd > 0:
                        times[vname].append(dt)
            print(f"== {w}")
            base = statistics.median(times[variants[0][0]])
            for vname, _, _ in variants:
                m = statistics.median(times[vname])
                print(f"  {vname:16} median {m:.3f} s  (runs: {' '.join(f'{t:.3f}' for t in times[vname])})")
            for vname, _, _ in variants[1:]:
                print(f"RATIO {w} {vname} {statistics.median(times[vname]) / base:.2f}")
        print(f"load after: {uptime()}")
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
