//! `--slurm N` and its options (`--slurm-arg`, `--run-dir`, `--slurm-throttle`,
//! `--keep-run-dir`): a run as one Slurm array (see `crate::cluster`).

use std::ffi::OsString;
use std::path::PathBuf;

use super::{usage, UsageError};
use crate::cli::Cli;

/// `--slurm N`, `--slurm-arg`, `--run-dir`.
#[derive(Debug, Clone)]
pub(crate) struct SlurmConfig {
    /// Array tasks (shards), at least 1.
    pub tasks: u32,
    /// Extra sbatch arguments, in order.
    pub sbatch_args: Vec<OsString>,
    /// The run directory (`None`: a new one in the current directory).
    pub run_dir: Option<PathBuf>,
    /// `--slurm-throttle K`: at most K array tasks at once (`%K`).
    pub throttle: Option<u32>,
    /// `--keep-run-dir`: keep the run directory after a successful run.
    pub keep_run_dir: bool,
    /// `-j N` given as a number: each array task asks for N CPUs (`--cpus-per-task`).
    pub cpus_per_task: Option<u32>,
}

/// `--slurm N` and its options, validated (`None` without `--slurm`).
pub(super) fn parse(cli: &mut Cli) -> Result<Option<SlurmConfig>, UsageError> {
    Ok(match cli.slurm {
        None => None,
        Some(0) => return usage("--slurm 0: an array needs at least 1 task"),
        Some(_) if cli.slurm_throttle == Some(0) => {
            return usage("--slurm-throttle 0: at least 1 array task must run at once")
        }
        Some(_)
            if cli.slurm_arg.iter().any(|a| {
                let a = a.to_string_lossy();
                a == "-a"
                    || a.starts_with("--array")
                    || (a.starts_with("-a") && !a.starts_with("--"))
            }) =>
        {
            return usage(
                "--slurm-arg=--array: parx chooses the array (index i runs share i+1 of N); \
                 to limit how many run at once use --slurm-throttle K",
            )
        }
        Some(tasks) => Some(SlurmConfig {
            tasks,
            sbatch_args: std::mem::take(&mut cli.slurm_arg),
            run_dir: cli.run_dir.take(),
            throttle: cli.slurm_throttle,
            keep_run_dir: cli.keep_run_dir,
            cpus_per_task: cli
                .jobs
                .as_deref()
                .and_then(|j| j.trim().parse::<u32>().ok())
                .filter(|&j| j > 0),
        }),
    })
}
