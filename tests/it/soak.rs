//! A short soak (issue 11, item 7): one `-k` run mixing the faults parx must survive — random
//! task sizes, failing tasks, tasks that time out, flaky tasks retried, output that spills to
//! `$TMPDIR` behind a slow task — killed with `kill -9` midway, then `--resume` with the same
//! job log. What the two runs printed is byte-exact against what the tasks print, and no
//! process and no temp file of either run is left behind. The same for the process pool
//! (issue 22): Python workers that do not flush, with poison records that kill them, killed
//! with `kill -9` midway or stopped by `--halt now`, then resumed.

use crate::common;

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// Tasks in the run.
const TASKS: u64 = 120;
/// Tasks that hang after their output until `--timeout` ends them (every attempt).
const HANGS: [u64; 2] = [40, 90];

/// What one task does, by kind: prints `SEQ 1` .. `SEQ LINES`, then `fail` exits 3, `hang`
/// sleeps until the timeout; `flaky` prints a partial line and exits 1 on its first attempt
/// (of both runs); `slow` (in the first run only) waits until 12 other tasks have printed
/// (about 14 MB behind it, however loaded the machine) and one more second, so that the
/// output waiting behind it passes the 16 MiB budget and spills.
const TASK_SH: &str = r#"n=$1 lines=$2 kind=$3
case $kind in
slow) if [ ! -e slept ]; then
  : > slept; i=0
  while [ "$(ls | grep -c '^done\.')" -lt 12 ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
  sleep 1
fi ;;
flaky) if [ ! -e "flaky.$n" ]; then : > "flaky.$n"; echo "$n partial"; exit 1; fi ;;
esac
if [ "$lines" -gt 0 ]; then seq -f "$n %g" 1 "$lines"; fi
: > "done.$n"
case $kind in
fail) exit 3 ;;
hang) exec sleep "$4" ;;
esac
"#;

/// One task of the plan.
struct Plan {
    lines: u64,
    kind: &'static str,
}

/// The tasks: task 1 slow, tasks 2..21 about 1-1.4 MB each (more than the 16 MiB output
/// budget behind task 1, so output spills), the rest random sizes and kinds.
fn plan() -> Vec<Plan> {
    let mut rng = Rng(0x5eed_0011);
    (1..=TASKS)
        .map(|seq| {
            let lines = match seq {
                1 => 10,
                2..=21 => 150_000 + rng.below(50_000),
                _ if rng.below(10) == 0 => 20_000 + rng.below(60_000),
                _ => rng.below(300),
            };
            let kind = match (seq, rng.below(20)) {
                (1, _) => "slow",
                (s, _) if HANGS.contains(&s) => "hang",
                (_, 0) => "fail",
                (_, 1 | 2) => "flaky",
                _ => "ok",
            };
            Plan { lines, kind }
        })
        .collect()
}

/// What each task prints in the end (its last attempt), by `seq - 1`.
fn expected(plan: &[Plan]) -> Vec<Vec<u8>> {
    fn num(v: &mut Vec<u8>, n: u64) {
        let at = v.len();
        let mut n = n;
        loop {
            v.push(b'0' + (n % 10) as u8);
            n /= 10;
            if n == 0 {
                break;
            }
        }
        v[at..].reverse();
    }
    let mut all = Vec::new();
    for (i, p) in plan.iter().enumerate() {
        let mut v = Vec::new();
        for line in 1..=p.lines {
            num(&mut v, i as u64 + 1);
            v.push(b' ');
            num(&mut v, line);
            v.push(b'\n');
        }
        all.push(v);
    }
    all
}

/// The sequence numbers in a job log, in the order of its rows.
fn logged(log: &Path) -> Vec<u64> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next()?.parse().ok())
        .collect()
}

/// Whether process `pid` has a file open in `dir` (a spill file, unlinked or not).
fn has_file_in(pid: u32, dir: &Path) -> bool {
    let Ok(rd) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    rd.flatten()
        .filter_map(|e| fs::read_link(e.path()).ok())
        .any(|t| t.starts_with(dir))
}

