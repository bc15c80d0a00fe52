//! The run state the pool, the source, the merger and the signal thread share: whether the
//! run stops (and since when), `--halt soon`'s no-new-task flag and its decision, how far the
//! input has been read, the `-k` head of line, parx's own error flag, and what the run has
//! learned from its input for the commands. Flags and counters only: ending tasks is the
//! slot table's ([`super::slots::SlotTable`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// What every part of a run may ask of it.
#[derive(Debug)]
pub(crate) struct RunState {
    stop: AtomicBool,
    /// When the run began to stop.
    stopped_at: OnceLock<Instant>,
    /// `--halt soon`: start no new task (running ones go on).
    no_new: AtomicBool,
    /// Tasks read from the input so far (those that run: not skipped ones).
    pub tasks_read: AtomicU64,
    /// The input has been read to its end (`tasks_read` is the total).
    pub input_done: AtomicBool,
    /// `--halt`: the decision, taken by the pool as each task ends (before its slot can
    /// start another), via [`super::Run::task_ended`].
    pub halt: Option<Mutex<crate::halt::HaltState>>,
    /// With `-k`: the sequence number the merger prints next (its output may stream through).
    pub head: AtomicU64,
    /// parx itself failed somewhere (reported already): the run ends with status 255.
    error: AtomicBool,
    /// What the run learns from its input (the task count, the header's names), which the
    /// source tells and every rendering reads ([`crate::template::Ctx`]).
    pub learned: Arc<crate::template::Learned>,
    /// Tasks whose end the merger only had to count ([`super::counts_only`]), counted
    /// here instead: how many, and how many of them failed.
    tallied: [AtomicU64; 2],
}

impl Default for RunState {
    fn default() -> Self {
        RunState {
            stop: AtomicBool::new(false),
            stopped_at: OnceLock::new(),
            no_new: AtomicBool::new(false),
            tasks_read: AtomicU64::new(0),
            input_done: AtomicBool::new(false),
            halt: None,
            head: AtomicU64::new(1),
            error: AtomicBool::new(false),
            learned: Arc::default(),
            tallied: [AtomicU64::new(0), AtomicU64::new(0)],
        }
    }
}

impl RunState {
    /// The state a run starts in, with its `--halt` rules and where it tells what it learns
    /// from its input.
    pub(crate) fn new(
        halt: Option<crate::config::halt::HaltSpec>,
        learned: Arc<crate::template::Learned>,
    ) -> RunState {
        RunState {
            halt: halt.map(|h| Mutex::new(crate::halt::HaltState::new(h))),
            learned,
            ..RunState::default()
        }
    }

    /// Reports one of parx's own errors (`parx: <msg>` on stderr); the run will exit 255.
    pub(crate) fn error(&self, msg: impl std::fmt::Display) {
        crate::messages::error(msg);
        self.error.store(true, Ordering::SeqCst);
    }

    /// Whether [`RunState::error`] was called.
    pub(crate) fn failed(&self) -> bool {
        self.error.load(Ordering::SeqCst)
    }

    /// Marks the run as stopping (no new task may start), from now on.
    pub(super) fn set_stopping(&self) {
        self.stopped_at.get_or_init(Instant::now);
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether the run is stopping (no new task may start).
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// When the run began to stop, if it did.
    pub(super) fn stopped_at(&self) -> Option<Instant> {
        self.stopped_at.get().copied()
    }

    /// Whether a new task (or a retry) may start: not stopping, no `--halt soon` (this run's,
    /// or a `--slurm` run's over all shards: [`crate::shard::stopped`]), no failed spill
    /// (output is incomplete: see [`crate::output::spill_failed`]).
    pub(crate) fn may_start(&self) -> bool {
        !self.stopping()
            && !self.no_new.load(Ordering::SeqCst)
            && !crate::output::spill_failed()
            && !crate::shard::stopped()
    }

    /// `--halt soon`: no new task starts; running ones finish.
    pub(crate) fn no_new_tasks(&self) {
        self.no_new.store(true, Ordering::SeqCst);
    }

    /// Counts a task that ended (`failed` or not) for the merger, which is not told of it.
    pub(crate) fn tally(&self, failed: bool) {
        self.tallied[0].fetch_add(1, Ordering::AcqRel);
        if failed {
            self.tallied[1].fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The tasks [`RunState::tally`] counted so far: how many, and how many failed.
    pub(crate) fn tallied(&self) -> (u64, u64) {
        let [done, failed] = &self.tallied;
        (done.load(Ordering::Acquire), failed.load(Ordering::Acquire))
    }

    /// Whether `--halt` has decided to stop the run.
    pub(crate) fn halt_decided(&self) -> bool {
        self.halt.as_ref().is_some_and(|h| {
            h.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .status
                .is_some()
        })
    }

    /// The number of tasks, once the input has been read to its end.
    pub(crate) fn total(&self) -> Option<u64> {
        self.input_done
            .load(Ordering::Acquire)
            .then(|| self.tasks_read.load(Ordering::Acquire))
    }
}
