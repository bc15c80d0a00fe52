//! After the submission of `--slurm`: waiting for the shards without accounting (squeue and
//! the status files they write), printing their outputs (shard by shard as they end, or in
//! global input order with `-k`), merging their job logs, reporting shards that did not
//! finish, and the exit status over every task.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::rundir::{self, RunDir};
use super::{slurm, GRACE, POLL};
use crate::config::Config;
use crate::exit::{Report, EXIT_ERROR};
use crate::halt::{HaltSpec, HaltState, When};
use crate::sys;

mod halt;
mod status;
use crate::task::Outcome as TaskOutcome;
use halt::HaltWatch;
pub(super) use halt::HALT_FILE;
pub(super) use status::status;

/// What a shard's job log says. The shard's stdout is one append-only file (`shard-K/out`)
/// and the log is its index: rows are written in the order the outputs were, each after its
/// output, and the Receive column is the output's length, so row `i`'s output starts where
/// the outputs of rows before it end. Rows that no longer count (a task run again, or one cut
/// for `--resume`) stay as *void* rows, with Seq 0, so the offsets stay right and GNU
/// parallel's `--resume` reading skips them.
#[derive(Default)]
pub(super) struct Log {
    /// Every row, in file order.
    lines: Vec<LogRow>,
    /// The tasks that count, by seq: the index in `lines` of the task's last row.
    pub(super) rows: BTreeMap<u64, usize>,
}

pub(super) struct LogRow {
    /// Seq (0: a void row).
    seq: u64,
    /// The row as written (ending in a newline), from the Host column on.
    rest: Vec<u8>,
    /// Where the task's stdout is in `shard-K/out`, and its length.
    offset: u64,
    len: u64,
    failed: bool,
    /// Ended by a signal Slurm (or an interrupt) sends: TERM, KILL, INT, HUP, or a shell's
    /// 128+n exit for one of them.
    killed: bool,
}

impl Log {
    /// Reads a shard's job log. With `drop_killed` (the shard's parx did not end normally:
    /// Slurm cancelled, timed out, preempted or requeued it) the tasks a signal ended are
    /// left out: Slurm's TERM reaches every process of the job at once, so those tasks died
    /// of the shard's end, not of their own doing, and count as not run.
    pub(super) fn read(path: &Path, drop_killed: bool) -> anyhow::Result<Log> {
        let text = rundir::read(path)?.unwrap_or_default();
        let mut log = Log::default();
        let mut offset = 0;
        let whole = memchr::memrchr(b'\n', &text).map_or(0, |i| i + 1);
        for line in text[..whole].split_inclusive(|&b| b == b'\n') {
            let fields = crate::joblog::row_fields(line);
            let num = |i| crate::joblog::field_num(&fields, i);
            let (Some(seq), Some(len), Some(exit), Some(sig), true) =
                (num(0), num(5), num(6), num(7), fields.len() == 9)
            else {
                continue;
            };
            if seq < 0 || len < 0 {
                continue;
            }
            let killed = killed_by_a_stop(exit, sig);
            log.lines.push(LogRow {
                seq: seq as u64,
                rest: line[fields[0].len() + 1..].to_vec(),
                offset,
                len: len as u64,
                failed: exit != 0 || sig != 0,
                killed,
            });
            offset += len as u64;
            if seq > 0 {
                log.rows.insert(seq as u64, log.lines.len() - 1);
            }
        }
        if drop_killed {
            let lines = &log.lines;
            log.rows.retain(|_, &mut i| !lines[i].killed);
        }
        Ok(log)
    }

    /// The row of task `seq` (one of `rows`).
    pub(super) fn row(&self, seq: u64) -> &LogRow {
        &self.lines[self.rows[&seq]]
    }

    pub(super) fn failed(&self) -> u64 {
        self.rows
            .values()
            .filter(|&&i| self.lines[i].failed)
            .count() as u64
    }

    /// Whether a task of the log was ended by a signal Slurm sends.
    pub(super) fn any_killed(&self) -> bool {
        self.rows.values().any(|&i| self.lines[i].killed)
    }

    /// How long `shard-K/out` is by the log: the bytes of every row.
    pub(super) fn out_len(&self) -> u64 {
        self.lines.iter().map(|r| r.len).sum()
    }

