//! Sources: turn the configured inputs into numbered tasks, streamed into a bounded channel.

pub mod args;
pub mod batch;
pub mod chunk;
pub mod pipe;
pub mod walk;

use crate::config::Config;
use crate::task::{Record, Task, TaskInput};

/// Produces the argument tasks: records from the sources (split into columns with
/// `--colsep`), grouped by `-n`/`-X`, numbered from 1. Stops when `send` returns `false`.
pub fn feed(
    cfg: &Config,
    sources: Vec<args::Values>,
    mut send: impl FnMut(Task) -> bool,
) -> anyhow::Result<()> {
    let mut seq = 0;
    let mut emit = |records: Vec<Record>| {
        seq += 1;
        send(Task {
            seq,
            input: TaskInput::Args(records),
        })
    };
    let mut batcher = batch::Batcher::new(&cfg.template, cfg.batch);
    let colsep = cfg.input.colsep.as_ref();
    let res = args::produce(&cfg.input, sources, |rec| {
        let rec = match colsep {
            Some(re) => batch::split_columns(re, rec),
            None => rec,
        };
        batcher.push(rec, &mut emit)
    });
    // What was read before an error still runs.
    batcher.flush(&mut emit);
    res
}
