//! Dynamic shares: the array tasks of a `--slurm` run claim their tasks from the run directory
//! in batches as they go, so a slow task holds up only its own batch.
//!
//! * `DIR/claims`: the highest task number claimed so far (decimal), under `flock(2)`: a shard
//!   locks it, reads `c`, writes `c + b` and unlocks; tasks `c+1 ..= c+b` are its own. The
//!   batch `b` shrinks as the work does (guided scheduling): a quarter of the unclaimed tasks
//!   spread over the shards, at least 1.
//! * `shard-K/claims`: the batches shard K claimed, one `FIRST LAST` line each, appended
//!   before it runs them: a requeued array task runs its own unfinished batches again
//!   before it claims new ones.
//!
//! A shard claims a new batch only when its job slots are about to run dry: when fewer of its
//! claimed tasks are unfinished (no row in its job log yet) than it has slots. With
//! `--pool process` also when no task has ended for a while ([`STALL`], or twice the longest
//! run time a row of the shard shows, whichever is more): a worker may hold its records
//! unanswered until more input comes (mawk reads its input in whole buffers), and would
//! otherwise wait for records the shard waits to claim; each stall in a row doubles the
//! batch, so a worker that answers only at the end of its input gets there in a few steps.
//! Tasks done in any shard's log when
//! the shard started are never run again. The submitter resets
//! `DIR/claims` to 0 and removes the shards' `claims` with each submission. Once `DIR/halt`
//! is there (the submitter met `--halt soon` over all shards), a shard hands no more tasks.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use rustix::fs::{flock, FlockOperation};

use super::rundir;

/// How often the shard's job log is looked at while it waits for a free slot.
const PACE: Duration = Duration::from_millis(20);
/// `--pool process`: how long the shard waits for a task to end before it claims more all
/// the same (at least; see the module header).
const STALL: Duration = Duration::from_millis(250);
/// How often a shard looks for `DIR/halt`.
const HALT_LOOK: Duration = Duration::from_millis(100);

/// A shard's claims (see the module header).
pub(super) struct Claimer {
    /// `DIR/claims`.
    counter: PathBuf,
    /// `DIR/halt`: once it is there (`--halt soon` met), no task is handed or started.
    halt: PathBuf,
    /// `DIR/halt` was seen; when it was last looked for (ms after `born`).
    halted: AtomicBool,
    born: Instant,
    halt_looked: AtomicU64,
    /// `shard-K/claims`, open for appending.
    mine: Mutex<File>,
    /// The shard's job log: a row per finished task.
    log: PathBuf,
    /// Job slots, shards, and the run's tasks.
    jobs: u64,
    shards: u64,
    total: u64,
    /// Tasks done (in some shard's log) before this shard started.
    done: HashSet<u64>,
    /// `--pool process`: claim after a stall too (see the module header).
    stalls: bool,
    state: Mutex<State>,
}

struct State {
    /// This shard's batches, in order.
    ranges: Vec<(u64, u64)>,
    /// Every task up to here is claimed by someone (as last read).
    frontier: u64,
    /// Tasks handed to the run since the start (each gets a row when it ends).
    handed: u64,
    /// Rows counted in the job log since the start, and where counting stopped.
    rows: u64,
    log_pos: u64,
    /// When a row last came (or the last claim), and the longest run time a row showed.
    progress: Instant,
    longest: Duration,
    /// Claims made after a stall since the last row (each doubles the batch).
    streak: u32,
}

