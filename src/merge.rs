//! The merger: the one writer of stdout. It receives whole task outputs (and the streamed
//! output of the `-k` head of line), writes them in completion or input order, counts
//! failures, and notices a closed stdout or an interrupt.
//!
//! After a failed spill ([`crate::output::spill_failed`]) a task whose output could not be kept
//! whole — a broken buffer, or a task that did not succeed — is neither printed nor logged
//! (so `--resume` runs it again), and under `-k` nothing after the first such task is printed
//! either; the run ends with one line saying which tasks were not printed.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::sync::atomic::Ordering;

use crossbeam_channel::{select, Receiver, TryRecvError};

use crate::config::Config;
use crate::messages;
use crate::observe::Observer;
use crate::output::{self, OutBuf};
use crate::pool::Run;
use crate::sys;
use crate::task::{Finished, Msg, Outcome, RunInfo};

/// How the merge ended and what it counted.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// Tasks that failed.
    pub failed: u64,
    /// Tasks that finished.
    pub done: u64,
    /// parx got this signal.
    pub interrupted: Option<i32>,
    /// stdout was closed by its reader (EPIPE).
    pub stdout_closed: bool,
    /// Writing stdout failed otherwise (reported already).
    pub write_error: bool,
}

/// stdout as the merger writes it: when it is a terminal, each write is made with the
/// `--bar`/`--eta` display (on stderr, likely the same terminal) cleared and redrawn after it,
/// so no bar line is left between output lines.
struct Stdout<'a> {
    file: &'a std::fs::File,
    terminal: bool,
}

impl Write for Stdout<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut file = self.file;
        match self.terminal {
            true => messages::with_stderr(|| file.write(buf)),
            false => file.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Writer<'a> {
    out: BufWriter<Stdout<'a>>,
    keep_order: bool,
    /// `--files`: a task's stdout goes to a temp file of its own; its name is printed.
    files: bool,
    next: u64,
    /// Finished tasks waiting for their turn under `-k`, and whether each gets a job-log row.
    pending: BTreeMap<u64, (Box<Finished>, bool)>,
    ctl: &'a Run,
    obs: &'a mut Observer,
    /// Tasks not printed because output is incomplete (a failed spill), as ranges.
    lost: Vec<(u64, u64)>,
    /// `-k`: the first task whose output was lost; nothing after it is printed.
    hole: Option<u64>,
    /// Running tasks whose output has begun to go out (the `-k` head of line, `--line-buffer`
    /// lines): they are printed, whatever comes.
    streamed: HashSet<u64>,
    /// Running tasks whose output may not begin to go out (no room for their job-log row):
    /// their pieces are dropped, and they are not printed.
    refused: HashSet<u64>,
}

