#!/usr/bin/env bash
# bench/make-data.sh DIR [--quick] — the data bench/run.sh measures on, made here, deterministic:
# a fixed seed, so the same arguments give the same bytes on every machine.
#
#   nspawn, npool, nmap seq 3000 / 2000 / 200000 (quick: 500 / 200 / 20000): the values
#   big.log             text lines of 60-99 bytes, log-like (256 MiB; quick: 32 MiB)
#   tree/               small files in nested directories, mixed extensions (20,000; quick: 2,000)
#   worker.py           Python line worker: sha1 of each stdin line, one line out per line in, flushed
#   once.py             the same for one value given as argv[1] (one interpreter per value)
#   stream.py           worker.py block-buffered (a throughput map)
#   mpool.py            the same map with Python's multiprocessing.Pool.imap, in input order
#   nheavy, nmid        seq 40 / 3000: records of ~0.1 s / ~2 ms (heavy.py's rounds, in run.sh)
#   heavy.py ROUNDS     an expensive line map (chained sha256 rounds), its loop at module level
#                       (as ../shared/bench/heavy.py); heavyfn.py: the same loop in a function
#   mheavy.py J ROUNDS  the same map with multiprocessing.Pool.imap at chunksize 1 (a function)
#
# What is already there for the same size is kept (a stamp file records the size).
set -euo pipefail
dir=${1:?usage: bench/make-data.sh DIR [--quick]}
size=full
[ "${2:-}" = --quick ] && size=quick
command -v python3 >/dev/null || { echo "make-data: python3 (>= 3.9) is needed" >&2; exit 1; }
mkdir -p "$dir"
if [ "$(cat "$dir/.stamp" 2>/dev/null)" = "parx-bench-data v4 $size" ]; then
  echo "make-data: $dir is ready ($size), kept" >&2
  exit 0
fi
rm -f "$dir/.stamp"
python3 - "$dir" "$size" <<'PY'
import os, random, shutil, sys

out, size = sys.argv[1], sys.argv[2]
quick = size == "quick"
SEED = 12  # fixed, so every run measures the same data
LOG_MB = 32 if quick else 256
TREE_FILES = 2000 if quick else 20000
SEQ_SPAWN = 500 if quick else 3000
SEQ_POOL = 200 if quick else 2000
SEQ_MAP = 20000 if quick else 200000


def say(msg):
    print(f"make-data: {msg}", file=sys.stderr, flush=True)


def write(name, data):
    tmp = os.path.join(out, name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, os.path.join(out, name))


def seq(n):
    return "".join(f"{i}\n" for i in range(1, n + 1)).encode()


rng = random.Random(SEED)
letters = "etaoinshrdlucmfwypvbgkjqxz"
words = sorted({"".join(rng.choices(letters, range(26, 0, -1), k=rng.randint(2, 10)))
                for _ in range(800)})
levels = ["INFO"] * 3 + ["DEBUG", "WARN", "ERROR", "TRACE"]
lines = []
for _ in range(65536):
    want = rng.randint(59, 98)
    line = (f"2026-11-{rng.randint(1, 30):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:"
            f"{rng.randrange(60):02d} {rng.choice(levels)} w{rng.randrange(64)}")
    while len(line) < want:
        line += " " + rng.choice(words)
    lines.append(line[:want].encode() + b"\n")

write("nspawn", seq(SEQ_SPAWN))
write("npool", seq(SEQ_POOL))
write("nmap", seq(SEQ_MAP))
write("nheavy", seq(40))
write("nmid", seq(3000))
say(f"seq files written ({SEQ_SPAWN}, {SEQ_POOL}, {SEQ_MAP} values)")

