//! The policy of a task's life that both pools share, whatever carries its input and cuts its
//! output: the [`Lifecycle`] (built once per run: `--delay`'s pacer, the run times `--timeout
//! N%` is measured against, `--results`), a task's time limit (one [`Timeout`] for a duration
//! and `N%`), and the words for a task that timed out or could not start. Admission and the
//! children's table are the slot table's ([`super::slots::SlotTable`]), the end of a task
//! [`super::Run::end`]. The pools keep what differs: how a task's input reaches a child, and
//! how its output is cut into results.

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::config::{Config, Timeout};
use crate::pool::child::{Child, Spawned};
use crate::pool::Run;
use crate::task::Outcome;

/// What a run's tasks share beyond the slots: built once, before the run starts.
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    /// `--delay`: when the next task may start.
    next_start: Mutex<Option<Instant>>,
    /// `--timeout N%`: recent task run times.
    runtimes: Mutex<crate::units::Median>,
    /// `--results`: where each task's outputs are stored (set before the run starts).
    pub results: Option<crate::results::Results>,
}

impl Lifecycle {
    /// `--delay`: waits until `delay` has passed since the previous task start (over all
    /// slots), and books this start.
    pub(crate) fn pace(&self, delay: Duration) {
        let mut next = self.next_start.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some(at) = *next {
            if at > now {
                std::thread::sleep(at - now);
            }
        }
        *next = Some(Instant::now() + delay);
    }
}

/// What launching a process came to.
pub(crate) enum Launch<'a> {
    /// The gate held it until the run stopped: it never ran (and has no start time).
    Held,
    /// Admitted and paced, started at this time (monotonic and wall clock), and what its
    /// spawn came to.
    Tried((Instant, SystemTime), Spawned<'a>),
}

/// Launches a process in `slot` as the policy says: admitted by the gate (`--load`,
/// `--memfree`, `--memsuspend`, `-j FILE`), paced by `delay` (`--delay`: a task's; a
/// process-pool worker's records are paced as they are sent), then spawned in its own process
/// group and recorded in the slot table.
pub(crate) fn launch<'a>(
    run: &'a Run,
    slot: usize,
    cmd: &mut Command,
    stdin: Stdio,
    delay: Option<Duration>,
) -> Launch<'a> {
    // Gate hook: wait for --load/--memfree/--memsuspend/-j FILE (before the clock starts).
    if !run.slots.admit(slot) {
        return Launch::Held;
    }
    if let Some(d) = delay {
        run.life.pace(d);
    }
    let started = (Instant::now(), SystemTime::now());
    Launch::Tried(started, Child::spawn(run, slot, cmd, stdin))
}

/// When a task started at `started` must end (`--timeout`), if it has a limit.
pub(crate) fn deadline(cfg: &Config, run: &Run, started: Instant) -> Option<Instant> {
    let limit = cfg
        .jobs_ctl
        .timeout?
        .limit(|| run.life.runtimes.lock().ok()?.get())?;
    Some(started + limit)
}

/// A task ran for `runtime`: recorded when `--timeout N%` measures against run times.
pub(crate) fn ran(cfg: &Config, run: &Run, runtime: Duration) {
    if cfg.jobs_ctl.timeout.and_then(|t| t.of_median()).is_some() {
        if let Ok(mut m) = run.life.runtimes.lock() {
            m.push(runtime);
        }
    }
}

/// The line for task `seq` that timed out `after` its start, with `N%`'s reckoning.
pub(crate) fn timed_out(seq: u64, timeout: Option<Timeout>, after: Duration) -> String {
    let why = match timeout.and_then(|t| t.of_median()) {
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

/// A fixed time limit for each record a process-pool worker is on (`N%` sets none there).
pub(crate) fn record_limit(cfg: &Config) -> Option<Duration> {
    cfg.jobs_ctl.timeout.and_then(|t| t.fixed())
}

/// The program of a task could not be started (`e`): its outcome, and the line to give it
/// (`None` when it was said once for the whole run: every task would fail the same way, so
/// no new task starts and the run ends with 127, as xargs').
pub(crate) fn spawn_failed(
    cfg: &Config,
    run: &Run,
    program: &std::ffi::OsStr,
    e: &std::io::Error,
) -> (Outcome, Option<String>) {
    let (msg, outcome) = crate::messages::spawn_error(program, e);
    if matches!(outcome, Outcome::SpawnFailed(127)) && cfg.template.fixed_program() {
        crate::messages::not_found_once(msg);
        run.stop(libc::SIGTERM);
        return (outcome, None);
    }
    (
        outcome,
        Some(format!("{}: {msg}\n", crate::messages::program())),
    )
}