    /// The log again (header and every row), the tasks' rows that `keep` accepts as they
    /// are and every other row void (Seq 0).
    pub(super) fn text(&self, keep: impl Fn(&LogRow) -> bool) -> Vec<u8> {
        let mut t = crate::joblog::HEADER.to_vec();
        for (i, r) in self.lines.iter().enumerate() {
            let counts = r.seq > 0 && self.rows.get(&r.seq) == Some(&i) && keep(r);
            t.extend_from_slice(
                if counts {
                    r.seq.to_string()
                } else {
                    "0".into()
                }
                .as_bytes(),
            );
            t.push(b'\t');
            t.extend_from_slice(&r.rest);
        }
        t
    }
}

/// Whether a task that ended with `exit` and `signal` may have died of Slurm's TERM (or an
/// interrupt): TERM, KILL, INT or HUP, or a shell's 128+n exit for one of them.
fn killed_by_a_stop(exit: i64, signal: i64) -> bool {
    matches!(signal, 1 | 2 | 9 | 15) || matches!(exit, 129 | 130 | 137 | 143)
}

impl LogRow {
    pub(super) fn failed(&self) -> bool {
        self.failed
    }
}

/// How a shard ended: its parx's status (`None`: it wrote none) and, when Slurm ended its
/// array task (cancel, time limit, preemption, node failure, out of memory), that state, as
/// the submitter recorded it in `shard-K/slurm-state`.
pub(super) struct ShardEnd {
    pub(super) code: Option<i32>,
    pub(super) slurm: Option<String>,
}

impl ShardEnd {
    pub(super) fn read(dir: &RunDir, k: u64) -> anyhow::Result<ShardEnd> {
        let slurm = rundir::read(&dir.shard(k).join(STATE_FILE))?
            .map(|t| String::from_utf8_lossy(&t).trim().to_owned())
            .filter(|s| !s.is_empty());
        Ok(ShardEnd {
            code: shard_exit(dir, k)?,
            slurm,
        })
    }

    /// Its parx ended by itself, and Slurm did not end it: every row of its log stands.
    pub(super) fn normal(&self) -> bool {
        ended_normally(self.code) && self.slurm.is_none()
    }
}

/// Where the submitter records the Slurm state that ended a shard's array task.
pub(super) const STATE_FILE: &str = "slurm-state";

/// Records that Slurm ended shard `k`'s array task in `state`.
fn record_state(dir: &RunDir, k: u64, state: &str) -> anyhow::Result<()> {
    rundir::replace(
        &dir.shard(k).join(STATE_FILE),
        format!("{state}\n").as_bytes(),
    )
}

/// Shard `k`'s end and job log, the log read as [`Log::read`] says for how it ended.
pub(super) fn shard_log(dir: &RunDir, k: u64) -> anyhow::Result<(ShardEnd, Log)> {
    let end = ShardEnd::read(dir, k)?;
    let log = Log::read(&dir.shard(k).join("joblog"), !end.normal())?;
    Ok((end, log))
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
    /// A shard met `--halt`: its parx's status, which is the run's.
    halted: Option<i32>,
}

/// How long to wait before asking squeue again after the `asked`-th time (0-based): 1 s, then
/// doubling up to 10 s (README, "Slurm, driven by parx"). Shards that end normally are seen
/// in their status files, without squeue.
pub(super) fn squeue_interval(asked: u32) -> Duration {
    Duration::from_secs(1u64 << asked.min(4)).min(Duration::from_secs(10))
}

/// Why a shard did not end normally, from its parx's status and Slurm's state.
fn why_unfinished(code: Option<i32>, state: Option<String>) -> String {
    let state = state.filter(|s| s != "COMPLETED");
    match (state, code) {
        (Some(s), Some(c)) => format!("Slurm state {s}; its parx exited with status {c}"),
        (Some(s), None) => format!("Slurm state {s}"),
        (None, Some(c)) => format!("its parx exited with status {c}"),
        (None, None) => "it was gone from squeue without a status".into(),
    }
}

impl Outcome {
    /// Whether stdout took everything (no closed pipe).
    pub(super) fn stdout_open(&self) -> bool {
        !self.stdout_closed
    }
}

/// Counts the tasks done over every shard's job log, reading only what each log gained since
/// the last count (for `--bar`/`--eta` while the submitter waits).
#[derive(Default)]
struct Done(HashMap<u64, (u64, u64)>);

