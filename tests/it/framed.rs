//! `--framed`: the framed worker protocol (docs/framed-protocol.md) with real Python workers
//! written with the repository's own `parx` package (python/), and raw workers that break it.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{parx, tempdir};

/// The repository's Python package, for `import parx` in the workers.
fn pythonpath() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .display()
        .to_string()
}

/// `parx --pool process --framed ARGS`, with the package importable by the workers.
fn framed(args: &[&str]) -> assert_cmd::Command {
    let mut c = parx();
    c.env("PYTHONPATH", pythonpath())
        .args(["--pool", "process", "--framed"])
        .args(args);
    c
}

/// Splits parx's `--framed-out` stdout into (kind, task, payload).
fn frames(mut out: &[u8]) -> Vec<(u8, u64, Vec<u8>)> {
    let mut v = Vec::new();
    while !out.is_empty() {
        assert!(out.len() >= 13, "a torn frame at the end: {out:?}");
        let id = u64::from_le_bytes(out[1..9].try_into().unwrap());
        let len = u32::from_le_bytes(out[9..13].try_into().unwrap()) as usize;
        v.push((out[0], id, out[13..13 + len].to_vec()));
        out = &out[13 + len..];
    }
    v
}

/// A worker whose results hold newlines and NULs, which prints debug lines, and raises on
/// every record that is a multiple of 100. Each result names the worker's pid.
const WORKER: &str = r#"
import os, parx
def f(v):
    print("debug: working on", v)
    if int(v) % 100 == 0:
        raise ValueError("no multiples of 100: " + v)
    return f"{v}\n\0{os.getpid()}"
parx.serve(f)
"#;

#[test]
fn framed_results_hold_any_bytes_and_failures_fail_only_their_record() {
    let dir = tempdir();
    std::fs::write(dir.path().join("w.py"), WORKER).unwrap();
    let input: String = (1..=2000).map(|i| format!("{i}\n")).collect();
    for keep in [true, false] {
        let mut c = framed(&["--framed-out", "-j2"]);
        if keep {
            c.arg("-k");
        }
        let out = c
            .args(["python3", "w.py"])
            .current_dir(dir.path())
            .write_stdin(input.clone())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(20), "20 failed records: the status");
        let fr = frames(&out.stdout);
        assert_eq!(fr.len(), 2000, "one frame per record");
        if keep {
            let ids: Vec<u64> = fr.iter().map(|f| f.1).collect();
            assert_eq!(ids, (1..=2000).collect::<Vec<_>>(), "-k: in input order");
        }
        let mut pids = BTreeSet::new();
        let mut seen = BTreeMap::new();
        for (kind, task, payload) in &fr {
            assert!(
                seen.insert(*task, ()).is_none(),
                "task {task} answered twice"
            );
            if task % 100 == 0 {
                assert_eq!(*kind, 0xFC, "task {task} failed");
                let msg = String::from_utf8_lossy(payload);
                assert!(
                    msg.contains("Traceback") && msg.contains(&format!("multiples of 100: {task}")),
                    "{msg}"
                );
            } else {
                assert_eq!(*kind, 0xFB);
                let text = String::from_utf8(payload.clone()).unwrap();
                let (value, pid) = text.split_once("\n\0").expect("newline and NUL kept");
                assert_eq!(value, task.to_string(), "the result is its record's");
                pids.insert(pid.to_string());
            }
        }
        assert!(pids.len() <= 2, "no worker restarted: {pids:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            err.matches("answered it with a failure").count(),
            20,
            "{err}"
        );
        assert_eq!(err.matches("Traceback").count(), 20);
        assert!(err.contains("parx: task 300 (300): worker "), "{err}");
        assert!(
            err.contains("debug: working on 7\n"),
            "print() goes to stderr"
        );
    }
}

