//! What a hostile probe found (issue 22, items 4–8): a task's whole process group is ended,
//! not only its leader; a job log that cannot be written stops the run without a torn row; a
//! `--pipe-part` file truncated under parx never feeds a task bytes it no longer holds; an OOM
//! kill of parx ends its tasks; and the smaller ones (a process budget, a planted symlink
//! under `--results`, a closed stdout with `--joblog`, absurd `-j`, a `TMPDIR` that is a file).

use crate::common;

use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// A task whose leader (`sh`) dies at the first TERM but whose child, a perl that ignores TERM
/// and carries `marker` in its arguments, would sleep 25 s and then let `sh` print "after".
fn term_ignoring_grandchild(marker: &str) -> String {
    format!("perl -e '$SIG{{TERM}}=q(IGNORE); sleep 25' {marker}; echo after")
}

/// Checks that parx ended within 15 s of `t0`, printed no "after", and left nothing of the
/// task running (the KILL went to the group, not only to its leader; a zombie, which this
/// container's init may never reap, is not running).
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
    let cases: [(&str, &[&str]); 4] = [
        ("--timeout", &["--timeout", "1"]),
        (
            "--timeout --termseq",
            &["--timeout", "1", "--termseq", "TERM,300,TERM,300,KILL,25"],
        ),
        ("--halt now", &["--halt", "now,fail=1"]),
        // A worker that never answers its record: its group gets the whole --termseq.
        (
            "--pool process --timeout --termseq",
            &[
                "--pool",
                "process",
                "--timeout",
                "1",
                "--termseq",
                "TERM,300,KILL,25",
            ],
        ),
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

/// A memory cgroup for one test, removed when dropped (its processes must be gone by then).
struct MemCgroup {
    dir: std::path::PathBuf,
    /// The file that counts OOM kills (`oom_kill N` lines).
    events: &'static str,
}

impl MemCgroup {
    /// A cgroup limited to `bytes` of memory (and no swap where that can be set): cgroup v2 at
    /// /sys/fs/cgroup, else v1's memory hierarchy. `None`, with the reason printed, when none
    /// can be made (not root, no writable cgroup file system).
    fn new(bytes: u64) -> Option<MemCgroup> {
        let name = format!("parx-test-{}-{}", std::process::id(), sleep_marker());
        let v2 = std::path::Path::new("/sys/fs/cgroup");
        let v2_memory = fs::read_to_string(v2.join("cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|w| w == "memory"));
        let (dir, limit, swap, events) = if v2_memory {
            let _ = fs::write(v2.join("cgroup.subtree_control"), "+memory");
            (
                v2.join(&name),
                "memory.max",
                "memory.swap.max",
                "memory.events",
            )
        } else {
            (
                v2.join("memory").join(&name),
                "memory.limit_in_bytes",
                "memory.memsw.limit_in_bytes",
                "memory.oom_control",
            )
        };
        if let Err(e) = fs::create_dir(&dir) {
            println!(
                "skipped: cannot make a memory cgroup at {}: {e}",
                dir.display()
            );
            return None;
        }
        let cg = MemCgroup { dir, events };
        if let Err(e) = fs::write(cg.dir.join(limit), bytes.to_string()) {
            println!("skipped: cannot set {limit} in {}: {e}", cg.dir.display());
            return None;
        }
        // Without swap the limit is a hard one (best effort: the file may be missing).
        let _ = fs::write(
            cg.dir.join(swap),
            if v2_memory {
                "0".to_string()
            } else {
                bytes.to_string()
            },
        );
        Some(cg)
    }

    /// How many processes the OOM killer killed in it.
    fn oom_kills(&self) -> u64 {
        fs::read_to_string(self.dir.join(self.events))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for MemCgroup {
    fn drop(&mut self) {
        let _ = wait_for(Duration::from_secs(5), || fs::remove_dir(&self.dir).is_ok());
    }
}

/// Item 7: an OOM kill of parx ends its tasks. In a 250 MB memory cgroup, `--pipe --block 100M
/// -j3` with tasks that never read holds three blocks and a fourth being read: the OOM
/// killer picks parx (the largest process), and its watchdog — a separate process by then,
/// not one sharing parx's memory, which the OOM killer would take along — ends the tasks.
#[test]
fn oom_kill_of_parx_ends_its_tasks() {
    use std::io::Write;
    let Some(cg) = MemCgroup::new(250 << 20) else {
        return;
    };
    let marker = sleep_marker();
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec {BIN} --pipe --block 100M -j3 sleep {marker}",
        cg.dir.display()
    );
    let mut child = std::process::Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let err = drain(child.stderr.take().unwrap());
    // 600 MB of lines, or until parx is gone.
    let feeder = std::thread::spawn(move || {
        let line = [b"x".repeat(99), b"\n".to_vec()].concat();
        let block = line.repeat(10_000);
        for _ in 0..600 {
            if stdin.write_all(&block).is_err() {
                break;
            }
        }
    });
    let st = wait_timeout(&mut child, TIMEOUT).expect("parx ends");
    feeder.join().unwrap();
    let err = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        st.signal(),
        Some(libc::SIGKILL),
        "parx was not OOM-killed: {st:?} {err}"
    );
    assert!(cg.oom_kills() >= 1, "no OOM kill in the cgroup: {err}");
    assert_no_survivors(&marker, "tasks of an OOM-killed parx");
}

/// Item 5: a job log on a full disk (a 1 MB tmpfs) stops new starts as a failed spill does
/// (grouped, `-k` with its streaming head of line, `--line-buffer`):
/// one line naming the log, status 255; every task printed has a whole row and every row a
/// printed task (the room for a row is reserved before its output goes out), no torn row is
/// left; and `--resume` (the log moved to a disk with room) prints exactly the rest.
#[test]
fn a_full_job_log_stops_the_run_and_resume_prints_no_duplicate() {
    let Some(tmpfs) = Tmpfs::mount("1m") else {
        return;
    };
    let d = tempdir();
    // 3000 rows of ~430 bytes: the 1 MB log holds about 2400.
    let pad = "v".repeat(400);
    let input: String = (1..=3000).map(|i| format!("{i} {pad}\n")).collect();
    fs::write(d.path().join("in"), &input).unwrap();
    for mode in ["", "-k", "--line-buffer"] {
        let keep = mode == "-k";
        let log = tmpfs.path().join(format!("log{mode}"));
        let mut args = vec![
            "-j4".to_string(),
            "--joblog".into(),
            log.display().to_string(),
        ];
        if !mode.is_empty() {
            args.push(mode.into());
        }
        args.extend(["echo", "::::", "in"].map(String::from));
        let o = parx_std()
            .current_dir(d.path())
            .args(&args)
            .timed_output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(255), "{mode}: {err}");
        assert_eq!(
            err.matches("writing the job log").count(),
            1,
            "{mode}: {err}"
        );
        assert!(err.contains("No space left on device"), "{mode}: {err}");
        let text = fs::read(&log).unwrap();
        assert!(text.ends_with(b"\n"), "{mode}: a torn last row");
        let rows: Vec<u64> = text
            .split(|&b| b == b'\n')
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let l = String::from_utf8_lossy(l);
                assert_eq!(l.split('\t').count(), 9, "{mode}: not a whole row: {l}");
                l.split('\t').next().unwrap().parse().unwrap()
            })
            .collect();
        let printed: Vec<u64> = lines(&o.stdout)
            .iter()
            .map(|l| l.split(' ').next().unwrap().parse().unwrap())
            .collect();
        assert!(
            printed.len() > 1000 && printed.len() < 3000,
            "{mode}: {}",
            printed.len()
        );
        let mut sorted_rows = rows.clone();
        sorted_rows.sort_unstable();
        let mut sorted_printed = printed.clone();
        sorted_printed.sort_unstable();
        assert_eq!(sorted_rows, sorted_printed, "{mode}: rows = printed tasks");
        if keep {
            assert_eq!(
                printed,
                (1..=printed.len() as u64).collect::<Vec<_>>(),
                "-k order"
            );
        }
        // Resume with room.
        let moved = d.path().join("log");
        fs::copy(&log, &moved).unwrap();
        let mut resume = vec!["--resume".to_string()];
        resume.extend(args.iter().cloned());
        resume[3] = moved.display().to_string();
        let o2 = parx_std()
            .current_dir(d.path())
            .args(&resume)
            .timed_output()
            .unwrap();
        assert_eq!(
            o2.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o2.stderr)
        );
        let mut all: Vec<u64> = printed;
        all.extend(
            lines(&o2.stdout)
                .iter()
                .map(|l| l.split(' ').next().unwrap().parse::<u64>().unwrap()),
        );
        all.sort_unstable();
        assert_eq!(
            all,
            (1..=3000).collect::<Vec<_>>(),
            "{mode}: every task once"
        );
        fs::remove_file(&log).unwrap();
    }
}