impl Done {
    fn count(&mut self, dir: &RunDir, n: u64) -> u64 {
        use std::io::{Read, Seek, SeekFrom};
        let mut total = 0;
        for k in 1..=n {
            let (pos, rows) = self.0.entry(k).or_default();
            let path = dir.shard(k).join("joblog");
            let len = std::fs::metadata(&path).map_or(0, |m| m.len());
            if len < *pos {
                // Replaced (a requeued shard cut its log): count it again.
                (*pos, *rows) = (0, 0);
            }
            if let Ok(Some(mut f)) = rundir::open_read(&path) {
                let mut buf = Vec::new();
                if f.seek(SeekFrom::Start(*pos)).is_ok() && f.read_to_end(&mut buf).is_ok() {
                    let whole = memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1);
                    *rows += buf[..whole]
                        .split(|&b| b == b'\n')
                        .filter(|l| {
                            l.first().is_some_and(u8::is_ascii_digit) && !l.starts_with(b"0\t")
                        })
                        .count() as u64;
                    *pos += whole as u64;
                }
            }
            total += *rows;
        }
        total
    }
}

/// parx was interrupted while the array runs: cancels it, leaves once Slurm has let go of
/// every task (bounded), and records the shards still `pending` as cancelled.
fn cancel(dir: &RunDir, job: &str, pending: &BTreeSet<u64>) -> anyhow::Result<()> {
    slurm::cancel(job);
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until && slurm::queued(job).is_none_or(|q| !q.is_empty()) {
        std::thread::sleep(Duration::from_millis(500));
    }
    for &k in pending {
        // Their tasks in flight died of the cancel: not run, for --resume.
        record_state(dir, k, "CANCELLED")?;
    }
    crate::messages::note(format_args!("interrupted: cancelled Slurm array job {job}"));
    Ok(())
}

/// Each pending shard's parx status, and whether that is sure without Slurm's word: a shard
/// needs it unless its parx ended normally with no task killed by a signal (those may have
/// died of Slurm's TERM a moment before parx would have).
fn shard_ends(
    dir: &RunDir,
    pending: &BTreeSet<u64>,
) -> anyhow::Result<BTreeMap<u64, (Option<i32>, bool)>> {
    let mut ends = BTreeMap::new();
    for &k in pending {
        let code = shard_exit(dir, k)?;
        let sure =
            ended_normally(code) && !Log::read(&dir.shard(k).join("joblog"), false)?.any_killed();
        ends.insert(k, (code, sure));
    }
    Ok(ends)
}

