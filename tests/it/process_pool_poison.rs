//! `--pool process` with the jobs `multiprocessing.Pool` is used for (issue 21): expensive
//! records spread over every worker; the record that kills a worker found by re-running what
//! it left in isolation, whether or not workers flush (Python's `print` to a pipe does not);
//! results that cannot be attributed reported. Real Python workers.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{lines, parx, slow_on};

fn seq(n: u32) -> String {
    (1..=n).map(|i| format!("{i}\n")).collect()
}

#[test]
fn expensive_records_are_spread_over_every_worker() {
    // 20 records of 0.2 s of CPU each on two workers that print their pid and flush: each
    // answers 9 to 11 of them (multiprocessing.Pool.imap splits 10/10).
    let worker = "import os, sys, time\nfor l in sys.stdin:\n    t = time.process_time()\n    while time.process_time() - t < 0.2: pass\n    print(os.getpid(), l.strip(), flush=True)";
    let out = parx()
        .args(["--pool", "process", "-j2", "-k", "python3", "-c", worker])
        .write_stdin(seq(20))
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    let got = lines(&out.stdout);
    for (i, l) in got.iter().enumerate() {
        let (pid, v) = l.split_once(' ').unwrap();
        assert_eq!(v, (i + 1).to_string(), "order");
        *per.entry(pid.to_owned()).or_default() += 1;
    }
    assert_eq!(got.len(), 20);
    assert_eq!(per.len(), 2, "{per:?}");
    for n in per.values() {
        assert!((9..=11).contains(n), "each worker answers 9-11: {per:?}");
    }
}

#[test]
fn block_buffered_workers_get_what_they_need_to_answer() {
    // Python without flushing answers only when its 8 KiB buffer fills or its input ends:
    // a worker holding records and answering nothing is given more, never starved.
    let worker = "import sys\nfor l in sys.stdin: print('r' + l, end='')";
    for n in [1, 5, 3000, 100_000] {
        let out = parx()
            .env_remove("PYTHONUNBUFFERED")
            .args(["--pool", "process", "-j2", "-k", "python3", "-c", worker])
            .write_stdin(seq(n))
            .output()
            .unwrap();
        assert!(out.status.success(), "{n}");
        let want: String = (1..=n).map(|i| format!("r{i}\n")).collect();
        assert!(
            out.stdout == want.as_bytes(),
            "{n}: not every record once, in order"
        );
    }
}

/// How a worker ends on a poison record (a Python statement), and whether it is a signal.
const ENDS: [(&str, &str); 4] = [
    ("SIGKILL", "os.kill(os.getpid(), signal.SIGKILL)"),
    ("SIGSEGV", "os.kill(os.getpid(), signal.SIGSEGV)"),
    ("exit 3", "sys.exit(3)"),
    ("exception", "raise ValueError('poison ' + l)"),
];

/// A Python worker answering each record with itself, ending as `end` says on `poison`.
fn worker(poison: &[u32], end: &str, flush: bool) -> String {
    let flush = if flush { ", flush=True" } else { "" };
    format!(
        "import os, signal, sys\nP = {poison:?}\nfor l in sys.stdin:\n    if int(l) in P:\n        {end}\n    print(l, end=''{flush})"
    )
}

/// Runs 1..=n through `w` (flushing or not) and checks: every record but the poison ones
/// answered exactly once (in order with -k), each poison record named in exactly one
/// `parx:` line, the status the number of poison records.
fn check(w: &str, flush: bool, n: u32, poison: &[u32], keep: bool, extra: &[&str]) {
    let mut c = parx();
    if !flush {
        c.env_remove("PYTHONUNBUFFERED");
    }
    c.args(["--pool", "process", "-j2"]);
    if keep {
        c.arg("-k");
    }
    let out = c
        .args(extra)
        .args(["python3", "-c", w])
        .write_stdin(seq(n))
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    let what = format!("n={n} poison={poison:?} keep={keep} flush={flush} {extra:?}\n{w}");
    let err = String::from_utf8_lossy(&out.stderr);
    let ours: Vec<&str> = err.lines().filter(|l| l.starts_with("parx:")).collect();
    assert_eq!(
        out.status.code(),
        Some(poison.len() as i32),
        "{what}: status; parx said {ours:?}"
    );
    let want: Vec<String> = (1..=n)
        .filter(|i| !poison.contains(i))
        .map(|i| i.to_string())
        .collect();
    let got = lines(&out.stdout);
    if keep {
        assert!(
            got == want,
            "{what}: {} lines, want {}",
            got.len(),
            want.len()
        );
    } else {
        let set: BTreeSet<&String> = got.iter().collect();
        assert_eq!(set.len(), got.len(), "{what}: a record answered twice");
        assert!(
            set == want.iter().collect(),
            "{what}: {} records answered, want {}",
            set.len(),
            want.len()
        );
    }
    for p in poison {
        let named: Vec<&&str> = ours
            .iter()
            .filter(|l| l.contains(&format!("task {p} ({p})")) && !l.contains("retrying"))
            .collect();
        assert_eq!(named.len(), 1, "{what}: one line names {p}: {ours:?}");
    }
    let failures = ours.iter().filter(|l| !l.contains("retrying")).count();
    assert_eq!(
        failures,
        poison.len(),
        "{what}: only the poison records: {ours:?}"
    );
}

