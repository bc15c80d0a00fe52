#!/usr/bin/env bash
# Walk benchmarks (issue 5): parx --walk against find, on the shared 20,000-file tree.
#   1. walking alone: `--walk -X --dry-run` (few tasks, so it measures the walk) vs `find -type f`
#   2. the side-by-side `walk` workload: --walk -j2 -X wc -c vs find | xargs -0 -P2 wc -c (and fd,
#      GNU parallel)
# Usage: bench/walk.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
shared=../shared/bench
data=/tmp/parx-bench
cargo build --release --locked
parx="$PWD/target/release/parx"
[ -d "$data/tree" ] || bash "$shared/make-data.sh" "$data" "${SIZE_MB:-256}"
hyperfine -w2 -r10 \
    "$parx --walk $data/tree -X --dry-run echo > /dev/null" \
    "find $data/tree -type f > /dev/null"
python3 "$shared/compare.py" --parx "$parx" --only walk --rounds "$rounds"
