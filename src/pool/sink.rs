//! The output sink of one task (one attempt, in the thread pool) or one job (a task's results,
//! in the process pool), the same for both pools: they hand it the bytes they read and it does
//! the rest. It stores them raw under `--results`, shapes them (`--tag`/`--tagstring`,
//! `--line-buffer`, `--result-end`: [`crate::lines::Shaper`]), and hands them on: whole lines
//! at once (`--line-buffer` without `-k`), streamed to the merger while the task is the `-k`
//! head of line on its last attempt, or held (in memory within the output budget, spilled to
//! a temp file beyond: [`crate::output`]) until the task ends. The pools only move bytes and
//! report outcomes.
//!
//! A `--results` write that fails (a full disk) never cuts the task's output short: the sink
//! stops storing, keeps the error, and [`Sink::finish`] returns it. A failed spill is returned
//! to the pool (the task's output cannot be kept whole), except for the stderr of a task that
//! has begun to print (the `-k` head, `--line-buffer`): that goes straight out instead.

use std::io;
use std::sync::atomic::Ordering;

use crossbeam_channel::Sender;

use crate::config::Config;
use crate::lines::Shaper;
use crate::output::{OutBuf, Spiller};
use crate::pool::Run;
use crate::results::{Results, TaskFiles};
use crate::task::{Msg, Outcome, Record};

/// Bytes one unfinished `--line-buffer` line may hold before the rest of the task is buffered
/// whole instead (the lines already printed were whole; so is the rest, printed at the end).
pub(crate) const LINE_HOLD_MAX: usize = 4 << 20;

/// What one pool thread's sinks share: where output that leaves early goes, and the thread's
/// spill files (one for stdout, one for stderr, so open files stay at two per slot).
pub(crate) struct Outlet<'a> {
    /// The merger.
    pub(crate) to: &'a Sender<Msg>,
    ctl: &'a Run,
    /// `-k`: only the head of line may stream.
    keep: bool,
    /// `--line-buffer`.
    line_buffer: bool,
    spill_out: Spiller,
    spill_err: Spiller,
}

impl<'a> Outlet<'a> {
    pub(crate) fn new(cfg: &Config, ctl: &'a Run, to: &'a Sender<Msg>) -> Self {
        Outlet {
            to,
            ctl,
            // --files: a task's output goes to its file when it ends; nothing leaves early.
            keep: cfg.keep_order && !cfg.jobs_ctl.files,
            line_buffer: cfg.jobs_ctl.line_buffer && !cfg.jobs_ctl.files,
            spill_out: Spiller::default(),
            spill_err: Spiller::default(),
        }
    }

    /// Holds `data` in `buf` of stdout, within the budget or spilled.
    pub(crate) fn hold(&mut self, buf: &mut OutBuf, data: &[u8]) -> io::Result<()> {
        buf.push(data, &mut self.spill_out)
    }
}

/// The output of one task attempt or job, on its way.
#[derive(Debug)]
pub(crate) struct Sink {
    seq: u64,
    files: Option<TaskFiles>,
    /// GNU parallel's `--results`: the outputs are stored, not printed.
    store_only: bool,
    /// The first `--results` write that failed (storing then stopped).
    store_err: Option<io::Error>,
    out: Option<Shaper>,
    err: Option<Shaper>,
    /// Whole lines leave at once (`--line-buffer`, while live).
    lines: bool,
    /// It may stream once it is the `-k` head of line.
    may_stream: bool,
    streaming: bool,
    /// Bytes of stdout received (before shaping).
    pub(crate) received: u64,
    stdout: OutBuf,
    stderr: OutBuf,
    scratch: Vec<u8>,
}

impl Sink {
    /// The sink of an attempt of thread-pool task `seq`, tagged with `tag` (expanded, without
    /// its TAB), storing under `results` if given; `last`: the last attempt allowed, whose
    /// output may leave before it ends (it cannot be replaced any more).
    pub(crate) fn task(
        o: &Outlet,
        results: Option<&Results>,
        seq: u64,
        tag: Option<&[u8]>,
        last: bool,
    ) -> io::Result<Sink> {
        let lines = o.line_buffer && !o.keep && last;
        let out = (tag.is_some() || lines).then(|| Shaper::new(tag, lines));
        let err = tag.map(|t| Shaper::new(Some(t), false));
        Sink::new(results, seq, out, err, lines, o.keep && last)
    }