scripts = {
    "worker.py": '''import hashlib, json, sys  # json: an import a real worker pays once
for line in iter(sys.stdin.buffer.readline, b""):
    sys.stdout.write(hashlib.sha1(line.rstrip(b"\\n")).hexdigest() + "\\n")
    sys.stdout.flush()
''',
    "once.py": '''import hashlib, json, os, sys  # the same imports as worker.py
print(hashlib.sha1(os.fsencode(sys.argv[1])).hexdigest(), flush=True)
''',
    "stream.py": '''import hashlib, sys
out = sys.stdout.buffer
for line in sys.stdin.buffer:
    out.write(hashlib.sha1(line.rstrip(b"\\n")).hexdigest().encode() + b"\\n")
''',
    "mpool.py": '''import hashlib, sys
from multiprocessing import Pool


def sha1(line):
    return hashlib.sha1(line.rstrip(b"\\n")).hexdigest().encode() + b"\\n"


if __name__ == "__main__":
    with Pool(int(sys.argv[1])) as pool:
        out = sys.stdout.buffer
        for r in pool.imap(sha1, sys.stdin.buffer, chunksize=1000):
            out.write(r)
''',
    "heavy.py": '''import hashlib, sys
rounds = int(sys.argv[1])
out = sys.stdout
for line in iter(sys.stdin.buffer.readline, b""):
    h = line.rstrip(b"\\n")
    for _ in range(rounds):
        h = hashlib.sha256(h).digest()
    out.write(h.hex() + "\\n")
    out.flush()
''',
    "heavyfn.py": '''import hashlib, sys


def main():
    rounds = int(sys.argv[1])
    out = sys.stdout
    for line in iter(sys.stdin.buffer.readline, b""):
        h = line.rstrip(b"\\n")
        for _ in range(rounds):
            h = hashlib.sha256(h).digest()
        out.write(h.hex() + "\\n")
        out.flush()


main()
''',
    "mheavy.py": '''import hashlib, sys
from multiprocessing import Pool


def chain(line):
    h = line.rstrip(b"\\n")
    for _ in range(ROUNDS):
        h = hashlib.sha256(h).digest()
    return h.hex() + "\\n"


def init(rounds):
    global ROUNDS
    ROUNDS = rounds


if __name__ == "__main__":
    jobs, rounds = int(sys.argv[1]), int(sys.argv[2])
    with Pool(jobs, initializer=init, initargs=(rounds,)) as pool:
        for r in pool.imap(chain, sys.stdin.buffer):
            sys.stdout.write(r)
''',
}
for name, text in scripts.items():
    write(name, text.encode())
say("python workers written")

# tree/: TREE_FILES files over 6 top, 30 middle and up to 180 leaf directories.
root = os.path.join(out, "tree")
shutil.rmtree(root, ignore_errors=True)
dirs = []
for top in ["src", "lib", "tests", "docs", "tools", "assets"]:
    dirs.append(top)
    for mid in rng.sample(["core", "util", "net", "io", "cli", "fmt", "parse", "store", "api", "ui"], 5):
        dirs.append(f"{top}/{mid}")
        for leaf in rng.sample(["a", "b", "c", "d", "e", "f", "impl", "model", "types", "gen"], 6):
            dirs.append(f"{top}/{mid}/{leaf}")
for d in dirs:
    os.makedirs(os.path.join(root, d))
exts = ["rs", "c", "h", "py", "js", "json", "toml", "md", "txt", "log", "sh", ""]
text = b"".join(lines[:20000])
for i in range(TREE_FILES):
    ext = rng.choices(exts, [26, 8, 8, 12, 8, 7, 3, 6, 5, 3, 2, 1])[0]
    name = f"f{i:05d}" + (f".{ext}" if ext else "")
    n = min(int(rng.expovariate(1 / 2000)), 65536)
    off = rng.randrange(len(text) - 65536)
    with open(os.path.join(root, rng.choice(dirs), name), "wb") as f:
        f.write(text[off:off + n])
say(f"tree/ written ({TREE_FILES} files in {len(dirs)} directories)")

target = LOG_MB * 1024 * 1024
tmp = os.path.join(out, "big.log.tmp")
with open(tmp, "wb") as f:
    written = 0
    while written < target:
        block = b"".join(rng.choices(lines, k=8192))
        f.write(block)
        written += len(block)
os.replace(tmp, os.path.join(out, "big.log"))
say(f"big.log written ({written} bytes)")
PY
echo "parx-bench-data v4 $size" > "$dir/.stamp"