/// Waits for the submitted shards. Returns `Some(signal)` when interrupted by it (after cancelling
/// the array).
///
/// A shard is over when its status file says it ended normally, or when Slurm no longer runs
/// its array task (a requeued task is still run: its status is from an attempt that was
/// killed, and the next attempt removes it). The status files are read every [`POLL`];
/// squeue is asked at [`squeue_interval`], and only while some shard has not ended normally.
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
    let mut times = 0;
    // --bar/--eta: the tasks done over all shards, from their logs.
    let total: u64 = counts.iter().sum();
    let bar = crate::progress::Progress::new(
        cfg.jobs_ctl.bar,
        cfg.jobs_ctl.eta,
        move || Some(total),
        || None,
    );
    let mut done = Done::default();
    let mut drawn = 0;
    let mut halt = match cfg.jobs_ctl.halt {
        Some(spec) => Some(HaltWatch::new(spec, total, dir, n)?),
        None => None,
    };
    let mut queue: Option<HashMap<u64, String>> = None;
    let mut asked: Option<Instant> = None;
    loop {
        if let Some(b) = &bar {
            let now = done.count(dir, n);
            for _ in drawn..now {
                b.inc();
            }
            drawn = drawn.max(now);
        }
        if let (Some(h), None) = (halt.as_mut(), out.halted) {
            if let Some(when) = h.poll(dir, n) {
                h.act(when, dir, job, &pending, out)?;
                if when == When::Now {
                    // Cancelled: Slurm's word on the shards is wanted soon, not in 10 s.
                    (asked, times) = (None, 0);
                }
            }
        }
        let s = sig.load(Ordering::SeqCst);
        if s != 0 {
            cancel(dir, job, &pending)?;
            return Ok(Some(s));
        }
        let ends = shard_ends(dir, &pending)?;
        let due = asked.is_none_or(|at| at.elapsed() >= squeue_interval(times));
        if ends.values().any(|&(_, sure)| !sure) && due {
            queue = slurm::states(job);
            asked = Some(Instant::now());
            times += 1;
            match &queue {
                None => squeue_failures += 1,
                Some(_) => squeue_failures = 0,
            }
            if squeue_failures > 30 {
                bail!("squeue keeps failing; the array job {job} may still run (scancel {job})");
            }
        }
        for (k, (code, sure)) in ends {
            let state = queue.as_ref().and_then(|q| q.get(&(k - 1)));
            let running = state.is_some_and(|s| slurm::active(s));
            let over = if sure {
                true
            } else if running || queue.is_none() {
                gone.remove(&k);
                false
            } else {
                // Gone from Slurm (or ended there): a status may come a little late on a
                // shared file system.
                code.is_some() || gone.entry(k).or_insert_with(Instant::now).elapsed() >= GRACE
            };
            if !over {
                continue;
            }
            pending.remove(&k);
            let code = shard_exit(dir, k)?;
            if !sure {
                let state = match state {
                    Some(s) => Some(s.clone()),
                    None => slurm::ended_state(job, k - 1),
                };
                if let Some(s) = state.as_deref().filter(|s| slurm::ended_by_slurm(s)) {
                    record_state(dir, k, s)?;
                }
                let end = ShardEnd::read(dir, k)?;
                if let (Some(h), None) = (halt.as_mut(), out.halted) {
                    if let Some(when) = h.poll(dir, n).or_else(|| h.shard_over(k, end.normal())) {
                        h.act(when, dir, job, &pending, out)?;
                        if when == When::Now {
                            (asked, times) = (None, 0);
                        }
                    }
                }
                if !end.normal() {
                    let why = why_unfinished(code, state);
                    report_unfinished(dir, job, k, n, counts, &why)?;
                    out.unfinished.insert(k, why);
                }
            }
            if !cfg.keep_order && !out.stdout_closed {
                print_shard(dir, k, out)?;
            }
        }
        if pending.is_empty() {
            if let Some(b) = &bar {
                for _ in drawn..done.count(dir, n) {
                    b.inc();
                }
                b.finish();
            }
            return Ok(None);
        }
        std::thread::sleep(POLL);
    }
}

/// The tasks shard `k` claimed (dynamic shares), from `shard-K/claims`; `None` for a static
/// share.
fn claimed(dir: &RunDir, k: u64) -> anyhow::Result<Option<Vec<u64>>> {
    let Some(text) = rundir::read(&dir.shard(k).join("claims"))? else {
        return Ok(None);
    };
    let mut v = Vec::new();
    for l in String::from_utf8_lossy(&text).lines() {
        if let Some((a, b)) = l.split_once(' ') {
            if let (Ok(a), Ok(b)) = (a.trim().parse::<u64>(), b.trim().parse::<u64>()) {
                v.extend(a..=b.min(a.saturating_add(1 << 24)));
            }
        }
    }
    Ok(Some(v))
}

fn report_unfinished(
    dir: &RunDir,
    job: &str,
    k: u64,
    n: u64,
    counts: &[u64],
    why: &str,
) -> anyhow::Result<()> {
    // How many of the tasks it took did not run, of how many, and which (dynamic shares).
    let (missing, total, which) = match claimed(dir, k)? {
        // Dynamic shares: of the tasks it claimed, those no shard's log has.
        Some(mine) => {
            let mut logged = BTreeSet::new();
            for j in (1..=n).filter(|&j| dir.shard(j).is_dir()) {
                logged.extend(shard_log(dir, j)?.1.rows.into_keys());
            }
            let all: u64 = counts.iter().sum();
            let mine: BTreeSet<u64> = mine.into_iter().filter(|&s| s <= all).collect();
            let not_run: Vec<u64> = mine.difference(&logged).copied().collect();
            (not_run.len() as u64, mine.len() as u64, not_run)
        }
        // A dynamic share that claimed nothing.
        None if !static_shares(dir)? => (0, 0, Vec::new()),
        None => {
            let (_, log) = shard_log(dir, k)?;
            let total = counts[k as usize - 1];
            (
                total.saturating_sub(log.rows.len() as u64),
                total,
                Vec::new(),
            )
        }
    };
    let stderr = dir.shard(k).join("stderr");
    let see = match rundir::read(&stderr)? {
        Some(t) if !t.is_empty() => format!("; see {}", stderr.display()),
        Some(_) => String::new(),
        // The array task never got as far as its shard directory: what it said is in
        // Slurm's output file.
        None => {
            let file = slurm::output_file(&std::env::current_dir()?, job, k - 1);
            match last_line(&file) {
                Some(l) => format!(
                    "; it never reached the run directory; Slurm's output file {} says: {l}",
                    file.display()
                ),
                None => format!(
                    "; it never reached the run directory: the node may not see {} (it must be \
                     on storage every node sees, at the same path)",
                    dir.path.display()
                ),
            }
        }
    };
    let took = if total == 0 {
        "it ran none of the run's tasks".to_owned()
    } else {
        format!(
            "{missing} of the {total} tasks it took did not run{}",
            name_tasks(&which)
        )
    };
    crate::messages::note(format_args!(
        "Slurm array task {job}_{} (shard {k}/{n}) did not finish ({why}): {took}{see}",
        k - 1,
    ));
    Ok(())
}

