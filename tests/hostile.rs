//! What a hostile probe found (issue 22, items 4–8): a task's whole process group is ended,
//! not only its leader; a job log that cannot be written stops the run without a torn row; a
//! `--pipe-part` file truncated under parx never feeds a task bytes it no longer holds; an OOM
//! kill of parx ends its tasks; and the smaller ones (a process budget, a planted symlink
//! under `--results`, a closed stdout with `--joblog`, absurd `-j`, a `TMPDIR` that is a file).

mod common;

use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// A task whose leader (`sh`) dies at the first TERM but whose child, a perl that ignores TERM
/// and carries `marker` in its arguments, would sleep 25 s and then let `sh` print "after".
fn term_ignoring_grandchild(marker: &str) -> String {
    format!("perl -e '$SIG{{TERM}}=q(IGNORE); sleep 25' {marker}; echo after")
}

/// Checks that parx ended within `limit` of `t0`, printed no "after", and left nothing of
/// the task running (the KILL went to the group, not only to its leader).
fn assert_group_ended(what: &str, o: &std::process::Output, t0: Instant, marker: &str) {
    let took = t0.elapsed();
    let left = pids_with(marker);
    assert_no_survivors(marker, what);
    assert!(left.is_empty(), "{what}: left running: {left:?}");
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("after"),
        "{what}: the grandchild outlived its task"
    );
    assert!(took < Duration::from_secs(15), "{what}: took {took:?}");
}

/// Item 4: `--timeout`, `--timeout` with `--termseq`, `--halt now` and SIGINT, in both pools
/// where they apply: the whole sequence and the KILL reach the task's group until it is
/// empty, so `pgrep` (here: /proc) finds nothing of the task once parx has exited.
#[test]
fn ending_a_task_ends_its_whole_group() {
    let cases: [(&str, &[&str]); 3] = [
        ("--timeout", &["--timeout", "1"]),
        (
            "--timeout --termseq",
            &["--timeout", "1", "--termseq", "TERM,300,TERM,300,KILL,25"],
        ),
        ("--halt now", &["--halt", "now,fail=1"]),
    ];
    for (what, opts) in cases {
        let marker = sleep_marker();
        // Task "f" fails after 0.5 s (for --halt); task "x" holds the TERM-ignoring grandchild.
        let script = format!(
            "[ $1 = f ] && {{ sleep 0.5; exit 3; }}; {}",
            term_ignoring_grandchild(&marker)
        );
        let t0 = Instant::now();
        let o = parx_std()
            .arg("-j2")
            .args(opts)
            .args(["sh", "-c", &script, "sh", ":::", "x", "f"])
            .timed_output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_ne!(o.status.code(), Some(0), "{what}: {err}");
        assert_group_ended(what, &o, t0, &marker);
    }
    // SIGINT to parx (not to the tasks: the terminal's ^C would reach them too).
    for pool in ["thread", "process"] {
        let marker = sleep_marker();
        let mut c = parx_std();
        c.args(["--pool", pool, "-j2", "sh", "-c"])
            .arg(term_ignoring_grandchild(&marker))
            .args(["sh", ":::", "x", "y"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let out = drain(child.stdout.take().unwrap());
        let _err = drain(child.stderr.take().unwrap());
        let perls = || {
            pids_with(&marker)
                .into_iter()
                .filter(|p| {
                    fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "perl")
                })
                .count()
        };
        // Two tasks, or (the process pool) one worker running the script for its first value.
        let want = if pool == "thread" { 2 } else { 1 };
        assert!(
            wait_for(Duration::from_secs(10), || perls() >= want),
            "SIGINT, {pool} pool: the tasks started"
        );
        let t0 = Instant::now();
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let st = wait_timeout(&mut child, TIMEOUT).expect("parx ends");
        let o = std::process::Output {
            status: st,
            stdout: out.join().unwrap(),
            stderr: Vec::new(),
        };
        assert_eq!(
            o.status.code(),
            Some(130),
            "SIGINT, {pool} pool: {:?}",
            o.status
        );
        assert_group_ended(&format!("SIGINT, {pool} pool"), &o, t0, &marker);
    }
}
