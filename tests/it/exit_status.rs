//! Exit status (docs/CONTRACT.md): failed tasks, usage and input errors, signals, and a closed or
//! failing stdout. The real binary on real processes, with an explicit stdin.

use crate::common;

use std::ffi::OsStr;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::*;

// ---------------------------------------------------------------------------------------
// Exit status, signals, closed stdout
// ---------------------------------------------------------------------------------------

#[test]
fn exit_zero_when_every_task_succeeds() {
    parx().args(["true", ":::", "a", "b", "c"]).assert().code(0);
}

/// Tasks that print nothing are counted by their slots, the merger not woken for each (issue
/// 28): their failures still make the status, among tasks that print, and `--halt` still says
/// that a silent task stopped the run.
#[test]
fn silent_tasks_count_and_halt_on_them_is_said() {
    // Every 7th of 300 fails (42), every 10th prints its number.
    let script = "[ $(($1 % 10)) = 0 ] && echo $1; [ $(($1 % 7)) != 0 ]";
    let out = parx()
        .args(["-j3", "sh", "-c", script, "sh"])
        .write_stdin((1..=300).map(|i| format!("{i}\n")).collect::<String>())
        .assert()
        .code(42)
        .get_output()
        .stdout
        .clone();
    let mut want: Vec<String> = (1..=30).map(|i| (i * 10).to_string()).collect();
    want.sort();
    assert_eq!(sorted_lines(&out), want);
    let o = parx()
        .args(["-j2", "--halt", "now,fail=1", "sh", "-c", "exit $1", "sh"])
        .args([":::", "0", "0", "3", "0"])
        .assert()
        .code(3);
    let err = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    assert!(
        err.contains("--halt: condition met at task 3 (status 3)"),
        "{err}"
    );
}

#[test]
fn exit_status_counts_failed_tasks() {
    parx()
        .args(["sh", "-c", "exit {}", ":::", "0", "1", "1", "2"])
        .assert()
        .code(3);
    // Killed by a signal, or not startable, counts as failed too.
    parx()
        .args(["sh", "-c", "kill -9 $$", ":::", "a"])
        .assert()
        .code(1);
    parx()
        .args([
            "sh",
            "-c",
            "{}",
            ":::",
            "/nonexistent/parx-no-such-program",
            "true",
        ])
        .assert()
        .code(1);
    // A program not found whose name holds no placeholder stops the run: 127, as xargs.
    parx()
        .args(["/nonexistent/parx-no-such-program", ":::", "a", "b"])
        .assert()
        .code(127);
}

fn falses(n: usize) -> (i32, Vec<u8>) {
    let input: String = (0..n).map(|i| format!("{i}\n")).collect();
    let (code, out, err) = run_status(&refs(&os(&["false"])), input.as_bytes());
    assert!(out.is_empty());
    (code, err)
}

#[test]
fn exit_status_caps_at_101_when_more_than_100_fail() {
    assert_eq!(falses(100).0, 100);
    assert_eq!(falses(101).0, 101);
    assert_eq!(falses(150).0, 101);
}

fn assert_usage_error(args: &[&OsStr], stdin: &[u8]) {
    let (code, out, err) = run_status(args, stdin);
    let err = String::from_utf8_lossy(&err);
    assert_ne!(
        code, 2,
        "{args:?}: clap's exit status 2 leaked; stderr {err}"
    );
    assert_eq!(code, 255, "{args:?}: stderr {err}");
    assert!(
        out.is_empty(),
        "{args:?}: stdout {:?}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(
        err.lines().count(),
        1,
        "{args:?}: want exactly one stderr line, got {err:?}"
    );
    assert!(err.starts_with("parx: "), "{args:?}: stderr {err:?}");
    assert!(err.ends_with('\n'), "{args:?}: stderr {err:?}");
}

