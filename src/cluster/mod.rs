//! `--slurm N`: one Slurm array of N tasks, each running this parx binary
//! (`std::env::current_exe`, so it must be on storage every node sees) on the same options,
//! command and inputs as `--shard auto`; then waiting without accounting (squeue and the
//! status files the shards write), printing the merged output, merging the job logs, and the
//! exit status over every task (DESIGN.md, "Beyond one machine").
//!
//! * [`rundir`]: the private run directory and its symlink-proof file operations;
//! * [`slurm`]: sbatch, squeue, scontrol and scancel;
//! * [`task`]: what an array task does on its node.
//!
//! The same binary is both sides: an array task is recognised by `PARX_SLURM_RUN` in its
//! environment (set by the batch script), the submitter by its absence.

mod rundir;
mod slurm;
mod task;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use self::rundir::RunDir;
use crate::config::{ChunkMode, Config, Resume, SlurmConfig, SourceKind};
use crate::shard::Shard;
use crate::{sys, EXIT_ERROR};

/// Set in an array task's environment: the run directory.
const ENV_RUN: &str = "PARX_SLURM_RUN";
/// Set in an array task's environment: `no`, `all` or `failed` (which logged tasks to skip).
const ENV_RESUME: &str = "PARX_SLURM_RESUME";
/// How long an array task may be gone from squeue without its status file before it counts
/// as not finished (a shared file system may show the file a little late).
const GRACE: Duration = Duration::from_secs(5);
/// How often squeue and the status files are looked at.
const POLL: Duration = Duration::from_millis(500);

/// Runs `--slurm` (the submitting side, or an array task) and returns the exit status.
pub fn run(cfg: Config) -> i32 {
    let res = match std::env::var_os(ENV_RUN) {
        Some(dir) => task::run(cfg, Path::new(&dir)),
        None => submit(cfg),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("parx: {e:#}");
            EXIT_ERROR
        }
    }
}

/// What a shard's job log says: the last row of each task.
#[derive(Default)]
struct Log {
    rows: BTreeMap<u64, LogRow>,
}

struct LogRow {
    /// The row as written (ending in a newline), from the Host column on.
    rest: Vec<u8>,
    failed: bool,
}

impl Log {
    fn read(path: &Path) -> anyhow::Result<Log> {
        let text = rundir::read(path)?.unwrap_or_default();
        let mut log = Log::default();
        let whole = memchr::memrchr(b'\n', &text).map_or(0, |i| i + 1);
        for line in text[..whole].split_inclusive(|&b| b == b'\n') {
            let fields: Vec<&[u8]> = line.splitn(9, |&b| b == b'\t').collect();
            let num = |i: usize| -> Option<i64> {
                std::str::from_utf8(fields.get(i)?)
                    .ok()?
                    .trim()
                    .parse()
                    .ok()
            };
            if let (Some(seq), Some(exit), Some(sig), true) =
                (num(0), num(6), num(7), fields.len() == 9)
            {
                if seq > 0 {
                    let rest = line[fields[0].len() + 1..].to_vec();
                    let failed = exit != 0 || sig != 0;
                    log.rows.insert(seq as u64, LogRow { rest, failed });
                }
            }
        }
        Ok(log)
    }

    fn failed(&self) -> u64 {
        self.rows.values().filter(|r| r.failed).count() as u64
    }
}

/// How a shard's parx ended, from its status file.
fn shard_exit(dir: &RunDir, k: u64) -> anyhow::Result<Option<i32>> {
    let Some(text) = rundir::read(&dir.shard(k).join("status"))? else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&text);
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("exit ")?.trim().parse().ok()))
}

/// The node a shard ran on, from its status file.
fn shard_host(dir: &RunDir, k: u64) -> anyhow::Result<Option<String>> {
    let Some(text) = rundir::read(&dir.shard(k).join("status"))? else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&text);
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("host "))
        .map(str::trim)
        .filter(|h| !h.is_empty() && *h != "-" && !h.contains(['\t', '\n']))
        .map(str::to_owned))
}