#[test]
fn the_record_that_kills_a_worker_is_found_flushing_or_not() {
    for (name, end) in ENDS {
        for flush in [false, true] {
            let w = worker(&[500], end, flush);
            for keep in [true, false] {
                eprintln!("{name} flush={flush} keep={keep}");
                check(&w, flush, 1000, &[500], keep, &[]);
            }
        }
    }
}

#[test]
fn the_record_that_kills_a_worker_is_found_in_a_big_run() {
    // 50,000 of 100,000: thousands of records in flight and in the worker's buffer.
    let ends = if slow_on() { &ENDS[..] } else { &ENDS[..1] };
    for (name, end) in ends {
        for flush in [false, true] {
            let w = worker(&[50_000], end, flush);
            for keep in [true, false] {
                eprintln!("{name} flush={flush} keep={keep}");
                check(&w, flush, 100_000, &[50_000], keep, &[]);
            }
        }
    }
}

#[test]
fn two_poison_records_in_one_block_are_both_found() {
    for flush in [false, true] {
        let w = worker(&[300, 301], "os.kill(os.getpid(), signal.SIGKILL)", flush);
        check(&w, flush, 1000, &[300, 301], true, &[]);
        let w = worker(&[300, 340], "sys.exit(3)", flush);
        check(&w, flush, 1000, &[300, 340], false, &[]);
    }
}

#[test]
fn retries_count_only_the_poison_record() {
    // Two runs of it in all: one line says it is retried, one names it as failed; status 1.
    let w = worker(&[500], "sys.exit(3)", false);
    check(&w, false, 1000, &[500], true, &["--retries", "2"]);
    let out = parx()
        .env_remove("PYTHONUNBUFFERED")
        .args(["--pool", "process", "-j2", "-k", "--retries", "2"])
        .args(["python3", "-c", &w])
        .write_stdin(seq(1000))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let retried = err.lines().filter(|l| l.contains("retrying it")).count();
    assert_eq!(retried, 1, "{err}");
}

#[test]
fn a_broken_command_gives_up_and_says_so() {
    let out = parx()
        .args([
            "--pool",
            "process",
            "-j2",
            "python3",
            "-c",
            "import nosuchmodule_parx",
        ])
        .write_stdin(seq(1000))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot answer any record from a fresh start"),
        "{err}"
    );
}

/// Runs 1..=10 through a Python worker (`body` inside `for l in sys.stdin:`) on -j2 with -k;
/// returns (status, parx's own lines).
fn attribution(body: &str) -> (i32, Vec<String>) {
    let out = parx()
        .args(["--pool", "process", "-k", "-j2", "python3", "-c"])
        .arg(format!("import sys\nfor l in sys.stdin:\n{body}"))
        .write_stdin(seq(10))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let ours = err
        .lines()
        .filter(|l| l.starts_with("parx:"))
        .map(str::to_owned)
        .collect();
    (out.status.code().unwrap(), ours)
}

#[test]
fn results_that_cannot_be_attributed_are_reported_naming_worker_and_record() {
    // A result split over two lines: more lines than records sent to that worker.
    let (code, ours) = attribution(
        "    if l == '3\\n': print('three\\nsplit'); continue\n    print('r' + l, end='')",
    );
    assert_eq!(code, 255, "{ours:?}");
    assert!(
        ours.len() == 1 && ours[0].contains("broke the map contract") && ours[0].contains("worker"),
        "{ours:?}"
    );
    // A skipped record: the worker exits at the end of its input with a record unanswered:
    // re-run alone it is answered (a later record, the results shifted: status 255), or it is
    // 4 itself, found alone (status 1). Either way one line says it skips.
    let (code, ours) = attribution("    if l == '4\\n': continue\n    print('r' + l, end='')");
    assert!(code == 255 || code == 1, "{code} {ours:?}");
    assert!(
        ours.len() == 1 && ours[0].contains("skip") && ours[0].contains("worker"),
        "{ours:?}"
    );
    // A record always skipped: found alone, and the line says what that means.
    let out = parx()
        .args(["--pool", "process", "-k", "-j1", "python3", "-c"])
        .arg("import sys\nfor l in sys.stdin:\n    if l != '4\\n': print('r' + l, end='')")
        .write_stdin("4\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("without answering task 1 (4), the only record it was sent"),
        "{err}"
    );
    // A banner: one result too many, at once.
    let out = parx()
        .args(["--pool", "process", "-k", "-j1", "python3", "-c"])
        .arg("import sys\nprint('ready', flush=True)\nfor l in sys.stdin: print(l, end='')")
        .write_stdin(seq(5))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("worker 1 broke the map contract"), "{err}");
}
