//! `--pool process`: long-lived workers fed on stdin, the map contract under -k, recycling,
//! crash re-dispatch, and workers that would deadlock a naive dispatcher. Real workers only
//! (sh, mawk, python3, sort).

use crate::common;

use std::collections::BTreeSet;

use common::{lines, parx, sorted_lines, tempdir};

/// Runs parx, asserts success and returns its stdout.
fn ok(c: &mut assert_cmd::Command) -> Vec<u8> {
    c.assert().success().get_output().stdout.clone()
}

fn seq(n: u32) -> String {
    (1..=n).map(|i| format!("{i}\n")).collect()
}

/// A sh worker that answers every line with `PID<TAB>line`.
const PID_WORKER: &str = r#"while IFS= read -r x; do printf '%s\t%s\n' "$$" "$x"; done"#;

fn pids(out: &[u8]) -> BTreeSet<String> {
    lines(out)
        .iter()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

#[test]
fn starts_at_most_j_workers_and_keeps_input_order() {
    // Workers start lazily as their slots get work, and values go out in blocks to the least
    // loaded writer, so a short input may be answered by fewer than -j workers; never more.
    let out = ok(parx()
        .args(["--pool", "process", "-k", "-j3", "sh", "-c", PID_WORKER])
        .write_stdin(seq(300)));
    let ls = lines(&out);
    let values: Vec<String> = ls
        .iter()
        .map(|l| l.split('\t').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(values, (1..=300).map(|i| i.to_string()).collect::<Vec<_>>());
    let n = pids(&out).len();
    assert!((1..=3).contains(&n), "at most -j workers: {:?}", pids(&out));
}

#[test]
fn each_worker_runs_in_its_own_process_group() {
    // Field 5 of /proc/PID/stat is the process group.
    let worker = r#"pg=$(cut -d' ' -f5 /proc/$$/stat); while read x; do echo "$$ $pg"; done"#;
    let out = ok(parx()
        .args(["--pool", "process", "-j2", "sh", "-c", worker])
        .write_stdin(seq(50)));
    for l in lines(&out) {
        let (pid, pg) = l.split_once(' ').unwrap();
        assert_eq!(pid, pg, "worker {pid} leads its own group");
    }
}

#[test]
fn slot_placeholder_is_the_only_one_allowed() {
    let out = ok(parx()
        .args([
            "--pool",
            "process",
            "-k",
            "-j2",
            "sh",
            "-c",
            "while read x; do echo {%}; done",
        ])
        .write_stdin(seq(40)));
    let slots: BTreeSet<String> = lines(&out).into_iter().collect();
    assert!(slots.iter().all(|s| s == "1" || s == "2"), "{slots:?}");
    for bad in ["{}", "{#}", "{1}", "{.}"] {
        let a = parx()
            .args(["--pool", "process", "echo", bad])
            .write_stdin("x\n")
            .assert()
            .code(255);
        let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
        assert!(
            err.starts_with("parx: --pool process: only {%}"),
            "{bad}: {err}"
        );
        assert_eq!(err.lines().count(), 1);
    }
}

#[test]
fn null_separated_values_are_one_record_each() {
    // Values with spaces and newlines travel as NUL-terminated records.
    let worker = "import sys\nfor r in sys.stdin.buffer.read().split(b'\\0')[:-1]:\n    sys.stdout.buffer.write(r.upper() + b'\\0')";
    let out = ok(parx()
        .args([
            "--pool", "process", "-k", "-0", "-j1", "python3", "-c", worker,
        ])
        .write_stdin(&b"a b\0c\nd\0e\0"[..]));
    assert_eq!(out, b"A B\0C\nD\0E\0");
}

#[test]
fn arguments_from_sources_are_streamed_to_workers() {
    let out = ok(parx().args([
        "--pool",
        "process",
        "-k",
        "-j2",
        "mawk",
        "{print $0 \"!\"}",
        ":::",
        "x",
        "y",
        "z",
    ]));
    assert_eq!(out, b"x!\ny!\nz!\n");
}

#[test]
fn no_deadlock_when_a_worker_writes_ten_times_what_it_reads() {
    // mawk block-buffers its output when it is a pipe: parx must keep feeding it.
    let out = ok(parx()
        .args([
            "--pool",
            "process",
            "-k",
            "-j2",
            "mawk",
            r#"{ s = $0; for (i = 0; i < 10; i++) s = s "-" $0; print s }"#,
        ])
        .write_stdin(seq(20000)));
    let ls = lines(&out);
    assert_eq!(ls.len(), 20000);
    for (i, l) in ls.iter().enumerate() {
        let v = (i + 1).to_string();
        assert_eq!(l.split('-').count(), 11);
        assert!(l.split('-').all(|p| p == v), "line {i}: {l}");
    }
}

#[test]
fn no_deadlock_when_a_worker_reads_everything_before_writing() {
    // sort answers nothing until its stdin closes; 200,000 records overflow every pipe.
    let out = ok(parx()
        .args(["--pool", "process", "-j2", "sort", "-n"])
        .write_stdin(seq(200_000)));
    let mut got: Vec<u32> = lines(&out).iter().map(|l| l.parse().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, (1..=200_000).collect::<Vec<_>>());
}

#[test]
fn keep_order_holds_with_uneven_python_workers() {
    let worker = "import sys, time\nfor l in sys.stdin:\n    n = int(l)\n    time.sleep((n * 7919 % 5) / 1000)\n    print(n * n, flush=True)";
    let out = ok(parx()
        .args([
            "--pool", "process", "-k", "-j3", "python3", "-u", "-c", worker,
        ])
        .write_stdin(seq(300)));
    let want: String = (1..=300u64).map(|n| format!("{}\n", n * n)).collect();
    assert_eq!(String::from_utf8(out).unwrap(), want);
}

#[test]
fn without_keep_order_records_are_never_torn() {
    // Each record is 100 KB: bigger than a pipe's buffer, so it arrives in pieces.
    let worker = "import sys\nfor l in sys.stdin:\n    v = l.strip()\n    sys.stdout.write(v * (100000 // len(v)) + '\\n')\n    sys.stdout.flush()";
    let out = ok(parx()
        .args(["--pool", "process", "-j2", "python3", "-u", "-c", worker])
        .write_stdin(
            (0..60)
                .map(|i| format!("{}\n", (b'a' + i % 26) as char))
                .collect::<String>(),
        ));
    let ls = lines(&out);
    assert_eq!(ls.len(), 60);
    for l in &ls {
        let c = l.as_bytes()[0];
        assert!(l.bytes().all(|b| b == c), "a record was torn");
        assert_eq!(l.len(), 100000);
    }
}

#[test]
fn a_worker_that_answers_a_quota_and_exits_loses_nothing() {
    // head answers 5 records of 10 and exits 0: task 6 was not answered. Run again in
    // isolation on a fresh head it is answered, so it is no failed attempt: every record is
    // answered once, status 0.
    let a = parx()
        .args(["--pool", "process", "-k", "-j1", "head", "-n", "5"])
        .write_stdin(seq(10))
        .assert()
        .code(0);
    assert_eq!(a.get_output().stdout, seq(10).as_bytes());
}

#[test]
fn a_quota_exit_after_the_input_ended_is_no_skip() {
    // The worker answers 8 of 10 records and exits 0 after a pause: by then parx has sent
    // all 10 and closed its stdin. Records 9 and 10 are still unread in the pipe, so it
    // stopped early (a quota), not skipped a record: they go to a fresh worker, status 0.
    // (Counting alone, 8 answered against 2 left, it was taken for a skip: status 255.)
    let a = parx()
        .args(["--pool", "process", "-k", "-j1", "sh", "-c"])
        .arg(r#"while read l; do if [ "$l" = 8 ]; then sleep 0.2; echo "R$l"; exit 0; fi; echo "R$l"; done"#)
        .write_stdin(seq(10))
        .assert()
        .code(0);
    let want: String = (1..=10).map(|i| format!("R{i}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&a.get_output().stdout), want);
    assert!(a.get_output().stderr.is_empty(), "no attribution warning");
}

#[test]
fn max_tasks_recycles_workers() {
    let out = ok(parx()
        .args([
            "--pool",
            "process",
            "-k",
            "-j2",
            "--max-tasks",
            "10",
            "sh",
            "-c",
            PID_WORKER,
        ])
        .write_stdin(seq(100)));
    let values: Vec<String> = lines(&out)
        .iter()
        .map(|l| l.split('\t').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(values, (1..=100).map(|i| i.to_string()).collect::<Vec<_>>());
    let n = pids(&out).len();
    assert!(
        n >= 10,
        "100 tasks at most 10 per worker: {n} distinct pids"
    );
    for pid in pids(&out) {
        let answered = lines(&out)
            .iter()
            .filter(|l| l.starts_with(&format!("{pid}\t")))
            .count();
        assert!(answered <= 10, "worker {pid} answered {answered} tasks");
    }
    parx().args(["--max-tasks", "3", "echo"]).assert().code(255);
}

#[test]
fn a_killed_worker_is_replaced_and_nothing_is_lost_or_doubled() {
    let dir = tempdir();
    let flag = dir.path().join("crashed");
    // The worker kills itself (kill -9) the first time it meets 37; every other value is
    // answered by whichever worker has it.
    let worker = format!(
        r#"while IFS= read -r x; do if [ "$x" = 37 ] && [ ! -e {f} ]; then : > {f}; kill -9 $$; fi; echo "$x"; done"#,
        f = flag.display()
    );
    let a = parx()
        .args(["--pool", "process", "-k", "-j2", "sh", "-c", &worker])
        .write_stdin(seq(200))
        .assert()
        .code(0);
    let out = a.get_output();
    // Re-run in isolation, 37 does not end a worker again: it is no poison record, and
    // every record is answered once, in order.
    assert_eq!(out.stdout, seq(200).as_bytes());
    assert!(flag.exists());
}

#[test]
fn a_worker_that_exits_at_once_is_a_clear_error_not_a_hang() {
    for keep in [true, false] {
        let mut c = parx();
        c.args(["--pool", "process", "-j2"]);
        if keep {
            c.arg("-k");
        }
        let a = c.arg("true").write_stdin(seq(100_000)).assert().code(255);
        let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
        assert!(
            err.contains("cannot answer any record from a fresh start"),
            "{err}"
        );
    }
}

#[test]
fn dry_run_prints_one_worker_per_slot() {
    parx()
        .args([
            "--pool",
            "process",
            "--dry-run",
            "-j2",
            "mawk",
            "{print $1}",
            ":::",
            "a",
        ])
        .assert()
        .success()
        .stdout("mawk '{print $1}'\nmawk '{print $1}'\n");
}

/// Writes `1..=n`, one per line, to a temp file.
fn numbers_file(dir: &tempfile::TempDir, n: u32) -> std::path::PathBuf {
    let p = dir.path().join("numbers.txt");
    std::fs::write(&p, seq(n)).unwrap();
    p
}

#[test]
fn chunks_through_long_lived_workers_keep_the_map_contract() {
    let dir = tempdir();
    let file = numbers_file(&dir, 50_000);
    let want: String = (1..=50_000u64).map(|n| format!("{}\n", n * 2)).collect();
    let worker = ["mawk", "{ print $1 * 2 }"];
    // --pipe from a real pipe (stdin written by assert_cmd), --pipe-part over the file.
    let piped = ok(parx()
        .args(["--pipe", "--block", "20k", "--pool", "process", "-k", "-j2"])
        .args(worker)
        .write_stdin(seq(50_000)));
    assert_eq!(String::from_utf8(piped).unwrap(), want);
    let parted = ok(parx()
        .args([
            "--pipe-part",
            "--block",
            "20k",
            "--pool",
            "process",
            "-k",
            "-j2",
        ])
        .args(worker)
        .arg("::::")
        .arg(&file));
    assert_eq!(String::from_utf8(parted).unwrap(), want);
}

#[test]
fn chunk_records_are_counted_with_multi_byte_terminators() {
    // Records end with "XY"; the last one has no terminator. The worker answers each record
    // with one line, so -k must credit every answer to the right chunk.
    let input: String = (1..=3000).map(|i| format!("r{i}XY")).collect::<String>() + "last";
    let out = ok(parx()
        .args([
            "--pipe", "--block", "1k", "--recend", "XY", "--pool", "process", "-k", "-j2",
        ])
        .args(["mawk", "BEGIN { RS = \"XY\" } { print length($0) }"])
        .write_stdin(input));
    let mut want: Vec<String> = (1..=3000)
        .map(|i| (format!("r{i}").len()).to_string())
        .collect();
    want.push("4".into());
    assert_eq!(lines(&out), want);
}

#[test]
fn timeout_replaces_the_worker_and_fails_or_retries_the_task() {
    let dir = tempdir();
    let log = dir.path().join("log.tsv");
    // Hangs on 5: without retries task 5 fails (killed), the others come through once each.
    let hang = r#"while IFS= read -r x; do if [ "$x" = 5 ]; then sleep 30; fi; echo "$x"; done"#;
    let a = parx()
        .args([
            "--pool",
            "process",
            "-k",
            "-j2",
            "--timeout",
            "300ms",
            "--joblog",
        ])
        .arg(&log)
        .args(["sh", "-c", hang])
        .write_stdin(seq(10))
        .assert()
        .code(1);
    let out = a.get_output();
    let want: Vec<String> = (1..=10)
        .filter(|&i| i != 5)
        .map(|i| i.to_string())
        .collect();
    assert_eq!(lines(&out.stdout), want);
    assert!(String::from_utf8_lossy(&out.stderr).contains("task 5 timed out"));
    let rows = std::fs::read_to_string(&log).unwrap();
    let rows: Vec<&str> = rows.lines().skip(1).collect();
    assert_eq!(rows.len(), 10, "one joblog row per task: {rows:?}");
    let five: Vec<&str> = rows
        .iter()
        .find(|r| r.starts_with("5\t"))
        .unwrap()
        .split('\t')
        .collect();
    assert_eq!((five[6], five[7]), ("-1", "15"), "killed by TERM: {five:?}");
    // Hangs on 5 only the first time: with --retries 2 (two runs) every value comes through.
    let flag = dir.path().join("hung");
    let once = format!(
        r#"while IFS= read -r x; do if [ "$x" = 5 ] && [ ! -e {f} ]; then : > {f}; sleep 30; fi; echo "$x"; done"#,
        f = flag.display()
    );
    let out = ok(parx()
        .args([
            "--pool",
            "process",
            "-k",
            "-j2",
            "--timeout",
            "300ms",
            "--retries",
            "2",
        ])
        .args(["sh", "-c", &once])
        .write_stdin(seq(10)));
    assert_eq!(
        lines(&out),
        (1..=10).map(|i| i.to_string()).collect::<Vec<_>>()
    );
}

#[test]
fn retries_resend_the_task_a_worker_died_on() {
    let dir = tempdir();
    let flag = dir.path().join("crashed");
    let worker = format!(
        r#"while IFS= read -r x; do if [ "$x" = 37 ] && [ ! -e {f} ]; then : > {f}; kill -9 $$; fi; echo "$x"; done"#,
        f = flag.display()
    );
    let out = ok(parx()
        .args([
            "--pool",
            "process",
            "-k",
            "-j2",
            "--retries",
            "2",
            "sh",
            "-c",
            &worker,
        ])
        .write_stdin(seq(100)));
    assert_eq!(
        lines(&out),
        (1..=100).map(|i| i.to_string()).collect::<Vec<_>>()
    );
}

#[test]
fn halt_stops_sending_work_and_exits_with_the_tasks_status() {
    // Worker dies (kill -9) on 5: --halt soon,fail=1 ends the run with 128+9 and the values
    // far behind never run.
    let worker =
        r#"while IFS= read -r x; do if [ "$x" = 5 ]; then kill -9 $$; fi; echo "$x"; done"#;
    let a = parx()
        .args([
            "--pool",
            "process",
            "-k",
            "-j1",
            "--halt",
            "soon,fail=1",
            "sh",
            "-c",
            worker,
        ])
        .write_stdin(seq(1000))
        .assert()
        .code(137);
    let out = lines(&a.get_output().stdout);
    assert_eq!(out, ["1", "2", "3", "4"]);
}

#[test]
fn tags_results_and_delay_work_with_workers() {
    let worker = ["mawk", "{ print $1 \"!\" }"];
    let out = ok(parx()
        .args(["--pool", "process", "-k", "-j2", "--tag"])
        .args(worker)
        .args([":::", "a", "b c", "d"]));
    assert_eq!(out, b"a\ta!\nb c\tb!\nd\td!\n");
    let out = ok(parx()
        .args(["--pool", "process", "-j2", "--tagstring", "<{#}:{}>"])
        .args(worker)
        .args([":::", "a", "b"]));
    assert_eq!(sorted_lines(&out), ["<1:a>\ta!", "<2:b>\tb!"]);
    let dir = tempdir();
    let res = dir.path().join("res");
    let start = std::time::Instant::now();
    ok(parx()
        .args(["--pool", "process", "-j2", "--delay", "0.2", "--results"])
        .arg(&res)
        .args(worker)
        .args([":::", "x", "y", "z"]));
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(400),
        "--delay paces sends"
    );
    for (seq, v) in [(1, "x"), (2, "y"), (3, "z")] {
        let d = res.join(seq.to_string());
        assert_eq!(
            std::fs::read_to_string(d.join("stdout")).unwrap(),
            format!("{v}!\n")
        );
        assert_eq!(std::fs::read_to_string(d.join("exitval")).unwrap(), "0\n");
    }
    let index = std::fs::read_to_string(res.join("index.tsv")).unwrap();
    let mut rows: Vec<&str> = index.lines().collect();
    rows.sort_unstable();
    assert_eq!(rows, ["1\tx", "2\ty", "3\tz"]);
}

#[test]
fn timeout_fires_on_a_workers_very_first_task() {
    let start = std::time::Instant::now();
    let a = parx()
        .args([
            "--pool",
            "process",
            "-j1",
            "-k",
            "--timeout",
            "500ms",
            "sh",
            "-c",
            "sleep 30",
        ])
        .args([":::", "a", "b"])
        .assert()
        .code(2);
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("task 1 timed out"));
}

#[test]
fn a_worker_killed_mid_record_fails_its_own_task_and_tears_nothing() {
    // The worker writes half a record for b, then dies: b fails, the half record is dropped,
    // c and d are answered by a fresh worker.
    let worker = r#"while IFS= read -r x; do [ "$x" = b ] && { printf part; kill -9 $$; }; echo "out-$x"; done"#;
    for keep in [true, false] {
        let mut c = parx();
        c.args(["--pool", "process", "-j1"]);
        if keep {
            c.arg("-k");
        }
        let a = c
            .args(["sh", "-c", worker, ":::", "a", "b", "c", "d"])
            .assert()
            .code(1);
        let out = a.get_output();
        assert_eq!(out.stdout, b"out-a\nout-c\nout-d\n", "keep={keep}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("on task 2"));
    }
}

#[test]
fn a_redone_batch_prints_nothing_twice_without_keep_order() {
    let dir = tempdir();
    let flag = dir.path().join("died");
    let worker = format!(
        r#"while IFS= read -r x; do [ "$x" = 3 ] && [ ! -e {f} ] && {{ : > {f}; kill -9 $$; }}; echo "o-$x"; done"#,
        f = flag.display()
    );
    let out = ok(parx()
        .args([
            "--pool",
            "process",
            "-j1",
            "--retries",
            "2",
            "-n",
            "3",
            "sh",
            "-c",
            &worker,
        ])
        .args([":::", "1", "2", "3", "4", "5", "6"]));
    assert_eq!(
        sorted_lines(&out),
        ["o-1", "o-2", "o-3", "o-4", "o-5", "o-6"]
    );
}

#[test]
fn a_worker_that_closes_its_outputs_and_stops_reading_does_not_hang_the_run() {
    let start = std::time::Instant::now();
    parx()
        .args([
            "--pool",
            "process",
            "-j1",
            "sh",
            "-c",
            "exec >&- 2>&-; sleep 30",
        ])
        .write_stdin(seq(200_000))
        .assert()
        .failure();
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
}

/// `kill -9` of parx ends its process-pool workers as well as its tasks: the orphan watchdog
/// reads the slots' process groups from parx's memory once parx is gone, and the workers are
/// in them.
#[test]
fn kill_9_of_parx_ends_its_workers() {
    use common::{assert_no_survivors, parx_std, sleep_marker, sleeps_with, wait_for};
    use std::process::Stdio;
    use std::time::Duration;
    let mark = sleep_marker();
    let mut child = parx_std()
        .args(["--pool", "process", "-j2", "sleep", &mark])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // More values than one worker's pipe and parx's cap for it hold (`sleep` reads none), so
    // that the second slot gets work and starts its worker whoever takes the first values.
    // Written from a thread: parx stops reading when both workers are full.
    let mut input = child.stdin.take().unwrap();
    let values: Vec<u8> = (1..=200_000)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect();
    let writer = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut input, &values);
    });
    let started = wait_for(Duration::from_secs(20), || sleeps_with(&mark) == 2);
    // Past the instant between a worker's exec and parx recording its group.
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    // The pipe's reader is gone: the writer ends (EPIPE).
    writer.join().unwrap();
    assert!(started, "the two workers did not start");
    assert_no_survivors(&mark, "workers of a parx killed with -9");
}

/// Values that arrive on a pipe reach the workers as they come, not when 64 KiB have
/// gathered or the input ends (a stream: `tail -f log | parx --pool process …`).
#[test]
fn streamed_values_are_answered_before_the_input_ends() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    use std::time::Duration;
    let mut child = common::parx_std()
        .args(["--pool", "process", "-j2", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines() {
            let _ = tx.send(l.unwrap());
        }
    });
    input.write_all(b"a\nb\n").unwrap();
    input.flush().unwrap();
    let mut got: Vec<String> = (0..2)
        .filter_map(|_| rx.recv_timeout(Duration::from_secs(10)).ok())
        .collect();
    // Only now does the input end.
    drop(input);
    let status = child.wait().unwrap();
    got.sort();
    assert_eq!(got, ["a", "b"], "answers held back until the input ended");
    assert!(status.success());
}