/// Lines of 16 bytes, `%015d\n`, numbered from 0: each says where it belongs.
fn numbered_lines(n: u64) -> Vec<u8> {
    (0..n)
        .flat_map(|i| format!("{i:015}\n").into_bytes())
        .collect()
}

/// Item 6: a file cut short while parx sends its chunks (`--pipe-part`, and `--pipe` with
/// stdin redirected from it). Every task read only bytes the file held — whole numbered
/// lines in order, no NUL, no line from elsewhere — and every task whose chunk the file no
/// longer held fails with one line naming the file and the chunk: the status counts them,
/// and an unnamed task got its chunk whole (it ends where the next task's output begins).
/// (With sendfile(2) the second task read NUL bytes: its chunk's pages sat in its pipe when
/// the cut zeroed the tail of the page at the new end.)
#[test]
fn a_file_cut_short_under_parx_fails_the_tasks_it_no_longer_holds() {
    for mode in ["--pipe-part", "--pipe"] {
        let d = tempdir();
        let data = d.path().join("data");
        let lines_total = 250_000; // 4 MB: 8 chunks of 512 KiB
        fs::write(&data, numbered_lines(lines_total)).unwrap();
        let mut c = parx_std();
        c.current_dir(d.path())
            .args([mode, "--block", "512K", "-j2"]);
        if mode == "--pipe-part" {
            c.args(["-a", "data"]);
        } else {
            c.stdin(fs::File::open(&data).unwrap());
        }
        c.args(["sh", "-c", "sleep 0.5; cat > out.$PARALLEL_SEQ"]);
        let mut child = c
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = drain(child.stderr.take().unwrap());
        std::thread::sleep(Duration::from_millis(300));
        // Cut inside a line of the second chunk, which is in its task's pipe whole by now.
        let cut = 700_008;
        fs::OpenOptions::new()
            .write(true)
            .open(&data)
            .unwrap()
            .set_len(cut)
            .unwrap();
        let st = wait_timeout(&mut child, TIMEOUT).expect("parx ends");
        let err = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
        let named: Vec<u64> = err
            .lines()
            .filter(|l| l.contains("the file shrank") && l.contains("the task fails"))
            .map(|l| {
                let n = l
                    .strip_prefix("parx: task ")
                    .unwrap()
                    .split(':')
                    .next()
                    .unwrap();
                n.parse().unwrap()
            })
            .collect();
        assert!(!named.is_empty(), "{mode}: {err}");
        assert_eq!(st.code(), Some(named.len() as i32), "{mode}: {err}");
        assert_eq!(err.lines().count(), named.len(), "{mode}: {err}");
        // What each task read: (first line, whole lines), checked line by line.
        let mut seen = Vec::new();
        for seq in 1..=8u64 {
            let out = fs::read(d.path().join(format!("out.{seq}"))).unwrap_or_default();
            assert!(!out.contains(&0), "{mode}: task {seq} read NUL bytes");
            let whole = out.len() / 16;
            let first = match out.get(..15) {
                Some(n) => std::str::from_utf8(n).unwrap().parse::<u64>().unwrap(),
                None => u64::MAX,
            };
            let want = numbered_lines(first.saturating_add(whole as u64 + 1).min(lines_total));
            let at = (first as usize).saturating_mul(16);
            if !out.is_empty() {
                assert_eq!(
                    &want[at..at + out.len()],
                    &out[..],
                    "{mode}: task {seq} read bytes the file did not hold"
                );
                assert!(
                    at + out.len() <= cut as usize || named.contains(&seq),
                    "{mode}: task {seq} read past the cut unnamed"
                );
            }
            seen.push((seq, first, whole, out.len() % 16));
        }
        for w in seen.windows(2) {
            let ((seq, first, whole, partial), (_, next, _, _)) = (w[0], w[1]);
            if named.contains(&seq) || first == u64::MAX {
                assert!(
                    named.contains(&seq),
                    "{mode}: task {seq} read nothing, unnamed: {err}"
                );
                continue;
            }
            assert_eq!(partial, 0, "{mode}: task {seq} unnamed with a torn line");
            if next != u64::MAX {
                assert_eq!(
                    first + whole as u64,
                    next,
                    "{mode}: task {seq} unnamed, chunk not whole"
                );
            }
        }
    }
}