impl Writer<'_> {
    /// A task that is not run (`--resume`, `--shard`): `-k` moves past it.
    fn skipped(&mut self, seq: u64) -> io::Result<()> {
        if !self.keep_order {
            return Ok(());
        }
        let f = Box::new(Finished {
            seq,
            stdout: OutBuf::new(),
            stderr: OutBuf::new(),
            outcome: Outcome::DryRun,
            info: RunInfo::default(),
            more: 0,
        });
        self.finished(f, false)
    }

    /// A task ended (`logged`: it gets a job-log row once its output is written).
    fn finished(&mut self, f: Box<Finished>, logged: bool) -> io::Result<()> {
        let streamed = self.streamed.remove(&f.seq);
        self.refused.remove(&f.seq);
        if streamed {
            self.obs.unpromise();
        }
        if logged && !streamed && (lost(&f) || self.obs.log_failed()) {
            self.drop_task(f.seq, f.more);
            return Ok(());
        }
        if self.hole.is_some_and(|h| f.seq > h) {
            if logged {
                self.lose(f.seq, f.more);
            }
            return Ok(());
        }
        if !self.keep_order {
            return self.write(&f, logged, streamed).map(drop);
        }
        if f.seq != self.next {
            self.pending.insert(f.seq, (f, logged));
            return Ok(());
        }
        // A task dropped here (the job log is full) is the hole: the head stays there, so no
        // later task streams.
        if !self.write(&f, logged, streamed)? {
            return Ok(());
        }
        self.next += 1 + f.more;
        while let Some((f, logged)) = self.pending.remove(&self.next) {
            if !self.write(&f, logged, false)? {
                break;
            }
            self.next += 1 + f.more;
        }
        self.ctl.state.head.store(self.next, Ordering::Release);
        Ok(())
    }

    /// The first piece of a streamed task's output (the `-k` head of line, `--line-buffer`
    /// lines) is about to be printed: with a job log, room for its row is promised first
    /// ([`Observer::promise`]). `false`: there is none (or the task lies past the `-k` hole),
    /// so nothing of the task is printed; its later pieces are dropped too.
    fn begin_stream(&mut self, seq: u64) -> bool {
        if self.refused.contains(&seq) {
            return false;
        }
        if self.streamed.contains(&seq) {
            return true;
        }
        if self.hole.is_some_and(|h| seq >= h) || !self.obs.promise() {
            self.refused.insert(seq);
            return false;
        }
        self.streamed.insert(seq);
        true
    }

    /// Prints neither task `seq` (`..= seq+more`) nor, under `-k`, anything after it: drops
    /// what waits (not logged either).
    fn drop_task(&mut self, seq: u64, more: u64) {
        self.lose(seq, more);
        if self.keep_order {
            let hole = self.hole.map_or(seq, |h| h.min(seq));
            self.hole = Some(hole);
            for (seq, (f, logged)) in self.pending.split_off(&hole) {
                if logged {
                    self.lose(seq, f.more);
                }
            }
        }
    }

    /// Notes tasks `seq ..= seq+more` as not printed (output incomplete).
    fn lose(&mut self, seq: u64, more: u64) {
        match self.lost.last_mut() {
            Some((_, end)) if *end + 1 == seq => *end = seq + more,
            _ => self.lost.push((seq, seq + more)),
        }
    }

    /// Reports the first failed spill, unless a pool thread did (the run ends with 255).
    fn report_spill(&mut self) {
        if let Some(line) = output::take_spill_report() {
            messages::error(line);
        }
    }

    /// After a failed spill or job-log write: one line saying which tasks were not printed
    /// (nor logged).
    fn report_lost(&mut self) {
        if self.lost.is_empty() {
            return;
        }
        self.lost.sort_unstable();
        let resume = if self.obs.logs() {
            "; not logged, so --resume runs them"
        } else {
            ""
        };
        let what = match self.hole {
            Some(h) => format!("task {h} and every task after it (-k order)"),
            None => {
                let mut list: Vec<String> = self
                    .lost
                    .iter()
                    .take(20)
                    .map(|&(a, b)| match a == b {
                        true => a.to_string(),
                        false => format!("{a}-{b}"),
                    })
                    .collect();
                if self.lost.len() > 20 {
                    list.push("...".into());
                }
                format!(
                    "task{} {}, and tasks not started",
                    if self.lost.len() == 1 && self.lost[0].0 == self.lost[0].1 {
                        ""
                    } else {
                        "s"
                    },
                    list.join(", ")
                )
            }
        };
        messages::error(format_args!(
            "output is incomplete: not printed: {what}{resume}"
        ));
    }

    /// `--files` (GNU parallel): stores the task's stdout in a new file in `$TMPDIR` (named
    /// `parXXXXXX.par`, as GNU's), kept after the run, and prints its name. A file that
    /// cannot be written is reported (the run ends with 255) and its name not printed.
    fn write_file(&mut self, f: &Finished) -> io::Result<()> {
        let stored = (|| -> io::Result<std::path::PathBuf> {
            let mut file = tempfile::Builder::new()
                .prefix("par")
                .suffix(".par")
                .tempfile()?;
            let mut w = io::BufWriter::new(file.as_file_mut());
            f.stdout.write_to(&mut w)?;
            w.flush()?;
            drop(w);
            Ok(file.into_temp_path().keep()?)
        })();
        match stored {
            Ok(path) => {
                use std::os::unix::ffi::OsStrExt;
                self.out.write_all(path.as_os_str().as_bytes())?;
                self.out.write_all(b"\n")
            }
            Err(e) => {
                self.ctl.error(format_args!("task {}: --files: {e}", f.seq));
                Ok(())
            }
        }
    }

    /// Writes a task's (rest of) output, then its job-log row: a row is written only once
    /// the task's output is on stdout (flushed), so `--resume` after a crash reruns exactly
    /// the tasks whose output was not printed. A task skipped under `-k` gets no row. When
    /// the job log has no room for the row, the output is not printed either (the task is
    /// dropped, as after a failed spill), so `--resume` prints it once.
    fn write(&mut self, f: &Finished, logged: bool, streamed: bool) -> io::Result<bool> {
        let row = if logged { self.obs.row(f) } else { None };
        if let Some(row) = &row {
            // (Of a task that began to stream, what is out is out: the rest goes too; its
            // row had room promised.)
            if !self.obs.reserve(row) && !streamed {
                self.drop_task(f.seq, f.more);
                return Ok(false);
            }
        }
        if self.files {
            self.write_file(f)?;
        } else {
            f.stdout.write_to(&mut self.out)?;
        }
        if !f.stderr.is_empty() {
            self.out.flush()?;
            // A failing stderr cannot be reported anywhere: ignore it.
            messages::task_stderr(|e| f.stderr.write_to(e));
        }
        if let Some(row) = row {
            self.out.flush()?;
            self.obs.write_row(&row);
        }
        Ok(true)
    }
}

