//! How a worker's tasks end: a worker that ended early (halted, given up on, on a poison
//! record), a job handed to the merger (`--halt` hears of it), stored under `--results` or
//! failed, and its job-log row.

use super::*;

impl Slot<'_> {
    /// Isolation is over: a worker that exited 0 at the end of its input without answering
    /// records none of which ends a worker alone skipped records or split a result, and the
    /// line protocol cannot tell which of its results belong to which records: said, and the
    /// run does not end with status 0.
    pub(super) fn unexplained(&self, s: Suspects) {
        if let Some((slot, first, n)) = s.skipped {
            self.ctl.error(format_args!(
                "worker {slot} exited (status 0) at the end of its input without answering {n} record{} (from {first}); re-run alone they were answered, so it skipped a record or split a result over two lines: results it gave before may be on the wrong records (the line protocol cannot tell)",
                if n == 1 { "" } else { "s" }
            ));
        }
    }

    /// `--halt now` or an interrupt ended the worker: the record it was on ended with it (its
    /// job-log row says so); the records behind it never started, so they get no row and
    /// `--resume` runs them.
    pub(super) fn halted(&self, end: Ended) {
        let mut left = end.left;
        let Some(mut front) = left.pop_front() else {
            return;
        };
        // Of a block of values, only the first was started.
        drop(front.job.split_after(1));
        let info = self.run_info(&front.job, end.since, 0);
        self.fail(front, failed(end.outcome), info);
    }

    /// After a worker ended with records unanswered and answering nothing: whether parx
    /// gives up (the command cannot answer any record from a fresh start), reported.
    pub(super) fn give_up(&self, end: &Ended) -> bool {
        let front = end.left.front().expect("records unanswered").job.seq;
        let silent = (end.answered == 0 && !end.timed_out).then_some(front);
        let streak = self.shared.silent_end(silent);
        let ever = self.shared.ever_answered.load(Ordering::Relaxed);
        if streak.len() < GIVE_UP_AFTER || (ever && streak.len() < GIVE_UP_ANYWAY) {
            return false;
        }
        let tasks: Vec<String> = streak.iter().map(u64::to_string).collect();
        self.ctl.error(format_args!(
            "the worker command cannot answer any record from a fresh start: fresh workers ended ({}) before answering anything, on tasks {} in a row; giving up (a worker must answer each record it reads with one result)",
            describe(end.outcome),
            tasks.join(", ")
        ));
        self.ctl.stop(libc::SIGTERM);
        for p in end.left.iter() {
            self.ended(&p.job, failed(end.outcome));
        }
        true
    }

    /// A worker given one task alone ended without answering it: that task is the one that
    /// ends workers. It is a failed attempt: run alone again under `--retries`, else a
    /// failed task, named in one line.
    pub(super) fn poison(&self, s: &mut Suspects, end: Ended) {
        let mut left = end.left;
        let mut on = left.pop_front().expect("one task unanswered").job;
        on.failures += 1;
        let retry = self.ctl.life.may_retry(on.failures);
        let then = if retry { "; retrying it" } else { "" };
        if end.timed_out {
            crate::messages::note(format_args!(
                "task {} timed out after {:?} ({}): worker {} replaced{then}",
                on.seq,
                self.ctl.life.record_limit().unwrap_or_default(),
                on.value(),
                self.slot
            ));
        } else if end.closed && end.outcome == Outcome::Exited(0) {
            // It read the record and the end of its input, and exited cleanly: it skips
            // this record, and what it answered before may sit on the wrong records.
            crate::messages::note(format_args!(
                "worker {} exited (status 0) without answering {}, the only record it was sent: it skips that record, so results it gave before may be on the wrong records{then}",
                self.slot,
                on.label()
            ));
        } else {
            let how = match end.outcome {
                Outcome::Signaled(s) => format!("was killed by signal {s}"),
                o => format!("exited ({})", describe(o)),
            };
            crate::messages::note(format_args!(
                "worker {} {how} on {}, run alone{then}",
                self.slot,
                on.label()
            ));
        }
        if retry {
            s.queue.push_front(on);
            s.bound = Some(1);
            s.front_first = true;
            return;
        }
        // What it answered of the record is dropped (the partial result). Its job-log row
        // says when the worker got to it and what it was sent.
        let mut info = self.run_info(&on, end.since, 0);
        info.killed |= end.timed_out;
        self.fail(InFlight::new(on), failed(end.outcome), info);
        s.bound = None;
        s.front_first = false;
    }

    /// Hands a finished task (or a block's tasks, all ending alike) to the merger.
    pub(super) fn finish(&self, job: &Job, stdout: OutBuf, outcome: Outcome, info: RunInfo) {
        let _ = self.ctl.end(
            Finished {
                seq: job.seq,
                stdout,
                stderr: OutBuf::new(),
                outcome,
                info,
                more: job.tasks() - 1,
            },
            self.out,
        );
    }

    /// Tells `--halt` that the job's tasks ended.
    pub(super) fn ended(&self, job: &Job, outcome: Outcome) {
        for seq in job.seq..job.seq + job.tasks() {
            self.ctl.task_ended(seq, outcome);
        }
    }

    /// A job's output sink (see [`Sink::job`]). If its `--results` files cannot be made, that
    /// is said once per job and the results are printed all the same.
    pub(super) fn sink(&self, job: &Job) -> Sink {
        let (end, strip) = self.result_end();
        let tag = job.tag.as_deref();
        let results = self.ctl.life.results.as_ref();
        Sink::job(results, job.seq, tag, end, strip).unwrap_or_else(|e| {
            self.ctl.error(format_args!(
                "task {}: --results: {e} (its results are incomplete)",
                job.seq
            ));
            Sink::job(None, job.seq, tag, end, strip).expect("nothing to open")
        })
    }

    /// A job ended with `outcome`: completes its sink's `--results` files and index row;
    /// returns its shaped results.
    pub(super) fn store(&self, job: &Job, sink: Sink, outcome: Outcome) -> OutBuf {
        let index = self.ctl.life.results.as_ref().map(|r| (r, job.records()));
        let (out, _, stored) = sink.finish(outcome, index);
        if let Err(e) = stored {
            // stdout is not touched; the run ends with 255.
            self.ctl.error(format_args!(
                "task {}: --results: {e} (its results are incomplete)",
                job.seq
            ));
        }
        out
    }

    /// A job failed for good: stored as such under `--results`, handed to the merger with no
    /// output (a partial result is never printed).
    pub(super) fn fail(&self, p: InFlight, outcome: Outcome, info: RunInfo) {
        self.fail_with(p, outcome, info, OutBuf::new());
    }

    /// The same, printing `out` (a failure frame with `--framed-out`).
    pub(super) fn fail_with(&self, p: InFlight, outcome: Outcome, info: RunInfo, out: OutBuf) {
        if self.ctl.life.results.is_some() {
            let sink = p.sink.map_or_else(|| self.sink(&p.job), |s| *s);
            self.store(&p.job, sink, outcome);
        }
        self.finish(&p.job, out, outcome, info);
    }

    /// What a job's job-log row says: when its worker got to it (`since`), how long until
    /// now, the bytes sent and `receive`d, and the worker command (with a job log only).
    pub(super) fn run_info(
        &self,
        job: &Job,
        since: Option<(Instant, SystemTime)>,
        receive: u64,
    ) -> RunInfo {
        let mut info = RunInfo {
            start: since.map(|(_, t)| t),
            runtime: since.map_or(Duration::ZERO, |(t, _)| t.elapsed()),
            send: job.len(),
            receive,
            command: Vec::new(),
            // A worker parx stopped (a stop of the run) was killed by parx.
            killed: self.ctl.state.stopping(),
        };
        if self.cfg.jobs_ctl.joblog.is_some() {
            let ctx = Ctx {
                seq: job.seq,
                slot: self.slot,
                records: &[],
                learned: &self.ctl.state.learned,
            };
            info.command = self.cfg.template.render(&ctx).display();
        }
        info
    }
}

pub(super) fn describe(o: Outcome) -> String {
    match o {
        Outcome::Signaled(s) => format!("signal {s}"),
        Outcome::IoError => "status 0, with records unanswered".into(),
        o => format!("status {}", o.exit_code()),
    }
}