/// `parx ARGS` run as an unprivileged uid of its own (no other process of it runs: `ulimit
/// -u` counts every process and thread of the user) with `ulimit -u procs`. `None` when the
/// test cannot switch users (it then says why).
fn as_own_user_with_nproc(procs: u64, args: &[&str]) -> Option<std::process::Output> {
    let uid = 61_000 + std::process::id() % 1000;
    common::as_user_with_limit(uid, libc::RLIMIT_NPROC, procs, args)
}

/// Item 8: `ulimit -u 20` counts parx's own threads as well as the tasks and their children:
/// `-j 8` is lowered to what that leaves, with one note, and every one of 200 tasks that fork
/// a child (`sh -c 'sleep …; echo …'`) runs — none fails with "Cannot fork".
#[test]
fn a_process_budget_leaves_room_for_the_tasks_children() {
    let seq: Vec<String> = (1..=200).map(|i| i.to_string()).collect();
    let mut args = vec!["-j8", "sh", "-c", "sleep 0.01; echo $1", "sh", ":::"];
    args.extend(seq.iter().map(String::as_str));
    let Some(o) = as_own_user_with_nproc(20, &args) else {
        return;
    };
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(sorted_lines(&o.stdout).len(), 200, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("parx: -j 8 lowered to ") && err.contains("ulimit -u 20"),
        "{err}"
    );
}

