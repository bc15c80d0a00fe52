//! `--slurm N` against a real one-node Slurm (`.ci/slurm-up.sh`): an ordered merge equal to
//! the local run, failing tasks and `--resume-failed`, an array task cancelled with
//! `scancel`, Ctrl-C of the submitting parx, MaxArraySize, and the run directory's
//! permissions and symlink handling; what Slurm does to a run (scancel, a time limit, TERM of
//! the driving parx, then `--resume`; `scontrol requeue`; an index resubmitted by hand),
//! dynamic shares against stragglers, a run directory of a few files per shard, squeue's
//! back-off (slow), an unreachable controller, and `--resume` of other inputs. The tests take
//! the cluster one at a time; slow ones run with `PARX_SLOW_TESTS=1`.
//!
//! The cluster: the one `.ci/run` started (`PARX_SLURM=1` and `SLURM_CONF` set), else, with
//! `PARX_SLOW_TESTS=1`, one these tests start themselves (as root, with apt-get) and stop when
//! the test process exits.
//! Where neither can be, each test says why and passes without running; with `CI=true` a
//! missing cluster is a failure.

use crate::common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use common::{assert_no_survivors, parx, parx_std, sleep_marker, wait_for, wait_timeout, BIN};

/// Held by each test while it uses the cluster: the one-node cluster has 8 job slots, and
/// tests that need several array tasks running at once (or time them) must not wait
/// behind another test's.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The cluster, for one test at a time: `(SLURM_CONF, guard)`.
fn cluster() -> Option<(PathBuf, std::sync::MutexGuard<'static, ()>)> {
    let conf = cluster_conf()?;
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    Some((conf, guard))
}

/// The cluster every test uses: `Ok(SLURM_CONF)`, or why there is none.
fn cluster_conf() -> Option<PathBuf> {
    static UP: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let up = UP.get_or_init(start_cluster);
    match up {
        Ok(conf) => Some(conf.clone()),
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but there is no Slurm cluster: {why}")
        }
        Err(why) => {
            // Straight to stderr: the test harness would swallow eprintln! of a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "tests/cluster.rs: skipped, no Slurm cluster: {why}"
            );
            None
        }
    }
}

const OWN_DIR: &str = "/tmp/parx-slurm-tests";

