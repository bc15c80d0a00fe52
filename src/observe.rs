//! What happens when a task has finished for good (after its last attempt), whatever the
//! pool: its `--joblog` row, the `--bar`/`--eta` display, and telling the user once `--halt`
//! has stopped the run (with `now`, the KILL after a grace; the decision itself is taken by
//! [`crate::halt`] as the pool reports each ending). The merger calls [`Observer::task_done`]
//! for every finished task, in completion order, and [`Observer::write_row`] once that task's output
//! has been written to stdout and flushed (GNU parallel's rule: a logged task's output is out,
//! so `--resume` after a crash neither loses nor repeats it).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::config::Config;
use crate::halt::When;
use crate::joblog::{Joblog, Row};
use crate::messages;
use crate::pool::Run;
use crate::progress::Progress;
use crate::task::{Finished, Outcome};

/// How long tasks get after `--halt now`'s TERM before KILL.
const HALT_GRACE: Duration = Duration::from_secs(1);

/// The per-finished-task observers.
#[derive(Debug)]
pub(crate) struct Observer {
    ctl: Arc<Run>,
    joblog: Option<Joblog>,
    /// The `--halt` message has been printed (and `now`'s KILL scheduled).
    halted: bool,
    progress: Option<Progress>,
    /// Writing the job log failed (reported once, as an error: the run ends with status 255).
    log_failed: bool,
    /// `--joblog`'s file.
    log_path: std::path::PathBuf,
    /// The `xargs` personality: its command's name, for xargs' own words when it stops.
    xargs_command: Option<String>,
}

impl Observer {
    /// Observers for `cfg`; `joblog` is the opened log, if any; `counted` gets the number of
    /// tasks if the input is counted ahead ([`crate::source::count_ahead`]).
    pub(crate) fn new(
        cfg: &Config,
        ctl: &Arc<Run>,
        joblog: Option<Joblog>,
        counted: Arc<OnceLock<u64>>,
    ) -> Observer {
        let jc = &cfg.jobs_ctl;
        debug_assert_eq!(
            jc.halt.is_some(),
            ctl.state.halt.is_some(),
            "Run::halt is set up"
        );
        let progress = Progress::new(
            jc.bar,
            jc.eta,
            {
                let ctl = ctl.clone();
                // The input's end gives the exact number; until then, the count ahead.
                move || ctl.state.total().or_else(|| counted.get().copied())
            },
            {
                let ctl = ctl.clone();
                move || ctl.slots.waiting()
            },
        );
        if let Some(p) = &progress {
            messages::set_progress(p.clone());
        }
        Observer {
            ctl: ctl.clone(),
            joblog,
            halted: false,
            progress,
            log_failed: false,
            log_path: jc.joblog.clone().unwrap_or_default(),
            xargs_command: cfg
                .compat
                .xargs
                .as_ref()
                .map(|x| x.command[0].to_string_lossy().into_owned()),
        }
    }

    /// Whether a job log is written (the merger flushes stdout before each row).
    pub(crate) fn logs(&self) -> bool {
        self.joblog.is_some()
    }

    /// The job-log row of `f` (`None` without a job log).
    pub(crate) fn row(&self, f: &Finished) -> Option<Vec<u8>> {
        self.joblog.as_ref()?;
        Some(crate::joblog::format_row(&Row {
            seq: f.seq,
            start: f.info.start.unwrap_or_else(std::time::SystemTime::now),
            runtime: f.info.runtime,
            send: f.info.send,
            receive: f.info.receive,
            outcome: f.outcome,
            command: &f.info.command,
            killed: f.info.killed,
        }))
    }

    /// Reserves room in the job log for `row`, before its task's output is printed. `false`:
    /// the log cannot take it (see [`Observer::log_failed`]), so the output must not be
    /// printed either.
    pub(crate) fn reserve(&mut self, row: &[u8]) -> bool {
        self.on_log(|log| log.reserve(row.len()))
    }