/// Item 8: an absurd `-j` is reported as typed, lowered to what the limits allow.
#[test]
fn an_absurd_j_is_reported_as_typed() {
    let o = parx_std()
        .args(["-j", "18446744073709551615", "echo", ":::", "a"])
        .timed_output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(o.stdout, b"a\n");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("parx: -j 18446744073709551615 lowered to "),
        "{err}"
    );
}

/// Item 8: `--results DIR` never writes through a link planted under DIR: a symbolic link at
/// `DIR/1/stdout` and a hard link at `DIR/3/stderr` are replaced by fresh files (their
/// targets untouched); a task directory that is a symbolic link (`DIR/2`) fails its task
/// unrun with one line naming it (status 255); the other tasks' results are stored.
#[test]
fn results_never_write_through_a_planted_link() {
    use std::os::unix::fs::symlink;
    let d = tempdir();
    let victim = d.path().join("victim");
    fs::write(&victim, "precious\n").unwrap();
    let elsewhere = d.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    let res = d.path().join("res");
    for t in ["1", "3"] {
        fs::create_dir_all(res.join(t)).unwrap();
    }
    symlink(&victim, res.join("1/stdout")).unwrap();
    symlink(&elsewhere, res.join("2")).unwrap();
    fs::hard_link(&victim, res.join("3/stderr")).unwrap();
    symlink(&victim, res.join("index.tsv")).unwrap();
    let o = parx_std()
        .args(["-k", "--results"])
        .arg(&res)
        .args([
            "sh",
            "-c",
            "echo out $1; echo err $1 >&2",
            "sh",
            ":::",
            "a",
            "b",
            "c",
        ])
        .timed_output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_eq!(
        fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "written through DIR/2"
    );
    // (A task whose results cannot be stored fails unrun.)
    assert_eq!(o.stdout, b"out a\nout c\n");
    assert_eq!(o.status.code(), Some(255), "{err}");
    let refused: Vec<&str> = err.lines().filter(|l| l.starts_with("parx: ")).collect();
    assert_eq!(refused.len(), 1, "{err}");
    assert!(
        refused[0].contains(&format!("{}", res.join("2").display())),
        "{err}"
    );
    assert_eq!(fs::read_to_string(res.join("1/stdout")).unwrap(), "out a\n");
    assert_eq!(fs::read_to_string(res.join("3/stderr")).unwrap(), "err c\n");
    assert!(!fs::symlink_metadata(res.join("1/stdout"))
        .unwrap()
        .is_symlink());
    assert!(fs::read_to_string(res.join("index.tsv"))
        .unwrap()
        .contains("3\tc"));
}