/// ` (tasks 7, 9)`: the first few of `seqs` by number (`{#}`), or nothing.
fn name_tasks(seqs: &[u64]) -> String {
    const SHOWN: usize = 8;
    if seqs.is_empty() {
        return String::new();
    }
    let some: Vec<String> = seqs.iter().take(SHOWN).map(u64::to_string).collect();
    let more = match seqs.len().saturating_sub(SHOWN) {
        0 => String::new(),
        m => format!(" and {m} more"),
    };
    format!(
        " (task{} {}{more})",
        if seqs.len() == 1 { "" } else { "s" },
        some.join(", ")
    )
}

/// Whether the run's shares are static (`--pipe-part`'s byte ranges), from `DIR/run`.
fn static_shares(dir: &RunDir) -> anyhow::Result<bool> {
    let run = rundir::read(&dir.join("run"))?.unwrap_or_default();
    Ok(String::from_utf8_lossy(&run)
        .lines()
        .any(|l| l == "mode part"))
}

/// The last line of `file` that is not blank (at most 1,000 bytes of it), if any.
fn last_line(file: &Path) -> Option<String> {
    let text = std::fs::read(file).ok()?;
    let text = String::from_utf8_lossy(&text);
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    let cut = (0..=line.len().min(1000))
        .rev()
        .find(|&i| line.is_char_boundary(i))
        .unwrap_or(0);
    Some(line[..cut].to_owned())
}

/// Slurm's output files of `job`'s array tasks `indices` (in the submitting directory): the
/// empty ones are removed, and with `all` every one.
pub(super) fn tidy_output_files(job: &str, indices: impl Iterator<Item = u64>, all: bool) {
    let Ok(cwd) = std::env::current_dir() else {
        return;
    };
    for idx in indices {
        let f = slurm::output_file(&cwd, job, idx);
        let empty = std::fs::symlink_metadata(&f).is_ok_and(|m| m.is_file() && m.len() == 0);
        if all || empty {
            let _ = rundir::remove(&f);
        }
    }
}

/// Copies `len` bytes at `offset` of `file` to stdout; false when stdout is closed.
fn copy_out(file: &std::fs::File, offset: u64, len: u64) -> anyhow::Result<bool> {
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    let stdout = sys::stdout_file();
    let mut buf = vec![0; len.min(1 << 20) as usize];
    let mut at = 0;
    while at < len {
        let want = (len - at).min(buf.len() as u64) as usize;
        let got = file.read_at(&mut buf[..want], offset + at)?;
        if got == 0 {
            bail!("a shard's output file is shorter than its job log says");
        }
        if let Err(e) = (&*stdout).write_all(&buf[..got]) {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return Ok(false);
            }
            return Err(e).context("writing stdout");
        }
        at += got as u64;
    }
    Ok(true)
}

/// The open output files of the shards, by shard.
#[derive(Default)]
struct Outs(HashMap<u64, Option<std::fs::File>>);

impl Outs {
    fn get(&mut self, dir: &RunDir, k: u64) -> anyhow::Result<Option<&std::fs::File>> {
        if let std::collections::hash_map::Entry::Vacant(e) = self.0.entry(k) {
            e.insert(rundir::open_read(&dir.shard(k).join("out"))?);
        }
        Ok(self.0[&k].as_ref())
    }
}