extern "C" fn stop_own_cluster() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/slurm-up.sh");
    let _ = Command::new("bash")
        .arg(script)
        .args(["stop", OWN_DIR])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn start_cluster() -> Result<PathBuf, String> {
    if std::env::var("PARX_SLURM").as_deref() == Ok("1") {
        let conf = std::env::var("SLURM_CONF").map_err(|_| "PARX_SLURM=1 without SLURM_CONF")?;
        return Ok(conf.into());
    }
    if !common::slow_on() {
        return Err("starting a Slurm of their own (apt-get, as root) is slow: \
                    PARX_SLOW_TESTS=1 lets these tests do it (.ci/run starts one itself)"
            .into());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&root.stdout).trim() != "0" {
        return Err(
            "not root, so Slurm cannot be installed and started here; run \
                    .ci/slurm-up.sh as root and export PARX_SLURM=1 SLURM_CONF=..."
                .into(),
        );
    }
    let has = |c: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {c}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !has("slurmctld") && !has("apt-get") {
        return Err("Slurm is not installed and there is no apt-get to install it".into());
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/slurm-up.sh");
    // Two test processes must not share OWN_DIR: this one holds it while it runs.
    let o = Command::new("bash")
        .arg(&script)
        .arg(OWN_DIR)
        .env("PARX_SLURM_PORT_BASE", "17817")
        .output()
        .map_err(|e| e.to_string())?;
    // SAFETY: registers a plain extern "C" function with no arguments to run at exit.
    unsafe {
        libc::atexit(stop_own_cluster);
    }
    if !o.status.success() {
        return Err(format!(
            ".ci/slurm-up.sh failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(Path::new(OWN_DIR).join("slurm.conf"))
}

/// A parx `--slurm` run in `cwd` against the cluster.
fn slurm_parx(conf: &Path, cwd: &Path) -> assert_cmd::Command {
    let mut c = parx();
    c.env("SLURM_CONF", conf)
        .current_dir(cwd)
        .timeout(Duration::from_secs(180));
    c
}

fn squeue(conf: &Path, job: &str) -> String {
    let o = Command::new("squeue")
        .env("SLURM_CONF", conf)
        .args(["-h", "-r", "-j", job, "-o", "%i %T"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The job id in parx's "Slurm array job N" line.
fn job_id(stderr: &str) -> String {
    let at = stderr.find("Slurm array job ").expect("no job line") + "Slurm array job ".len();
    stderr[at..].split_whitespace().next().unwrap().to_owned()
}

/// Starts a `--slurm` parx with stderr piped; returns it, its stdout reader and a channel of
/// its stderr lines.
/// A submitting parx a test started: if the test fails before it ends, it gets SIGTERM (so
/// it cancels its array) and is reaped, and leaves no job to hold the cluster's slots.
struct Submitter(std::process::Child);

impl std::ops::Deref for Submitter {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Submitter {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for Submitter {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            // SAFETY: kill(2) on the child this test spawned and has not reaped.
            unsafe {
                libc::kill(self.0.id() as i32, libc::SIGTERM);
            }
            let _ = wait_timeout(&mut self.0, Duration::from_secs(60));
        }
    }
}

fn spawn(
    conf: &Path,
    cwd: &Path,
    args: &[&str],
) -> (
    Submitter,
    std::thread::JoinHandle<Vec<u8>>,
    mpsc::Receiver<String>,
) {
    let mut child = parx_std()
        .env("SLURM_CONF", conf)
        .current_dir(cwd)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = common::drain(child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (Submitter(child), out, rx)
}

/// Waits for parx's "Slurm array job" line; returns the job id and every line so far.
fn wait_job(rx: &mpsc::Receiver<String>) -> (String, Vec<String>) {
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("parx printed no job id");
        seen.push(line.clone());
        if line.contains("Slurm array job ") {
            return (job_id(&line), seen);
        }
    }
}

/// The rest of parx's stderr lines, once it has ended.
fn rest(rx: &mpsc::Receiver<String>) -> Vec<String> {
    let mut v = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        v.push(line);
    }
    v
}

/// The `sleep MARKER` processes (the marker also sits in parx's own arguments).
fn sleeping(marker: &str) -> Vec<i32> {
    common::pids_with(marker)
        .into_iter()
        .filter(|p| {
            fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.split(|&b| b == 0).next() == Some(b"sleep"))
        })
        .collect()
}

fn rows(log: &Path) -> Vec<Vec<String>> {
    fs::read_to_string(log)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

#[test]
fn ordered_merge_of_four_shards_equals_the_local_run() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let d = common::tempdir();
    let input: String = (1..=1000).map(|i| format!("{i}\n")).collect();
    let args = ["-k", "-j2", "echo", "{#}", "value", "{}"];
    let local = parx()
        .args(args)
        .write_stdin(input.clone())
        .output()
        .unwrap();
    assert!(local.status.success());
    let log = d.path().join("merged.tsv");
    let o = slurm_parx(&conf, d.path())
        .args([
            "--slurm",
            "4",
            "--keep-run-dir",
            "--joblog",
            log.to_str().unwrap(),
        ])
        .args(args)
        .write_stdin(input)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        o.stdout == local.stdout,
        "the merged output differs from the local run"
    );
    // -j2: each array task asked Slurm for 2 CPUs.
    let job = job_id(&err);
    let shown = Command::new("scontrol")
        .env("SLURM_CONF", &conf)
        .args(["show", "job", "-o", &format!("{job}_0")])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("NumCPUs=2"), "{shown}");
    // The merged job log: one row per task, in input order.
    let seqs: Vec<u64> = rows(&log).iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(seqs, (1..=1000).collect::<Vec<_>>());
    // Host: the node each shard ran on.
    assert!(rows(&log).iter().all(|r| r[1] != ":" && !r[1].is_empty()));
    // Four shards, each with its own log and status; together they ran every task once
    // (dynamic shares: how many each took varies).
    let rd = d
        .path()
        .read_dir()
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("parx-run-"))
        .expect("default run directory in the current one")
        .path();
    let mut ran = Vec::new();
    for k in 1..=4 {
        let status = fs::read_to_string(rd.join(format!("shard-{k}/status"))).unwrap();
        assert!(status.starts_with("exit 0\n"), "{status}");
        ran.extend(
            rows(&rd.join(format!("shard-{k}/joblog")))
                .iter()
                .map(|r| r[0].parse::<u64>().unwrap()),
        );
    }
    ran.sort();
    assert_eq!(ran, (1..=1000).collect::<Vec<_>>());
}

/// `sh -c` that fails for values in `bad` (space-separated) unless `ok-now` exists, and
/// records every run in `runs`.
const FLAKY: &str = "echo $1 >> runs; case \" $BAD \" in *\" $1 \"*) [ -e ok-now ] || { echo \
                     bad $1; exit 3; } ;; esac; echo good $1";

#[test]
fn failing_shard_then_resume_failed_resubmits_only_it() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let d = common::tempdir();
    let values: Vec<String> = (1..=30).map(|i| i.to_string()).collect();
    // Values 2, 5, 8 are seqs 2, 5, 8.
    let bad = "2 5 8";
    let run = |extra: &[&str]| {
        let mut c = slurm_parx(&conf, d.path());
        c.env("BAD", bad)
            .args([
                "--slurm",
                "3",
                "--run-dir",
                "rd",
                "--keep-run-dir",
                "--joblog",
                "log.tsv",
                "-k",
            ])
            .args(extra)
            .args(["sh", "-c", FLAKY, "sh", ":::"])
            .args(&values);
        c.output().unwrap()
    };
    let o = run(&[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "three tasks failed: {err}");
    let want_first: String = (1..=30)
        .map(|i| match i {
            2 | 5 | 8 => format!("bad {i}\n"),
            _ => format!("good {i}\n"),
        })
        .collect();
    assert_eq!(String::from_utf8_lossy(&o.stdout), want_first);
    let failed: Vec<String> = rows(&d.path().join("log.tsv"))
        .into_iter()
        .filter(|r| r[6] != "0")
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(failed, ["2", "5", "8"]);

    fs::write(d.path().join("ok-now"), "").unwrap();
    fs::write(d.path().join("runs"), "").unwrap();
    let o = run(&["--resume-failed"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let want: String = (1..=30).map(|i| format!("good {i}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&o.stdout), want);
    // A second array went, and in it only the failed tasks ran.
    let jobs = fs::read_to_string(d.path().join("rd/jobs")).unwrap();
    assert_eq!(jobs.lines().count(), 2, "{jobs}");
    let mut runs: Vec<u32> = fs::read_to_string(d.path().join("runs"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    runs.sort();
    assert_eq!(runs, [2, 5, 8]);
    assert!(rows(&d.path().join("log.tsv")).iter().all(|r| r[6] == "0"));
    // Nothing left to do: nothing is submitted, the output is printed again.
    let o = run(&["--resume-failed"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stdout), want);
    assert_eq!(fs::read_to_string(d.path().join("rd/jobs")).unwrap(), jobs);
    // Other inputs, or another command, do not fit the logs: refused in one line.
    for (cmd, n) in [(FLAKY, 29), ("echo $1", 30)] {
        let o = slurm_parx(&conf, d.path())
            .args(["--slurm", "3", "--run-dir", "rd", "--resume", "-k"])
            .args(["sh", "-c", cmd, "sh", ":::"])
            .args(&values[..n])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(255), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("another command or inputs"), "{err}");
    }
}

#[test]
fn cancelled_array_task_is_reported_and_its_tasks_fail() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let d = common::tempdir();
    let marker = sleep_marker();
    // 2 and 4 sleep (-j1: each of the two shards ends up holding one of them). Array task 1
    // is cancelled, so its sleeping task did not run; the test kills the other sleep.
    let script = format!("set -e; case $1 in 2|4) sleep 100 {marker};; esac; echo v$1");
    let (mut child, out, rx) = spawn(
        &conf,
        d.path(),
        &[
            "--slurm", "2", "-k", "-j1", "sh", "-c", &script, "sh", ":::", "1", "2", "3", "4",
        ],
    );
    let (job, mut err) = wait_job(&rx);
    let task = format!("{job}_1");
    assert!(
        wait_for(Duration::from_secs(60), || sleeping(&marker).len() == 2),
        "the two sleeps never ran"
    );
    let c = Command::new("scancel")
        .env("SLURM_CONF", &conf)
        .arg(&task)
        .status()
        .unwrap();
    assert!(c.success());
    assert!(wait_for(Duration::from_secs(30), || sleeping(&marker)
        .len()
        == 1));
    for p in sleeping(&marker) {
        // SAFETY: kill(2) on a sleep this test started.
        unsafe {
            libc::kill(p, libc::SIGKILL);
        }
    }
    let status = wait_timeout(&mut child, Duration::from_secs(90)).expect("parx did not end");
    err.extend(rest(&rx));
    let err = err.join("\n");
    let out = String::from_utf8_lossy(&out.join().unwrap()).into_owned();
    assert!(
        err.contains(&format!(
            "Slurm array task {task} (shard 2/2) did not finish (Slurm state CANCELLED"
        )),
        "{err}"
    );
    assert_no_survivors(&marker, "the cancelled task's sleep");
    // The other sleep was killed by the test (a failure, in a shard that ended normally),
    // the cancelled one did not run: two failures, v1 and v3 printed.
    assert_eq!(status.code(), Some(2), "{err}");
    assert_eq!(out, "v1\nv3\n");
}

#[test]
fn sigint_cancels_the_array_and_leaves_no_job() {
    signal_cancels_the_array(libc::SIGINT);
}

#[test]
fn sigterm_cancels_the_array_and_leaves_no_job() {
    signal_cancels_the_array(libc::SIGTERM);
}

/// Ctrl-C (or TERM) of the submitting parx: the array is cancelled, parx exits 128+sig, no
/// job is left in squeue and no task process is left.
fn signal_cancels_the_array(sig: i32) {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let d = common::tempdir();
    let marker = sleep_marker();
    let script = format!("exec sleep {marker}");
    let (mut child, _out, rx) = spawn(
        &conf,
        d.path(),
        &[
            "--slurm",
            "3",
            "--run-dir",
            "rd",
            "sh",
            "-c",
            script.as_str(),
            "sh",
            ":::",
            "a",
            "b",
            "c",
        ],
    );
    let (job, _) = wait_job(&rx);
    assert!(
        wait_for(Duration::from_secs(60), || !sleeping(&marker).is_empty()),
        "no task started"
    );
    // Resuming a run whose array still runs would run shards twice: refused.
    let o = slurm_parx(&conf, d.path())
        .args([
            "--slurm",
            "3",
            "--run-dir",
            "rd",
            "--resume",
            "sh",
            "-c",
            &script,
            "sh",
            ":::",
            "a",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(255), "{err}");
    assert!(
        err.contains(&format!("array job {job} is still pending or running")),
        "{err}"
    );
    let pid = child.id() as i32;
    // SAFETY: kill(2) on the child we spawned.
    unsafe {
        libc::kill(pid, sig);
    }
    let status = wait_timeout(&mut child, Duration::from_secs(60)).expect("parx did not end");
    assert_eq!(status.code(), Some(128 + sig));
    assert_eq!(squeue(&conf, &job).trim(), "", "jobs left in squeue");
    assert!(
        wait_for(Duration::from_secs(15), || common::pids_with(&marker)
            .is_empty()),
        "tasks survived the cancel"
    );
    assert_no_survivors(&marker, "the cancelled array's tasks");
}

#[test]
fn array_larger_than_max_array_size_is_refused() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let d = common::tempdir();
    // .ci/slurm-up.sh sets MaxArraySize=100.
    let o = slurm_parx(&conf, d.path())
        .args(["--slurm", "101", "echo", ":::", "a"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(255), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("MaxArraySize is 100"), "{err}");
    assert!(common::dir_names(d.path()).is_empty(), "nothing is created");
}

#[test]
fn run_dir_is_private_and_never_follows_a_link() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let d = common::tempdir();
    // Under umask 000 everything would be world-writable if parx relied on it.
    let cmd = format!(
        "umask 000; exec {} --slurm 2 --run-dir rd --keep-run-dir --joblog log.tsv -k cat ::: {}",
        common::sh_quote(BIN),
        "a b c d"
    );
    fs::write(d.path().join("a"), "A\n").unwrap();
    for f in ["b", "c", "d"] {
        fs::write(d.path().join(f), format!("{f}\n")).unwrap();
    }
    let o = Command::new("sh")
        .args(["-c", &cmd])
        .env("SLURM_CONF", &conf)
        .current_dir(d.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "A\nb\nc\nd\n");
    let rd = d.path().join("rd");
    let mut seen = 0;
    for e in walkdir(&rd) {
        let m = fs::symlink_metadata(&e).unwrap();
        let mode = m.permissions().mode() & 0o777;
        let want = if m.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{} has mode {mode:o}", e.display());
        seen += 1;
    }
    assert!(seen > 10);

    // A link planted in the run directory is refused, and its target is untouched.
    let victim = d.path().join("victim");
    fs::write(&victim, "keep\n").unwrap();
    fs::remove_file(rd.join("shard-1/joblog")).unwrap();
    std::os::unix::fs::symlink(&victim, rd.join("shard-1/joblog")).unwrap();
    let o = slurm_parx(&conf, d.path())
        .args([
            "--slurm",
            "2",
            "--run-dir",
            "rd",
            "--resume",
            "-k",
            "cat",
            ":::",
            "a",
            "b",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(255), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep\n");

    // A run directory that is itself a link is refused.
    std::os::unix::fs::symlink(d.path().join("elsewhere"), d.path().join("linked")).unwrap();
    fs::create_dir(d.path().join("elsewhere")).unwrap();
    let o = slurm_parx(&conf, d.path())
        .args(["--slurm", "2", "--run-dir", "linked", "echo", ":::", "a"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(255), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(common::dir_names(&d.path().join("elsewhere")).is_empty());
}

/// Every path under `root` (itself included), without following links.
fn walkdir(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_owned()];
    let mut i = 0;
    while i < out.len() {
        let p = out[i].clone();
        if fs::symlink_metadata(&p).unwrap().is_dir() {
            for e in fs::read_dir(&p).unwrap().flatten() {
                out.push(e.path());
            }
        }
        i += 1;
    }
    out
}

#[test]
fn without_keep_order_each_shard_is_printed_whole_as_it_ends() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let d = common::tempdir();
    let o = slurm_parx(&conf, d.path())
        .args([
            "--slurm", "2", "--pool", "process", "cat", ":::", "1", "2", "3", "4", "5", "6",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Each shard's tasks in order, one shard after the other: at most two rising runs.
    let out: Vec<u32> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let mut sorted = out.clone();
    sorted.sort();
    assert_eq!(sorted, [1, 2, 3, 4, 5, 6]);
    let falls = out.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(falls <= 1, "not shard by shard: {out:?}");
}

/// `sh -c` for [`interrupted_then_resume`]: values above 6 wait for `go` (in a `sleep MARKER`,
/// so the test can see them run), and every task that completes appends its value to `done`.
/// `set -e`: Slurm signals the job's processes one by one, so the sleep may die of TERM
/// before its shell hears of it; the shell then ends with 143 instead of going on.
fn gated(marker: &str) -> String {
    format!("set -e; [ $1 -le 6 ] || [ -e go ] || sleep 100 {marker}; echo v$1; echo $1 >> done")
}

/// How the first run of [`interrupted_then_resume`] is ended mid-run.
enum Interrupt {
    /// `scancel` of the whole array.
    Scancel,
    /// The array's time limit (`--slurm-arg=--time=1`).
    TimeLimit,
    /// SIGTERM to the driving parx.
    Sigterm,
}

/// 12 tasks in 3 shards, -j2: 1-6 end at once, 7-12 are in flight when the run is ended. The
/// tasks Slurm's TERM killed are "not run": `--resume` runs exactly them, the output is every
/// task's once, status 0, and no task completed twice.
fn interrupted_then_resume(how: Interrupt) {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let d = common::tempdir();
    let marker = sleep_marker();
    let script = gated(&marker);
    let values: Vec<String> = (1..=12).map(|i| i.to_string()).collect();
    let mut args: Vec<&str> = vec![
        "--slurm",
        "3",
        "-j2",
        "-k",
        "--run-dir",
        "rd",
        "--joblog",
        "log.tsv",
    ];
    if let Interrupt::TimeLimit = how {
        args.push("--slurm-arg=--time=1");
    }
    args.extend(["sh", "-c", &script, "sh", ":::"]);
    args.extend(values.iter().map(String::as_str));
    let (mut child, out, rx) = spawn(&conf, d.path(), &args);
    let (job, mut err) = wait_job(&rx);
    assert!(
        wait_for(Duration::from_secs(60), || sleeping(&marker).len() == 6),
        "the six slow tasks never all ran"
    );
    match how {
        Interrupt::Scancel => {
            let c = Command::new("scancel")
                .env("SLURM_CONF", &conf)
                .arg(&job)
                .status()
                .unwrap();
            assert!(c.success());
        }
        Interrupt::TimeLimit => {}
        // SAFETY: kill(2) on the child we spawned.
        Interrupt::Sigterm => unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        },
    }
    let status = wait_timeout(&mut child, Duration::from_secs(180)).expect("parx did not end");
    err.extend(rest(&rx));
    let err = err.join("\n");
    let first = String::from_utf8_lossy(&out.join().unwrap()).into_owned();
    match how {
        Interrupt::Sigterm => assert_eq!(status.code(), Some(143), "{err}"),
        _ => {
            assert_eq!(status.code(), Some(6), "six tasks did not run: {err}");
            let state = match how {
                Interrupt::TimeLimit => "Slurm state TIMEOUT",
                _ => "Slurm state CANCELLED",
            };
            assert!(err.contains(state), "{err}");
            assert!(err.contains("tasks it took did not run"), "{err}");
            // The reports name the tasks that did not run: 7-12, each once.
            let mut named: Vec<u32> = err
                .lines()
                .filter_map(|l| l.split_once("did not run (task")?.1.split_once(')'))
                .flat_map(|(list, _)| {
                    list.trim_start_matches('s')
                        .split(", ")
                        .map(|t| t.trim().parse::<u32>().unwrap())
                        .collect::<Vec<_>>()
                })
                .collect();
            named.sort();
            assert_eq!(named, (7..=12).collect::<Vec<_>>(), "{err}");
            let want: String = (1..=6).map(|i| format!("v{i}\n")).collect();
            assert_eq!(first, want);
        }
    }
    assert!(
        wait_for(Duration::from_secs(30), || sleeping(&marker).is_empty()),
        "the killed tasks' sleeps survived"
    );
    // No shard counts as ended normally, and --slurm-status (from any terminal) says so.
    let rd = d.path().join("rd");
    for k in 1..=3 {
        let status = fs::read_to_string(rd.join(format!("shard-{k}/status"))).unwrap_or_default();
        assert!(
            !status.starts_with("exit 0"),
            "shard {k} ended normally: {status}"
        );
    }
    let o = parx()
        .current_dir(d.path())
        .args(["--slurm-status", "rd"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(said.contains(": 6 of 12 tasks done, 0 failed"), "{said}");
    if let Interrupt::Sigterm = how {
        assert!(said.contains("ended by Slurm (CANCELLED)"), "{said}");
    }

    fs::write(d.path().join("go"), "").unwrap();
    let mut again = args.clone();
    again.insert(0, "--resume");
    let o = slurm_parx(&conf, d.path()).args(&again).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let want: String = (1..=12).map(|i| format!("v{i}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&o.stdout), want, "{err}");
    let mut done: Vec<u32> = fs::read_to_string(d.path().join("done"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    done.sort();
    assert_eq!(
        done,
        (1..=12).collect::<Vec<_>>(),
        "a task completed twice or never"
    );
    let seqs: Vec<u64> = rows(&d.path().join("log.tsv"))
        .iter()
        .map(|r| r[0].parse().unwrap())
        .collect();
    assert_eq!(seqs, (1..=12).collect::<Vec<_>>());
    // A successful run leaves no run directory.
    assert!(!rd.exists(), "the run directory was kept");
}

#[test]
fn scancel_mid_run_then_resume_runs_the_killed_tasks_once() {
    interrupted_then_resume(Interrupt::Scancel);
}

#[test]
fn sigterm_of_the_driving_parx_then_resume_runs_the_killed_tasks_once() {
    interrupted_then_resume(Interrupt::Sigterm);
}

#[test]
fn time_limit_is_named_and_resume_runs_the_killed_tasks_once() {
    if common::slow("a Slurm time limit") {
        interrupted_then_resume(Interrupt::TimeLimit);
    }
}

/// Lines of file `name` in `dir` as numbers, sorted (empty when it is missing).
fn numbers(dir: &Path, name: &str) -> Vec<u32> {
    let mut v: Vec<u32> = fs::read_to_string(dir.join(name))
        .unwrap_or_default()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn requeued_array_task_continues_from_its_log() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let d = common::tempdir();
    // Two shards, -j1: 1-4 end at once, 5 and 6 wait for `go` (one in each shard, which
    // then holds it). Every task appends to `started` when it starts and to `done` when it
    // completes.
    let script = "set -e; echo $1 >> started; if [ $1 -gt 4 ]; then while [ ! -e go ]; do \
                  sleep 0.1; done; fi; echo $1 >> done; echo v$1";
    let args = [
        "--slurm", "2", "-j1", "-k", "--joblog", "log.tsv", "sh", "-c", script, "sh", ":::", "1",
        "2", "3", "4", "5", "6", "7", "8",
    ];
    let (mut child, out, rx) = spawn(&conf, d.path(), &args);
    let (job, mut err) = wait_job(&rx);
    assert!(
        wait_for(Duration::from_secs(60), || {
            let s = numbers(d.path(), "started");
            s.contains(&5) && s.contains(&6)
        }),
        "tasks 5 and 6 never started"
    );
    let task = format!("{job}_0");
    let c = Command::new("scontrol")
        .env("SLURM_CONF", &conf)
        .args(["requeue", &task])
        .output()
        .unwrap();
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    // Once the first attempt is gone (its task was killed in flight), let the tasks end.
    assert!(
        wait_for(Duration::from_secs(60), || {
            let q = squeue(&conf, &job);
            !q.contains(&format!("{task} RUNNING")) && !q.contains(&format!("{task} COMPLETING"))
        }),
        "the requeued task never left RUNNING"
    );
    fs::write(d.path().join("go"), "").unwrap();
    let status = wait_timeout(&mut child, Duration::from_secs(240)).expect("parx did not end");
    err.extend(rest(&rx));
    let err = err.join("\n");
    assert_eq!(status.code(), Some(0), "{err}");
    let want: String = (1..=8).map(|i| format!("v{i}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&out.join().unwrap()), want, "{err}");
    // Every task completed once; 1-4, done before the requeue, did not even start again
    // (only the task killed in flight did).
    assert_eq!(numbers(d.path(), "done"), (1..=8).collect::<Vec<_>>());
    let started = numbers(d.path(), "started");
    assert_eq!(
        started.iter().filter(|&&v| v <= 4).count(),
        4,
        "{started:?}"
    );
    assert_eq!(
        started.len(),
        9,
        "only the task killed in flight started twice: {started:?}"
    );
    let seqs: Vec<u64> = rows(&d.path().join("log.tsv"))
        .iter()
        .map(|r| r[0].parse().unwrap())
        .collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
}

#[test]
fn resubmitted_index_of_the_job_script_runs_its_share_or_is_refused() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let d = common::tempdir();
    let values: Vec<String> = (1..=20).map(|i| i.to_string()).collect();
    let o = slurm_parx(&conf, d.path())
        .args(["--slurm", "5", "--run-dir", "rd", "--keep-run-dir", "-k"])
        .args(["sh", "-c", "echo $1 >> runs; echo v$1", "sh", ":::"])
        .args(&values)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(numbers(d.path(), "runs"), (1..=20).collect::<Vec<_>>());
    let script = fs::read_to_string(d.path().join("rd/job.sh")).unwrap();
    assert!(script.contains("runs share i+1 of 5"), "{script}");
    let sbatch = |array: &str| {
        Command::new("sbatch")
            .env("SLURM_CONF", &conf)
            .current_dir(d.path())
            .args(["--wait", "--output=slurm-%a.out", array, "rd/job.sh"])
            .output()
            .unwrap()
    };
    // Index 3 is shard 4 of 5: it continues from its log and claims, where nothing is
    // left, so nothing runs again (never every task).
    let o = sbatch("--array=3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want: Vec<u32> = (1..=20).collect();
    assert_eq!(numbers(d.path(), "runs"), want);
    let status = fs::read_to_string(d.path().join("rd/shard-4/status")).unwrap();
    assert!(status.starts_with("exit 0\n"), "{status}");
    // Index 12 is not a share: one line, nothing runs.
    let o = sbatch("--array=12");
    assert!(!o.status.success());
    assert_eq!(numbers(d.path(), "runs"), want);
    let said = fs::read_to_string(d.path().join("slurm-12.out")).unwrap();
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.contains("array index 12 is not a share of this run (5 shares: indices 0-4)"),
        "{said}"
    );
    // --slurm-arg=--array is parx's to choose: refused before anything is made.
    let e = tempfile::tempdir().unwrap();
    let o = slurm_parx(&conf, e.path())
        .args([
            "--slurm",
            "2",
            "--slurm-arg=--array=0-1",
            "echo",
            ":::",
            "a",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(255), "{err}");
    assert!(err.contains("--slurm-throttle"), "{err}");
    assert!(common::dir_names(e.path()).is_empty());
}

#[test]
fn run_dir_holds_a_few_files_per_shard_and_is_removed_after_success() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let d = common::tempdir();
    // 20,000 tasks with PARX_SLOW_TESTS=1 (the issue's figure), 2,000 otherwise.
    let n = if common::slow_on() { 20_000 } else { 2_000 };
    let input: String = (1..=n).map(|i| format!("{i}\n")).collect();
    let args = ["-k", "echo", "task", "{#}", "{}"];
    let local = parx()
        .args(args)
        .write_stdin(input.clone())
        .output()
        .unwrap();
    assert!(local.status.success());
    let mut child = parx_std()
        .env("SLURM_CONF", &conf)
        .current_dir(d.path())
        .args(["--slurm", "4", "--run-dir", "rd"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = common::drain(child.stdout.take().unwrap());
    let err = common::drain(child.stderr.take().unwrap());
    // Count the run directory's entries while the run goes on.
    let rd = d.path().join("rd");
    let mut most = 0;
    let mut looked = 0;
    while child.try_wait().unwrap().is_none() {
        if rd.exists() {
            let seen = std::panic::catch_unwind(|| walkdir(&rd).len()).unwrap_or(0);
            most = most.max(seen);
            looked += 1;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = child.wait().unwrap();
    let err = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(looked > 0, "the run directory was never seen");
    assert!(
        most < 100,
        "{most} entries in the run directory for {n} tasks"
    );
    assert!(
        out.join().unwrap() == local.stdout,
        "the output differs from the local run"
    );
    assert!(!rd.exists(), "the run directory is left after success");
    // Slurm's output files of the array tasks went with it.
    assert!(
        common::dir_names(d.path()).is_empty(),
        "left after success: {:?}",
        common::dir_names(d.path())
    );
}

/// `--pool process` shards keep their outputs as the thread pool's do: one `out` per shard,
/// indexed by its job log (no file per task), merged in order, a crashed worker's record
/// failing alone as in a local run.
#[test]
fn process_pool_shards_keep_a_few_files_and_merge_exactly() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let d = common::tempdir();
    let input: String = (1..=3000).map(|i| format!("{i}\n")).collect();
    // Record 1500 ends its worker (status 3): that task fails, the others are answered.
    let args = [
        "--pool",
        "process",
        "-k",
        "awk",
        "$1 == 1500 { exit 3 } { print \"r\" $1; fflush() }",
    ];
    let local = parx()
        .args(["-j2"])
        .args(args)
        .write_stdin(input.clone())
        .output()
        .unwrap();
    assert_eq!(local.status.code(), Some(1));
    let o = slurm_parx(&conf, d.path())
        .args(["--slurm", "3", "-j2", "--run-dir", "rd", "--keep-run-dir"])
        .args(args)
        .write_stdin(input)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        o.stdout == local.stdout,
        "the output differs from the local run: {err}"
    );
    let entries = walkdir(&d.path().join("rd"));
    assert!(
        entries.len() < 40,
        "{} entries in the run directory: {entries:?}",
        entries.len()
    );
    assert!(
        entries.iter().all(|p| !p.ends_with("results")),
        "{entries:?}"
    );
}

/// The commonest first-run mistake, a run directory on storage the compute node does not
/// see: here a tmpfs mounted in the submitting parx's own mount namespace (slurmd, outside
/// it, sees the empty directory under it). Each array task says so in Slurm's output file,
/// in the submitting directory, and parx quotes that line in its report of the shard.
#[test]
fn unreachable_run_dir_is_quoted_from_slurms_output_file() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let private_mounts = Command::new("unshare")
        .args(["-m", "--propagation", "private", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !private_mounts {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI=true but unshare -m fails"
        );
        let _ = writeln!(
            std::io::stderr(),
            "skipped: unshare -m (a private mount namespace) is not allowed here"
        );
        return;
    }
    let d = common::tempdir();
    let local = d.path().join("local");
    fs::create_dir(&local).unwrap();
    let rd = local.join("rd");
    let o = Command::new("unshare")
        .env("SLURM_CONF", &conf)
        .current_dir(d.path())
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs tmpfs \"$1\" && shift && exec \"$@\"")
        .arg("sh")
        .arg(&local)
        .arg(BIN)
        .args(["--slurm", "2", "--run-dir"])
        .arg(&rd)
        .args(["echo", ":::", "a", "b", "c"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "three tasks did not run: {err}");
    assert!(o.stdout.is_empty());
    let job = job_id(&err);
    for idx in 0..2 {
        let file = d.path().join(format!("parx-slurm-{job}_{idx}.out"));
        let said = fs::read_to_string(&file).unwrap_or_default();
        let line = format!("cannot see the run directory {}", rd.display());
        assert!(said.contains(&line), "{}: {said}", file.display());
        let report = err
            .lines()
            .find(|l| l.contains(&format!("Slurm array task {job}_{idx} ")))
            .unwrap_or_else(|| panic!("no report of array task {idx}: {err}"));
        assert!(
            report.contains("(Slurm state FAILED)")
                && report.contains("it never reached the run directory")
                && report.contains(&format!(
                    "Slurm's output file {} says: parx: ",
                    file.display()
                ))
                && report.ends_with(&format!("{line} (it must be on storage every node sees)")),
            "{report}"
        );
    }
}

/// Issue 26 item 7: no array task without a task for it (`--slurm 10` over 3 tasks submits
/// 3), and an array sbatch refuses leaves no run directory behind.
#[test]
fn empty_shares_are_not_submitted_and_a_refused_array_leaves_nothing() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let d = common::tempdir();
    let o = slurm_parx(&conf, d.path())
        .args(["--slurm", "10", "-k", "echo", ":::", "a", "b", "c"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "a\nb\nc\n");
    assert!(err.contains("(3 of 10 shards)"), "{err}");
    let job = job_id(&err);
    let shown = Command::new("scontrol")
        .env("SLURM_CONF", &conf)
        .args(["show", "job", &job])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    let mut ids: Vec<&str> = shown
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("ArrayTaskId="))
        .collect();
    ids.sort();
    assert_eq!(ids, ["0", "1", "2"], "{shown}");
    assert!(common::dir_names(d.path()).is_empty(), "left behind");
    let e = common::tempdir();
    let o = slurm_parx(&conf, e.path())
        .args(["--slurm", "2", "--slurm-arg=--partition=nosuchpartition"])
        .args(["echo", ":::", "a"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(255), "{err}");
    assert!(err.contains("sbatch refused the array"), "{err}");
    assert!(
        common::dir_names(e.path()).is_empty(),
        "an orphan run directory"
    );
}

#[test]
fn dynamic_shares_balance_stragglers() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let d = common::tempdir();
    // The issue's case: 16 tasks, every 4th sleeps 3 s; round-robin shares would put all
    // four slow tasks in one shard (12 s).
    let values: Vec<String> = (1..=16).map(|i| i.to_string()).collect();
    let script = "case $(( $1 % 4 )) in 0) sleep 3;; esac; echo v$1";
    let t = std::time::Instant::now();
    let local = parx()
        .args(["-j4", "-k", "sh", "-c", script, "sh", ":::"])
        .args(&values)
        .output()
        .unwrap();
    let local_time = t.elapsed();
    assert!(local.status.success());
    let submitted = std::time::SystemTime::now();
    let t = std::time::Instant::now();
    let o = slurm_parx(&conf, d.path())
        .args([
            "--slurm",
            "4",
            "-j1",
            "-k",
            "--keep-run-dir",
            "--run-dir",
            "rd",
        ])
        .args(["sh", "-c", script, "sh", ":::"])
        .args(&values)
        .output()
        .unwrap();
    let slurm_time = t.elapsed();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.stdout, local.stdout);
    // The four slow tasks ran in four different shards, and when the first task started.
    let mut first_start = f64::MAX;
    let mut slow_in = Vec::new();
    for k in 1..=4 {
        for r in rows(&d.path().join(format!("rd/shard-{k}/joblog"))) {
            first_start = first_start.min(r[2].parse::<f64>().unwrap());
            if r[0].parse::<u32>().unwrap() % 4 == 0 {
                slow_in.push(k);
            }
        }
    }
    slow_in.sort();
    assert_eq!(slow_in, [1, 2, 3, 4], "the slow tasks' shards");
    // Within 1.5x of the local run, not counting Slurm's own start-up (the time from the
    // submission to the first task, about 0.7 s on an idle one-node cluster, more under
    // load; the whole run is reported).
    let since_epoch = submitted
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let startup = (first_start - since_epoch).max(0.0);
    let _ = writeln!(
        std::io::stderr(),
        "stragglers: --slurm 4 -j1 {slurm_time:?} (Slurm start-up {startup:.2} s), local -j4 \
         {local_time:?}"
    );
    assert!(
        slurm_time.as_secs_f64() - startup <= 1.5 * local_time.as_secs_f64(),
        "--slurm 4 -j1 took {slurm_time:?} ({startup:.2} s of it Slurm's start-up), local \
         -j4 {local_time:?}"
    );
}

#[test]
fn squeue_is_asked_with_back_off() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    if !common::slow("squeue_is_asked_with_back_off") {
        return;
    }
    let d = common::tempdir();
    // squeue on PATH: a wrapper that counts its calls.
    let bin = d.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v squeue"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let count = d.path().join("squeue-calls");
    let wrapper = bin.join("squeue");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho >> {}\nexec {} \"$@\"\n",
            common::sh_quote(count.to_str().unwrap()),
            real.trim()
        ),
    )
    .unwrap();
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let t = std::time::Instant::now();
    let o = slurm_parx(&conf, d.path())
        .env("PATH", path)
        .timeout(Duration::from_secs(300))
        .args(["--slurm", "2", "sleep", ":::", "115", "115"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let calls = fs::read_to_string(&count)
        .unwrap_or_default()
        .lines()
        .count();
    let _ = writeln!(
        std::io::stderr(),
        "squeue: {calls} calls in {:?}",
        t.elapsed()
    );
    assert!(calls <= 20, "{calls} squeue calls in {:?}", t.elapsed());
}

#[test]
fn slurm_unreachable_is_said_fast() {
    let Some(conf) = cluster_conf() else { return };
    let d = common::tempdir();
    // The same cluster's configuration with a port nobody listens on.
    let text = fs::read_to_string(&conf).unwrap();
    let bad: String = text
        .lines()
        .map(|l| match l.starts_with("SlurmctldPort=") {
            true => "SlurmctldPort=1\n".to_owned(),
            false => format!("{l}\n"),
        })
        .collect();
    let bad_conf = d.path().join("slurm.conf");
    fs::write(&bad_conf, bad).unwrap();
    let t = std::time::Instant::now();
    let o = slurm_parx(&bad_conf, d.path())
        .args(["--slurm", "2", "echo", ":::", "a"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(255), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(common::dir_names(d.path()), ["slurm.conf"]);
}

#[test]
fn halt_in_one_shard_stops_the_others() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let d = common::tempdir();
    // Task 3 fails; every other task sleeps 2 s (40 s of work over two shards without --halt).
    let script = "case $1 in 3) exit 3;; esac; sleep 2; echo v$1";
    let values: Vec<String> = (1..=40).map(|i| i.to_string()).collect();
    let t = std::time::Instant::now();
    let o = slurm_parx(&conf, d.path())
        .args(["--slurm", "2", "-j1", "--halt", "now,fail=1"])
        .args(["sh", "-c", script, "sh", ":::"])
        .args(&values)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "the failed task's status: {err}");
    assert!(
        err.contains("--halt: condition met at task 3 over all shards (status 3); cancelled"),
        "{err}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "took {:?}: the other shard was not stopped",
        t.elapsed()
    );
    let job = job_id(&err);
    assert_eq!(squeue(&conf, &job).trim(), "", "array tasks left in squeue");
}

/// `--halt soon,fail=2` with one failure in each of two shards: the threshold is the whole
/// run's (each shard alone has one failure), no task starts after it is met (not even one a
/// shard had claimed), and the running ones finish.
#[test]
fn halt_threshold_counts_failures_over_all_shards() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    let d = common::tempdir();
    // -j1, 40 tasks: the first two batches are 1-5 and 6-9, one per shard: the first shard's
    // other tasks wait until task 6 has started (so it cannot reach 6 itself, whenever the
    // second shard starts). Tasks 1 and 6 fail at once; every task that starts appends to
    // `started`.
    let script = "echo $1 >> started; case $1 in 1|6) exit $1;; esac; i=0; \
                  until grep -qx 6 started || [ $i -ge 600 ]; do sleep 0.1; i=$((i+1)); done; \
                  sleep 1; echo v$1";
    let values: Vec<String> = (1..=40).map(|i| i.to_string()).collect();
    let t = std::time::Instant::now();
    let o = slurm_parx(&conf, d.path())
        .args([
            "--slurm",
            "2",
            "-j1",
            "--halt",
            "soon,fail=2",
            "--keep-run-dir",
        ])
        .args(["--run-dir", "rd", "sh", "-c", script, "sh", ":::"])
        .args(&values)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let took = t.elapsed();
    // GNU parallel's status for fail=N: the status of the task that met it.
    assert!(
        matches!(o.status.code(), Some(1 | 6)),
        "{:?}: {err}",
        o.status.code()
    );
    assert!(
        err.contains("over all shards") && err.contains("the shards start no new task"),
        "{err}"
    );
    let mut shards_of = std::collections::BTreeMap::new();
    for k in 1..=2 {
        for r in rows(&d.path().join(format!("rd/shard-{k}/joblog"))) {
            shards_of.insert(r[0].parse::<u32>().unwrap(), k);
        }
    }
    assert_ne!(shards_of[&1], shards_of[&6], "1 and 6 ran in one shard");
    // The two failures, the task each shard was running then, and at most a second one
    // per shard in the time the halt takes to get round (tasks take a second each).
    let started = numbers(d.path(), "started");
    assert!(
        started.len() <= 8,
        "{} tasks started: {started:?}",
        started.len()
    );
    assert!(
        took < Duration::from_secs(15),
        "took {took:?}: the shards went on"
    );
    // A shard's status is written as its parx ends: Slurm may show it a moment longer.
    let job = job_id(&err);
    assert!(
        wait_for(Duration::from_secs(10), || squeue(&conf, &job)
            .trim()
            .is_empty()),
        "array tasks left in squeue: {}",
        squeue(&conf, &job)
    );
}

#[test]
fn bar_counts_tasks_across_shards() {
    let Some((conf, _one)) = cluster() else {
        return;
    };
    if Command::new("tmux").arg("-V").output().is_err() {
        let _ = writeln!(std::io::stderr(), "skipped: tmux is not installed");
        return;
    }
    let d = common::tempdir();
    let sock = d.path().join("tmux.sock");
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .arg("-S")
            .arg(&sock)
            .args(args)
            .env_remove("TMUX")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // 40 tasks of 0.2 s over two shards, -j1: about 4 s, drawn on the submitter's terminal.
    let script = format!(
        "cd {} && SLURM_CONF={} {} --slurm 2 -j1 --bar sh -c 'sleep 0.2' ::: $(seq 40); sleep 30",
        common::sh_quote(d.path().to_str().unwrap()),
        common::sh_quote(conf.to_str().unwrap()),
        common::sh_quote(BIN)
    );
    let o = tmux(&["new-session", "-d", "-x", "100", "-y", "8", &script]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (mut seen_between, mut seen_end) = (false, false);
    let t = std::time::Instant::now();
    let mut screen = String::new();
    while t.elapsed() < Duration::from_secs(60) && !seen_end {
        screen = String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).into_owned();
        let bars: Vec<&str> = screen
            .lines()
            .filter(|l| l.starts_with("parx: ["))
            .collect();
        for l in &bars {
            let done: Option<u64> = l
                .split_whitespace()
                .find_map(|w| w.strip_suffix("/40"))
                .and_then(|n| n.parse().ok());
            match done {
                Some(40) => seen_end = true,
                Some(n) if n > 0 => seen_between = true,
                _ => {}
            }
        }
        // The bar is cleared at the end (README, --bar): gone after it counted is the end too.
        if seen_between && bars.is_empty() {
            seen_end = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tmux(&["kill-server"]);
    assert!(
        seen_between && seen_end,
        "no bar across shards; screen:\n{screen}"
    );
}