#[test]
fn kill_9_midway_then_resume_is_byte_exact_and_leaves_nothing() {
    if !slow("kill_9_midway_then_resume_is_byte_exact_and_leaves_nothing") {
        return;
    }
    let d = tempdir();
    let tmp = d.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    script(d.path(), "t.sh", TASK_SH);
    let plan = plan();
    let outs = expected(&plan);
    let mark = sleep_marker();
    let values: Vec<String> = plan
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{} {} {} {mark}", i + 1, p.lines, p.kind))
        .collect();
    fs::write(d.path().join("values"), values.join("\n") + "\n").unwrap();
    // The task's directory is in every task's command line: it finds them all.
    let task = d.path().join("t.sh");
    let task = task.to_str().unwrap();
    let args = [
        "-k",
        "-j4",
        "--retries",
        "2",
        "--timeout",
        "3",
        "--joblog",
        "log",
        "--colsep",
        " ",
        task,
        "{1}",
        "{2}",
        "{3}",
        "{4}",
        "::::",
        "values",
    ];
    let log = d.path().join("log");
    let t0 = Instant::now();

    // Run 1: killed with -9 once a quarter of the tasks are logged (output has spilled by then;
    // the first hanging task is about to run or running).
    let mut run1 = parx_std();
    run1.current_dir(d.path())
        .env("TMPDIR", &tmp)
        .args(args)
        .stdout(fs::File::create(d.path().join("out1")).unwrap())
        .stderr(Stdio::null());
    let mut child = run1.spawn().unwrap();
    let mut spilled = false;
    let midway = wait_for(Duration::from_secs(30), || {
        spilled |= has_file_in(child.id(), &tmp);
        logged(&log).len() as u64 >= TASKS / 4
    });
    assert!(midway, "run 1 did not get a quarter of the way");
    assert!(
        spilled,
        "no output spilled to $TMPDIR: the soak must cover spilling"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // The orphan guard ends the tasks that were running.
    assert_no_survivors(task, "run 1's tasks after kill -9");
    assert_no_survivors(&mark, "run 1's hanging tasks after kill -9");
    assert!(
        dir_names(&tmp).is_empty(),
        "temp files left: {:?}",
        dir_names(&tmp)
    );

    // Under -k the rows are tasks 1..=m; stdout holds their outputs, then perhaps the first
    // part of task m+1's (it was streaming when parx died).
    let done = logged(&log);
    let m = done.len() as u64;
    assert_eq!(done, (1..=m).collect::<Vec<_>>(), "rows out of order");
    assert!(m < TASKS, "run 1 finished before the kill");
    let out1 = fs::read(d.path().join("out1")).unwrap();
    let want: Vec<u8> = outs[..m as usize].concat();
    assert!(
        out1.starts_with(&want),
        "run 1's output of its logged tasks is not exact"
    );
    let next = &outs[m as usize];
    assert!(
        next.starts_with(&out1[want.len()..]),
        "run 1 printed more than the start of task {}",
        m + 1
    );

    // Run 2: --resume prints the rest, exactly once.
    let mut resume = vec!["--resume"];
    resume.extend(args);
    let o = parx_std()
        .current_dir(d.path())
        .env("TMPDIR", &tmp)
        .args(&resume)
        .timed_output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        matches!(o.status.code(), Some(0..=101)),
        "run 2: {:?} {err}",
        o.status
    );
    assert!(
        o.stdout == outs[m as usize..].concat(),
        "run 2's output is not the rest, byte for byte"
    );
    let mut all = want;
    all.extend(&o.stdout);
    assert!(
        all == outs.concat(),
        "the two runs together are not byte-exact"
    );
    let mut rows = logged(&log);
    rows.sort_unstable();
    assert_eq!(rows, (1..=TASKS).collect::<Vec<_>>(), "one row per task");
    assert_no_survivors(task, "run 2's tasks");
    assert_no_survivors(&mark, "run 2's hanging tasks");
    assert!(
        dir_names(&tmp).is_empty(),
        "temp files left: {:?}",
        dir_names(&tmp)
    );
    println!("soak took {:?}", t0.elapsed());
}

/// Records in the process-pool soak.
const RECORDS: u64 = 8_000;

/// The process-pool worker: answers `V h` for each value V (h a hash of V), without
/// flushing; every 1000th record takes a few ms, and a value divisible by 997 kills the
/// worker (SIGKILL) wherever it comes.
const WORKER_PY: &str = r#"import os, signal, sys, time, zlib
for l in sys.stdin:
    v = int(l)
    if v % 997 == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    if v % 1000 == 0:
        time.sleep(0.005)
    sys.stdout.write("%d %08x\n" % (v, zlib.crc32(l.encode())))
"#;

