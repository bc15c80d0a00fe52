//! The merger: the one writer of stdout. It receives whole task outputs (and the streamed
//! output of the `-k` head of line), writes them in completion or input order, counts
//! failures, and notices a closed stdout or an interrupt.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::sync::atomic::Ordering;

use crossbeam_channel::{select, Receiver, TryRecvError};

use crate::config::Config;
use crate::messages;
use crate::observe::Observer;
use crate::output::OutBuf;
use crate::pool::Control;
use crate::sys;
use crate::task::{Finished, Msg, Outcome, RunInfo};

/// How the merge ended and what it counted.
#[derive(Debug, Default)]
pub struct Summary {
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

struct Writer<'a> {
    out: BufWriter<&'a std::fs::File>,
    keep_order: bool,
    next: u64,
    /// Finished tasks waiting for their turn under `-k`, and whether each gets a job-log row.
    pending: BTreeMap<u64, (Box<Finished>, bool)>,
    ctl: &'a Control,
    obs: &'a mut Observer,
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
        if !self.keep_order {
            return self.write(&f, logged);
        }
        if f.seq != self.next {
            self.pending.insert(f.seq, (f, logged));
            return Ok(());
        }
        self.write(&f, logged)?;
        self.next += 1 + f.more;
        while let Some((f, logged)) = self.pending.remove(&self.next) {
            self.write(&f, logged)?;
            self.next += 1 + f.more;
        }
        self.ctl.head.store(self.next, Ordering::Release);
        Ok(())
    }

    /// Writes a task's (rest of) output, then its job-log row: a row is written only once
    /// the task's output is on stdout (flushed), so `--resume` after a crash reruns exactly
    /// the tasks whose output was not printed. A task skipped under `-k` gets no row.
    fn write(&mut self, f: &Finished, logged: bool) -> io::Result<()> {
        f.stdout.write_to(&mut self.out)?;
        if !f.stderr.is_empty() {
            self.out.flush()?;
            // A failing stderr cannot be reported anywhere: ignore it.
            messages::with_stderr(|| {
                let _ = f.stderr.write_to(&mut io::stderr().lock());
            });
        }
        if logged && self.obs.logs() {
            self.out.flush()?;
            self.obs.log(f);
        }
        Ok(())
    }
}

/// Runs the merge until every sender is gone, an interrupt arrives or stdout fails.
pub fn run(
    cfg: &Config,
    ctl: &Control,
    obs: &mut Observer,
    rx: Receiver<Msg>,
    sig: Receiver<i32>,
    skips: Receiver<u64>,
) -> Summary {
    let mut skips = skips;
    let stdout = sys::stdout_file();
    let mut w = Writer {
        out: BufWriter::with_capacity(64 << 10, &*stdout),
        keep_order: cfg.keep_order,
        next: 1,
        pending: BTreeMap::new(),
        ctl,
        obs,
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
        match msg {
            Msg::Stream { seq, data } => {
                debug_assert_eq!(seq, w.next, "only the head of line streams");
                data.write_to(&mut w.out)?;
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
            Msg::Interrupt(s) => {
                sum.interrupted = Some(s);
                return Ok(());
            }
        }
    })();
    let res = res.and_then(|()| {
        if sum.interrupted.is_none() {
            w.out.flush()
        } else {
            Ok(())
        }
    });
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
