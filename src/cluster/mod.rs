//! `--slurm N`: one Slurm array of N tasks, each running this parx binary
//! (`std::env::current_exe`, so it must be on storage every node sees) on the same options,
//! command and inputs as `--shard auto`; then waiting without accounting (squeue and the
//! status files the shards write), printing the merged output, merging the job logs, and the
//! exit status over every task (docs/CONTRACT.md, "Job control").
//!
//! * [`rundir`]: the private run directory and its symlink-proof file operations;
//! * [`slurm`]: sbatch, squeue, scontrol and scancel;
//! * [`task`]: what an array task does on its node;
//! * [`claim`]: dynamic shares, the batches of tasks array tasks claim as they go;
//! * [`submit`]: checks, the saved stdin, the batch script and the sbatch call;
//! * [`collect`]: waiting for the shards, printing their outputs, the merged job log and the
//!   exit status.
//!
//! The same binary is both sides: an array task is recognised by `PARX_SLURM_RUN` in its
//! environment (set by the batch script), the submitter by its absence. [`plan`] does the
//! submitting side whole; for an array task it only prepares the configuration, which the
//! crate root then runs as any run (this module never calls back into it).

mod claim;
mod collect;
mod rundir;
mod slurm;
mod submit;
mod task;

use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::exit::EXIT_ERROR;

/// Set in an array task's environment: the run directory.
const ENV_RUN: &str = "PARX_SLURM_RUN";
/// Set in an array task's environment: how many tasks the run has (dynamic shares).
const ENV_TASKS: &str = "PARX_SLURM_TASKS";
/// How long an array task may be gone from squeue without its status file before it counts
/// as not finished (a shared file system may show the file a little late).
const GRACE: Duration = Duration::from_secs(5);
/// How often the status files are looked at (squeue: `collect::squeue_interval`).
const POLL: Duration = Duration::from_millis(200);

pub(crate) use task::ArrayTask;

/// What a `--slurm` run does in this process.
pub(crate) enum Plan {
    /// The submitting side is over (submitted, waited for, printed; or failed): the exit status.
    Done(i32),
    /// An array task: run this configuration as an ordinary run, then give its exit status to
    /// [`ArrayTask::finish`].
    Task(Box<Config>, ArrayTask),
}

/// `--slurm-status DIR`: how far the run in DIR is, on stdout (tasks done and failed over
/// every shard, and each shard's state), read from its run directory; status 0, or 255 when
/// DIR is not a run directory.
pub(crate) fn status(dir: &Path) -> i32 {
    collect::status(dir).unwrap_or_else(|e| {
        crate::messages::error(format_args!("{e:#}"));
        EXIT_ERROR
    })
}

/// `--slurm`: submits and collects the array (the submitting side), or prepares an array
/// task's run.
pub(crate) fn plan(cfg: Config) -> Plan {
    let res = match std::env::var_os(ENV_RUN) {
        Some(dir) => {
            task::prepare(cfg, Path::new(&dir)).map(|(cfg, task)| Plan::Task(Box::new(cfg), task))
        }
        None => submit::submit(cfg).map(Plan::Done),
    };
    res.unwrap_or_else(|e| {
        crate::messages::error(format_args!("{e:#}"));
        Plan::Done(EXIT_ERROR)
    })
}