/// Whether a finished task's output was lost to a failed spill: a buffer that could not take
/// all its bytes, or (once a spill has failed) a task that did not succeed — it may have been
/// cut short for it (the process pool's workers are stopped) and its output is not whole. The
/// `-k` head of line or a `--line-buffer` task that has begun to print is never lost (the caller
/// checks): the rest of it is printed.
fn lost(f: &Finished) -> bool {
    f.stdout.is_broken() || f.stderr.is_broken() || (output::spill_failed() && !f.outcome.success())
}

/// Runs the merge until every sender is gone, an interrupt arrives or stdout fails.
pub(crate) fn run(
    cfg: &Config,
    ctl: &Run,
    obs: &mut Observer,
    rx: Receiver<Msg>,
    sig: Receiver<i32>,
    skips: Receiver<u64>,
) -> Summary {
    let mut skips = skips;
    let stdout = sys::stdout_file();
    let mut w = Writer {
        out: BufWriter::with_capacity(
            64 << 10,
            Stdout {
                file: &stdout,
                terminal: stdout.is_terminal(),
            },
        ),
        keep_order: cfg.keep_order,
        files: cfg.jobs_ctl.files,
        next: 1,
        pending: BTreeMap::new(),
        ctl,
        obs,
        lost: Vec::new(),
        hole: None,
        streamed: HashSet::new(),
        refused: HashSet::new(),
    };
    let mut sum = Summary::default();
    let res: io::Result<()> = (|| loop {
        let msg = match rx.try_recv() {
            Ok(m) => m,
            Err(TryRecvError::Disconnected) => {
                // The pool is done; skips sent before the source ended are all queued.
                for seq in skips.try_iter() {
                    w.skipped(seq)?;
                }
                return Ok(());
            }
            Err(TryRecvError::Empty) => {
                // Nothing waiting: flush what we have before blocking.
                w.out.flush()?;
                select! {
                    recv(rx) -> m => match m {
                        Ok(m) => m,
                        Err(_) => return Ok(()),
                    },
                    recv(sig) -> s => {
                        sum.interrupted = s.ok();
                        return Ok(());
                    }
                    recv(skips) -> s => match s {
                        Ok(seq) => Msg::Skipped(seq),
                        Err(_) => {
                            skips = crossbeam_channel::never();
                            continue;
                        }
                    },
                }
            }
        };
        if output::spill_failed() {
            w.report_spill();
        }
        match msg {
            Msg::Stream { seq, data } => {
                debug_assert_eq!(seq, w.next, "only the head of line streams");
                if w.begin_stream(seq) {
                    data.write_to(&mut w.out)?;
                }
            }
            Msg::Lines { seq, data } => {
                if w.begin_stream(seq) {
                    w.out.write_all(&data)?;
                }
            }
            Msg::Done(f) => {
                // A task ended by parx's interrupt is not logged (nor counted) as done.
                if let Ok(s) = sig.try_recv() {
                    sum.interrupted = Some(s);
                    return Ok(());
                }
                sum.done += 1 + f.more;
                if !f.outcome.success() {
                    sum.failed += 1 + f.more;
                }
                w.obs.task_done();
                w.finished(f, true)?;
            }
            Msg::Output(data) => data.write_to(&mut w.out)?,
            Msg::Skipped(seq) => w.skipped(seq)?,
        }
    })();
    // The tasks the pool only counted (see [`crate::pool::counts_only`]): all of them once
    // the pool is done. None of them told the merger of a signal that ended it, as a task's
    // end does (the signal is sent here before any task is ended for it): it is seen now.
    if res.is_ok() && sum.interrupted.is_none() {
        sum.interrupted = sig.try_recv().ok();
    }
    let (done, failed) = ctl.state.tallied();
    sum.done += done;
    sum.failed += failed;
    let res = res.and_then(|()| {
        if sum.interrupted.is_none() {
            w.out.flush()
        } else {
            Ok(())
        }
    });
    w.report_spill();
    if res.is_ok() && sum.interrupted.is_none() {
        w.report_lost();
    }
    if let Err(e) = res {
        if e.kind() == io::ErrorKind::BrokenPipe {
            sum.stdout_closed = true;
        } else {
            messages::error(format_args!("writing stdout: {e}"));
            sum.write_error = true;
        }
        // Drop what is buffered without writing it again.
        let _ = w.out.into_parts();
    }
    sum
}
