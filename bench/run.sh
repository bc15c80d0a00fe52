#!/usr/bin/env bash
# Side-by-side benchmark of parx against xargs, GNU parallel and rust-parallel, using the shared
# harness (../shared/bench). Usage: bench/run.sh [WORKLOADS] [ROUNDS]
#   bench/run.sh spawn,order,startup,memory 5
set -euo pipefail
cd "$(dirname "$0")/.."
only=${1:-spawn,order,startup,memory}
rounds=${2:-5}
shared=../shared/bench
cargo build --release --locked
bash "$shared/setup-peers.sh"
bash "$shared/make-data.sh" /tmp/parx-bench "${SIZE_MB:-512}"
python3 "$shared/compare.py" --parx "$PWD/target/release/parx" --only "$only" --rounds "$rounds"