#[test]
fn usage_errors_exit_255_with_one_line() {
    let cases: &[&[&str]] = &[
        &["--no-such-option", "echo"],
        &["-Q", "echo"],
        &["-j", "x", "echo"],
        &["-j", "2x", "echo"],
        &["-j", "", "echo"],
        &["--jobs=%", "echo"],
        &["-j"],
        &["-0", "-d", ",", "echo"],
        &["-d", ",", "--null", "echo"],
        &["-d", "", "echo"],
        &["-d", "\\q", "echo"],
        &["echo", "::::"],
        &["-a", "-", "echo", "::::", "-"],
        &["--pool", "bogus", "echo"],
    ];
    for args in cases {
        assert_usage_error(&refs(&os(args)), b"");
    }
}

#[test]
fn stdout_write_error_exits_255_with_one_line() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        println!("note: /dev/full is absent: test skipped");
        return;
    };
    for keep in [&["-k"][..], &[]] {
        let out = parx_std()
            .args(keep)
            .args(["seq", "{}", ":::", "100000", "3"])
            .stdout(full.try_clone().unwrap())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(255), "{keep:?}: stderr {err}");
        assert_eq!(err.lines().count(), 1, "{keep:?}: stderr {err:?}");
        assert!(err.starts_with("parx: "), "{keep:?}: stderr {err:?}");
    }
}

#[test]
fn missing_or_unreadable_input_file_exits_255_and_runs_nothing() {
    let dir = tempdir();
    let missing = dir.path().join("missing");
    let missing = missing.to_str().unwrap();
    let d = dir.path().to_str().unwrap();
    let cases: &[&[&str]] = &[
        &["touch", "ran", ":::", "a", "::::", missing],
        &["touch", "ran", "::::", missing],
        &["-a", missing, "touch", "ran"],
        &["--arg-file", missing, "touch", "ran"],
        &["-a", d, "touch", "ran"],
        &["touch", "ran", "::::", d],
    ];
    for args in cases {
        let out = parx().current_dir(dir.path()).args(*args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(255), "{args:?}: stderr {err}");
        assert_eq!(
            err.lines().count(),
            1,
            "{args:?}: want one stderr line, got {err:?}"
        );
        assert!(err.starts_with("parx: "), "{args:?}: stderr {err:?}");
        assert!(dir_names(dir.path()).is_empty(), "{args:?}: a task ran");
    }
}

