//! Argument tasks: the records of the argument sources ([`crate::source::args`]), split into
//! columns with `--colsep` and grouped by `-n`/`-X` ([`crate::source::batch`]).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use crate::config::Config;
use crate::source::{args, batch, Source, Values};
use crate::task::{Record, TaskInput};

/// The argument sources, opened.
pub struct ArgTasks {
    cfg: Arc<Config>,
    sources: Vec<Values>,
}

impl ArgTasks {
    /// Opens every argument source (a missing file is an error here).
    pub fn open(cfg: &Arc<Config>) -> anyhow::Result<ArgTasks> {
        Ok(ArgTasks {
            cfg: cfg.clone(),
            sources: args::open_all(&cfg.input)?,
        })
    }
}

impl Source for ArgTasks {
    /// With `--header :` the first value of each source names its column; with `{##}` every
    /// task is read before the first is emitted (the total must be known).
    fn produce(self: Box<Self>, emit: &mut dyn FnMut(TaskInput) -> bool) -> anyhow::Result<()> {
        let cfg = &self.cfg;
        let mut sources = self.sources;
        if cfg.input.header {
            let names = args::take_header(&cfg.input, &mut sources)?;
            cfg.template.set_header(names);
            let unknown = cfg.template.unknown_names();
            if !unknown.is_empty() {
                anyhow::bail!(
                    "--header: no column named {} in the header line (the first value of each \
                     source)",
                    unknown.join(", ")
                );
            }
        }
        let hold = cfg.template.needs_total();
        let mut held = Vec::new();
        let drop_values = cfg.compat.drop_values;
        let res = {
            let mut emit = |records: Vec<Record>| {
                // -N 0: the command runs once per value, without it.
                let records = if drop_values {
                    vec![Record::new()]
                } else {
                    records
                };
                if hold {
                    held.push(records);
                    true
                } else {
                    emit(TaskInput::Args(records))
                }
            };
            let mut batcher = batch::Batcher::new(&cfg.template, cfg.batch, cfg.compat.limits);
            let colsep = cfg.input.colsep.as_ref();
            let trim = cfg.input.trim;
            let res = args::produce(&cfg.input, sources, |rec| {
                let rec = match colsep {
                    Some(re) => batch::split_columns(re, rec)
                        .into_iter()
                        .map(|c| OsStr::from_bytes(trim.apply(c.as_bytes())).to_owned())
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
            for records in held {
                if !emit(TaskInput::Args(records)) {
                    break;
                }
            }
        }
        res
    }
}