impl Claimer {
    /// The claims of shard `mine` (its `claims` file) in run directory `dir`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn open(
        dir: &Path,
        mine: &Path,
        log: &Path,
        jobs: u64,
        shards: u64,
        total: u64,
        done: HashSet<u64>,
        stalls: bool,
    ) -> anyhow::Result<Claimer> {
        let ranges: Vec<(u64, u64)> = rundir::read(mine)?
            .map(|t| {
                String::from_utf8_lossy(&t)
                    .lines()
                    .filter_map(|l| {
                        let (a, b) = l.split_once(' ')?;
                        Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let log_pos = std::fs::metadata(log).map_or(0, |m| m.len());
        Ok(Claimer {
            counter: dir.join("claims"),
            halt: dir.join(super::collect::HALT_FILE),
            mine: Mutex::new(rundir::append(mine)?),
            log: log.to_owned(),
            jobs: jobs.max(1),
            shards: shards.max(1),
            total,
            done,
            stalls,
            state: Mutex::new(State {
                ranges,
                frontier: 0,
                handed: 0,
                rows: 0,
                log_pos,
                progress: Instant::now(),
                longest: Duration::ZERO,
                streak: 0,
            }),
            halted: AtomicBool::new(false),
            born: Instant::now(),
            halt_looked: AtomicU64::new(0),
        })
    }

    /// Whether `DIR/halt` is there, looked for every [`HALT_LOOK`] at most (a stat per task
    /// would load a shared file system's metadata server).
    fn halt_seen(&self) -> bool {
        if self.halted.load(Ordering::Relaxed) {
            return true;
        }
        let now = self.born.elapsed().as_millis() as u64;
        let last = self.halt_looked.load(Ordering::Relaxed);
        if now.saturating_sub(last) < HALT_LOOK.as_millis() as u64 {
            return false;
        }
        self.halt_looked.store(now, Ordering::Relaxed);
        if self.halt.exists() {
            self.halted.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Counts the rows the job log gained since last time.
    fn count_rows(&self, st: &mut State) {
        let Ok(Some(mut f)) = rundir::open_read(&self.log) else {
            return;
        };
        if f.seek(SeekFrom::Start(st.log_pos)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        if f.read_to_end(&mut buf).is_ok() {
            // Whole rows only: a row being written is counted next time.
            let whole = memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1);
            for l in buf[..whole].split(|&b| b == b'\n') {
                if !l.first().is_some_and(u8::is_ascii_digit) || l.starts_with(b"0\t") {
                    continue;
                }
                st.rows += 1;
                st.progress = Instant::now();
                st.streak = 0;
                // JobRuntime, the fourth column.
                let runtime = l
                    .split(|&b| b == b'\t')
                    .nth(3)
                    .and_then(|f| std::str::from_utf8(f).ok()?.trim().parse::<f64>().ok());
                if let Some(r) = runtime.and_then(|r| Duration::try_from_secs_f64(r).ok()) {
                    st.longest = st.longest.max(r);
                }
            }
            st.log_pos += whole as u64;
        }
    }

    /// Claims the next batch: returns its last task (the first is one past what was claimed
    /// before, which is at least `after`).
    fn claim(&self, st: &mut State, after: u64) -> anyhow::Result<u64> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags_nofollow()
            .open(&self.counter)
            .with_context(|| self.counter.display().to_string())?;
        flock(&f, FlockOperation::LockExclusive).context("locking the claims")?;
        let mut text = String::new();
        (&f).read_to_string(&mut text)?;
        // Every task up to `after` was claimed when this shard passed it.
        let c: u64 = text.trim().parse().unwrap_or(0).max(after);
        if c > after {
            // Someone claimed past `after` meanwhile.
            st.frontier = c;
            return Ok(c);
        }
        let left = self.total.saturating_sub(c);
        let b = ((left / (4 * self.shards)).max(1) << st.streak.min(40)).min(left.max(1));
        let last = c + b;
        (&f).seek(SeekFrom::Start(0))?;
        f.set_len(0)?;
        (&f).write_all(format!("{last}\n").as_bytes())?;
        // Ours before the lock goes: a requeued attempt knows it.
        writeln!(self.mine.lock().expect("claims file"), "{} {last}", c + 1)?;
        drop(f);
        st.ranges.push((c + 1, last));
        st.frontier = last;
        st.progress = Instant::now();
        Ok(last)
    }
}

/// `OpenOptions` with `O_NOFOLLOW`, 0600.
trait NoFollow {
    fn custom_flags_nofollow(&mut self) -> &mut Self;
}

impl NoFollow for std::fs::OpenOptions {
    fn custom_flags_nofollow(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
    }
}

impl crate::shard::Claims for Claimer {
    fn stopped(&self) -> bool {
        self.halt_seen()
    }

    fn owns(&self, seq: u64) -> bool {
        let mut st = self.state.lock().expect("claims state");
        let mine = |st: &State| st.ranges.iter().any(|&(a, b)| (a..=b).contains(&seq));
        let take = |st: &mut State| {
            if self.done.contains(&seq) {
                return false;
            }
            st.handed += 1;
            true
        };
        if self.halt_seen() {
            st.frontier = u64::MAX;
            return false;
        }
        if mine(&st) {
            return take(&mut st);
        }
        if seq <= st.frontier || seq > self.total {
            return false;
        }
        // Past every claim known: wait until a slot is about to be free, then claim. A run
        // that has reported an error (a failed spill loses tasks without rows) claims no more.
        loop {
            if crate::messages::errored() || self.halt_seen() {
                st.frontier = u64::MAX;
                return false;
            }
            self.count_rows(&mut st);
            if st.handed.saturating_sub(st.rows) < self.jobs {
                break;
            }
            if self.stalls && st.progress.elapsed() >= STALL.max(2 * st.longest) {
                st.streak += 1;
                break;
            }
            drop(st);
            std::thread::sleep(PACE);
            st = self.state.lock().expect("claims state");
        }
        match self.claim(&mut st, seq - 1) {
            Ok(_) if mine(&st) => take(&mut st),
            Ok(_) => false,
            Err(e) => {
                // Claim nothing more: the tasks left are run on --resume.
                crate::messages::error(format_args!("{e:#}"));
                st.frontier = u64::MAX;
                false
            }
        }
    }
}
