//! Faults without losses (issue 11): a crash of parx (kill -9, TERM, INT) then `--resume`
//! prints every output exactly once; a task that leaves a background child ends when its own
//! process exits; limits on threads, processes and file descriptors slow a run, never break it.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Writes an executable script `name` with `body` into `dir`.
fn script(dir: &Path, name: &str, body: &str) {
    let p = dir.join(name);
    fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
    Command::new("chmod").arg("+x").arg(&p).status().unwrap();
}

/// Runs `parx ARGS` in `dir` with stdout into the file `out`; with `kill = Some(sig)`, sends
/// `sig` to parx after 1.5 s and waits for it to end.
fn run_to(dir: &Path, args: &[&str], out: &str, kill: Option<&str>) {
    let file = fs::File::create(dir.join(out)).unwrap();
    let mut c = parx_std();
    c.current_dir(dir)
        .args(args)
        .stdout(file)
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    if let Some(sig) = kill {
        std::thread::sleep(Duration::from_millis(1500));
        let st = Command::new("kill")
            .args(["-s", sig, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success(), "kill -s {sig}");
    }
    wait_timeout(&mut child, TIMEOUT).expect("parx ends");
}

/// Item 1: `-j2 --joblog log` with task 1 sleeping 3 s, parx killed at 1.5 s, then the same
/// command with `--resume`: the two runs' stdout together hold every output exactly once, in
/// every output mode and for every way of dying.
#[test]
fn crash_then_resume_prints_every_output_exactly_once() {
    let modes: &[&[&str]] = &[
        &["-k"],
        &[],
        &["--line-buffer"],
        &["-k", "--line-buffer"],
        &["-u"],
    ];
    for sig in ["KILL", "TERM", "INT"] {
        for mode in modes {
            let d = tempdir();
            script(
                d.path(),
                "t.sh",
                // Task 1 sleeps in the first run only, so that the resumed run is quick.
                "if [ \"$1\" = 1 ] && [ ! -e slept ]; then : > slept; sleep 3; fi\necho \"out $1\"\n",
            );
            let seq: Vec<String> = (1..=50).map(|i| i.to_string()).collect();
            let mut args: Vec<&str> = vec!["-j2"];
            args.extend_from_slice(mode);
            args.extend(["--joblog", "log", "./t.sh", ":::"]);
            args.extend(seq.iter().map(String::as_str));
            run_to(d.path(), &args, "out1", Some(sig));
            let mut resume = args.clone();
            resume.insert(1, "--resume");
            run_to(d.path(), &resume, "out2", None);
            let mut all = fs::read(d.path().join("out1")).unwrap();
            all.extend(fs::read(d.path().join("out2")).unwrap());
            let mut got = lines(&all);
            got.sort_by_key(|l| l[4..].parse::<u32>().unwrap_or(0));
            let want: Vec<String> = (1..=50).map(|i| format!("out {i}")).collect();
            assert_eq!(got, want, "kill -{sig}, mode {mode:?}");
        }
    }
}

/// Kills (by pid) the processes a test left running on purpose.
fn kill_marked(marker: &str) {
    for p in pids_with(marker) {
        // SAFETY: kill(2) on a pid we found running our unique marker.
        unsafe {
            libc::kill(p, libc::SIGKILL);
        }
    }
}

/// Item 5: a task that leaves a background child ends when its own process exits — at once,
/// not when the child closes the pipes — with what it wrote; the child's later output is
/// dropped, and the child itself is left running.
#[test]
fn background_child_does_not_hold_the_task() {
    for timeout in [None, Some("2")] {
        let mark = sleep_marker();
        let script = format!("sleep {mark} & (sleep 1; echo late $1) & echo hi $1");
        let mut c = parx_std();
        c.arg("-j2");
        if let Some(t) = timeout {
            c.args(["--timeout", t]);
        }
        c.args(["sh", "-c", &script, "sh", ":::", "1", "2"]);
        let t0 = Instant::now();
        let o = c.timed_output().unwrap();
        let took = t0.elapsed();
        let alive = !pids_with(&mark).is_empty();
        kill_marked(&mark);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "--timeout {timeout:?}: {err}");
        assert!(!err.contains("timed out"), "--timeout {timeout:?}: {err}");
        assert_eq!(sorted_lines(&o.stdout), ["hi 1", "hi 2"]);
        assert!(took < Duration::from_secs(10), "took {took:?}");
        assert!(alive, "the background child is left alone");
    }
}

/// `parx ARGS` as the unprivileged user `nobody` with the soft limit `res` lowered to `lim`
/// (`None` when the test cannot drop privileges: it is then skipped).
fn as_nobody_with_limit(
    res: libc::__rlimit_resource_t,
    lim: u64,
    args: &[&str],
) -> Option<std::process::Output> {
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run parx as nobody with a lowered ulimit");
        return None;
    }
    let mut c = parx_std();
    c.current_dir("/").args(args).uid(65534).gid(65534);
    // SAFETY: setrlimit(2) is async-signal-safe and touches only the child's own limits; it
    // runs between fork and exec (after the switch to nobody) with nothing else in between.
    unsafe {
        c.pre_exec(move || {
            let r = libc::rlimit {
                rlim_cur: lim,
                rlim_max: lim,
            };
            if libc::setrlimit(res, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Some(c.timed_output().unwrap())
}

/// Item 4: low limits on open files and processes lower `-j` with one note and the run
/// finishes every task with status 0; a limit that leaves no room for one task is one
/// `parx:` line and 255.
#[test]
fn low_limits_lower_the_slots_and_the_run_finishes() {
    let seq: Vec<String> = (1..=200).map(|i| i.to_string()).collect();
    for (res, lim, what) in [
        (libc::RLIMIT_NOFILE, 64, "ulimit -n 64"),
        (libc::RLIMIT_NPROC, 16, "ulimit -u 16"),
    ] {
        let mut args = vec!["-j50", "sh", "-c", "sleep 0.01; echo $1", "sh", ":::"];
        args.extend(seq.iter().map(String::as_str));
        let Some(o) = as_nobody_with_limit(res, lim, &args) else {
            return;
        };
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{what}: {err}");
        assert_eq!(lines(&o.stdout).len(), 200, "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        assert!(err.contains("lowered to") && err.contains(what), "{err}");
    }
    let o = as_nobody_with_limit(libc::RLIMIT_NOFILE, 10, &["-j2", "echo", ":::", "a"]).unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(255), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("parx: ulimit -n 10"), "{err}");
}

/// Item 4: a huge `-j` is lowered to what the limits allow (or to the threads that could be
/// started), never an abort.
#[test]
fn huge_j_does_not_abort() {
    for j in ["40000", "18446744073709551615"] {
        let o = parx_std()
            .args(["-j", j, "echo", ":::", "a", "b", "c"])
            .timed_output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "-j {j}: {err}");
        assert_eq!(sorted_lines(&o.stdout), ["a", "b", "c"], "-j {j}");
        assert!(err.lines().count() <= 1, "-j {j}: {err}");
    }
}
