//! Sources: turn the configured inputs into numbered tasks, streamed into a bounded channel.

pub mod args;
pub mod batch;
pub mod chunk;
pub mod pipe;
pub mod walk;

use std::os::unix::ffi::OsStrExt;

use crate::config::Config;
use crate::task::{Record, Task, TaskInput};

/// Produces the argument tasks: records from the sources (split into columns with
/// `--colsep`), grouped by `-n`/`-X`, numbered from 1. Stops when `send` returns `false`.
/// With `--header :` the first value of each source names its column; with `{##}` every
/// task is read before the first is sent (the total must be known).
pub fn feed(
    cfg: &Config,
    mut sources: Vec<args::Values>,
    mut send: impl FnMut(Task) -> bool,
) -> anyhow::Result<()> {
    if cfg.input.header {
        let names = args::take_header(&cfg.input, &mut sources)?;
        cfg.template.set_header(names);
        let unknown = cfg.template.unknown_names();
        if !unknown.is_empty() {
            anyhow::bail!(
                "--header: no column named {} in the header line (the first value of each source)",
                unknown.join(", ")
            );
        }
    }
    let hold = cfg.template.needs_total();
    let mut held = Vec::new();
    let mut seq = 0;
    let drop_values = cfg.compat.drop_values;
    let res = {
        let mut emit = |records: Vec<Record>| {
            seq += 1;
            let records = if drop_values {
                vec![Record::new()]
            } else {
                records
            };
            let task = Task {
                seq,
                input: TaskInput::Args(records),
            };
            if hold {
                held.push(task);
                true
            } else {
                send(task)
            }
        };
        let mut batcher = batch::Batcher::new(&cfg.template, cfg.batch, cfg.compat.limits);
        let colsep = cfg.input.colsep.as_ref();
        let trim = cfg.input.trim;
        let res = args::produce(&cfg.input, sources, |rec| {
            let rec = match colsep {
                Some(re) => batch::split_columns(re, rec)
                    .into_iter()
                    .map(|c| std::ffi::OsStr::from_bytes(trim.apply(c.as_bytes())).to_owned())
                    .collect(),
                None => rec,
            };
            batcher.push(rec, &mut emit)
        });
        // What was read before an error still runs.
        batcher.finish(&mut emit);
        match (batcher.too_long, res) {
            (Some(n), Ok(())) => Err(anyhow::anyhow!(
                "-x: a command line would be {n} characters, over the -s limit of {}",
                cfg.compat.limits.max_chars.unwrap_or_default()
            )),
            (_, res) => res,
        }
    };
    if hold {
        cfg.template.set_total(held.len() as u64);
        for t in held {
            if !send(t) {
                break;
            }
        }
    }
    res
}
