//! The policy of a task's life that both pools share, whatever carries its input and cuts its
//! output: its time limit (`--timeout`, one [`Timeout`] for a duration and `N%`), the run
//! times `N%` is measured against, and the words for a task that timed out or could not start.
//! The pools keep what differs: how a task's input reaches a child, and how its output is cut
//! into results.

use std::time::{Duration, Instant};

use crate::config::{Config, Timeout};
use crate::pool::Control;
use crate::task::Outcome;

/// When a task started at `started` must end (`--timeout`), if it has a limit.
pub(crate) fn deadline(cfg: &Config, ctl: &Control, started: Instant) -> Option<Instant> {
    let limit = cfg
        .jobs_ctl
        .timeout?
        .limit(|| ctl.runtimes.lock().ok()?.get())?;
    Some(started + limit)
}

/// A task ran for `runtime`: recorded when `--timeout N%` measures against run times.
pub(crate) fn ran(cfg: &Config, ctl: &Control, runtime: Duration) {
    if cfg.jobs_ctl.timeout.and_then(|t| t.of_median()).is_some() {
        if let Ok(mut m) = ctl.runtimes.lock() {
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
    ctl: &Control,
    program: &std::ffi::OsStr,
    e: &std::io::Error,
) -> (Outcome, Option<String>) {
    let (msg, outcome) = crate::messages::spawn_error(program, e);
    if matches!(outcome, Outcome::SpawnFailed(127)) && cfg.template.fixed_program() {
        crate::messages::not_found_once(msg);
        ctl.stop(libc::SIGTERM);
        return (outcome, None);
    }
    (
        outcome,
        Some(format!("{}: {msg}\n", crate::messages::program())),
    )
}