/// Item 8: `parx -k --joblog J echo ::: 1 2 >&-` (stdout closed, which Rust's runtime would
/// quietly fill with /dev/null): printing fails, one line, status 255, and no task is logged
/// as done; with stdout on /dev/null (open, on purpose) the same run succeeds and logs both.
#[test]
fn a_closed_stdout_is_an_error_not_a_success() {
    let d = tempdir();
    for (redirect, status, rows) in [(">&-", 255, 0), ("> /dev/null", 0, 2)] {
        let script = format!("exec {BIN} -k --joblog J echo ::: 1 2 {redirect}");
        let o = std::process::Command::new("sh")
            .current_dir(d.path())
            .args(["-c", &script])
            .stdin(Stdio::null())
            .timed_output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(status), "{redirect}: {err}");
        let log = fs::read_to_string(d.path().join("J")).unwrap();
        assert_eq!(log.lines().count(), 1 + rows, "{redirect}: {log}");
        if status != 0 {
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.starts_with("parx: writing stdout: "), "{err}");
        }
    }
    // The process pool's dry run prints too.
    let script = format!("exec {BIN} --dry-run --pool process echo ::: 1 >&-");
    let o = std::process::Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .timed_output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(255),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Item 8: a `TMPDIR` that is a file: the failed spill says it is not a directory (not "is
/// the disk full?").
#[test]
fn a_tmpdir_that_is_a_file_is_named_as_such() {
    let d = tempdir();
    let file = d.path().join("not-a-dir");
    fs::write(&file, "x").unwrap();
    // Task 1 is slow: 40 outputs of 1 MB wait behind it, past the 16 MiB kept in memory.
    let input: String = (1..=40).map(|i| format!("{i}\n")).collect();
    let o = parx_std()
        .env("TMPDIR", &file)
        .args([
            "-k",
            "sh",
            "-c",
            "[ $1 = 1 ] && sleep 1; head -c 1000000 /dev/zero | tr '\\0' a; echo",
            "sh",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
            let err = drain(c.stderr.take().unwrap());
            let st = wait_timeout(&mut c, TIMEOUT).expect("parx ends");
            (
                st,
                String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
            )
        })
        .unwrap();
    let (st, err) = o;
    assert_eq!(st.code(), Some(255), "{err}");
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.contains(&format!("cannot write to {}", file.display())),
        "{err}"
    );
    assert!(first.contains("it is not a directory"), "{err}");
    assert!(!err.contains("disk full"), "{err}");
}
