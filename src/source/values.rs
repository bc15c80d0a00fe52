//! Argument tasks: the records of the argument sources ([`crate::source::args`]), split into
//! columns with `--colsep` and grouped by `-n`/`-X` ([`crate::source::batch`]).

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
    fn produce(self: Box<Self>, emit: &mut dyn FnMut(TaskInput) -> bool) -> anyhow::Result<()> {
        let cfg = &self.cfg;
        let mut emit = |records: Vec<Record>| emit(TaskInput::Args(records));
        let mut batcher = batch::Batcher::new(&cfg.template, cfg.batch);
        let colsep = cfg.input.colsep.as_ref();
        let res = args::produce(&cfg.input, self.sources, |rec| {
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
}
