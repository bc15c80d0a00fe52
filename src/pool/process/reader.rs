//! The reading side of one process-pool worker: credits its results to the jobs in flight
//! ([`Ledger`]) and hands answered tasks to the merger (as runs of consecutive tasks when no
//! job log or progress display needs one entry per task) or prints them at once without
//! `-k`; passes the worker's stderr through, and times the oldest job for `--timeout`. A job
//! whose results are tagged, stored (`--results`) or come over several reads has its own
//! output sink (`crate::pool::sink`), as a thread-pool task has; the others' results pass as
//! they are, terminators included. With `--framed` the output is cut into frames instead
//! (`super::framed`), one result or failure per record.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::framed::{self, Decoder, Frame};
use super::ledger::{InFlight, Job, Ledger, Step};
use super::{Slot, ERR_HOLD_MAX};
use crate::lines::shape_results as shape;
use crate::output::OutBuf;
use crate::pool::child::{Stream, Tick};
use crate::pool::sink::Outlet;
use crate::task::{Finished, Msg, Outcome, RunInfo};

/// Consecutive answered tasks sent to the merger as one entry.
struct Run {
    first: u64,
    count: u64,
    /// Their results (at most one read's worth: sent at the end of each read).
    out: Vec<u8>,
}

/// The reading side of one worker: credits its results to the jobs in flight and hands
/// answered tasks to the merger.
pub(super) struct Reader<'a> {
    slot: &'a Slot<'a>,
    pub(super) ledger: Ledger,
    sent: &'a Mutex<VecDeque<InFlight>>,
    term: u8,
    strip: bool,
    /// One merger entry may stand for many tasks (no job log or progress display).
    coalesce: bool,
    run: Option<Run>,
    /// Without -k: results to print now.
    print: Vec<u8>,
    /// Where the sinks spill.
    outlet: Outlet<'a>,
    /// Every job gets a sink (`--tag`, `--results`).
    sinks: bool,
    /// An unfinished line of the worker's stderr.
    err_hold: Vec<u8>,
    /// Since when the oldest job in flight has been the one the worker is on.
    pub(super) front_since: Option<(Instant, SystemTime)>,
    /// Tasks answered by this worker.
    pub(super) answered: u64,
    /// The worker broke the map contract (reported).
    broke: bool,
    /// The last task it answered.
    last: Option<u64>,
    /// Records answered since the load was last updated.
    unload: u64,
    /// Jobs are timed (`--timeout` or a job log).
    timed: bool,
    /// `--framed`: the worker's output cut into frames (see [`framed`]).
    frames: Option<Decoder>,
    /// `--framed-out`: results are printed as frames.
    frames_out: bool,
    /// What is printed for one framed result.
    scratch: Vec<u8>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(slot: &'a Slot<'a>, sent: &'a Mutex<VecDeque<InFlight>>) -> Self {
        let (term, strip) = slot.result_end();
        let jc = &slot.cfg.jobs_ctl;
        Reader {
            slot,
            ledger: Ledger::default(),
            sent,
            term,
            strip,
            coalesce: jc.joblog.is_none() && !jc.bar && !jc.eta,
            run: None,
            print: Vec::new(),
            outlet: Outlet::new(slot.cfg, slot.ctl, slot.out),
            sinks: jc.tag.is_some() || slot.ctl.life.results.is_some(),
            err_hold: Vec::new(),
            front_since: None,
            answered: 0,
            broke: false,
            last: None,
            unload: 0,
            timed: slot.ctl.life.record_limit().is_some() || jc.joblog.is_some(),
            frames: slot.cfg.framed.map(|_| Decoder::default()),
            frames_out: slot.cfg.framed == Some(true),
            scratch: Vec::new(),
        }
    }

    /// Takes the jobs the writer has sent since.
    pub(super) fn pull(&mut self) {
        self.ledger
            .jobs
            .append(&mut self.sent.lock().expect("sent lock"));
        self.watch_front();
    }

    /// Between reads: the clock of `--timeout` runs on the oldest job in flight.
    pub(super) fn tick(&mut self) -> Tick {
        let Some(limit) = self.slot.ctl.life.record_limit() else {
            return Tick {
                deadline: None,
                recheck: None,
            };
        };
        if self.ledger.jobs.is_empty() {
            self.pull();
        }
        self.watch_front();
        Tick {
            deadline: self.front_since.map(|(t, _)| t + limit),
            // The oldest job changes as results come, and the writer may send a first one.
            recheck: Some(Duration::from_millis(100)),
        }
    }

    /// Starts the clock of the oldest job in flight when it becomes the one the worker is on.
    fn watch_front(&mut self) {
        if self.timed && self.front_since.is_none() && !self.ledger.jobs.is_empty() {
            self.front_since = Some((Instant::now(), SystemTime::now()));
        }
    }

    pub(super) fn on(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        match stream {
            Stream::Err => {
                self.on_stderr(data);
                Ok(())
            }
            Stream::Out => {
                match self.frames.take() {
                    Some(mut d) => {
                        let res = self.on_frames(&mut d, data);
                        self.frames = Some(d);
                        res?;
                    }
                    None => self.on_stdout(data)?,
                }
                self.flush()
            }
        }
    }

    /// Passes the worker's stderr through, whole lines at a time (a line longer than
    /// [`ERR_HOLD_MAX`] goes as it is); an empty piece is its end.
    fn on_stderr(&mut self, data: &[u8]) {
        let hold = &mut self.err_hold;
        if data.is_empty() {
            if !hold.is_empty() {
                hold.push(b'\n');
                crate::messages::task_stderr(|e| e.write_all(hold));
                hold.clear();
            }
            return;
        }
        match memchr::memrchr(b'\n', data) {
            Some(i) => {
                crate::messages::task_stderr(|e| {
                    e.write_all(hold).and_then(|()| e.write_all(&data[..=i]))
                });
                hold.clear();
                hold.extend_from_slice(&data[i + 1..]);
            }
            None => hold.extend_from_slice(data),
        }
        if hold.len() > ERR_HOLD_MAX {
            crate::messages::task_stderr(|e| e.write_all(hold));
            hold.clear();
        }
    }

    fn on_stdout(&mut self, data: &[u8]) -> io::Result<()> {
        self.pull();
        let mut ledger = std::mem::take(&mut self.ledger);
        // Only the first span of a piece may continue a result; the others start one.
        let mut at_start = !ledger.mid;
        let res = ledger.credit(data, self.term, |step| {
            let start = std::mem::replace(&mut at_start, true);
            self.step(step, start)
        });
        self.ledger = ledger;
        let extra = res?;
        if !extra.is_empty() && !self.broke {
            self.broke = true;
            let last = match self.last {
                Some(t) => format!("task {t} was its last"),
                None => "it was sent none yet".into(),
            };
            self.slot.ctl.error(format_args!(
                "worker {} broke the map contract: it printed a result after answering every record it was sent ({last}): a banner, a stray line or a result split over two lines; its results from there on cannot be tied to records; stopping",
                self.slot.slot
            ));
            self.slot.ctl.stop(libc::SIGTERM);
        }
        Ok(())
    }

    /// The framed protocol's hook: each result is credited to the record it answers, each
    /// failure fails its task (retried under `--retries`), and anything else is a contract
    /// break, reported at once (the run stops, as for a broken map contract).
    fn on_frames(&mut self, d: &mut Decoder, data: &[u8]) -> io::Result<()> {
        self.pull();
        let res = d.feed(data, |f| match f {
            Frame::Result(p) => {
                let Some(seq) = self.ledger.jobs.front().map(|f| f.job.seq) else {
                    return Ok(false);
                };
                let mut out = std::mem::take(&mut self.scratch);
                out.clear();
                framed::output(seq, p, self.term, self.frames_out, &mut out);
                let mut ledger = std::mem::take(&mut self.ledger);
                let res = ledger.credit_one(&out, |step| self.step(step, true));
                self.ledger = ledger;
                self.scratch = out;
                res
            }
            Frame::Failure(msg) => match self.ledger.fail_one(msg) {
                None => Ok(false),
                Some(None) => Ok(true),
                Some(Some(inf)) => {
                    self.task_failed(inf);
                    Ok(true)
                }
            },
        });
        let why = match res {
            Ok(()) => return Ok(()),
            Err(Err(e)) => return Err(e),
            Err(Ok(b)) => b.to_string(),
        };
        self.framed_break(&why);
        Ok(())
    }

    /// The worker broke the framed protocol: said once, naming it and the record owed.
    fn framed_break(&mut self, why: &str) {
        if std::mem::replace(&mut self.broke, true) {
            return;
        }
        let at = match self.ledger.jobs.front() {
            Some(f) => format!("at {}", f.job.label()),
            None => match self.last {
                Some(t) => {
                    format!("after answering every record it was sent (task {t} was its last)")
                }
                None => "before it was sent any record".into(),
            },
        };
        self.slot.ctl.error(format_args!(
            "worker {} broke the framed protocol {at}: {why}; stopping",
            self.slot.slot
        ));
        self.slot.ctl.stop(libc::SIGTERM);
    }

    /// Counts `job` answered (for pacing and the attribution checks) and returns when its
    /// worker got to it (for its job-log row, when rows are kept): the previous answer, or
    /// the worker's start for the first.
    fn answer(&mut self, job: &Job) -> Option<(Instant, SystemTime)> {
        self.answered += 1;
        self.last = Some(job.seq + job.tasks() - 1);
        self.unload += job.units();
        if !self.timed {
            None
        } else if self.ledger.jobs.is_empty() {
            self.front_since.take()
        } else {
            self.front_since
                .replace((Instant::now(), SystemTime::now()))
        }
    }

    /// A task answered with a failure (framed): it is a failed attempt, re-sent under
    /// `--retries`, else a failed task whose message is said on stderr (and printed as a
    /// failure frame with `--framed-out`); the worker goes on.
    fn task_failed(&mut self, mut inf: InFlight) {
        let msg = inf.failure.take().unwrap_or_default();
        let since = self.answer(&inf.job);
        let mut job = inf.job;
        job.failures += 1;
        let retry = self.slot.ctl.life.may_retry(job.failures);
        let text = String::from_utf8_lossy(&msg);
        crate::messages::note(format_args!(
            "{}: worker {} answered it with a failure{}:\n{}",
            job.label(),
            self.slot.slot,
            if retry { "; retrying it" } else { "" },
            text.trim_end_matches('\n')
        ));
        if retry {
            let _ = self.slot.shared.redo_tx.send(job);
            return;
        }
        self.flush_run();
        let mut out = OutBuf::new();
        if self.frames_out {
            let mut frame = Vec::new();
            framed::put(framed::FAILURE, job.seq, &msg, &mut frame);
            let _ = self.outlet.hold(&mut out, &frame);
        }
        let info = self.slot.run_info(&job, since, out.len());
        let mut inf = InFlight::new(job);
        if self.slot.ctl.life.results.is_some() {
            // `--results`: the message is the task's stderr there.
            let mut sink = self.slot.sink(&inf.job);
            let _ = sink.stderr(&msg, &mut self.outlet);
            inf.sink = Some(Box::new(sink));
        }
        self.slot.fail_with(inf, Outcome::Exited(1), info, out);
    }

    /// An unterminated last result counts as one.
    pub(super) fn close_result(&mut self) -> io::Result<()> {
        let mut ledger = std::mem::take(&mut self.ledger);
        let res = ledger.close_result(self.term, |step| self.step(step, false));
        self.ledger = ledger;
        res
    }

    fn step(&mut self, step: Step<'_, '_>, start: bool) -> io::Result<()> {
        match step {
            Step::Part(inf, span) => {
                let sink = match &mut inf.sink {
                    Some(s) => s,
                    None => inf.sink.insert(Box::new(self.slot.sink(&inf.job))),
                };
                // A failed spill leaves the buffer broken: the task is dropped as lost when
                // its result is complete (crate::merge); the worker goes on.
                let _ = sink.stdout(span, &mut self.outlet);
                Ok(())
            }
            Step::Done(inf, _) if inf.failure.is_some() => {
                self.task_failed(inf);
                Ok(())
            }
            Step::Done(mut inf, span) => match inf.sink.take() {
                None if !self.sinks => self.done(inf.job, OutBuf::new(), span, start),
                sink => {
                    let mut sink = sink.map_or_else(|| self.slot.sink(&inf.job), |s| *s);
                    let _ = sink.stdout(span, &mut self.outlet);
                    let out = self.slot.store(&inf.job, sink, Outcome::Exited(0));
                    self.done(inf.job, out, &[], true)
                }
            },
        }
    }

    /// A job is answered: its results go to the merger (or out at once without -k).
    fn done(&mut self, job: Job, mut out: OutBuf, span: &[u8], start: bool) -> io::Result<()> {
        let (term, strip) = (self.term, self.strip);
        let since = self.answer(&job);
        self.slot.ended(&job, Outcome::Exited(0));
        let keep = self.slot.cfg.keep_order;
        if self.coalesce && out.is_empty() {
            if !keep {
                let print = &mut self.print;
                shape(span, None, term, strip, start, &mut |b| {
                    print.extend_from_slice(b);
                    Ok(())
                })?;
            }
            if self
                .run
                .as_ref()
                .is_some_and(|r| r.first + r.count != job.seq)
            {
                self.flush_run();
            }
            let run = self.run.get_or_insert_with(|| Run {
                first: job.seq,
                count: 0,
                out: Vec::new(),
            });
            run.count += job.tasks();
            if keep {
                let buf = &mut run.out;
                shape(span, None, term, strip, start, &mut |b| {
                    buf.extend_from_slice(b);
                    Ok(())
                })?;
            }
            return Ok(());
        }
        // A task of its own (a job log, tags, stored results): its results travel with it,
        // with or without -k, so its job-log row is written only after them.
        let outlet = &mut self.outlet;
        // A failed spill leaves `out` broken: the merger drops the task as lost (reported
        // by crate::output), but the task must still reach it.
        let _ = shape(span, None, term, strip, start, &mut |b| {
            outlet.hold(&mut out, b)
        });
        self.flush_run();
        let info = self.slot.run_info(&job, since, out.len());
        self.slot.finish(&job, out, Outcome::Exited(0), info);
        Ok(())
    }

    /// Sends what is ready: results to print (without -k), then the run of answered tasks.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        if self.unload > 0 {
            self.slot
                .shared
                .answered(self.slot.slot, std::mem::take(&mut self.unload));
        }
        if !self.print.is_empty() {
            let data = std::mem::take(&mut self.print);
            let _ = self.slot.out.send(Msg::Output(OutBuf::from_vec(data)));
        }
        self.flush_run();
        Ok(())
    }

    fn flush_run(&mut self) {
        if let Some(r) = self.run.take() {
            let mut stdout = OutBuf::new();
            if let Err(e) = self.outlet.hold(&mut stdout, &r.out) {
                // A failed spill is reported once (crate::output); the merger drops the run.
                if !crate::output::is_spill_error(&e) {
                    self.slot
                        .ctl
                        .error(format_args!("worker {}: {e}", self.slot.slot));
                }
            }
            let _ = self.slot.out.send(Msg::Done(Box::new(Finished {
                seq: r.first,
                stdout,
                stderr: OutBuf::new(),
                outcome: Outcome::Exited(0),
                info: RunInfo::default(),
                more: r.count - 1,
            })));
        }
    }
}
