//! Talking to Slurm through its client commands, without accounting (`sacct` is absent on
//! small clusters): `scontrol show config` (`MaxArraySize`), `sbatch --parsable --array`,
//! `squeue` (what is still pending or running), `scontrol show job` (why a task ended, while
//! the controller remembers it) and `scancel`; and where Slurm's output file of an array task
//! is.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// How long the first question to Slurm may take before parx says it does not answer
/// (Slurm's clients retry for about a minute against a controller that is down).
const ANSWER: Duration = Duration::from_secs(10);

fn run(cmd: &mut Command, what: &str) -> anyhow::Result<Output> {
    cmd.stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {what} (is Slurm's client installed and on PATH?)"))
}

/// `run`, but gives up (killing the command) after `limit`.
fn run_within(cmd: &mut Command, what: &str, limit: Duration) -> anyhow::Result<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {what} (is Slurm's client installed and on PATH?)"))?;
    let read = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut v);
            }
            v
        })
    };
    let out = read(child.stdout.take().map(|r| Box::new(r) as _));
    let err = read(child.stderr.take().map(|r| Box::new(r) as _));
    let until = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "Slurm does not answer: {what} gave nothing in {} s (is slurmctld up and \
                 SLURM_CONF right?)",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

fn first_line(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// The cluster's `MaxArraySize` (array indices must be below it), if it says.
pub(super) fn max_array_size() -> anyhow::Result<Option<u64>> {
    let o = run_within(
        Command::new("scontrol").args(["show", "config"]),
        "scontrol show config",
        ANSWER,
    )?;
    if !o.status.success() {
        bail!(
            "scontrol show config failed: {} (is the cluster up?)",
            first_line(&o.stderr)
        );
    }
    Ok(parse_max_array_size(&String::from_utf8_lossy(&o.stdout)))
}

fn parse_max_array_size(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "MaxArraySize").then(|| v.trim().parse().ok())?
    })
}

/// Slurm's output file of each array task, in the submitting directory (`%A`: the array job,
/// `%a`: the index).
const OUTPUT_PATTERN: &str = "parx-slurm-%A_%a.out";

/// Where Slurm's output file of array task `job_idx` is, for a submission from `cwd`.
pub(super) fn output_file(cwd: &Path, job: &str, idx: u64) -> std::path::PathBuf {
    cwd.join(
        OUTPUT_PATTERN
            .replace("%A", job)
            .replace("%a", &idx.to_string()),
    )
}

/// Whether this process may create files in `dir`.
fn writable(dir: &Path) -> bool {
    rustix::fs::access(
        dir,
        rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
    )
    .is_ok()
}

/// Submits `script` as an array over the indices `spec` (`0-3`, `0,2`), at most `throttle` at
/// once, each with `cpus` CPUs; returns the job id.
pub(super) fn submit(
    script: &Path,
    spec: &str,
    throttle: Option<u32>,
    cpus: Option<u32>,
    cwd: &Path,
    extra: &[OsString],
) -> anyhow::Result<String> {
    let mut c = Command::new("sbatch");
    let throttle = throttle.map(|t| format!("%{t}")).unwrap_or_default();
    if let Some(n) = cpus {
        // -j N: N tasks at once in each array task, so N CPUs for it (--slurm-arg, after
        // this, may say otherwise).
        c.arg(format!("--cpus-per-task={n}"));
    }
    c.arg("--parsable")
        .arg(format!("--array={spec}{throttle}"))
        .arg("--job-name=parx")
        // Slurm's own output file (stdout and stderr), relative to --chdir: what an array task
        // says before its shard's stderr is open (a run directory it cannot see), and
        // slurmstepd's lines (a cancel, a time limit). See [`output_file`]. In a directory we
        // may not write, Slurm could not open it and would fail the task: /dev/null then.
        .arg(if writable(cwd) {
            format!("--output={OUTPUT_PATTERN}")
        } else {
            "--output=/dev/null".to_owned()
        })
        .arg("--chdir")
        .arg(cwd)
        .args(extra)
        .arg(script);
    let o = run(&mut c, "sbatch")?;
    if !o.status.success() {
        bail!("sbatch refused the array: {}", first_line(&o.stderr));
    }
    // --parsable: "JOBID" or "JOBID;CLUSTER".
    let line = first_line(&o.stdout);
    let id = line.split(';').next().unwrap_or("").trim().to_owned();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        bail!("sbatch printed no job id (got '{line}')");
    }
    Ok(id)
}

