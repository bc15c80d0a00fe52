//! `--pool process` when workers end: every way a worker can end (exit with any status,
//! killed by a signal, closing its stdout), before or after parx closed its stdin, with
//! `--max-tasks` and `--timeout` in the mix; nothing lost, nothing printed twice, the poison
//! record one failed task. Also `--resume-failed`, multi-line results (`--result-end`), the
//! map contract, and parx's memory with hostile workers. Real python3, sh and mawk workers.

use crate::common;

use std::collections::BTreeSet;
use std::process::Stdio;

use common::{lines, parx, tempdir, BIN};

fn seq(n: u32) -> String {
    (1..=n).map(|i| format!("{i}\n")).collect()
}

/// What a run of 1..=n through a failing worker must print and return.
struct Expect {
    n: u32,
    /// Values that cannot be answered (failed tasks).
    poison: Vec<u32>,
}

/// Runs parx over 1..=n and checks: every value but the poison ones printed exactly once
/// (in order with -k, each answered as `worker` answers: the value itself), the exit status
/// the number of poison values.
fn check(worker: &[&str], keep: bool, extra: &[&str], e: &Expect) {
    let mut c = parx();
    c.args(["--pool", "process", "-j2"]);
    if keep {
        c.arg("-k");
    }
    let out = c
        .args(extra)
        .args(worker)
        .write_stdin(seq(e.n))
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let what = format!("{worker:?} keep={keep} {extra:?} n={}", e.n);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(e.poison.len() as i32),
        "{what}: status; stderr: {}",
        err.chars().take(2000).collect::<String>()
    );
    let want: Vec<String> = (1..=e.n)
        .filter(|i| !e.poison.contains(i))
        .map(|i| i.to_string())
        .collect();
    let got = lines(&out.stdout);
    if keep {
        if got != want {
            let first = got.iter().zip(&want).position(|(a, b)| a != b);
            panic!(
                "{what}: {} lines, want {}; first difference at {first:?}",
                got.len(),
                want.len()
            );
        }
    } else {
        let set: BTreeSet<&String> = got.iter().collect();
        assert_eq!(set.len(), got.len(), "{what}: a value printed twice");
        let want: BTreeSet<&String> = want.iter().collect();
        assert!(
            set == want,
            "{what}: {} values, want {}",
            set.len(),
            want.len()
        );
    }
    for p in &e.poison {
        assert!(
            err.contains(&format!("({p})")),
            "{what}: the poison value {p} is named on stderr: {err}"
        );
    }
}

#[test]
fn the_issue_reproduction_loses_nothing() {
    // A worker that exits on 500: 2999 lines in order, status 1.
    let worker = [
        "python3",
        "-c",
        "import sys\nfor l in sys.stdin:\n    if l == '500\\n': sys.exit('bad')\n    print(l, end='', flush=True)",
    ];
    let e = Expect {
        n: 3000,
        poison: vec![500],
    };
    check(&worker, true, &["--retries", "2"], &e);
    check(&worker, false, &[], &e);
}

/// Python workers that read in blocks (`for l in sys.stdin`) or line by line (`readline`),
/// ending on the poison value 777 in the way `end` says (Python statements).
fn python(block: bool, flush: bool, end: &str) -> Vec<String> {
    let read = if block {
        "for l in sys.stdin:\n"
    } else {
        "for l in iter(sys.stdin.readline, ''):\n"
    };
    let flush = if flush { ", flush=True" } else { "" };
    vec![
        "python3".into(),
        "-c".into(),
        format!(
            "import os, signal, sys\n{read}    if l == '777\\n':\n        {end}\n    print(l, end=''{flush})"
        ),
    ]
}