/// A shard that ended normally: its log lists every task it was given.
fn ended_normally(code: Option<i32>) -> bool {
    matches!(code, Some(0..=101))
}

/// Everything parx's own options say about the run, checked before anything is created.
fn refuse_unsupported(cfg: &Config) -> anyhow::Result<()> {
    let jc = &cfg.jobs_ctl;
    let part = cfg.chunks.as_ref().is_some_and(|c| c.part.is_some());
    let refused = [
        (
            jc.shard.is_some() || part,
            "--shard (each array task gets its own share)",
        ),
        (
            jc.results.is_some(),
            "--results (the run directory holds each task's results)",
        ),
        (jc.tag.is_some(), "--tag/--tagstring"),
        (jc.line_buffer, "--line-buffer"),
        (cfg.dry_run, "--dry-run"),
    ];
    if let Some((_, what)) = refused.iter().find(|(on, _)| *on) {
        bail!("--slurm does not go with {what}");
    }
    Ok(())
}

/// Whether the inputs read standard input.
fn reads_stdin(cfg: &Config) -> bool {
    match &cfg.chunks {
        Some(c) => c.mode == ChunkMode::Pipe(None),
        None => cfg
            .input
            .sources
            .iter()
            .any(|s| s.kind == SourceKind::Stdin),
    }
}

/// Points every read of stdin at the saved copy.
fn use_saved_stdin(cfg: &mut Config, saved: &Path) {
    if let Some(c) = cfg.chunks.as_mut() {
        if c.mode == ChunkMode::Pipe(None) {
            c.mode = ChunkMode::Pipe(Some(saved.to_owned()));
        }
    }
    for s in &mut cfg.input.sources {
        if s.kind == SourceKind::Stdin {
            s.kind = SourceKind::File(saved.to_owned());
        }
    }
}

/// How many tasks each shard gets (index k-1), found by running the sources here. With
/// `--pipe-part --block -N` the chunking depends on -j, so a node with another CPU count may
/// cut differently: the counts are only used for shards that did not end normally.
fn count_tasks(cfg: &mut Config, n: u64) -> anyhow::Result<Vec<u64>> {
    let spread = |total: u64| (1..=n).map(|k| (total + n - k) / n).collect::<Vec<_>>();
    let is_part = matches!(
        cfg.chunks.as_ref().map(|c| &c.mode),
        Some(ChunkMode::PipePart(_))
    );
    let mut report = |e: anyhow::Error| eprintln!("parx: {e:#}");
    if cfg.chunks.is_none() {
        let warnings = Arc::new(AtomicU64::new(0));
        let sources = crate::source::args::open_all(&cfg.input, &warnings)?;
        let mut total = 0;
        crate::source::feed(cfg, sources, |_| {
            total += 1;
            true
        })?;
        return Ok(spread(total));
    }
    let jobs = cfg.jobs;
    let c = cfg.chunks.as_mut().expect("chunk mode");
    let mut count = |c: &crate::config::ChunkConfig| -> anyhow::Result<u64> {
        let mut total = 0;
        let opened = crate::source::pipe::open(c)?;
        crate::source::pipe::produce(
            c,
            jobs,
            opened,
            &mut |_| {
                total += 1;
                true
            },
            &mut report,
        )?;
        Ok(total)
    };
    if !is_part {
        return Ok(spread(count(c)?));
    }
    let mut counts = Vec::new();
    for k in 1..=n {
        c.part = Some(Shard { k, n });
        counts.push(count(c)?);
    }
    c.part = None;
    Ok(counts)
}

/// Single-quotes bytes for sh.
fn sh_quote(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'\'');
    for &b in s {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
}

