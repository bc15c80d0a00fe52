#!/usr/bin/env bash
# bench/run.sh — parx side by side with whichever of GNU parallel, xargs, rust-parallel and fd
# are installed, on data bench/make-data.sh makes (deterministic). Run it from a clone; it needs
# nothing outside the repository but the peers it compares with.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: bench/run.sh [--quick] [--only W1,W2,...] [--runs N] [-j N] [--parx PATH] [--data DIR]

Measures the release build of parx (built with `cargo build --release --locked` unless --parx is
given) against the peers that are installed, skipping the missing ones with a note, and prints
one line per comparison:

  RATIO <workload> <peer> <x>     x = the peer's median time / parx's (above 1: parx is faster);
                                   for `memory`, the peer's peak RSS / parx's

then the machine, the date, the load average and the command (at the start and again in the
summary); bench/readme-figures.py puts one run's figures into README.md. Every variant is run
once first and its output checked against parx's (a variant that fails or disagrees is left out, with a note). Timing: hyperfine when it
is installed, else /usr/bin/time (GNU time, also used for peak RSS).

Workloads (sizes in --quick in brackets):
  spawn        3000 [500] tasks of `true`: the per-task floor       (xargs, parallel, rust-parallel)
  spawn-personalities  the same through parx linked as `parallel` (against native parx) and
               as `xargs` (against GNU xargs -P)
  order        3000 [500] `echo` tasks with -k, output in input order (parallel, rust-parallel)
  startup      20 runs of `parx true ::: x` in a row                 (xargs, parallel, rust-parallel)
  pipe-part    big.log 256 MiB [32] split in place, `wc -l` per 16M [4M] chunk, -k (parallel)
  pipe-file    the same through --pipe from a regular file on stdin  (parallel, rust-parallel)
  pipe-stream  the same through a real pipe: cat big.log | parx --pipe (parallel)
  pool         2000 [200] values through a Python sha1 worker: --pool process against one
               interpreter per value (parx, parallel)
  mpool        200,000 [20,000] lines through a Python sha1 map: --pool process against
               Python's multiprocessing.Pool.imap and one plain python
  mheavy       40 records of ~0.1 s (150,000 chained sha256 rounds; quick: 15,000): the process
               pool against multiprocessing.Pool.imap (chunksize 1) and one python, with the
               worker's loop at module level (heavy.py, as ../shared/bench) and in a function
               (heavyfn.py, the code shape Pool runs): `mheavy-fn` compares like with like
  mmid         the same over 3000 records of ~2 ms (3,000 rounds; quick: 300); `mmid-fn`
               mpool, mheavy and mmid also time `static-split`: the input cut beforehand into
               -j parts, one python per part at once, no pool at all (the bound for any pool)
  walk         `wc -c` over tree/ (20,000 [2,000] files), -X    (find | xargs, fd, find | parallel)
  memory       -k behind a slow head: task 1 sleeps while 149 [59] more print 2 MB each; peak RSS
               (parallel, rust-parallel)

Options:
  --quick        smaller data and 3 runs: a few minutes on 2 idle cores (GNU parallel's
                 spawn/order/pool runs are most of it)
  --only LIST    only these workloads (comma-separated)
  --runs N       timed runs per variant [default: 5, quick: 3]
  -j N           job slots for every tool [default: the CPU count]
  --parx PATH    the parx binary to measure (no build)
  --data DIR     where the data lives [default: $TMPDIR/parx-bench-full or -quick]

Installing the peers (Debian/Ubuntu):
  apt-get install parallel hyperfine fd-find time      # GNU parallel, hyperfine, fd, GNU time
  cargo install rust-parallel --locked
USAGE
}

repo=$(cd "$(dirname "$0")/.." && pwd)
run_args="$*"
quick=0 only= runs= jobs= parx= data=
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --only) only=${2:?--only needs a list}; shift ;;
    --runs) runs=${2:?--runs needs N}; shift ;;
    -j) jobs=${2:?-j needs N}; shift ;;
    --parx) parx=${2:?--parx needs a path}; shift ;;
    --data) data=${2:?--data needs a directory}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
size=$([ $quick = 1 ] && echo quick || echo full)
runs=${runs:-$([ $quick = 1 ] && echo 3 || echo 5)}
jobs=${jobs:-$(nproc)}
data=${data:-${TMPDIR:-/tmp}/parx-bench-$size}