#[test]
fn python_workers_ending_every_way_on_a_poison_record() {
    if !common::slow("python_workers_ending_every_way_on_a_poison_record") {
        return;
    }
    let ends = [
        ("exit 3", "sys.exit(3)", true),
        ("SIGKILL", "os.kill(os.getpid(), signal.SIGKILL)", false),
        ("SIGSEGV", "os.kill(os.getpid(), signal.SIGSEGV)", false),
        (
            "closed stdout",
            "sys.stdout.flush(); os.close(1); os._exit(0)",
            true,
        ),
    ];
    for (name, end, buffered_ok) in ends {
        for block in [true, false] {
            // A worker killed outright loses what it buffered: those flush every result.
            let w = python(block, !buffered_ok || !block, end);
            let w: Vec<&str> = w.iter().map(String::as_str).collect();
            let big = if block { 100_000 } else { 5000 };
            // Plain runs send the values in blocks (one per read of the input); with
            // --max-tasks or --timeout each value is a task of its own: both must hold.
            for (n, keep, extra) in [
                (5000, true, vec!["--retries", "2"]),
                (5000, false, vec!["--max-tasks", "700"]),
                (big, true, vec!["--timeout", "60s"]),
                (big, false, vec![]),
            ] {
                let e = Expect {
                    n,
                    poison: vec![777],
                };
                eprintln!("{name} block={block}");
                check(&w, keep, &extra, &e);
            }
        }
    }
}

#[test]
fn sh_and_mawk_workers_ending_on_a_poison_record() {
    let sh = |end: &str| {
        format!(r#"while IFS= read -r x; do if [ "$x" = 777 ]; then {end}; fi; echo "$x"; done"#)
    };
    let e = Expect {
        n: 5000,
        poison: vec![777],
    };
    for end in ["exit 3", "kill -9 $$", "kill -SEGV $$", "exec >&-; exit 0"] {
        let script = sh(end);
        for keep in [true, false] {
            check(&["sh", "-c", &script], keep, &["--retries", "2"], &e);
        }
    }
    // mawk reads and writes in blocks; `exit` flushes what it printed.
    let mawk = ["mawk", "$1 == 777 { exit 3 } { print }"];
    for keep in [true, false] {
        check(&mawk, keep, &[], &e);
        check(
            &mawk,
            keep,
            &["--max-tasks", "900"],
            &Expect {
                n: 100_000,
                poison: vec![777],
            },
        );
    }
}

#[test]
fn workers_that_exit_0_after_a_quota_lose_nothing() {
    if !common::slow("workers_that_exit_0_after_a_quota_lose_nothing") {
        return;
    }
    // Each worker answers 100 records and exits 0, whatever it has read ahead: the records
    // it left are re-run in isolation, and none of them ends a fresh worker alone.
    let quota_py = [
        "python3",
        "-c",
        "import sys\nfor i, l in enumerate(sys.stdin):\n    if i == 100: sys.exit(0)\n    print(l, end='')",
    ];
    let quota_sh = [
        "sh",
        "-c",
        r#"n=0; while IFS= read -r x; do n=$((n+1)); [ $n -gt 100 ] && exit 0; echo "$x"; done"#,
    ];
    let quota_mawk = ["mawk", "NR > 100 { exit 0 } { print }"];
    let e = Expect {
        n: 5000,
        poison: vec![],
    };
    for w in [&quota_py[..], &quota_sh[..], &quota_mawk[..]] {
        for keep in [true, false] {
            check(w, keep, &["--retries", "2"], &e);
        }
    }
    // Without retries too: the record after each quota, re-run in isolation, is answered by
    // a fresh worker, so it is no failed attempt.
    let out = parx()
        .args(["--pool", "process", "-k", "-j1"])
        .args(quota_mawk)
        .write_stdin(seq(250))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "no record ends a worker alone");
    assert_eq!(out.stdout, seq(250).as_bytes());
}

#[test]
fn resume_failed_reruns_exactly_the_failed_records() {
    let dir = tempdir();
    let log = dir.path().join("log.tsv");
    let run = |worker: &str, resume: bool| {
        let mut c = parx();
        c.args(["--pool", "process", "-k", "-j2", "--joblog"])
            .arg(&log);
        if resume {
            c.arg("--resume-failed");
        }
        c.args(["python3", "-c", worker])
            .write_stdin(seq(300))
            .output()
            .unwrap()
    };
    let picky = "import sys\nfor l in sys.stdin:\n    if int(l) % 97 == 0: sys.exit(3)\n    print('a' + l, end='', flush=True)";
    let out = run(picky, false);
    assert_eq!(out.status.code(), Some(3), "97, 194 and 291 fail");
    assert_eq!(lines(&out.stdout).len(), 297);
    let out = run(
        "import sys\nfor l in sys.stdin: print('b' + l, end='')",
        true,
    );
    assert!(out.status.success());
    assert_eq!(lines(&out.stdout), ["b97", "b194", "b291"]);
}

