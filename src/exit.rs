//! The exit status (docs/CONTRACT.md, Exit status), decided in one place from one [`Report`] of how
//! the run went.

/// Exit status for parx's own errors (bad usage, unreadable input, a failing stdout).
pub(crate) const EXIT_ERROR: i32 = 255;
/// Exit status when the command's program cannot be found (as xargs and a shell give it).
pub(crate) const EXIT_NOT_FOUND: i32 = 127;

/// Everything the exit status depends on, gathered when the run is over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Report {
    /// parx got this signal (SIGINT, SIGTERM).
    pub interrupted: Option<i32>,
    /// stdout was closed by its reader (EPIPE): a quiet, successful stop.
    pub stdout_closed: bool,
    /// Writing stdout failed otherwise.
    pub write_error: bool,
    /// `--halt` stopped the run with this status.
    pub halt: Option<i32>,
    /// parx reported an error of its own (input, job log, a pool's failure).
    pub errored: bool,
    /// The command's program was not found, and no task could have found it (its name holds
    /// no placeholder): the run stopped at the first task.
    pub not_found: bool,
    /// Tasks that failed (after their last attempt).
    pub failed: u64,
    /// Problems that count like a failed task (`--walk` entries that could not be read).
    pub warnings: u64,
    /// The `xargs` personality: GNU xargs' statuses (see [`Report::status`]).
    pub xargs: bool,
    /// `--slurm`: a shard's parx ended with status 255 (an error of its own). Its tasks' failures
    /// say more, so it makes the status 255 only when no task failed.
    pub shard_errored: bool,
}

/// The status of a run that ended with an error of parx's own before any task (255; 1 as
/// `xargs`).
pub(crate) fn own_error(xargs: bool) -> i32 {
    Report {
        errored: true,
        xargs,
        ..Report::default()
    }
    .status()
}

impl Report {
    /// The run ended before its tasks did: what still runs must be ended.
    pub(crate) fn stopped_early(&self) -> bool {
        self.interrupted.is_some() || self.stdout_closed || self.write_error
    }

    /// The exit status: 128+signal when interrupted; 0 when stdout was closed, 255 when it
    /// failed; `--halt`'s status; 127 when the program was not found; 255 after an error of
    /// parx's own (or a `--slurm` shard's, when no task failed); else the number of failed tasks
    /// and warnings, at most 101.
    ///
    /// As `xargs`: 128+signal when interrupted; the status of a command's fatal outcome (124
    /// for an exit with 255, 125 for a signal, 126 cannot run, 127 not found: the halt); 1
    /// after an error of its own; 123 when a command failed; else 0.
    pub(crate) fn status(&self) -> i32 {
        if let Some(sig) = self.interrupted {
            return 128 + sig;
        }
        if self.xargs {
            return match (self.halt, self.errored || self.write_error, self.failed) {
                (Some(code), _, _) => code,
                (None, true, _) => 1,
                (None, false, 0) => 0,
                _ => 123,
            };
        }
        if self.write_error {
            return EXIT_ERROR;
        }
        if self.stdout_closed {
            return 0;
        }
        if let Some(code) = self.halt {
            return code;
        }
        if self.not_found {
            return EXIT_NOT_FOUND;
        }
        if self.errored || (self.shard_errored && self.failed == 0 && self.warnings == 0) {
            return EXIT_ERROR;
        }
        (self.failed.saturating_add(self.warnings)).min(101) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_count_up_to_101() {
        let r = |failed, warnings| Report {
            failed,
            warnings,
            ..Report::default()
        };
        assert_eq!(r(0, 0).status(), 0);
        assert_eq!(r(3, 0).status(), 3);
        assert_eq!(r(2, 1).status(), 3);
        assert_eq!(r(500, 0).status(), 101);
        assert_eq!(r(u64::MAX, 5).status(), 101);
    }

    #[test]
    fn precedence() {
        let all = Report {
            interrupted: Some(15),
            stdout_closed: true,
            write_error: true,
            halt: Some(7),
            errored: true,
            not_found: false,
            failed: 4,
            warnings: 1,
            xargs: false,
            shard_errored: true,
        };
        assert_eq!(all.status(), 143);
        let r = Report {
            interrupted: None,
            ..all
        };
        assert_eq!(r.status(), EXIT_ERROR, "a failing stdout");
        let r = Report {
            write_error: false,
            ..r
        };
        assert_eq!(r.status(), 0, "a closed stdout is success");
        let r = Report {
            stdout_closed: false,
            ..r
        };
        assert_eq!(r.status(), 7, "--halt's status");
        assert_eq!(Report { halt: None, ..r }.status(), EXIT_ERROR);
        let nf = Report {
            halt: None,
            not_found: true,
            ..r
        };
        assert_eq!(
            nf.status(),
            EXIT_NOT_FOUND,
            "not found, whatever failed after"
        );
        assert_eq!(
            Report { halt: Some(0), ..r }.status(),
            0,
            "halt success=1 wins over failures"
        );
    }

    #[test]
    fn a_shards_error_counts_when_no_task_failed() {
        let r = Report {
            shard_errored: true,
            ..Report::default()
        };
        assert_eq!(r.status(), EXIT_ERROR);
        assert_eq!(Report { failed: 3, ..r }.status(), 3);
        let r = Report {
            stdout_closed: true,
            ..r
        };
        assert_eq!(r.status(), 0);
    }

    #[test]
    fn xargs_statuses() {
        let x = |halt, errored, failed| {
            Report {
                halt,
                errored,
                failed,
                xargs: true,
                ..Report::default()
            }
            .status()
        };
        assert_eq!(x(None, false, 0), 0);
        assert_eq!(x(None, false, 3), 123);
        assert_eq!(x(None, true, 3), 1);
        assert_eq!(x(Some(124), true, 3), 124);
        let r = Report {
            interrupted: Some(2),
            xargs: true,
            ..Report::default()
        };
        assert_eq!(r.status(), 130);
    }

    #[test]
    fn stopped_early() {
        assert!(!Report::default().stopped_early());
        let r = Report {
            halt: Some(1),
            errored: true,
            ..Report::default()
        };
        assert!(!r.stopped_early());
        for r in [
            Report {
                interrupted: Some(2),
                ..Report::default()
            },
            Report {
                stdout_closed: true,
                ..Report::default()
            },
            Report {
                write_error: true,
                ..Report::default()
            },
        ] {
            assert!(r.stopped_early(), "{r:?}");
        }
    }
}
