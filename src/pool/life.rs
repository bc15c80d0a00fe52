//! The task's life, once for both pools, whatever carries its input and cuts its output: the
//! [`Lifecycle`], built once from the config, owns the policy values (`--retries`, one
//! [`Timeout`] for `--timeout DURATION` and `N%`, `--delay`'s pacer, `--results`, whether a
//! program that cannot start would fail every task), [`launch`]es a process (admission by the
//! gate, pacing, the spawn into the slot table), times it, and words a task that timed out or
//! could not start. The end of a task is [`super::Run::end`] (`--halt`, then the merger). The
//! pools keep what differs: how a task's input reaches a child, and how its output is cut into
//! results.

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::config::{Config, Timeout};
use crate::pool::child::{Capture, Child, Spawned};
use crate::pool::Run;
use crate::task::Outcome;

/// The policy of a run's tasks, and what it keeps across them.
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    /// `--retries N`: runs of a failed task in all (`None`: until it succeeds).
    max_runs: Option<u32>,
    /// `--timeout`.
    timeout: Option<Timeout>,
    /// `--delay`: the least time between two task starts.
    delay: Option<Duration>,
    /// The command's program is the same word for every task: if it cannot be started for
    /// one, it cannot for any.
    fixed_program: bool,
    /// `--delay`: when the next task may start.
    next_start: Mutex<Option<Instant>>,
    /// `--timeout N%`: recent task run times.
    runtimes: Mutex<crate::units::Median>,
    /// `--results`: where each task's outputs are stored (set before the run starts).
    pub results: Option<crate::results::Results>,
}

/// What launching a process came to.
pub(crate) enum Launch<'a> {
    /// The gate held it until the run stopped: it never ran (and has no start time).
    Held,
    /// Admitted and paced, started at this time (monotonic and wall clock), and what its
    /// spawn came to.
    Tried((Instant, SystemTime), Spawned<'a>),
}

impl Lifecycle {
    /// The policy `cfg` sets (no `--results` yet: the caller opens it).
    pub(crate) fn new(cfg: &Config) -> Lifecycle {
        let jc = &cfg.jobs_ctl;
        Lifecycle {
            max_runs: jc.max_runs,
            timeout: jc.timeout,
            delay: jc.delay,
            fixed_program: cfg.template.fixed_program(),
            ..Lifecycle::default()
        }
    }

    /// Whether a task that failed `runs` times may run again (`--retries`).
    pub(crate) fn may_retry(&self, runs: u32) -> bool {
        self.max_runs.is_none_or(|m| runs < m)
    }

    /// `--delay`: waits until the delay has passed since the previous task start (over all
    /// slots), and books this start (a retry's, which takes no task: [`Lifecycle::in_turn`]).
    pub(crate) fn pace(&self) {
        let _ = self.in_turn(|| Ok::<(), std::convert::Infallible>(()));
    }

    /// Takes the next task with `take` in turn with the other slots under `--delay`: waits
    /// for this start's time first, so tasks start in input order, `delay` apart (GNU
    /// parallel's one dispatcher does the same: `--delay 0.1 echo ::: a b c` prints a, b, c;
    /// pacing after taking it let a later task win the first start). Without `--delay`, just
    /// `take`.
    pub(crate) fn in_turn<T, E>(&self, take: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let Some(delay) = self.delay else {
            return take();
        };
        let mut next = self
            .next_start
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(at) = *next {
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
        }
        let task = take()?;
        *next = Some(Instant::now() + delay);
        Ok(task)
    }

    /// When a task started at `started` must end (`--timeout`), if it has a limit.
    pub(crate) fn deadline(&self, started: Instant) -> Option<Instant> {
        let limit = self.timeout?.limit(|| self.runtimes.lock().ok()?.get())?;
        Some(started + limit)
    }

    /// A task ran for `runtime`: recorded when `--timeout N%` measures against run times.
    pub(crate) fn ran(&self, runtime: Duration) {
        if self.timeout.and_then(|t| t.of_median()).is_some() {
            if let Ok(mut m) = self.runtimes.lock() {
                m.push(runtime);
            }
        }
    }

    /// The line for task `seq` that timed out `after` its start, with `N%`'s reckoning.
    pub(crate) fn timed_out(&self, seq: u64, after: Duration) -> String {
        let why = match self.timeout.and_then(|t| t.of_median()) {
            Some(pct) => format!(
                " ({pct}% of the median run time so far, {})",
                crate::messages::duration(after.div_f64(pct / 100.0))
            ),
            None => String::new(),
        };
        format!(
            "parx: task {seq} timed out after {}{why}\n",
            crate::messages::duration(after)
        )
    }

    /// A fixed time limit for each record a process-pool worker is on (`N%` sets none
    /// there: a worker's records have no run time of their own).
    pub(crate) fn record_limit(&self) -> Option<Duration> {
        self.timeout.and_then(|t| t.fixed())
    }

    /// The program of a task could not be started (`e`): its outcome, and the line to give it
    /// (`None` when it was said once for the whole run: every task would fail the same way, so
    /// the run stops and ends with 127, as xargs').
    pub(crate) fn spawn_failed(
        &self,
        run: &Run,
        program: &std::ffi::OsStr,
        e: &std::io::Error,
    ) -> (Outcome, Option<String>) {
        let (msg, outcome) = crate::messages::spawn_error(program, e);
        if matches!(outcome, Outcome::SpawnFailed(127)) && self.fixed_program {
            crate::messages::not_found_once(msg);
            run.stop(libc::SIGTERM);
            return (outcome, None);
        }
        (
            outcome,
            Some(format!("{}: {msg}\n", crate::messages::program())),
        )
    }
}

/// Launches a process in `slot` as the policy says: admitted by the gate (`--load`,
/// `--memfree`, `--memsuspend`, `-j FILE`), paced (`--delay`) when `paced` (a task; a
/// process-pool worker's records are paced as they are sent), then spawned in its own process
/// group (its outputs captured as [`Capture::Closing`]) and recorded in the slot table.
pub(crate) fn launch<'a>(
    run: &'a Run,
    slot: usize,
    cmd: &mut Command,
    stdin: Stdio,
    paced: bool,
) -> Launch<'a> {
    launch_with(run, slot, cmd, (stdin, Capture::Closing), paced)
}

/// [`launch`], the child's stdin given and its outputs captured as `capture` says.
pub(crate) fn launch_with<'a>(
    run: &'a Run,
    slot: usize,
    cmd: &mut Command,
    (stdin, capture): (Stdio, Capture),
    paced: bool,
) -> Launch<'a> {
    // Gate hook: wait for --load/--memfree/--memsuspend/-j FILE (before the clock starts).
    if !run.slots.admit(slot) {
        return Launch::Held;
    }
    if paced {
        run.life.pace();
    }
    let started = (Instant::now(), SystemTime::now());
    Launch::Tried(started, Child::spawn(run, slot, cmd, stdin, capture))
}