#[test]
fn multi_line_results_keep_their_order_with_a_chosen_terminator() {
    // Pretty JSON: several lines per result, each result ended by NUL.
    let worker = "import json, sys\nfor l in sys.stdin:\n    n = int(l)\n    sys.stdout.write(json.dumps({'n': n, 'sq': [n, n * n]}, indent=2) + '\\n\\0')";
    let out = parx()
        .args(["--pool", "process", "-k", "-j2", "--result-end", "\\0"])
        .args(["python3", "-c", worker])
        .write_stdin(seq(3000))
        .output()
        .unwrap();
    assert!(out.status.success());
    let want: String = (1..=3000u64)
        .map(|n| {
            format!(
                "{{\n  \"n\": {n},\n  \"sq\": [\n    {n},\n    {}\n  ]\n}}\n\0",
                n * n
            )
        })
        .collect();
    // Each result as the worker wrote it, its NUL included: a reader can split them.
    assert!(
        String::from_utf8(out.stdout).unwrap() == want,
        "results are not NUL-ended, in order"
    );
    // One byte only, and only for the process pool.
    for bad in [
        &["--pool", "process", "--result-end", "ab"][..],
        &["--result-end", "x"],
    ] {
        let out = parx().args(bad).args(["cat"]).output().unwrap();
        assert_eq!(out.status.code(), Some(255));
        assert!(String::from_utf8_lossy(&out.stderr).contains("--result-end"));
    }
}

#[test]
fn more_results_than_records_is_reported_naming_the_worker() {
    // A start-up banner: one result too many.
    let out = parx()
        .args(["--pool", "process", "-k", "-j1", "python3", "-c"])
        .arg("import sys\nprint('ready')\nfor l in sys.stdin: print(l, end='')")
        .write_stdin(seq(100))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("worker 1 broke the map contract"), "{err}");
}

/// Runs `parx args` with `input` on stdin through python, returning the peak RSS in KiB of
/// parx and its workers (the largest of them) and parx's exit status.
fn peak_rss(args: &[&str], input: &[u8]) -> (u64, i32) {
    let dir = tempdir();
    let inp = dir.path().join("in");
    std::fs::write(&inp, input).unwrap();
    let script = "import os, resource, sys\nwith open(sys.argv[1], 'rb') as f, open(os.devnull, 'wb') as null:\n    pid = os.fork()\n    if pid == 0:\n        os.dup2(f.fileno(), 0); os.dup2(null.fileno(), 1); os.dup2(null.fileno(), 2)\n        os.execv(sys.argv[2], sys.argv[2:])\n    _, st, ru = os.wait4(pid, 0)\nprint(ru.ru_maxrss, os.waitstatus_to_exitcode(st))";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&inp)
        .arg(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    let mut it = s.split_whitespace().map(|v| v.parse::<i64>().unwrap());
    (it.next().unwrap() as u64, it.next().unwrap() as i32)
}

#[test]
fn stderr_without_newlines_does_not_grow_parx() {
    // 200 MB of `\r` progress, never a newline.
    let worker = "import sys\nbar = '\\r' + 'x' * 9999\nfor l in sys.stdin:\n    for _ in range(2000): sys.stderr.write(bar)\n    print(l, end='')";
    let (kib, code) = peak_rss(
        &["--pool", "process", "-j1", "python3", "-c", worker],
        seq(10).as_bytes(),
    );
    assert_eq!(code, 0);
    assert!(kib < 60 << 10, "peak RSS {kib} KiB");
}

#[test]
fn keep_order_behind_a_slow_first_record_stays_small() {
    // Record 1 takes 2 s; the other worker answers the million behind it meanwhile.
    let worker = r#"$1 == 1 { system("sleep 2") } { print }"#;
    let (kib, code) = peak_rss(
        &["--pool", "process", "-k", "-j2", "mawk", worker],
        seq(1_000_000).as_bytes(),
    );
    assert_eq!(code, 0);
    // A worker stuck on a slow record is sent no more than its cap while the other answers;
    // the answers wait in the output budget (then spill). 117 MB before.
    assert!(kib < 45 << 10, "peak RSS {kib} KiB for 1M queued records");
}
