//! The per-attempt output hook both pools call as a task's output arrives: stores the raw bytes
//! under `--results`, counts stdout bytes for the job log, and shapes the output for
//! `--tag`/`--tagstring`/`--line-buffer` (see [`crate::lines`]). Without those options it
//! passes the bytes through untouched and costs nothing.
//!
//! A `--results` write that fails (a full disk) never cuts the task's output short: the hook
//! stops storing that attempt, keeps the error, and [`OutputHook::finish`] returns it; the pool
//! reports it (the task's stdout is still printed whole) and the run ends with status 255.

use std::io;

use crate::config::Config;
use crate::lines::Shaper;
use crate::pool::Control;
use crate::results::TaskFiles;
use crate::task::{Outcome, Record};
use crate::template::Ctx;

/// Bytes one unfinished `--line-buffer` line may hold before the rest of the task is buffered
/// whole instead (the lines already printed were whole; so is the rest, printed at the end).
pub const LINE_HOLD_MAX: usize = 4 << 20;

/// One attempt of one task.
#[derive(Debug)]
pub struct OutputHook {
    files: Option<TaskFiles>,
    /// The first `--results` write that failed (storing then stopped).
    store_err: Option<io::Error>,
    out: Option<Shaper>,
    err: Option<Shaper>,
    /// `--line-buffer` is live for this attempt: stdout leaves as whole lines.
    pub lines: bool,
    /// This is the last attempt allowed: its output may leave before it ends.
    pub last: bool,
    /// Bytes of stdout received (before shaping).
    pub received: u64,
    scratch: Vec<u8>,
}

impl OutputHook {
    /// The hook for an attempt of task `seq`. `last` says whether this is the last attempt
    /// allowed (only then may output leave before the task ends).
    pub fn new(
        cfg: &Config,
        ctl: &Control,
        seq: u64,
        slot: usize,
        records: &[Record],
        last: bool,
    ) -> io::Result<OutputHook> {
        let jc = &cfg.jobs_ctl;
        let lines = jc.line_buffer && !cfg.keep_order && last;
        let tag = jc
            .tag
            .as_ref()
            .map(|t| t.expand_text(&Ctx { seq, slot, records }));
        let shaping = tag.is_some() || lines;
        let files = match &ctl.results {
            Some(r) => Some(r.task(seq)?),
            None => None,
        };
        Ok(OutputHook {
            files,
            store_err: None,
            out: shaping.then(|| Shaper::new(tag.as_deref(), lines)),
            err: tag.as_deref().map(|t| Shaper::new(Some(t), false)),
            lines,
            last,
            received: 0,
            scratch: Vec::new(),
        })
    }

    /// Takes a piece of stdout; returns the bytes to pass on (with `--line-buffer`: only
    /// whole lines) and whether they go out as lines now ([`OutputHook::lines`]).
    pub fn stdout<'a>(&'a mut self, data: &'a [u8]) -> io::Result<(&'a [u8], bool)> {
        self.received += data.len() as u64;
        if let Some(f) = &mut self.files {
            if let Err(e) = f.out(data) {
                self.stop_storing(e);
            }
        }
        match &mut self.out {
            None => Ok((data, false)),
            Some(s) => {
                self.scratch.clear();
                s.feed(data, &mut self.scratch);
                if self.lines && s.held() > LINE_HOLD_MAX {
                    self.lines = false;
                    s.stop_holding(&mut self.scratch);
                }
                Ok((&self.scratch, self.lines))
            }
        }
    }

    /// Takes a piece of stderr; returns the bytes to pass on.
    pub fn stderr<'a>(&'a mut self, data: &'a [u8]) -> io::Result<&'a [u8]> {
        if let Some(f) = &mut self.files {
            if let Err(e) = f.err(data) {
                self.stop_storing(e);
            }
        }
        match &mut self.err {
            None => Ok(data),
            Some(s) => {
                self.scratch.clear();
                s.feed(data, &mut self.scratch);
                Ok(&self.scratch)
            }
        }
    }

    /// At the end of stdout: what is still held back (an unfinished last line).
    pub fn stdout_end(&mut self) -> &[u8] {
        self.scratch.clear();
        if let Some(s) = &mut self.out {
            s.finish(&mut self.scratch);
        }
        &self.scratch
    }

    /// A `--results` write failed: this attempt stores nothing more (its output goes on).
    fn stop_storing(&mut self, e: io::Error) {
        self.files = None;
        self.store_err.get_or_insert(e);
    }

    /// The attempt ended: completes the `--results` files, or returns the write that failed.
    pub fn finish(self, outcome: Outcome) -> io::Result<()> {
        if let Some(e) = self.store_err {
            return Err(e);
        }
        match self.files {
            Some(f) => f.finish(outcome),
            None => Ok(()),
        }
    }
}
