//! After the submission of `--slurm`: waiting for the shards without accounting (squeue and
//! the status files they write), printing their outputs (shard by shard as they end, or in
//! global input order with `-k`), merging their job logs, reporting shards that did not
//! finish, and the exit status over every task.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::rundir::{self, RunDir};
use super::{slurm, GRACE, POLL};
use crate::config::Config;
use crate::exit::EXIT_ERROR;
use crate::sys;

/// What a shard's job log says: the last row of each task.
#[derive(Default)]
pub(super) struct Log {
    pub(super) rows: BTreeMap<u64, LogRow>,
}

pub(super) struct LogRow {
    /// The row as written (ending in a newline), from the Host column on.
    rest: Vec<u8>,
    failed: bool,
}

impl Log {
    pub(super) fn read(path: &Path) -> anyhow::Result<Log> {
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

    pub(super) fn failed(&self) -> u64 {
        self.rows.values().filter(|r| r.failed).count() as u64
    }
}

/// How a shard's parx ended, from its status file.
pub(super) fn shard_exit(dir: &RunDir, k: u64) -> anyhow::Result<Option<i32>> {
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
pub(super) fn ended_normally(code: Option<i32>) -> bool {
    matches!(code, Some(0..=101))
}

/// What the wait found.
#[derive(Default)]
pub(super) struct Outcome {
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
pub(super) fn wait(
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
            crate::messages::note(format_args!("interrupted: cancelled Slurm array job {job}"));
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
    crate::messages::note(format_args!(
        "Slurm array task {job}_{} (shard {k}/{n}) did not finish ({why}): {missing} of \
         its {total} tasks did not run; see {}",
        k - 1,
        dir.shard(k).join("stderr").display()
    ));
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
pub(super) fn finish(
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
                crate::messages::note(format_args!(
                    "shard {k}/{n} of {} has not finished; resume it with --resume",
                    dir.path.display()
                ));
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
}