/// The batch script every array task runs.
fn job_script(dir: &RunDir, n: u64, all: bool, resume: &str, stdin: Option<&Path>) -> Vec<u8> {
    let mut s =
        b"#!/bin/sh\n# parx --slurm: one array task of this run (written by parx).\n".to_vec();
    s.extend_from_slice(format!("export {ENV_RUN}=").as_bytes());
    sh_quote(&mut s, dir.path.as_os_str().as_bytes());
    s.extend_from_slice(format!("\nexport {ENV_RESUME}={resume}\nexec ").as_bytes());
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("parx"));
    sh_quote(&mut s, exe.as_os_str().as_bytes());
    if all {
        // The whole array 0..N-1: an evenly stepped range, as --shard auto wants.
        s.extend_from_slice(b" --shard auto");
    } else {
        // Some shards again: the array is a list, so the share is spelled out.
        s.extend_from_slice(format!(" --shard \"$((SLURM_ARRAY_TASK_ID + 1))/{n}\"").as_bytes());
    }
    for a in std::env::args_os().skip(1) {
        s.push(b' ');
        sh_quote(&mut s, a.as_bytes());
    }
    s.extend_from_slice(b" <");
    match stdin {
        Some(p) => sh_quote(&mut s, p.as_os_str().as_bytes()),
        None => s.extend_from_slice(b"/dev/null"),
    }
    s.push(b'\n');
    s
}