/// Prints one task's stdout from its shard's output file.
fn print_task(
    dir: &RunDir,
    outs: &mut Outs,
    k: u64,
    row: &LogRow,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    if row.len == 0 {
        return Ok(());
    }
    let Some(f) = outs.get(dir, k)? else {
        bail!("{}: missing", dir.shard(k).join("out").display());
    };
    if !copy_out(f, row.offset, row.len)? {
        out.stdout_closed = true;
    }
    Ok(())
}

/// Copies shard `k`'s stderr (its tasks' stderr and its parx's own messages) to stderr.
fn print_stderr(dir: &RunDir, k: u64) -> anyhow::Result<()> {
    if let Some(mut f) = rundir::open_read(&dir.shard(k).join("stderr"))? {
        crate::messages::task_stderr(|e| io::copy(&mut f, e).map(drop));
    }
    Ok(())
}

/// Prints every logged task of shard `k`, in its order, then its stderr.
fn print_shard(dir: &RunDir, k: u64, out: &mut Outcome) -> anyhow::Result<()> {
    dir.audit(&dir.shard(k))?;
    let (_, log) = shard_log(dir, k)?;
    let mut outs = Outs::default();
    for &seq in log.rows.keys() {
        if out.stdout_closed {
            break;
        }
        print_task(dir, &mut outs, k, log.row(seq), out)?;
    }
    print_stderr(dir, k)?;
    out.printed.insert(k);
    Ok(())
}

/// Prints what is left to print, writes the merged job log, and returns the report the exit
/// status is decided from.
pub(super) fn finish(
    dir: &RunDir,
    n: u64,
    counts: &[u64],
    cfg: &Config,
    part: bool,
    out: &mut Outcome,
) -> anyhow::Result<Report> {
    let mut logs = Vec::new();
    for k in 1..=n {
        logs.push(shard_log(dir, k)?.1);
    }
    // Every task in global input order: by seq, or for --pipe-part by shard, then seq.
    let mut order: Vec<(u64, u64)> = logs
        .iter()
        .enumerate()
        .flat_map(|(i, l)| l.rows.keys().map(move |&s| (i as u64 + 1, s)))
        .collect();
    if !part {
        order.sort_by_key(|&(_, s)| s);
        // Dynamic shares claim disjoint tasks: a task in two logs is printed once.
        order.dedup_by_key(|&mut (_, s)| s);
    }
    if cfg.keep_order {
        // Every shard directory there is (a link too: audit refuses it); shares with no
        // task were never submitted, and have none.
        for k in (1..=n).filter(|&k| std::fs::symlink_metadata(dir.shard(k)).is_ok()) {
            dir.audit(&dir.shard(k))?;
        }
    }
    let mut outs = Outs::default();
    for &(k, seq) in &order {
        if out.stdout_closed || out.printed.contains(&k) {
            continue;
        }
        print_task(dir, &mut outs, k, logs[k as usize - 1].row(seq), out)?;
    }
    for k in 1..=n {
        if !out.printed.contains(&k) {
            print_stderr(dir, k)?;
        }
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
            let rest = &logs[k as usize - 1].row(seq).rest;
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
    // Dynamic shares: the tasks no log has did not run.
    let total: u64 = counts.iter().sum();
    let missing = total.saturating_sub(order.len() as u64);
    if !part {
        failed += missing;
    }
    for k in 1..=n {
        let end = ShardEnd::read(dir, k)?;
        let code = end.code;
        own_error |= code == Some(EXIT_ERROR);
        // An empty share is not submitted.
        let submitted = if part {
            counts[k as usize - 1] > 0
        } else {
            missing > 0 && dir.shard(k).is_dir()
        };
        if !end.normal() && submitted {
            if part {
                let logged = logs[k as usize - 1].rows.len() as u64;
                failed += counts[k as usize - 1].saturating_sub(logged);
            }
            if !out.unfinished.contains_key(&k) && code.is_none() {
                // Found on resume: a shard that never wrote its status.
                crate::messages::note(format_args!(
                    "shard {k}/{n} of {} has not finished; resume it with --resume",
                    dir.path.display()
                ));
            }
        }
    }
    Ok(Report {
        stdout_closed: out.stdout_closed,
        halt: out.halted,
        failed,
        shard_errored: own_error,
        ..Report::default()
    })
}

#[cfg(test)]
mod tests;
