#!/usr/bin/env bash
# Issue 4's second benchmark: an awk worker over the big log, chunked from stdin.
#   parx --pipe --pool process -k      2 long-lived mawk workers, output in input order
#   GNU parallel --pipe --round-robin  2 long-lived mawk, output NOT in order
# parx's output must equal plain mawk's byte for byte; GNU parallel's, once sorted.
# Usage: bench/pool-pipe.sh [DATA_DIR] [RUNS]      (after ../shared/bench/make-data.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-/tmp/parx-bench}
runs=${2:-5}
log=$data/big.log
parx=$PWD/target/release/parx
cargo build --release --locked >/dev/null 2>&1
command -v parallel >/dev/null || { echo "GNU parallel missing: bash ../shared/bench/setup-peers.sh" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '{ print length($0) }\n' > "$tmp/prog.awk"
cat > "$tmp/parx.sh" <<SH
exec "$parx" -j2 --pipe --block 16M --pool process -k mawk -f "$tmp/prog.awk" < "$log"
SH
cat > "$tmp/gnu.sh" <<SH
exec parallel -j2 --pipe --round-robin --block 16M mawk -f "$tmp/prog.awk" < "$log"
SH
cat > "$tmp/mawk.sh" <<SH
exec mawk -f "$tmp/prog.awk" "$log"
SH

want=$(sh "$tmp/mawk.sh" | md5sum)
[ "$(sh "$tmp/parx.sh" | md5sum)" = "$want" ] || { echo "parx output differs from mawk's" >&2; exit 1; }
[ "$(sh "$tmp/gnu.sh" | sort | md5sum)" = "$(sh "$tmp/mawk.sh" | sort | md5sum)" ] ||
  { echo "GNU parallel output differs" >&2; exit 1; }

hyperfine -w1 -r "$runs" --export-markdown "$tmp/result.md" \
  -n parx-pool-k "sh $tmp/parx.sh > /dev/null" \
  -n parallel-round-robin "sh $tmp/gnu.sh > /dev/null" \
  -n mawk-alone "sh $tmp/mawk.sh > /dev/null"
cat "$tmp/result.md"