    /// The sink of process-pool job `seq`: its results, each ended by `end` (dropped if
    /// `strip`) and tagged with `tag`, held until all are in.
    pub(crate) fn job(
        results: Option<&Results>,
        seq: u64,
        tag: Option<&[u8]>,
        end: u8,
        strip: bool,
    ) -> io::Result<Sink> {
        let prefix = tag.map(|t| [t, b"\t"].concat());
        let out = Shaper::results(prefix.as_deref(), end, strip);
        Sink::new(
            results,
            seq,
            (!out.is_identity()).then_some(out),
            None,
            false,
            false,
        )
    }

    fn new(
        results: Option<&Results>,
        seq: u64,
        out: Option<Shaper>,
        err: Option<Shaper>,
        lines: bool,
        may_stream: bool,
    ) -> io::Result<Sink> {
        let files = match results {
            Some(r) => Some(r.task(seq)?),
            None => None,
        };
        // GNU parallel's --results stores the outputs without printing them.
        let store_only = results.is_some_and(Results::store_only);
        Ok(Sink {
            store_only,
            seq,
            files,
            store_err: None,
            out,
            err,
            lines,
            may_stream,
            streaming: false,
            received: 0,
            stdout: OutBuf::new(),
            stderr: OutBuf::new(),
            scratch: Vec::new(),
        })
    }

    /// Takes a piece of the task's stdout.
    pub(crate) fn stdout(&mut self, data: &[u8], o: &mut Outlet) -> io::Result<()> {
        self.received += data.len() as u64;
        if let Some(f) = &mut self.files {
            if let Err(e) = f.out(data) {
                self.stop_storing(e);
            }
        }
        if self.store_only {
            return Ok(());
        }
        let Some(s) = &mut self.out else {
            return self.pass(data, o);
        };
        let mut shaped = std::mem::take(&mut self.scratch);
        shaped.clear();
        s.feed(data, &mut shaped);
        if self.lines && s.held() > LINE_HOLD_MAX {
            self.lines = false;
            s.stop_holding(&mut shaped);
        }
        let res = self.pass(&shaped, o);
        self.scratch = shaped;
        res
    }

    /// The task's stdout ended: what is still held back (an unfinished last line) goes on.
    pub(crate) fn stdout_end(&mut self, o: &mut Outlet) -> io::Result<()> {
        let Some(s) = &mut self.out else {
            return Ok(());
        };
        let mut rest = std::mem::take(&mut self.scratch);
        rest.clear();
        s.finish(&mut rest);
        let res = self.pass(&rest, o);
        self.scratch = rest;
        res
    }

    /// Takes a piece of the task's stderr.
    pub(crate) fn stderr(&mut self, data: &[u8], o: &mut Outlet) -> io::Result<()> {
        if let Some(f) = &mut self.files {
            if let Err(e) = f.err(data) {
                self.stop_storing(e);
            }
        }
        if self.store_only {
            return Ok(());
        }
        let printing = self.streaming || self.lines;
        let data = match &mut self.err {
            None => data,
            Some(s) => {
                self.scratch.clear();
                s.feed(data, &mut self.scratch);
                &self.scratch
            }
        };
        if self.streaming && o.line_buffer {
            // -k --line-buffer: the streaming head task's stderr goes out as it comes, like
            // its stdout (GNU parallel); only one task streams.
            crate::messages::task_stderr(|e| io::Write::write_all(e, data));
            Ok(())
        } else {
            match self.stderr.push(data, &mut o.spill_err) {
                // A failed spill must not cut short a task whose stdout is half out (the -k
                // head, --line-buffer): its stderr goes out now.
                Err(e) if printing && crate::output::is_spill_error(&e) => {
                    // Said first, so that it does not land inside its lines.
                    if let Some(line) = crate::output::take_spill_report() {
                        crate::messages::error(line);
                    }
                    let held = self.stderr.take();
                    crate::messages::task_stderr(|e| {
                        let held = held.write_to(e);
                        io::Write::write_all(e, data).and(held)
                    });
                    Ok(())
                }
                r => r,
            }
        }
    }