/// The submitting side.
fn submit(mut cfg: Config) -> anyhow::Result<i32> {
    let sc: SlurmConfig = cfg.slurm.clone().expect("--slurm");
    refuse_unsupported(&cfg)?;
    let n = u64::from(sc.tasks);
    let resume = cfg.jobs_ctl.resume;
    let part = matches!(
        cfg.chunks.as_ref().map(|c| &c.mode),
        Some(ChunkMode::PipePart(_))
    );
    if let Some(max) = slurm::max_array_size()? {
        if n > max {
            bail!(
                "--slurm {n}: the cluster's MaxArraySize is {max}, so an array has at most \
                 {max} tasks; use --slurm {max} or fewer"
            );
        }
    }
    let dir = match (&sc.run_dir, resume) {
        (Some(d), Resume::No) => RunDir::create(d)?,
        (Some(d), _) => RunDir::open(d)?,
        (None, Resume::No) => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            RunDir::create(Path::new(&format!(
                "parx-run-{stamp}-{}",
                std::process::id()
            )))?
        }
        (None, _) => {
            bail!("--resume with --slurm continues a run directory: give it with --run-dir DIR")
        }
    };
    let info = format!("shards {n}\nmode {}\n", if part { "part" } else { "tasks" });
    if resume == Resume::No {
        rundir::replace(&dir.join("run"), info.as_bytes())?;
        let mut args = Vec::new();
        for a in std::env::args_os().skip(1) {
            args.extend_from_slice(a.as_bytes());
            args.push(0);
        }
        rundir::replace(&dir.join("args"), &args)?;
    } else {
        let had = rundir::read(&dir.join("run"))?.unwrap_or_default();
        if had != info.as_bytes() {
            bail!(
                "--run-dir {}: it holds a run of another shape ({}); resume it with the same \
                 --slurm N and inputs",
                dir.path.display(),
                String::from_utf8_lossy(&had).trim().replace('\n', ", ")
            );
        }
    }
    if resume != Resume::No {
        // A submitter killed outright leaves its array running: do not run shards twice.
        let jobs = rundir::read(&dir.join("jobs"))?.unwrap_or_default();
        let last = String::from_utf8_lossy(&jobs);
        if let Some(job) = last.lines().last().and_then(|l| l.split(' ').next()) {
            // Array index k-1 is shard k; one that wrote its status is only being cleaned up.
            let mut running = false;
            for idx in slurm::queued(job).unwrap_or_default().into_keys() {
                running |= shard_exit(&dir, idx + 1)?.is_none();
            }
            if running {
                bail!(
                    "--run-dir {}: its Slurm array job {job} is still pending or running; wait \
                     for it or cancel it (scancel {job}) before resuming",
                    dir.path.display()
                );
            }
        }
    }
    let stdin = reads_stdin(&cfg).then(|| dir.join("stdin"));
    if let Some(p) = &stdin {
        if resume == Resume::No {
            let mut f = rundir::create(p)?;
            io::copy(&mut io::stdin().lock(), &mut f).context("saving stdin")?;
        } else if rundir::open_read(p)?.is_none() {
            bail!(
                "--run-dir {}: the saved stdin is missing",
                dir.path.display()
            );
        }
        use_saved_stdin(&mut cfg, p);
    }
    let counts = count_tasks(&mut cfg, n)?;

    // Which shards run: all of them, or those with missing (--resume) or failed
    // (--resume-failed) tasks.
    let mut todo = Vec::new();
    for k in 1..=n {
        let needed = match resume {
            Resume::No => true,
            _ => {
                let code = shard_exit(&dir, k)?;
                let log = Log::read(&dir.shard(k).join("joblog"))?;
                !ended_normally(code)
                    || (log.rows.len() as u64) < counts[k as usize - 1]
                    || (resume == Resume::Failed && log.failed() > 0)
            }
        };
        if needed {
            todo.push(k);
        }
    }
    let sig = Arc::new(AtomicI32::new(0));
    sys::catch_signals()?;
    std::thread::Builder::new()
        .name("parx-signals".into())
        .spawn({
            let sig = sig.clone();
            move || {
                if let Ok(s) = sys::wait_signal() {
                    sig.store(s, Ordering::SeqCst);
                }
            }
        })?;
    let mut outcome = Outcome::default();
    if !todo.is_empty() {
        for &k in &todo {
            dir.make_shard(k)?;
            rundir::remove(&dir.shard(k).join("status"))?;
        }
        let all = todo.len() as u64 == n;
        let spec = if all {
            format!("0-{}", n - 1)
        } else {
            todo.iter()
                .map(|k| (k - 1).to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let mode = match resume {
            Resume::No => "no",
            Resume::All => "all",
            Resume::Failed => "failed",
        };
        let script = dir.join("job.sh");
        rundir::replace(&script, &job_script(&dir, n, all, mode, stdin.as_deref()))?;
        let cwd = std::env::current_dir()?;
        let job = slurm::submit(&script, &spec, &cwd, &sc.sbatch_args)?;
        let mut jobs = rundir::append(&dir.join("jobs"))?;
        writeln!(jobs, "{job} {spec}")?;
        eprintln!(
            "parx: Slurm array job {job} ({} of {n} shards); run directory {}",
            todo.len(),
            dir.path.display()
        );
        if let Some(code) = wait(&dir, &job, n, &todo, &counts, &cfg, &sig, &mut outcome)? {
            return Ok(code);
        }
    }
    finish(&dir, n, &counts, &cfg, part, &mut outcome)
}

/// What the wait found.
#[derive(Default)]
struct Outcome {
    /// Shards already printed (without -k, as they end).
    printed: BTreeSet<u64>,
    /// Shards that did not end normally, with what is known of why.
    unfinished: BTreeMap<u64, String>,
    /// A write to stdout failed (a closed pipe): stop printing.
    stdout_closed: bool,
}

/// Waits for the submitted shards. Returns `Some(status)` when interrupted (after cancelling
/// the array).
#[allow(clippy::too_many_arguments)]
fn wait(
    dir: &RunDir,
    job: &str,
    n: u64,
    todo: &[u64],
    counts: &[u64],
    cfg: &Config,
    sig: &AtomicI32,
    out: &mut Outcome,
) -> anyhow::Result<Option<i32>> {
    let mut pending: BTreeSet<u64> = todo.iter().copied().collect();
    let mut gone: HashMap<u64, Instant> = HashMap::new();
    let mut squeue_failures = 0;
    loop {
        let s = sig.load(Ordering::SeqCst);
        if s != 0 {
            slurm::cancel(job);
            // Leave once Slurm has let go of every task (bounded).
            let until = Instant::now() + Duration::from_secs(30);
            while Instant::now() < until && slurm::queued(job).is_none_or(|q| !q.is_empty()) {
                std::thread::sleep(Duration::from_millis(200));
            }
            eprintln!("parx: interrupted: cancelled Slurm array job {job}");
            return Ok(Some(128 + s));
        }
        let queue = slurm::queued(job);
        match &queue {
            None => squeue_failures += 1,
            Some(_) => squeue_failures = 0,
        }
        if squeue_failures > 120 {
            bail!("squeue keeps failing; the array job {job} may still run (scancel {job})");
        }
        for k in pending.clone() {
            let done = shard_exit(dir, k)?.is_some();
            let lost = !done
                && queue.as_ref().is_some_and(|q| !q.contains_key(&(k - 1)))
                && gone.entry(k).or_insert_with(Instant::now).elapsed() >= GRACE;
            if !done && queue.as_ref().is_some_and(|q| q.contains_key(&(k - 1))) {
                gone.remove(&k);
            }
            if done || lost {
                pending.remove(&k);
                let code = shard_exit(dir, k)?;
                if !ended_normally(code) {
                    let why = match code {
                        Some(c) => format!("its parx exited with status {c}"),
                        None => slurm::ended_state(job, k - 1)
                            .map_or("it was gone from squeue without a status".into(), |s| {
                                format!("Slurm state {s}")
                            }),
                    };
                    report_unfinished(dir, job, k, n, counts, &why)?;
                    out.unfinished.insert(k, why);
                }
                if !cfg.keep_order && !out.stdout_closed {
                    print_shard(dir, k, out)?;
                }
            }
        }
        if pending.is_empty() {
            return Ok(None);
        }
        std::thread::sleep(POLL);
    }
}

fn report_unfinished(
    dir: &RunDir,
    job: &str,
    k: u64,
    n: u64,
    counts: &[u64],
    why: &str,
) -> anyhow::Result<()> {
    let log = Log::read(&dir.shard(k).join("joblog"))?;
    let total = counts[k as usize - 1];
    let missing = total.saturating_sub(log.rows.len() as u64);
    eprintln!(
        "parx: Slurm array task {job}_{} (shard {k}/{n}) did not finish ({why}): {missing} of \
         its {total} tasks did not run; see {}",
        k - 1,
        dir.shard(k).join("stderr").display()
    );
    Ok(())
}

/// Prints one task's stored stdout (and stderr, on stderr).
fn print_task(dir: &RunDir, k: u64, seq: u64, out: &mut Outcome) -> anyhow::Result<()> {
    let base = dir.shard(k).join("results").join(seq.to_string());
    if let Some(mut f) = rundir::open_read(&base.join("stdout"))? {
        let stdout = sys::stdout_file();
        if let Err(e) = io::copy(&mut f, &mut &*stdout) {
            if e.kind() == io::ErrorKind::BrokenPipe {
                out.stdout_closed = true;
                return Ok(());
            }
            return Err(e).context("writing stdout");
        }
    }
    if let Some(mut f) = rundir::open_read(&base.join("stderr"))? {
        let _ = io::copy(&mut f, &mut io::stderr().lock());
    }
    Ok(())
}

/// Prints every logged task of shard `k`, in its order.
fn print_shard(dir: &RunDir, k: u64, out: &mut Outcome) -> anyhow::Result<()> {
    dir.audit(&dir.shard(k))?;
    let log = Log::read(&dir.shard(k).join("joblog"))?;
    for &seq in log.rows.keys() {
        if out.stdout_closed {
            break;
        }
        print_task(dir, k, seq, out)?;
    }
    out.printed.insert(k);
    Ok(())
}

/// Prints what is left to print, writes the merged job log, and returns the exit status.
fn finish(
    dir: &RunDir,
    n: u64,
    counts: &[u64],
    cfg: &Config,
    part: bool,
    out: &mut Outcome,
) -> anyhow::Result<i32> {
    let mut logs = Vec::new();
    for k in 1..=n {
        logs.push(Log::read(&dir.shard(k).join("joblog"))?);
    }
    // Every task in global input order: by seq, or for --pipe-part by shard, then seq.
    let mut order: Vec<(u64, u64)> = logs
        .iter()
        .enumerate()
        .flat_map(|(i, l)| l.rows.keys().map(move |&s| (i as u64 + 1, s)))
        .collect();
    if !part {
        order.sort_by_key(|&(_, s)| s);
    }
    if cfg.keep_order {
        for k in 1..=n {
            dir.audit(&dir.shard(k))?;
        }
    }
    for &(k, seq) in &order {
        if out.stdout_closed || out.printed.contains(&k) {
            continue;
        }
        print_task(dir, k, seq, out)?;
    }
    if let Some(path) = &cfg.jobs_ctl.joblog {
        let offsets: Vec<u64> = counts
            .iter()
            .scan(0, |acc, &c| {
                let o = *acc;
                *acc += c;
                Some(o)
            })
            .collect();
        let mut hosts = Vec::new();
        for k in 1..=n {
            hosts.push(shard_host(dir, k)?);
        }
        let mut text = crate::joblog::HEADER.to_vec();
        for &(k, seq) in &order {
            let global = if part {
                offsets[k as usize - 1] + seq
            } else {
                seq
            };
            text.extend_from_slice(global.to_string().as_bytes());
            text.push(b'\t');
            let rest = &logs[k as usize - 1].rows[&seq].rest;
            // The Host column: the node the shard ran on, where known.
            match (&hosts[k as usize - 1], rest.strip_prefix(b":\t")) {
                (Some(h), Some(after)) => {
                    text.extend_from_slice(h.as_bytes());
                    text.push(b'\t');
                    text.extend_from_slice(after);
                }
                _ => text.extend_from_slice(rest),
            }
        }
        std::fs::write(path, &text).with_context(|| format!("--joblog {}", path.display()))?;
    }
    let mut failed: u64 = logs.iter().map(Log::failed).sum();
    let mut own_error = false;
    for k in 1..=n {
        let code = shard_exit(dir, k)?;
        own_error |= code == Some(EXIT_ERROR);
        if !ended_normally(code) {
            let logged = logs[k as usize - 1].rows.len() as u64;
            failed += counts[k as usize - 1].saturating_sub(logged);
            if !out.unfinished.contains_key(&k) && code.is_none() {
                // Found on resume: a shard that never wrote its status.
                eprintln!(
                    "parx: shard {k}/{n} of {} has not finished; resume it with --resume",
                    dir.path.display()
                );
            }
        }
    }
    if out.stdout_closed {
        return Ok(0);
    }
    if failed == 0 && own_error {
        return Ok(EXIT_ERROR);
    }
    Ok(failed.min(101) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keeps_the_last_row_of_each_task() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("joblog");
        let mut t = crate::joblog::HEADER.to_vec();
        t.extend_from_slice(b"1\t:\t1.0\t0.1\t0\t2\t0\t0\techo a\n");
        t.extend_from_slice(b"4\t:\t1.0\t0.1\t0\t2\t3\t0\tfalse\n");
        t.extend_from_slice(b"4\t:\t2.0\t0.1\t0\t2\t0\t0\ttrue\n");
        t.extend_from_slice(b"7\t:\t1.0\t0.1\t0\t0\t-1\t15\tsleep 9\n");
        t.extend_from_slice(b"9\t:\t1.0");
        std::fs::write(&p, &t).unwrap();
        let log = Log::read(&p).unwrap();
        assert_eq!(log.rows.keys().copied().collect::<Vec<_>>(), [1, 4, 7]);
        assert_eq!(log.failed(), 1);
        assert_eq!(log.rows[&4].rest, b":\t2.0\t0.1\t0\t2\t0\t0\ttrue\n");
    }

    #[test]
    fn quoting_for_the_batch_script() {
        let mut v = Vec::new();
        sh_quote(&mut v, b"it's $HOME");
        assert_eq!(v, br"'it'\''s $HOME'");
        assert!(ended_normally(Some(0)) && ended_normally(Some(101)));
        assert!(!ended_normally(None) && !ended_normally(Some(143)) && !ended_normally(Some(255)));
    }
}
