//! Exactly once across a halt and a resume (issue 22, items 1-3): `--halt now|soon` on a
//! failure or on successes, in both pools, with and without `-k`; then `--resume` with the
//! same job log. A record that never started has no job-log row, so the two runs together
//! print every task's output exactly once (a task the halt killed while it ran is logged as
//! such and has none). Also: process-pool results keep their boundaries, and a value holding
//! the record separator fails its own task only.

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::{lines, parx, tempdir};

/// The job log's rows: seq -> (Exitval, Signal).
fn rows(log: &Path) -> BTreeMap<u64, (i64, i64)> {
    fs::read_to_string(log)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (
                c[0].parse().unwrap(),
                (c[6].parse().unwrap(), c[7].parse().unwrap()),
            )
        })
        .collect()
}

const N: u64 = 600;
const BAD: u64 = 300;

/// The command of a run: prints `v VALUE` for each value; `fail`: fails on BAD (the worker
/// exits 1 on it; the thread pool's task exits 1).
fn command(pool: bool, fail: bool) -> Vec<String> {
    let bad = if fail {
        BAD.to_string()
    } else {
        "never".into()
    };
    if pool {
        let w = format!(
            r#"while IFS= read -r x; do if [ "$x" = {bad} ]; then exit 1; fi; echo "v $x"; done"#
        );
        vec![
            "--pool".into(),
            "process".into(),
            "sh".into(),
            "-c".into(),
            w,
        ]
    } else {
        let t = format!(r#"if [ "$1" = {bad} ]; then exit 1; fi; echo "v $1""#);
        vec!["sh".into(), "-c".into(), t, "sh".into()]
    }
}

fn run(dir: &Path, keep: bool, halt: &str, resume: bool, cmd: &[String]) -> (i32, Vec<String>) {
    let input: String = (1..=N).map(|i| format!("{i}\n")).collect();
    let mut c = parx();
    c.current_dir(dir)
        .args(["-j2", "--joblog", "log", "--halt", halt]);
    if keep {
        c.arg("-k");
    }
    if resume {
        c.arg("--resume");
    }
    let out = c.args(cmd).write_stdin(input).output().unwrap();
    (out.status.code().unwrap(), lines(&out.stdout))
}

#[test]
fn halt_then_resume_prints_every_output_exactly_once() {
    for pool in [false, true] {
        for keep in [false, true] {
            for halt in [
                "now,fail=1",
                "soon,fail=1",
                "now,success=200",
                "soon,success=200",
            ] {
                let d = tempdir();
                let what = format!("pool={pool} keep={keep} halt={halt}");
                let fail = halt.contains("fail");
                let (st1, out1) = run(d.path(), keep, halt, false, &command(pool, fail));
                if fail {
                    assert_ne!(st1, 0, "{what}: the first run failed a task");
                }
                let logged = rows(&d.path().join("log"));
                // The resume runs a command that does not fail, and does not halt.
                let (st2, out2) = run(d.path(), keep, "never", true, &command(pool, false));
                let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
                for l in out1.iter().chain(&out2) {
                    let v = l
                        .strip_prefix("v ")
                        .unwrap_or_else(|| panic!("{what}: {l:?}"));
                    *seen.entry(v.parse().unwrap()).or_default() += 1;
                }
                for v in 1..=N {
                    let n = seen.get(&v).copied().unwrap_or(0);
                    // Logged as failed in run 1: no output, not rerun; killed by the halt
                    // while it ran: what it printed before (if anything), not rerun.
                    let row = logged.get(&v).copied();
                    let ok = match row {
                        Some((_, s)) if s != 0 => n <= 1,
                        Some((e, _)) if e != 0 => n == 0,
                        _ => n == 1,
                    };
                    assert!(ok, "{what}: value {v} printed {n} times (row {row:?})");
                }
                if fail {
                    assert!(
                        logged.get(&BAD).is_some_and(|&(e, _)| e != 0),
                        "{what}: the failed task has its row"
                    );
                }
                let killed = logged.values().filter(|&&(_, s)| s != 0).count();
                assert!(
                    killed <= 2,
                    "{what}: {killed} rows of killed tasks for 2 slots"
                );
                assert_eq!(st2, 0, "{what}: the resume's status");
                let all = rows(&d.path().join("log"));
                assert_eq!(all.len() as u64, N, "{what}: one row per task in the end");
            }
        }
    }
}

#[test]
fn process_pool_results_keep_their_boundaries() {
    // Each worker's last result unterminated: it gets its newline, never fuses with the next.
    // The worker exits 0 at record 5 (a quota), perhaps after parx has closed its stdin: the
    // input it left unread in its pipe tells parx it stopped early, not skipped a record.
    let out = parx()
        .args(["--pool", "process", "-k", "-j2", "--tag", "sh", "-c"])
        .arg(r#"while IFS= read -r l; do if [ "$l" = 5 ]; then printf "R%s" "$l"; exit 0; fi; echo "R$l"; done"#)
        .write_stdin("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n")
        .output()
        .unwrap();
    assert!(out.status.success());
    let want: Vec<String> = (1..=10).map(|i| format!("{i}\tR{i}")).collect();
    assert_eq!(lines(&out.stdout), want);
    // --result-end '\n' keeps the newlines (it used to glue every result together).
    let out = parx()
        .args([
            "--pool",
            "process",
            "-k",
            "-j2",
            "--result-end",
            "\\n",
            "cat",
        ])
        .write_stdin("a\nb\nc\n")
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"a\nb\nc\n");
}

#[test]
fn the_readme_pretty_json_example_parses_per_record() {
    let d = tempdir();
    for i in 1..=30 {
        let doc = format!("{{\"n\": {i}, \"list\": [1, 2, {{\"deep\": \"x\\ny\"}}]}}");
        fs::write(d.path().join(format!("f{i:02}.json")), doc).unwrap();
    }
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let at = readme
        .find("ls *.json | parx --pool process -k --result-end")
        .unwrap();
    let block = &readme[at..at + readme[at..].find("\n```").unwrap()];
    // The README's pipeline, its last reader printing how many documents it parsed.
    let script =
        format!("{block}; print(len(docs), sorted(d[\"n\"] for d in docs) == list(range(1, 31)))'");
    let script = script.replacen(
        "for r in sys.stdin.read().split(\"\\0\")[:-1]]'",
        "for r in sys.stdin.read().split(\"\\0\")[:-1]]",
        1,
    );
    let out = std::process::Command::new("sh")
        .current_dir(d.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                Path::new(common::BIN).parent().unwrap().display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .args(["-c", &script])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "30 True\n",
        "{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_value_holding_the_record_separator_fails_its_own_task() {
    let d = tempdir();
    for name in ["a", "b", "x\ny", "z"] {
        fs::write(d.path().join(name), "").unwrap();
    }
    let dir = d.path().to_str().unwrap();
    let out = parx()
        .args(["--pool", "process", "-k", "-j2", "--walk", dir, "sh", "-c"])
        .arg(r#"while IFS= read -r l; do echo "got ${l##*/}"; done"#)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "one task failed");
    assert_eq!(lines(&out.stdout), ["got a", "got b", "got z"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("task 3 (") && err.contains("x\\ny") && err.contains("record separator"),
        "{err}"
    );
    // -d , with a newline inside a value.
    let out = parx()
        .args(["--pool", "process", "-k", "-j2", "-d", ",", "cat"])
        .write_stdin("a,b\nc,d,")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(lines(&out.stdout), ["a", "d"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("task 2 (b\\nc)"));
}
