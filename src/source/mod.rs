//! Sources: turn the configured input into numbered tasks, streamed to the pool.
//!
//! Two levels, each one interface:
//! - [`Values`]: the values of one argument source (`:::` words, a file or stdin split on the
//!   delimiter in [`args`], `--walk` paths in [`walk`]), combined by [`args`] (product, link).
//! - [`Source`]: the task inputs of the whole input: argument records grouped into tasks
//!   ([`values::ArgTasks`]), blocks of one-value tasks for the process pool
//!   ([`lines::ValueLines`]) or `--pipe`/`--pipe-part` chunks ([`pipe::Chunks`]), picked once
//!   by [`open`].
//!
//! [`stream_tasks`] numbers the tasks from 1 and applies `--shard` and `--resume` to them,
//! for every source alike. Adding a source is one file plus one line in [`open`] (or, for a
//! value source, in [`args::open_all`]).

mod args;
mod batch;
pub(crate) mod chunk;
mod lines;
mod pipe;
mod regexp;
mod round_robin;
mod splice;
mod spool;
mod values;
mod walk;
mod xargs;

use std::collections::HashSet;
use std::ffi::OsString;
use std::io::{self, IsTerminal};
use std::sync::{Arc, OnceLock};

use crate::config::{ChunkMode, Config, SourceKind};
use crate::shard::Shard;
use crate::task::{Task, TaskInput};
use crate::template::Learned;

/// The values of one opened argument source, in order.
pub(crate) type Values = Box<dyn Iterator<Item = io::Result<OsString>> + Send>;

/// Counts an input's tasks ahead of its [`Source::produce`], on a thread of its own (so the
/// tasks are never held back): the number of tasks, or `None` if counting failed.
pub(crate) type Count = Box<dyn FnOnce() -> Option<u64> + Send>;

/// An opened input: yields task inputs in order.
pub(crate) trait Source: Send {
    /// Calls `emit` with each task input, in order, until it returns `false` or the input
    /// ends. Problems that do not end the input are reported through [`crate::messages`]; an
    /// error returned ends it (what was emitted before it still runs).
    fn produce(self: Box<Self>, emit: &mut dyn FnMut(TaskInput) -> bool) -> anyhow::Result<()>;

    /// How to count this input's tasks ahead, for `--bar`/`--eta`, without taking anything
    /// [`Source::produce`] will read (so not stdin from a pipe); `None` when it cannot be.
    fn count_ahead(&self) -> Option<Count> {
        None
    }
}

/// Starts counting `source`'s tasks ahead (see [`Source::count_ahead`]) on a thread of its
/// own; the returned cell gets the number of tasks that will run here (those `skip` skips
/// left out) once it is known. It stays empty when the input cannot be counted ahead.
pub(crate) fn count_ahead(source: &dyn Source, skip: &Skip) -> Arc<OnceLock<u64>> {
    let cell = Arc::new(OnceLock::new());
    if let Some(count) = source.count_ahead() {
        let (out, skip) = (cell.clone(), skip.clone());
        // Without the thread there is no count: the display shows a count and rate.
        let _ = std::thread::Builder::new()
            .name("parx-count".into())
            .spawn(move || {
                if let Some(n) = count() {
                    let _ = out.set(skip.running(n));
                }
            });
    }
    cell
}

/// Opens the configured input, so that a missing or unreadable file is an error before any
/// task runs. What the tasks' commands need to know of the input as a whole (the task count,
/// the header's names) is told to `learned`.
pub(crate) fn open(cfg: &Arc<Config>, learned: &Arc<Learned>) -> anyhow::Result<Box<dyn Source>> {
    if cfg.compat.xargs.is_some() {
        return Ok(Box::new(xargs::XargsTasks::open(cfg)?));
    }
    if let Some(hint) = terminal_hint(cfg) {
        if io::stdin().is_terminal() {
            crate::messages::note(hint);
        }
    }
    Ok(match &cfg.chunks {
        Some(_) => Box::new(pipe::Chunks::open(cfg)?),
        None if cfg.value_blocks() => Box::new(lines::ValueLines::open(cfg)?),
        None => Box::new(values::ArgTasks::open(cfg, learned)?),
    })
}

