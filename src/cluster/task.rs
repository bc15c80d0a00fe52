//! One array task of a `--slurm` run, on a compute node: the submitting parx's arguments
//! with `--shard auto` (or, on a resubmission of some shards only, `--shard K/N`) in front,
//! and `PARX_SLURM_RUN`/`PARX_SLURM_RESUME` in the environment. It runs its share as any
//! parx run, with the job log and per-task results in `DIR/shard-K/`, its own messages in
//! `DIR/shard-K/stderr`, and writes `DIR/shard-K/status` last, so the submitter knows it
//! ended (a task killed by Slurm writes none).

use std::path::Path;

use anyhow::{bail, Context};

use super::rundir::{self, RunDir};
use super::{ENV_RESUME, ENV_RUN};
use crate::config::{Config, Resume};
use crate::sys;

/// Runs the shard and returns parx's exit status.
pub fn run(mut cfg: Config, run_dir: &Path) -> anyhow::Result<i32> {
    let resume = match std::env::var(ENV_RESUME).as_deref() {
        Ok("all") => Resume::All,
        Ok("failed") => Resume::Failed,
        _ => Resume::No,
    };
    // The user's tasks must not think they are array tasks of this run.
    std::env::remove_var(ENV_RUN);
    std::env::remove_var(ENV_RESUME);
    let shard = cfg
        .jobs_ctl
        .shard
        .or_else(|| cfg.chunks.as_ref().and_then(|c| c.part))
        .context("an array task of --slurm needs --shard (it is put in the batch script)")?;
    let dir = RunDir::for_task(run_dir)?;
    let sdir = dir.make_shard(shard.k)?;
    let err = rundir::append(&sdir.join("stderr"))?;
    sys::redirect_stderr(&err).context("redirecting stderr")?;
    let log = sdir.join("joblog");
    let results = sdir.join("results");
    for (p, dir_wanted) in [(&log, false), (&results, true)] {
        if let Ok(m) = std::fs::symlink_metadata(p) {
            if m.file_type().is_symlink() || m.is_dir() != dir_wanted {
                bail!(
                    "{}: not a regular {}; parx never follows links in a run directory",
                    p.display(),
                    if dir_wanted { "directory" } else { "file" }
                );
            }
        }
    }
    if !results.exists() {
        rundir::make_dir(&results)?;
    }
    cfg.slurm = None;
    cfg.jobs_ctl.joblog = Some(log);
    cfg.jobs_ctl.resume = resume;
    cfg.jobs_ctl.results = Some(results);
    let code = match crate::run(cfg) {
        Ok(c) => c,
        Err(e) => {
            crate::messages::error(format_args!("{e:#}"));
            crate::exit::EXIT_ERROR
        }
    };
    rundir::tighten(&sdir);
    let job = match (
        std::env::var("SLURM_ARRAY_JOB_ID"),
        std::env::var("SLURM_ARRAY_TASK_ID"),
    ) {
        (Ok(j), Ok(t)) => format!("{j}_{t}"),
        _ => "-".into(),
    };
    let host = std::env::var("SLURMD_NODENAME").unwrap_or_else(|_| "-".into());
    rundir::replace(
        &sdir.join("status"),
        format!("exit {code}\njob {job}\nhost {host}\n").as_bytes(),
    )?;
    Ok(code)
}
