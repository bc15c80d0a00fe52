//! One array task of a `--slurm` run, on a compute node: the submitting parx's arguments
//! with `--shard "$((SLURM_ARRAY_TASK_ID + 1))/N"` in front (the batch script states the
//! mapping), and `PARX_SLURM_RUN`/`PARX_SLURM_RESUME` in the environment. It runs its share as
//! any parx run (either pool), with its stdout in `DIR/shard-K/out` indexed by its job log, its
//! tasks' stderr and its own messages in `DIR/shard-K/stderr`,
//! and writes `DIR/shard-K/status` last, so the submitter knows it ended (a task killed by
//! Slurm may write none).
//!
//! A first run's first attempt starts the share afresh; a resubmission, and a requeued or
//! restarted attempt (`SLURM_RESTART_COUNT` > 0), continue from the shard's job log, the
//! latter leaving out the tasks the previous attempt's end killed.
//!
//! The run itself is the ordinary one: [`prepare`] turns the configuration into the shard's,
//! the crate root runs it, and [`ArrayTask::finish`] records how it ended.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::claim::Claimer;
use super::collect::{Log, ShardEnd, STATE_FILE};
use super::rundir::{self, RunDir};
use super::{ENV_RUN, ENV_TASKS};
use crate::config::{Config, PoolKind, Resume};
use crate::exit::EXIT_ERROR;
use crate::sys;

/// An array task whose shard is about to run: where its status goes.
pub(crate) struct ArrayTask {
    /// `DIR/shard-K`.
    sdir: PathBuf,
}

/// Sets the array task up (its shard directory, stderr to `DIR/shard-K/stderr`) and returns
/// the configuration its shard runs with: the job log, `--resume` and the output in the shard
/// directory, no `--slurm`.
pub(crate) fn prepare(mut cfg: Config, run_dir: &Path) -> anyhow::Result<(Config, ArrayTask)> {
    // A requeued or restarted array task (node failure, preemption, scontrol requeue), a
    // resubmission (its log was cut by the submitter) and an index resubmitted by hand all
    // continue from the shard's log: a fresh run's shard directories are new.
    let restarted = std::env::var("SLURM_RESTART_COUNT")
        .ok()
        .and_then(|c| c.trim().parse::<u64>().ok())
        .is_some_and(|c| c > 0);
    let total: Option<u64> = std::env::var(ENV_TASKS).ok().and_then(|t| t.parse().ok());
    // The user's tasks must not think they are array tasks of this run.
    std::env::remove_var(ENV_RUN);
    std::env::remove_var(ENV_TASKS);
    let resume = Resume::All;
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
    let out_path = sdir.join("out");
    if let Ok(m) = std::fs::symlink_metadata(&log) {
        if !m.is_file() {
            bail!(
                "{}: not a regular file; parx never follows links in a run directory",
                log.display()
            );
        }
    }
    // The attempt before this one was ended by Slurm (requeued, or an index resubmitted by
    // hand after a kill): the tasks its TERM killed did not run.
    let before = ShardEnd::read(&dir, shard.k)?;
    if restarted || (before.code.is_some() && !before.normal()) || before.slurm.is_some() {
        let kept = Log::read(&log, true)?;
        rundir::replace(&log, &kept.text(|_| true))?;
    }
    // What an earlier attempt left is not this one's.
    rundir::remove(&sdir.join("status"))?;
    rundir::remove(&sdir.join(STATE_FILE))?;
    if let (Some(total), None) = (total, cfg.chunks.as_ref().and_then(|c| c.part)) {
        // Dynamic shares: tasks done in any shard's log are not run again.
        let mut done = HashSet::new();
        for k in 1..=shard.n {
            done.extend(
                Log::read(&dir.shard(k).join("joblog"), false)?
                    .rows
                    .into_keys(),
            );
        }
        let claims = Claimer::open(
            &dir.path,
            &sdir.join("claims"),
            &log,
            cfg.jobs as u64,
            shard.n,
            total,
            done,
            cfg.pool == PoolKind::Process,
        )?;
        crate::shard::claim_dynamically(Box::new(claims));
        // The submitter puts the outputs in order; a shard waits for no head of line, and
        // draws no bar (it would count ahead, claiming).
        cfg.keep_order = false;
        cfg.jobs_ctl.bar = false;
        cfg.jobs_ctl.eta = false;
    }
    // The shard's stdout: one append-only file, indexed by the job log. Output written
    // after the last whole row (a task printed but not logged when the shard was killed)
    // is cut off, so the next output starts where the log says.
    let out = rundir::append(&out_path)?;
    let want = Log::read(&log, false)?.out_len();
    let have = out.metadata()?.len();
    if have < want {
        bail!(
            "{}: {have} bytes, but its job log lists {want}; the run directory was changed \
             (start a new run)",
            out_path.display()
        );
    }
    out.set_len(want)?;
    sys::redirect_stdout(&out).context("redirecting stdout")?;
    cfg.jobs_ctl.results = None;
    Ok(finish_prepare(cfg, log, resume, sdir))
}

/// The shard's configuration: its job log and resume mode, no `--slurm`.
fn finish_prepare(
    mut cfg: Config,
    log: PathBuf,
    resume: Resume,
    sdir: PathBuf,
) -> (Config, ArrayTask) {
    cfg.slurm = None;
    cfg.jobs_ctl.joblog = Some(log);
    cfg.jobs_ctl.resume = resume;
    // --halt is the submitter's, over every shard's log (collect.rs, HaltWatch).
    cfg.jobs_ctl.halt = None;
    (cfg, ArrayTask { sdir })
}

impl ArrayTask {
    /// The shard ran and parx's status for it is `code`: writes `DIR/shard-K/status` (last,
    /// so the submitter knows the shard ended) and returns the status.
    pub(crate) fn finish(self, code: i32) -> i32 {
        match self.write_status(code) {
            Ok(()) => code,
            Err(e) => {
                crate::messages::error(format_args!("{e:#}"));
                EXIT_ERROR
            }
        }
    }

    fn write_status(&self, code: i32) -> anyhow::Result<()> {
        let sdir = &self.sdir;
        rundir::tighten(sdir);
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
        Ok(())
    }
}