/// The array tasks of `job` the controller knows, by index, with their state (pending,
/// running, requeued, or ended: `COMPLETED`, `TIMEOUT`, ...); `None` when squeue could not be
/// asked this time. A job the controller has already forgotten has no tasks.
pub(super) fn states(job: &str) -> Option<HashMap<u64, String>> {
    let o = Command::new("squeue")
        .args(["-h", "-r", "-t", "all", "-j", job, "-o", "%i %T"])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        return err.contains("Invalid job id").then(HashMap::new);
    }
    Some(parse_squeue(job, &String::from_utf8_lossy(&o.stdout)))
}

/// The array tasks of `job` that are still pending, running, completing or requeued.
pub(super) fn queued(job: &str) -> Option<HashMap<u64, String>> {
    let mut q = states(job)?;
    q.retain(|_, s| active(s));
    Some(q)
}

/// Whether a job state is one Slurm may still run (or is still ending): not a final one.
pub(super) fn active(state: &str) -> bool {
    !matches!(
        state,
        "COMPLETED"
            | "CANCELLED"
            | "FAILED"
            | "TIMEOUT"
            | "PREEMPTED"
            | "NODE_FAIL"
            | "OUT_OF_MEMORY"
            | "BOOT_FAIL"
            | "DEADLINE"
    )
}

/// Whether a final state is one where Slurm ended the job (rather than its program): its
/// processes were sent TERM (then KILL), or lost with their node.
pub(super) fn ended_by_slurm(state: &str) -> bool {
    matches!(
        state,
        "CANCELLED"
            | "TIMEOUT"
            | "PREEMPTED"
            | "NODE_FAIL"
            | "OUT_OF_MEMORY"
            | "BOOT_FAIL"
            | "DEADLINE"
    )
}

fn parse_squeue(job: &str, text: &str) -> HashMap<u64, String> {
    text.lines()
        .filter_map(|l| {
            let (id, state) = l.trim().split_once(' ')?;
            let (j, idx) = id.split_once('_')?;
            (j == job).then_some(())?;
            Some((idx.parse().ok()?, state.trim().to_owned()))
        })
        .collect()
}

/// Why array task `job_idx` ended, while the controller still knows it (e.g. `CANCELLED`,
/// `TIMEOUT`, `OUT_OF_MEMORY`, `NODE_FAIL`).
pub(super) fn ended_state(job: &str, idx: u64) -> Option<String> {
    let o = Command::new("scontrol")
        .args(["show", "job", "-o", &format!("{job}_{idx}")])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&o.stdout);
    let state = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("JobState="))?;
    Some(state.to_owned())
}

/// Cancels the array tasks of `job` that have not started (`scancel --state=PENDING JOB`);
/// errors are reported, not fatal.
pub(super) fn cancel_pending(job: &str) {
    match Command::new("scancel")
        .args(["--state=PENDING", job])
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) => crate::messages::note(format_args!("scancel {job}: {}", first_line(&o.stderr))),
        Err(e) => crate::messages::note(format_args!("cannot run scancel {job}: {e}")),
    }
}

/// Cancels the whole array (`scancel JOB`); errors are reported, not fatal.
pub(super) fn cancel(job: &str) {
    match Command::new("scancel")
        .arg(job)
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) => crate::messages::note(format_args!("scancel {job}: {}", first_line(&o.stderr))),
        Err(e) => crate::messages::note(format_args!("cannot run scancel {job}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_array_size_line() {
        let t = "MaxArraySize            = 100\nMaxJobCount             = 10000\n";
        assert_eq!(parse_max_array_size(t), Some(100));
        assert_eq!(parse_max_array_size("Other = 1\n"), None);
    }

    #[test]
    fn squeue_lines() {
        let q = parse_squeue(
            "12",
            "12_0 RUNNING\n12_3 PENDING\n13_1 RUNNING\n12_4 TIMEOUT\n12_[5-6] PENDING\n",
        );
        assert_eq!(q.len(), 3);
        assert_eq!(q[&0], "RUNNING");
        assert_eq!(q[&3], "PENDING");
        assert!(active(&q[&3]) && !active(&q[&4]) && active("REQUEUED"));
    }
}
