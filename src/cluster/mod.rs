//! `--slurm N`: one Slurm array of N tasks, each running this parx binary
//! (`std::env::current_exe`, so it must be on storage every node sees) on the same options,
//! command and inputs as `--shard auto`; then waiting without accounting (squeue and the
//! status files the shards write), printing the merged output, merging the job logs, and the
//! exit status over every task (docs/CONTRACT.md, "Job control").
//!
//! * [`rundir`]: the private run directory and its symlink-proof file operations;
//! * [`slurm`]: sbatch, squeue, scontrol and scancel;
//! * [`task`]: what an array task does on its node;
//! * [`submit`]: checks, the saved stdin, the batch script and the sbatch call;
//! * [`collect`]: waiting for the shards, printing their outputs, the merged job log and the
//!   exit status.
//!
//! The same binary is both sides: an array task is recognised by `PARX_SLURM_RUN` in its
//! environment (set by the batch script), the submitter by its absence.

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
/// Set in an array task's environment: `no`, `all` or `failed` (which logged tasks to skip).
const ENV_RESUME: &str = "PARX_SLURM_RESUME";
/// How long an array task may be gone from squeue without its status file before it counts
/// as not finished (a shared file system may show the file a little late).
const GRACE: Duration = Duration::from_secs(5);
/// How often squeue and the status files are looked at.
const POLL: Duration = Duration::from_millis(500);

/// Runs `--slurm` (the submitting side, or an array task) and returns the exit status.
pub fn run(cfg: Config) -> i32 {
    let res = match std::env::var_os(ENV_RUN) {
        Some(dir) => task::run(cfg, Path::new(&dir)),
        None => submit::submit(cfg),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            crate::messages::error(format_args!("{e:#}"));
            EXIT_ERROR
        }
    }
}