note() { echo "note: $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

if [ -z "$parx" ]; then
  (cd "$repo" && cargo build --release --locked --quiet)
  target=${CARGO_TARGET_DIR:-target}
  case $target in /*) ;; *) target=$repo/$target ;; esac
  parx=$target/release/parx
fi
[ -x "$parx" ] || { echo "bench/run.sh: no parx binary at $parx" >&2; exit 1; }
parx=$(cd "$(dirname "$parx")" && pwd)/$(basename "$parx")
have python3 || { echo "bench/run.sh: python3 is needed (data and the pool workloads)" >&2; exit 1; }
# The interpreter itself, not a wrapper (a pyenv shim costs a bash script per start).
py=$(python3 -c 'import sys; print(sys.executable)')

# The peers: GNU parallel (not moreutils' parallel), rust-parallel, fd (Debian calls it fdfind).
parallel=
if have parallel && parallel --version 2>/dev/null | head -1 | grep -q "GNU parallel"; then
  parallel="parallel --will-cite"
fi
rp=$(have rust-parallel && echo rust-parallel || true)
fd=$(have fd && echo fd || { have fdfind && echo fdfind; } || true)
xargs=$(have xargs && echo xargs || true)
[ -n "$parallel" ] || note "GNU parallel is not installed: apt-get install parallel"
[ -n "$rp" ] || note "rust-parallel is not installed: cargo install rust-parallel --locked"
[ -n "$fd" ] || note "fd is not installed: apt-get install fd-find"
gnutime=
if /usr/bin/time -f %M true >/dev/null 2>&1; then gnutime=/usr/bin/time; fi
if have hyperfine; then
  timer=hyperfine
elif [ -n "$gnutime" ]; then
  timer=time
  note "hyperfine is not installed (apt-get install hyperfine): timing with /usr/bin/time"
else
  echo "bench/run.sh: neither hyperfine nor GNU time found: apt-get install hyperfine time" >&2
  exit 1
fi

machine() {
  local cpu
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
  echo "machine: $(uname -srm), ${cpu:-unknown CPU}, $(nproc) CPUs," \
    "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo 2>/dev/null)"
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); parx $("$parx" --version | cut -d' ' -f2) at $parx"
  echo "settings: $size data, -j$jobs, $runs run(s) per variant, timer $timer"
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "command: bench/run.sh${run_args:+ $run_args}"
}

"$repo/bench/make-data.sh" "$data" $([ $quick = 1 ] && echo --quick)
cd "$data"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
machine
ratios=()

# The output check of a workload: what a variant's stdout is reduced to before comparing.
digest() {
  case $1 in
    bytes) sha256sum < "$2" | cut -c1-16 ;;
    sum) awk '{ s += $1 } END { print "sum", s + 0 }' "$2" ;; # per-chunk wc -l counts add up
    files) awk '$2 != "total" { n++; s += $1 } END { print n + 0, "files", s + 0, "bytes" }' "$2" ;;
  esac
}

names=() cmds=()
variant() { # NAME PEER-PRESENT COMMAND: PEER-PRESENT empty means the peer is missing
  if [ -z "$2" ]; then
    note "$workload: $1 skipped (not installed)"
  else
    names+=("$1") cmds+=("$3")
  fi
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# Run the variants collected for $workload: check, time, print the ratios against the first.
measure() { # CHECK [rss]
  local check=$1 mode=${2:-time} i want got keep_n=() keep_c=()
  echo
  echo "== $workload"
  for i in "${!names[@]}"; do
    if ! bash -c "${cmds[$i]}" > "$tmp/out" 2> "$tmp/err"; then
      note "$workload: ${names[$i]} failed, left out: $(tail -2 "$tmp/err" | tr '\n' ' ')"
      continue
    fi
    got=$(digest "$check" "$tmp/out")
    if [ "$i" = 0 ]; then
      want=$got
    elif [ "$got" != "$want" ]; then
      note "$workload: ${names[$i]}'s output ($got) differs from parx's ($want), left out"
      continue
    fi
    keep_n+=("${names[$i]}") keep_c+=("${cmds[$i]}")
  done
  names=() cmds=()
  if [ "${#keep_n[@]}" = 0 ] || [ "${keep_n[0]}" != parx ]; then
    note "$workload: parx itself failed, nothing measured"
    return
  fi
  : > "$tmp/medians"
  if [ "$mode" = rss ]; then
    [ -n "$gnutime" ] || { note "$workload: peak RSS needs GNU time: apt-get install time"; return; }
    for i in "${!keep_n[@]}"; do
      for _ in $(seq "$runs"); do
        "$gnutime" -f %M -o "$tmp/rss" bash -c "${keep_c[$i]}" > /dev/null 2>&1 || true
        cat "$tmp/rss"
      done | median | { read -r kb; echo "${keep_n[$i]} $kb"; } >> "$tmp/medians"
    done
    awk '{ printf "  %-16s peak RSS %8.1f MB (median of '"$runs"')\n", $1, $2 / 1024 }' "$tmp/medians"
  elif [ "$timer" = hyperfine ]; then
    local args=()
    for i in "${!keep_n[@]}"; do args+=(-n "${keep_n[$i]}" "${keep_c[$i]}"); done
    if ! hyperfine --shell=bash --style basic -r "$runs" --export-json "$tmp/h.json" "${args[@]}" \
      > "$tmp/h.out" 2>&1; then
      note "$workload: hyperfine failed: $(tail -3 "$tmp/h.out" | tr '\n' ' ')"
      return
    fi
    grep -E '^(Benchmark|  Time|  Range)' "$tmp/h.out" || true
    python3 -c 'import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(r["command"], r["median"])' "$tmp/h.json" >> "$tmp/medians"
  else
    for _ in $(seq "$runs"); do # alternate the variants round by round
      for i in "${!keep_n[@]}"; do
        "$gnutime" -f %e -o "$tmp/t" bash -c "${keep_c[$i]}" > /dev/null 2>&1 || true
        echo "$i $(cat "$tmp/t")" >> "$tmp/times"
      done
    done
    for i in "${!keep_n[@]}"; do
      echo "${keep_n[$i]} $(awk -v i="$i" '$1 == i { print $2 }' "$tmp/times" | median)" >> "$tmp/medians"
    done
    rm -f "$tmp/times"
    awk '{ printf "  %-16s %8.3f s (median of '"$runs"')\n", $1, $2 }' "$tmp/medians"
  fi
  local base line
  base=$(awk 'NR == 1 { print $2 }' "$tmp/medians")
  while read -r name value; do
    [ "$name" = "${keep_n[0]}" ] && continue
    line=$(awk -v w="$workload" -v n="$name" -v p="$value" -v b="$base" \
      'BEGIN { printf "RATIO %s %s %.2f", w, n, (b > 0 ? p / b : 0) }')
    echo "$line"
    ratios+=("$line")
  done < "$tmp/medians"
}

selected() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }
j=$jobs
big_block=$([ $quick = 1 ] && echo 4M || echo 16M)
tasks=$([ $quick = 1 ] && echo 60 || echo 150)
head_sleep=$([ $quick = 1 ] && echo 1 || echo 2)
slow="if [ {} = 1 ]; then sleep $head_sleep; fi; head -c 2000000 /dev/zero"
P=$(printf %q "$parx")
py=$(printf %q "$py")

if selected spawn; then
  workload=spawn
  variant parx y "$P -j$j true < nspawn"
  variant xargs "$xargs" "xargs -P$j -n1 true < nspawn"
  variant parallel "$parallel" "$parallel -j$j true < nspawn"
  variant rust-parallel "$rp" "rust-parallel -j$j true < nspawn"
  measure bytes
fi
# The personalities: parx linked as `parallel` and as `xargs`, on the same spawn load.
if selected spawn-personalities; then
  mkdir -p "$tmp/as"
  ln -sf "$parx" "$tmp/as/parallel"
  ln -sf "$parx" "$tmp/as/xargs"
  as=$(printf %q "$tmp/as")
  workload=spawn-as-parallel
  variant parx y "$as/parallel -j$j true < nspawn"
  variant native y "$P -j$j true < nspawn"
  measure bytes
  workload=spawn-as-xargs
  variant parx y "$as/xargs -P$j -n1 true < nspawn"
  variant xargs "$xargs" "xargs -P$j -n1 true < nspawn"
  measure bytes
fi
if selected order; then
  workload=order
  variant parx y "$P -j$j -k echo < nspawn"
  variant parallel "$parallel" "$parallel -j$j -k echo < nspawn"
  variant rust-parallel "$rp" "rust-parallel -j$j -k echo < nspawn"
  measure bytes
fi
if selected startup; then
  workload=startup
  variant parx y "for i in \$(seq 20); do $P true ::: x || exit; done"
  variant xargs "$xargs" "for i in \$(seq 20); do echo x | xargs true || exit; done"
  variant parallel "$parallel" "for i in \$(seq 20); do $parallel true ::: x || exit; done"
  variant rust-parallel "$rp" "for i in \$(seq 20); do rust-parallel true ::: x || exit; done"
  measure bytes
fi
if selected pipe-part; then
  workload=pipe-part
  variant parx y "$P -j$j --pipe-part -a big.log --block $big_block -k wc -l"
  variant parallel "$parallel" "$parallel -j$j --pipepart -a big.log --block $big_block -k wc -l"
  variant wc-alone y "wc -l < big.log"
  measure sum
fi
if selected pipe-file; then
  workload=pipe-file
  variant parx y "$P -j$j --pipe --block $big_block -k wc -l < big.log"
  variant parallel "$parallel" "$parallel -j$j --pipe --block $big_block -k wc -l < big.log"
  variant rust-parallel "$rp" "rust-parallel -j$j --pipe --block-size ${big_block}iB -k wc -l < big.log"
  variant wc-alone y "wc -l < big.log"
  measure sum
fi
if selected pipe-stream; then
  workload=pipe-stream
  variant parx y "cat big.log | $P -j$j --pipe --block $big_block -k wc -l"
  variant parallel "$parallel" "cat big.log | $parallel -j$j --pipe --block $big_block -k wc -l"
  variant cat-wc y "cat big.log | wc -l"
  measure sum
fi
if selected pool; then
  workload=pool
  variant parx y "$P -j$j --pool process -k $py worker.py < npool"
  variant parx-once y "$P -j$j -k $py once.py < npool"
  variant parallel-once "$parallel" "$parallel -j$j -k $py once.py < npool"
  measure bytes
fi
# The bound no pool can beat: the input cut beforehand (untimed) into $j line-aligned parts,
# one interpreter per part, all at once, no dispatch at all; the first part's results go
# straight to stdout, the others' are kept in files and copied after it, in input order.
static_split() { # INPUT SCRIPT [ARGS]: prints the command
  local input=$1 part cmd= rest=
  shift
  rm -f "$tmp/$input".part.* "$tmp/$input".out.*
  split -n l/"$j" -d -a 3 "$input" "$tmp/$input.part."
  for part in "$tmp/$input".part.*; do
    if [ -z "$cmd" ]; then
      cmd="$py $* < $part &"
    else
      cmd+=" $py $* < $part > ${part/.part./.out.} &"
      rest+=" ${part/.part./.out.}"
    fi
  done
  echo "$cmd wait${rest:+; cat$rest}"
}
if selected mpool; then
  workload=mpool
  variant parx y "$P -j$j --pool process -k $py stream.py < nmap"
  variant multiprocessing y "$py mpool.py $j < nmap"
  variant one-python y "$py stream.py < nmap"
  variant static-split y "$(static_split nmap stream.py)"
  measure bytes
fi
heavy_rounds=$([ $quick = 1 ] && echo 15000 || echo 150000)
mid_rounds=$([ $quick = 1 ] && echo 300 || echo 3000)
for heavy_w in mheavy:nheavy:$heavy_rounds mmid:nmid:$mid_rounds; do
  IFS=: read -r heavy_name heavy_input heavy_n <<< "$heavy_w"
  for heavy_shape in "" -fn; do
    selected "$heavy_name$heavy_shape" || continue
    workload=$heavy_name$heavy_shape
    heavy_script=heavy${heavy_shape#-}.py
    variant parx y "$P -j$j --pool process -k $py $heavy_script $heavy_n < $heavy_input"
    variant multiprocessing y "$py mheavy.py $j $heavy_n < $heavy_input"
    variant one-python y "$py $heavy_script $heavy_n < $heavy_input"
    variant static-split y "$(static_split "$heavy_input" "$heavy_script" "$heavy_n")"
    measure bytes
  done
done
if selected walk; then
  workload=walk
  variant parx y "$P --walk tree -j$j -X wc -c"
  variant find-xargs "$xargs" "find tree -type f -print0 | xargs -0 -P$j wc -c"
  variant fd "$fd" "$fd . tree --type f -j$j -X wc -c"
  variant find-parallel "$parallel" "find tree -type f -print0 | $parallel -0 -j$j -X wc -c"
  measure files
fi
if selected memory; then
  workload=memory
  variant parx y "$P -j$j -k sh -c '$slow' ::: \$(seq $tasks)"
  variant parallel "$parallel" "$parallel -j$j -k '$slow' ::: \$(seq $tasks)"
  variant rust-parallel "$rp" "rust-parallel -j$j -k sh -c '${slow//\{\}/\"\$1\"}' sh ::: \$(seq $tasks)"
  measure bytes rss
fi

echo
echo "== summary (x = peer / parx; above 1: parx is faster, or for memory, smaller)"
machine
printf '%s\n' "${ratios[@]}"