    /// A task begins to print before it ends (the `-k` head of line, `--line-buffer`): room
    /// for its row, not known yet, is promised in the job log ([`Joblog::promise`]). `false`:
    /// there is none (see [`Observer::log_failed`]), so nothing of the task may be printed.
    pub(crate) fn promise(&mut self) -> bool {
        self.on_log(Joblog::promise)
    }

    /// Does `op` on the job log unless it has failed already; `false` when it fails (reported
    /// once) or had failed.
    fn on_log(&mut self, op: impl FnOnce(&mut Joblog) -> std::io::Result<()>) -> bool {
        let res = match &mut self.joblog {
            Some(log) if !self.log_failed => op(log),
            _ => return !self.log_failed,
        };
        match res {
            Ok(()) => true,
            Err(e) => {
                self.log_error(&e);
                false
            }
        }
    }

    /// A task that began to print has ended: its promise gives way to its row's reservation.
    pub(crate) fn unpromise(&mut self) {
        if let Some(log) = &mut self.joblog {
            log.unpromise();
        }
    }

    /// Writes `row` (see [`Observer::row`]), once its task's output is on stdout: after a
    /// failure too (a task that printed before it ended had room promised for it).
    pub(crate) fn write_row(&mut self, row: &[u8]) {
        if let Some(Err(e)) = self.joblog.as_mut().map(|log| log.write(row)) {
            self.log_error(&e);
        }
    }

    /// Whether writing the job log has failed: from then on a finished task can get no row,
    /// so its output is not printed either (`--resume` runs it), and no new task starts.
    pub(crate) fn log_failed(&self) -> bool {
        self.log_failed
    }

    /// The job log cannot be written: one line (the run ends with 255), and no new task.
    fn log_error(&mut self, e: &std::io::Error) {
        if !self.log_failed {
            messages::error(format_args!(
                "writing the job log {}: {e}; starting no more tasks",
                self.log_path.display()
            ));
            self.ctl.state.no_new_tasks();
        }
        self.log_failed = true;
    }

    /// A task finished (its last attempt): the progress display and `--halt`.
    pub(crate) fn task_done(&mut self) {
        if let Some(p) = &self.progress {
            p.inc();
        }
        if let (false, Some((status, when, seq))) = (self.halted, self.halt_status_when()) {
            self.halted = true;
            if let Some(cmd) = &self.xargs_command {
                self.xargs_stopped(cmd);
                return;
            }
            let what = match when {
                When::Soon => "starting no new task, waiting for the running ones",
                When::Now => "ending the running tasks",
            };
            messages::note(format_args!(
                "--halt: condition met at task {seq} (status {status}); {what}"
            ));
            if when == When::Now {
                let ctl = self.ctl.clone();
                let _ = std::thread::Builder::new()
                    .name("parx-halt".into())
                    .spawn(move || ctl.slots.end_children(HALT_GRACE));
            }
        }
    }

    /// GNU xargs' line when a command's outcome stops it (a command that could not run has
    /// said why on its stderr already).
    fn xargs_stopped(&self, cmd: &str) {
        let cause = self.ctl.state.halt.as_ref().and_then(|h| {
            h.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .cause
        });
        match cause {
            Some(Outcome::Exited(255)) => {
                messages::note(format_args!("{cmd}: exited with status 255; aborting"));
            }
            Some(Outcome::Signaled(sig)) => {
                messages::note(format_args!("{cmd}: terminated by signal {sig}"));
            }
            _ => {}
        }
    }

    fn halt_status_when(&self) -> Option<(i32, When, u64)> {
        let h = self
            .ctl
            .state
            .halt
            .as_ref()?
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some((h.status?, h.spec.when, h.trigger))
    }

    /// The exit status `--halt` decided, if it stopped the run.
    pub(crate) fn halt_status(&self) -> Option<i32> {
        self.halt_status_when().map(|(s, _, _)| s)
    }

    /// The run is over: clears the progress display.
    pub(crate) fn finish(&self) {
        if let Some(p) = &self.progress {
            p.finish();
        }
    }
}
