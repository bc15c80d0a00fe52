#!/usr/bin/env bash
# --memfree inside a memory cgroup. Every run happens inside a fresh cgroup limited
# to 2 GiB (cgroup v1 memory controller, or v2 where that is what is mounted), never outside:
# the script stops before running anything if it cannot create and enter one. Needs root.
#
# 20 tasks each hold 300 MiB for 1 s:
#   1. parx -j 20 --memfree 600M       must succeed with no OOM kill
#   2. parx -j N for N = 4..7          the best hand-chosen -j (fastest run with no OOM kill;
#                                      HAND_J="3 4 5" to choose others)
#   3. parx -j 20 (no --memfree)       is OOM-killed
# and prints, per run: wall time, exit status, tasks that failed, the cgroup's OOM kills and
# failcnt (v1; v2: memory.events' oom_kill and max), and how many times a task started
# (more than 20: --memfree killed some and ran them again).
#
# Usage: bench/memfree.sh [PARX]      (default: target/release/parx, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."

LIMIT=$((2 << 30))
TASKS=20
TASK_MIB=300
HOLD=1

parx=${1:-}
if [ -z "$parx" ]; then
    cargo build --release --locked --quiet
    parx=${CARGO_TARGET_DIR:-$PWD/target}/release/parx
fi
[ "$(id -u)" = 0 ] || { echo "memfree.sh: needs root (it creates memory cgroups)" >&2; exit 2; }

if [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
    V=1; ROOT=/sys/fs/cgroup/memory
elif grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    V=2; ROOT=/sys/fs/cgroup
    grep -qw memory "$ROOT/cgroup.subtree_control" || echo +memory > "$ROOT/cgroup.subtree_control"
else
    echo "memfree.sh: no memory cgroup controller mounted; not running anything" >&2
    exit 2
fi

CG=
STARTS=$(mktemp)
cleanup() {
    if [ -n "$CG" ] && [ -d "$CG" ]; then
        # Anything left in it is ended; then the cgroup goes.
        while read -r p; do kill -9 "$p" 2>/dev/null || true; done < "$CG/cgroup.procs"
        sleep 0.2
        rmdir "$CG" 2>/dev/null || true
    fi
}
trap 'cleanup; rm -f "$STARTS"' EXIT

# A fresh cgroup limited to LIMIT bytes, no swap.
RUNS=0
new_cgroup() {
    cleanup
    RUNS=$((RUNS + 1))
    CG="$ROOT/parx-bench-memfree-$$-$RUNS"
    mkdir "$CG"
    if [ $V = 1 ]; then
        echo "$LIMIT" > "$CG/memory.limit_in_bytes"
        echo "$LIMIT" > "$CG/memory.memsw.limit_in_bytes" 2>/dev/null || true
        [ "$(cat "$CG/memory.limit_in_bytes")" = "$LIMIT" ] || { echo "limit not set" >&2; exit 2; }
    else
        echo "$LIMIT" > "$CG/memory.max"
        echo 0 > "$CG/memory.swap.max" 2>/dev/null || true
        [ "$(cat "$CG/memory.max")" = "$LIMIT" ] || { echo "limit not set" >&2; exit 2; }
    fi
}

# OOM kills and limit hits of the current cgroup.
oom_kills() {
    if [ $V = 1 ]; then
        awk '$1 == "oom_kill" {print $2}' "$CG/memory.oom_control"
    else
        awk '$1 == "oom_kill" {print $2}' "$CG/memory.events"
    fi
}
limit_hits() {
    if [ $V = 1 ]; then cat "$CG/memory.failcnt"; else awk '$1 == "max" {print $2}' "$CG/memory.events"; fi
}

task="import time; open('$STARTS', 'a').write('x\\n'); b = b'x' * ($TASK_MIB << 20); time.sleep($HOLD)"
seqs=$(seq "$TASKS")

# run LABEL PARX-OPTIONS...: runs parx inside a fresh cgroup and prints one line of figures.
run() {
    local label=$1; shift
    new_cgroup
    local log; log=$(mktemp)
    local start end status
    : > "$STARTS"
    start=$(date +%s.%N)
    set +e
    # The shell enters the cgroup and checks it did before exec'ing parx: nothing runs outside.
    sh -c 'echo $$ > "$1/cgroup.procs" && grep -q "${1#'"$ROOT"'}$" /proc/self/cgroup || exit 99
           shift; exec "$@"' sh "$CG" \
        "$parx" "$@" --joblog "$log" python3 -c "$task" ::: $seqs > /dev/null 2>&1
    status=$?
    set -e
    end=$(date +%s.%N)
    if [ $status = 99 ]; then echo "memfree.sh: could not enter the cgroup; stopping" >&2; exit 2; fi
    local failed
    failed=$(awk -F'\t' 'NR > 1 && ($7 != 0 || $8 != 0)' "$log" | wc -l)
    local ran
    ran=$(awk 'NR > 1' "$log" | wc -l)
    printf '%-28s %6.2f s  exit %-3s  tasks ok %2d/%d  failed %2d  starts %2d  oom_kill %s  failcnt %s\n' \
        "$label" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" "$status" "$((ran - failed))" "$TASKS" \
        "$failed" "$(wc -l < "$STARTS")" "$(oom_kills)" "$(limit_hits)"
    rm -f "$log"
}

echo "cgroup v$V, limit $((LIMIT >> 20)) MiB; $TASKS tasks × $TASK_MIB MiB for ${HOLD}s; $(nproc) CPUs"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
run "-j 20 --memfree 600M" -j 20 --memfree 600M
for j in ${HAND_J:-4 5 6 7}; do
    run "-j $j" -j "$j"
done
run "-j 20 --memfree 600M (again)" -j 20 --memfree 600M
run "-j 20 (no --memfree)" -j 20