#[test]
fn framed_results_are_printed_with_the_record_terminator() {
    let out = framed(&["-k", "-j2", "python3", "-c"])
        .arg("import parx; parx.serve(lambda v: v.upper() + '!')")
        .write_stdin("a\nb c\n\nd\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(out, b"A!\nB C!\n!\nD!\n");
    // -0: NUL-ended values and results, so a result may hold newlines.
    let out = framed(&["-0", "-k", "python3", "-c"])
        .arg("import parx; parx.serve(lambda v: v + '\\n' + v)")
        .write_stdin("x\0y\0")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(out, b"x\nx\0y\ny\0");
}

#[test]
fn a_failure_answer_is_retried_under_retries() {
    let dir = tempdir();
    // Fails each record the first time it sees it (a marker file per record).
    let worker = r#"
import os, parx
def f(v):
    mark = os.path.join(os.environ["MARKS"], v)
    if not os.path.exists(mark):
        open(mark, "w").close()
        raise RuntimeError("first try of " + v)
    return v
parx.serve(f)
"#;
    std::fs::write(dir.path().join("w.py"), worker).unwrap();
    let marks = dir.path().join("marks");
    std::fs::create_dir(&marks).unwrap();
    let out = framed(&["-k", "-j2", "--retries", "2", "python3", "w.py"])
        .current_dir(dir.path())
        .env("MARKS", &marks)
        .write_stdin("1\n2\n3\n")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "each succeeded on its second run"
    );
    assert_eq!(out.stdout, b"1\n2\n3\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("; retrying it").count(), 3, "{err}");
    // Without retries, the same worker fails each record once: status 3.
    std::fs::remove_dir_all(&marks).unwrap();
    std::fs::create_dir(&marks).unwrap();
    framed(&["-k", "-j2", "python3", "w.py"])
        .current_dir(dir.path())
        .env("MARKS", &marks)
        .write_stdin("1\n2\n3\n")
        .assert()
        .code(3)
        .stdout("");
}

#[test]
fn a_stray_line_on_a_framed_worker_is_a_contract_break_named_at_once() {
    // A line-protocol worker under --framed: its first line is no frame (said as it came: the
    // newline may come in a write of its own).
    let out = framed(&["-j1", "python3", "-c"])
        .arg("import sys\nprint('hello', flush=True)\nfor l in sys.stdin.buffer: pass")
        .write_stdin("a\nb\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("parx:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with(
            "parx: worker 1 broke the framed protocol at task 1 (a): it wrote \"hello"
        ),
        "{err}"
    );
}

#[test]
fn an_answer_to_another_record_is_a_contract_break() {
    // Answers record 1 with the id 7.
    let worker = r#"
import os, struct, sys
data = sys.stdin.buffer.read(14)
os.write(1, struct.pack("<BQI", 0xFB, 7, 2) + b"ok")
sys.stdin.buffer.read()
"#;
    let out = framed(&["-j1", "python3", "-c", worker])
        .write_stdin("a\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("worker 1 broke the framed protocol at task 1 (a): its answer names record 7, but record 0 is the one owed"),
        "{err}"
    );
}

#[test]
fn a_framed_worker_that_dies_loses_nothing() {
    // The worker dies (no failure answer) on record 13 the first time: the record that ends
    // workers is found, and every other record is answered once.
    let dir = tempdir();
    let worker = r#"
import os, parx
def f(v):
    if v == "13" and not os.path.exists("died"):
        open("died", "w").close()
        os._exit(3)
    return v
parx.serve(f)
"#;
    std::fs::write(dir.path().join("w.py"), worker).unwrap();
    let input: String = (1..=50).map(|i| format!("{i}\n")).collect();
    let want: String = input.clone();
    framed(&["-k", "-j2", "--retries", "2", "python3", "w.py"])
        .current_dir(dir.path())
        .write_stdin(input)
        .assert()
        .success()
        .stdout(want);
}

#[test]
fn framed_goes_with_the_process_pool_and_values() {
    for (args, says) in [
        (
            &["--framed", "cat"][..],
            "--framed goes with --pool process",
        ),
        (
            &["--pool", "process", "--framed", "--pipe", "cat"][..],
            "--framed does not take chunks yet",
        ),
        (
            &[
                "--pool",
                "process",
                "--framed",
                "--framed-out",
                "--tag",
                "cat",
            ][..],
            "--framed-out prints frames, which take no tag",
        ),
    ] {
        let out = parx().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(255), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    parx()
        .args(["--pool", "process", "--framed-out", "cat"])
        .assert()
        .failure();
}

#[test]
fn a_failure_is_stored_as_the_tasks_stderr_and_logged_as_failed() {
    let dir = tempdir();
    let res = dir.path().join("res");
    let log = dir.path().join("log");
    framed(&["-k", "--results"])
        .arg(&res)
        .arg("--joblog")
        .arg(&log)
        .args(["python3", "-c"])
        .arg("import parx\ndef f(v):\n    if v == 'b': raise KeyError(v)\n    return v\nparx.serve(f)")
        .write_stdin("a\nb\nc\n")
        .assert()
        .code(1)
        .stdout("a\nc\n");
    let err = std::fs::read_to_string(res.join("2/stderr")).unwrap();
    assert!(
        err.contains("Traceback") && err.contains("KeyError: 'b'"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(res.join("1/stdout")).unwrap(),
        "a\n"
    );
    let rows: Vec<Vec<String>> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();
    let mut exits: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[6].as_str()))
        .collect();
    exits.sort(); // rows come as tasks end
    assert_eq!(exits, [("1", "0"), ("2", "1"), ("3", "0")]);
}