    /// A `--results` write failed: this attempt stores nothing more (its output goes on).
    fn stop_storing(&mut self, e: io::Error) {
        self.files = None;
        self.store_err.get_or_insert(e);
    }

    /// A line of parx's own for the task's stdout (`-v`: its command), not stored or counted.
    pub(crate) fn note_out(&mut self, line: &[u8], o: &mut Outlet) {
        let _ = self.pass(line, o);
    }

    /// A line of parx's own about the task, printed with its stderr.
    pub(crate) fn note_err(&mut self, line: &[u8], o: &mut Outlet) {
        let _ = self.stderr.push(line, &mut o.spill_err);
    }

    /// Hands shaped stdout on: whole lines at once, streamed as the `-k` head of line, or
    /// held until the task ends.
    fn pass(&mut self, data: &[u8], o: &mut Outlet) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.lines {
            let _ = o.to.send(Msg::Lines {
                seq: self.seq,
                data: data.to_vec(),
            });
            return Ok(());
        }
        if self.may_stream
            && !self.streaming
            && o.ctl.state.head.load(Ordering::Acquire) == self.seq
        {
            // Head of line: what was held goes first, then everything streams.
            self.streaming = true;
            let _ = o.to.send(Msg::Stream {
                seq: self.seq,
                data: self.stdout.take(),
            });
        }
        if self.streaming {
            let data = OutBuf::from_vec(data.to_vec());
            let _ = o.to.send(Msg::Stream {
                seq: self.seq,
                data,
            });
            Ok(())
        } else {
            self.stdout.push(data, &mut o.spill_out)
        }
    }

    /// The task (attempt) ended with `outcome`: completes its `--results` files, and its index
    /// row if `index` (the results and the task's records) is given. Returns what was held of
    /// its stdout and stderr, and how storing went.
    pub(crate) fn finish(
        self,
        outcome: Outcome,
        index: Option<(&Results, &[Record])>,
    ) -> (OutBuf, OutBuf, io::Result<()>) {
        let mut stored = match (self.store_err, self.files) {
            (Some(e), _) => Err(e),
            (None, Some(f)) => f.finish(outcome),
            (None, None) => Ok(()),
        };
        if let Some((r, records)) = index {
            stored = stored.and_then(|()| r.index(self.seq, records));
        }
        (self.stdout, self.stderr, stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str]) -> Config {
        let cli = crate::cli::Cli::try_parse_from(["parx"].iter().chain(args))
            .expect("valid command line");
        Config::from_cli(cli, &crate::resources::machine(), &mut Vec::new()).expect("valid config")
    }

    #[test]
    fn line_buffer_sends_whole_lines_at_once_and_the_rest_at_the_end() {
        let cfg = config(&["--line-buffer", "--tag", "echo"]);
        let ctl = Run::new(1, Default::default(), Default::default());
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut o = Outlet::new(&cfg, &ctl, &tx);
        let mut s = Sink::task(&o, None, 1, Some(b"t"), true).unwrap();
        s.stdout(b"a\nb", &mut o).unwrap();
        s.stdout_end(&mut o).unwrap();
        let sent: Vec<Vec<u8>> = rx
            .try_iter()
            .map(|m| match m {
                Msg::Lines { data, .. } => data,
                _ => panic!("only output leaves early"),
            })
            .collect();
        assert_eq!(sent, [b"t\ta\n".to_vec(), b"t\tb".to_vec()]);
        let (out, _, stored) = s.finish(Outcome::Exited(0), None);
        assert!(out.is_empty() && stored.is_ok());
    }

    #[test]
    fn a_job_holds_its_results_shaped_until_it_ends() {
        let cfg = config(&["-k", "--pool", "process", "cat"]);
        let ctl = Run::new(1, Default::default(), Default::default());
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut o = Outlet::new(&cfg, &ctl, &tx);
        let mut s = Sink::job(None, 1, Some(b"T"), 0, true).unwrap();
        s.stdout(b"x\ny\0z", &mut o).unwrap();
        s.stdout(b"\0", &mut o).unwrap();
        assert!(rx.try_recv().is_err(), "nothing leaves before the job ends");
        let (out, _, _) = s.finish(Outcome::Exited(0), None);
        assert_eq!(out.to_vec().unwrap(), b"T\tx\nyT\tz");
    }
}