/// The answer of each record, by `v - 1` (poison records have none), from one run of the
/// worker itself without its poison (no parx), so the check does not reimplement the hash.
fn answers(dir: &Path) -> Vec<Vec<u8>> {
    let plain = WORKER_PY.replace(
        "    if v % 997 == 0:\n        os.kill(os.getpid(), signal.SIGKILL)\n",
        "",
    );
    let input: String = (1..=RECORDS).map(|v| format!("{v}\n")).collect();
    fs::write(dir.join("values"), &input).unwrap();
    let o = std::process::Command::new("python3")
        .args(["-c", &plain])
        .stdin(fs::File::open(dir.join("values")).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success());
    let mut all: Vec<Vec<u8>> = o
        .stdout
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    for (i, a) in all.iter_mut().enumerate() {
        if (i as u64 + 1) % 997 == 0 {
            a.clear();
        }
    }
    all
}

/// One process-pool soak: run 1 killed with -9 once a quarter of the records are logged
/// (`halt`: stopped by `--halt now,fail=1` at the first poison record instead), then
/// `--resume` with the same job log; byte-exact, nothing left running.
fn pool_soak(halt: bool) {
    let d = tempdir();
    let outs = answers(d.path());
    let mark = sleep_marker();
    let mut args = vec![
        "-k",
        "-j2",
        "--pool",
        "process",
        "--retries",
        "2",
        "--joblog",
        "log",
    ];
    let tail = ["python3", "-c", WORKER_PY, &mark];
    let log = d.path().join("log");
    let mut run1 = parx_std();
    run1.current_dir(d.path())
        .env_remove("PYTHONUNBUFFERED")
        .args(&args)
        .args(if halt {
            &["--halt", "now,fail=1"][..]
        } else {
            &[][..]
        })
        .args(tail)
        .stdin(fs::File::open(d.path().join("values")).unwrap())
        .stdout(fs::File::create(d.path().join("out1")).unwrap())
        .stderr(Stdio::null());
    let mut child = run1.spawn().unwrap();
    if halt {
        let st = wait_timeout(&mut child, TIMEOUT).expect("run 1 ends at the halt");
        assert_eq!(
            st.code(),
            Some(137),
            "run 1: the poison record's status (KILL)"
        );
    } else {
        let midway = wait_for(Duration::from_secs(30), || {
            logged(&log).len() as u64 >= RECORDS / 4
        });
        assert!(midway, "run 1 did not get a quarter of the way");
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert_no_survivors(&mark, "run 1's workers");
    // Under -k the rows are records 1..=m; stdout holds their answers (the poison ones
    // have none), then perhaps the start of the next answer.
    let done = logged(&log);
    let m = done.len() as u64;
    assert_eq!(done, (1..=m).collect::<Vec<_>>(), "rows out of order");
    assert!(m < RECORDS, "run 1 finished");
    let out1 = fs::read(d.path().join("out1")).unwrap();
    let want: Vec<u8> = outs[..m as usize].concat();
    assert!(
        out1.starts_with(&want),
        "run 1's output of its logged records is not exact"
    );
    assert!(
        outs[m as usize..].concat().starts_with(&out1[want.len()..]),
        "run 1 printed more than the start of record {}",
        m + 1
    );
    // Run 2: --resume prints the rest, exactly once; its status counts the poison records
    // left (they fail again).
    args.push("--resume");
    let o = parx_std()
        .current_dir(d.path())
        .env_remove("PYTHONUNBUFFERED")
        .args(&args)
        .args(tail)
        .stdin(fs::File::open(d.path().join("values")).unwrap())
        .timed_output()
        .unwrap();
    let poison_left = (m + 1..=RECORDS).filter(|v| v % 997 == 0).count() as i32;
    assert_eq!(o.status.code(), Some(poison_left), "run 2's status");
    assert!(
        o.stdout == outs[m as usize..].concat(),
        "run 2's output is not the rest, byte for byte"
    );
    let mut all = want;
    all.extend(&o.stdout);
    assert!(
        all == outs.concat(),
        "the two runs together are not byte-exact"
    );
    let mut rows = logged(&log);
    rows.sort_unstable();
    assert_eq!(
        rows,
        (1..=RECORDS).collect::<Vec<_>>(),
        "one row per record"
    );
    assert_no_survivors(&mark, "run 2's workers");
}

#[test]
fn process_pool_kill_9_midway_then_resume_is_byte_exact() {
    pool_soak(false);
}

#[test]
fn process_pool_halt_then_resume_is_byte_exact() {
    pool_soak(true);
}