/// What to tell a user whose input would be read from stdin, should it be a terminal (like
/// GNU parallel, which warns): parx would seem to hang while it waits for them to type.
fn terminal_hint(cfg: &Config) -> Option<&'static str> {
    match &cfg.chunks {
        Some(c) => (c.mode == ChunkMode::Pipe(None)).then_some(
            "reading --pipe input from the terminal (end with Ctrl-D); give -a FILE or pipe it in",
        ),
        None => cfg
            .input
            .sources
            .iter()
            .any(|s| s.kind == SourceKind::Stdin)
            .then_some(
                "reading values from the terminal (end with Ctrl-D); give ::: VALUES, -a FILE \
                 or pipe them in",
            ),
    }
}

/// The tasks not run here: another machine's share (`--shard`) or ones a job log says are
/// done (`--resume`, `--resume-failed`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Skip {
    /// This machine's share.
    pub shard: Option<Shard>,
    /// Sequence numbers done in an earlier run.
    pub done: HashSet<u64>,
}

impl Skip {
    /// Whether any task may be skipped.
    pub(crate) fn any(&self) -> bool {
        self.shard.is_some() || !self.done.is_empty()
    }

    /// Whether task `seq` is skipped.
    pub(crate) fn skips(&self, seq: u64) -> bool {
        self.shard.is_some_and(|s| !s.runs(seq)) || self.done.contains(&seq)
    }

    /// How many of the tasks numbered 1 to `total` run here.
    pub(crate) fn running(&self, total: u64) -> u64 {
        let share = match self.shard {
            // Tasks k, k+n, k+2n, ... up to `total`.
            Some(s) if total >= s.k => (total - s.k) / s.n + 1,
            Some(_) => 0,
            None => total,
        };
        let done = self
            .done
            .iter()
            .filter(|&&seq| (1..=total).contains(&seq) && self.shard.is_none_or(|s| s.runs(seq)))
            .count() as u64;
        share - done
    }
}

/// Reads `source` to its end: numbers its tasks from 1 and hands each to `run`, or its number
/// to `skipped` when `skip` says so. Stops early when either returns `false`.
pub(crate) fn stream_tasks(
    source: Box<dyn Source>,
    skip: &Skip,
    mut run: impl FnMut(Task) -> bool,
    mut skipped: impl FnMut(u64) -> bool,
) -> anyhow::Result<()> {
    let mut next = 1;
    source.produce(&mut |input| {
        let seq = next;
        next += input.tasks();
        // A block of tasks is made only when nothing is skipped (`Config::value_blocks`).
        if skip.skips(seq) {
            skipped(seq)
        } else {
            run(Task { seq, input })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source of `n` empty argument tasks.
    struct Count(u64);

    impl Source for Count {
        fn produce(self: Box<Self>, emit: &mut dyn FnMut(TaskInput) -> bool) -> anyhow::Result<()> {
            for _ in 0..self.0 {
                if !emit(TaskInput::Args(Vec::new())) {
                    break;
                }
            }
            Ok(())
        }
    }

    fn run(n: u64, skip: &Skip, stop_after: usize) -> (Vec<u64>, Vec<u64>) {
        let (mut ran, mut skipped) = (Vec::new(), Vec::new());
        stream_tasks(
            Box::new(Count(n)),
            skip,
            |t| {
                ran.push(t.seq);
                ran.len() < stop_after
            },
            |s| {
                skipped.push(s);
                true
            },
        )
        .unwrap();
        (ran, skipped)
    }

    #[test]
    fn numbers_from_one_and_skips_once() {
        assert_eq!(run(3, &Skip::default(), 99), (vec![1, 2, 3], vec![]));
        let skip = Skip {
            shard: Some(Shard { k: 2, n: 2 }),
            done: HashSet::from([4]),
        };
        assert!(skip.any());
        assert_eq!(run(6, &skip, 99), (vec![2, 6], vec![1, 3, 4, 5]));
        assert_eq!(run(6, &skip, 1), (vec![2], vec![1]), "stops when told");
    }

    /// `running` counts what `stream_tasks` runs.
    #[test]
    fn counts_the_tasks_that_run() {
        let skips = [
            Skip::default(),
            Skip {
                shard: Some(Shard { k: 2, n: 3 }),
                done: HashSet::new(),
            },
            Skip {
                shard: None,
                done: HashSet::from([1, 4, 9, 50]),
            },
            Skip {
                shard: Some(Shard { k: 1, n: 2 }),
                done: HashSet::from([1, 2, 3, 8, 9]),
            },
            Skip {
                shard: Some(Shard { k: 5, n: 5 }),
                done: HashSet::new(),
            },
        ];
        for skip in &skips {
            for n in 0..12 {
                let ran = run(n, skip, usize::MAX).0.len() as u64;
                assert_eq!(skip.running(n), ran, "{skip:?} of {n}");
            }
        }
    }
}