/// Starts `parx -j2 sh -c SCRIPT ::: 1 2 3` where SCRIPT sleeps with a unique marker, waits
/// until both slots run, sends `sig`, and checks the exit status, the time taken and that
/// no task process survives.
fn check_signal(sig: i32, want: i32, script_head: &str, limit: Duration) {
    let marker = sleep_marker();
    let script = format!("{script_head} sleep {marker}; :");
    let mut child = parx_std()
        .args(["-j2", "sh", "-c", &script, ":::", "1", "2", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let parx_pid = child.id() as i32;
    // Both tasks (sh and its sleep each) are running.
    let started = wait_for(Duration::from_secs(10), || {
        pids_with(&marker)
            .iter()
            .filter(|&&p| p != parx_pid)
            .count()
            >= 4
    });
    assert!(started, "the tasks did not start");
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    // SAFETY: kill(2) on the child we spawned.
    unsafe {
        libc::kill(parx_pid, sig);
    }
    let st = wait_timeout(&mut child, limit);
    let took = t0.elapsed();
    let Some(st) = st else {
        assert_no_survivors(&marker, "after timeout");
        panic!("parx did not exit within {limit:?} of signal {sig}");
    };
    assert_eq!(
        st.code(),
        Some(want),
        "signal {sig}: status {st:?} after {took:?}"
    );
    assert_no_survivors(&marker, &format!("signal {sig}"));
}

#[test]
fn sigint_exits_130_and_kills_tasks() {
    check_signal(libc::SIGINT, 130, "", Duration::from_secs(3));
}

#[test]
fn sigterm_exits_143_and_kills_tasks() {
    check_signal(libc::SIGTERM, 143, "", Duration::from_secs(3));
}

#[test]
fn sigterm_exits_143_even_when_stdout_is_blocked() {
    // Nobody reads parx's stdout: the -k head of line fills the pipe and the writer blocks.
    // TERM must still end the tasks and parx promptly.
    let marker = sleep_marker();
    let script = format!("seq 1000000; sleep {marker}; :");
    let mut child = parx_std()
        .args(["-k", "-j2", "sh", "-c", &script, ":::", "1", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap(); // held open, never read
    let parx_pid = child.id() as i32;
    let started = wait_for(Duration::from_secs(10), || {
        pids_with(&marker)
            .iter()
            .filter(|&&p| p != parx_pid)
            .count()
            >= 2
    });
    assert!(started, "the tasks did not start");
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on the child we spawned.
    unsafe {
        libc::kill(parx_pid, libc::SIGTERM);
    }
    let st = wait_timeout(&mut child, Duration::from_secs(3));
    drop(stdout);
    assert_no_survivors(&marker, "SIGTERM with blocked stdout");
    let st = st.expect("parx did not exit within 3 s of SIGTERM while its stdout was blocked");
    assert_eq!(st.code(), Some(143), "status {st:?}");
}

#[test]
fn tasks_ignoring_sigterm_are_killed_after_grace() {
    // `trap "" TERM` is inherited by the sleep too: only KILL ends them.
    check_signal(
        libc::SIGTERM,
        143,
        "trap '' TERM;",
        Duration::from_millis(4500),
    );
}

/// Runs `parx ARGS... | head -n 1` through sh and checks parx stops quietly and soon, with
/// no task process left. `args` may use `MARK` for the sleep marker.
fn check_closed_stdout(args: &[&str]) {
    let marker = sleep_marker();
    let dir = tempdir();
    let err = dir.path().join("err");
    let rc = dir.path().join("rc");
    let args: Vec<String> = args.iter().map(|a| a.replace("MARK", &marker)).collect();
    let pipeline = format!(
        "{{ \"$0\" \"$@\" 2>{}; echo $? >{}; }} | head -n 1",
        sh_quote(err.to_str().unwrap()),
        sh_quote(rc.to_str().unwrap())
    );
    let mut c = StdCommand::new("sh");
    c.arg("-c")
        .arg(&pipeline)
        .arg(BIN)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    default_signals(&mut c);
    let t0 = Instant::now();
    let mut child = c.spawn().unwrap();
    let out = drain(child.stdout.take().unwrap());
    let st = wait_timeout(&mut child, Duration::from_secs(10));
    let took = t0.elapsed();
    if st.is_none() {
        assert_no_survivors(&marker, "after timeout");
        panic!("{args:?} | head -1 did not end within 10 s");
    }
    assert_eq!(String::from_utf8(out.join().unwrap()).unwrap(), "1\n");
    assert!(
        took < Duration::from_secs(5),
        "{args:?} | head -1 took {took:?}"
    );
    let errtext = std::fs::read_to_string(&err).unwrap();
    assert_eq!(errtext, "", "{args:?}: parx must stop quietly");
    let code = std::fs::read_to_string(&rc).unwrap();
    assert_ne!(
        code.trim(),
        "255",
        "{args:?}: a closed stdout is not an error"
    );
    assert_no_survivors(&marker, &format!("{args:?} | head -1"));
}

#[test]
fn closed_stdout_stops_quietly_keep_order() {
    // The head-of-line task streams 100000 lines, then sleeps: parx must not wait for it.
    check_closed_stdout(&[
        "-k",
        "-j2",
        "sh",
        "-c",
        "seq 100000; sleep MARK; :",
        ":::",
        "1",
        "2",
        "3",
        "4",
        "5",
    ]);
}

#[test]
fn closed_stdout_stops_quietly_completion_order() {
    check_closed_stdout(&[
        "-j3",
        "sh",
        "-c",
        "if [ \"$0\" = 1 ]; then seq 100000; else sleep MARK; fi",
        ":::",
        "1",
        "2",
        "3",
        "4",
        "5",
    ]);
}
