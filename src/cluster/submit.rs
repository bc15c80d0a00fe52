//! The submitting side of `--slurm`: refuses what does not go with it, creates or reopens the
//! run directory, saves stdin, counts each shard's tasks, picks the shards to (re)run, writes
//! the batch script and submits one array; then hands over to [`super::collect`].

use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};

use super::collect::{ended_normally, finish, shard_exit, wait, Log, Outcome};
use super::rundir::{self, RunDir};
use super::{slurm, ENV_RESUME, ENV_RUN};
use crate::config::{ChunkMode, Config, Resume, SlurmConfig, SourceKind};
use crate::shard::Shard;
use crate::sys;
use crate::template::quote_into as sh_quote;

/// Everything parx's own options say about the run, checked before anything is created.
fn refuse_unsupported(cfg: &Config) -> anyhow::Result<()> {
    let jc = &cfg.jobs_ctl;
    let part = cfg.chunks.as_ref().is_some_and(|c| c.part.is_some());
    let refused = [
        (
            jc.shard.is_some() || part,
            "--shard (each array task gets its own share)",
        ),
        (
            jc.results.is_some(),
            "--results (the run directory holds each task's results)",
        ),
        (jc.tag.is_some(), "--tag/--tagstring"),
        (jc.line_buffer, "--line-buffer"),
        (cfg.dry_run, "--dry-run"),
    ];
    if let Some((_, what)) = refused.iter().find(|(on, _)| *on) {
        bail!("--slurm does not go with {what}");
    }
    Ok(())
}

/// Whether the inputs read standard input.
fn reads_stdin(cfg: &Config) -> bool {
    match &cfg.chunks {
        Some(c) => c.mode == ChunkMode::Pipe(None),
        None => cfg
            .input
            .sources
            .iter()
            .any(|s| s.kind == SourceKind::Stdin),
    }
}

/// Points every read of stdin at the saved copy.
fn use_saved_stdin(cfg: &mut Config, saved: &Path) {
    if let Some(c) = cfg.chunks.as_mut() {
        if c.mode == ChunkMode::Pipe(None) {
            c.mode = ChunkMode::Pipe(Some(saved.to_owned()));
        }
    }
    for s in &mut cfg.input.sources {
        if s.kind == SourceKind::Stdin {
            s.kind = SourceKind::File(saved.to_owned());
        }
    }
}

/// How many tasks each shard gets (index k-1), found by running the sources here. With
/// `--pipe-part --block -N` the chunking depends on -j, so a node with another CPU count may
/// cut differently: the counts are only used for shards that did not end normally.
fn count_tasks(cfg: Config, n: u64) -> anyhow::Result<(Config, Vec<u64>)> {
    let spread = |total: u64| (1..=n).map(|k| (total + n - k) / n).collect::<Vec<_>>();
    let is_part = matches!(
        cfg.chunks.as_ref().map(|c| &c.mode),
        Some(ChunkMode::PipePart(_))
    );
    // Runs the sources as a run would (the one interface every source has), counting tasks.
    let count = |cfg: Config| -> anyhow::Result<(Config, u64)> {
        let cfg = Arc::new(cfg);
        let mut total = 0;
        crate::source::open(&cfg)?.produce(&mut |_| {
            total += 1;
            true
        })?;
        let cfg = Arc::try_unwrap(cfg).expect("the source is done with the configuration");
        Ok((cfg, total))
    };
    if !is_part {
        let (cfg, total) = count(cfg)?;
        return Ok((cfg, spread(total)));
    }
    let mut counts = Vec::new();
    let mut cfg = cfg;
    for k in 1..=n {
        cfg.chunks.as_mut().expect("chunk mode").part = Some(Shard { k, n });
        let (back, total) = count(cfg)?;
        cfg = back;
        counts.push(total);
    }
    cfg.chunks.as_mut().expect("chunk mode").part = None;
    Ok((cfg, counts))
}

/// The batch script every array task runs.
fn job_script(dir: &RunDir, n: u64, all: bool, resume: &str, stdin: Option<&Path>) -> Vec<u8> {
    let mut s =
        b"#!/bin/sh\n# parx --slurm: one array task of this run (written by parx).\n".to_vec();
    s.extend_from_slice(format!("export {ENV_RUN}=").as_bytes());
    sh_quote(&mut s, dir.path.as_os_str().as_bytes());
    s.extend_from_slice(format!("\nexport {ENV_RESUME}={resume}\nexec ").as_bytes());
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("parx"));
    sh_quote(&mut s, exe.as_os_str().as_bytes());
    if all {
        // The whole array 0..N-1: an evenly stepped range, as --shard auto wants.
        s.extend_from_slice(b" --shard auto");
    } else {
        // Some shards again: the array is a list, so the share is spelled out.
        s.extend_from_slice(format!(" --shard \"$((SLURM_ARRAY_TASK_ID + 1))/{n}\"").as_bytes());
    }
    for a in std::env::args_os().skip(1) {
        s.push(b' ');
        sh_quote(&mut s, a.as_bytes());
    }
    s.extend_from_slice(b" <");
    match stdin {
        Some(p) => sh_quote(&mut s, p.as_os_str().as_bytes()),
        None => s.extend_from_slice(b"/dev/null"),
    }
    s.push(b'\n');
    s
}

/// The submitting side.
pub(super) fn submit(mut cfg: Config) -> anyhow::Result<i32> {
    let sc: SlurmConfig = cfg.slurm.clone().expect("--slurm");
    refuse_unsupported(&cfg)?;
    let n = u64::from(sc.tasks);
    let resume = cfg.jobs_ctl.resume;
    let part = matches!(
        cfg.chunks.as_ref().map(|c| &c.mode),
        Some(ChunkMode::PipePart(_))
    );
    if let Some(max) = slurm::max_array_size()? {
        if n > max {
            bail!(
                "--slurm {n}: the cluster's MaxArraySize is {max}, so an array has at most \
                 {max} tasks; use --slurm {max} or fewer"
            );
        }
    }
    let dir = match (&sc.run_dir, resume) {
        (Some(d), Resume::No) => RunDir::create(d)?,
        (Some(d), _) => RunDir::open(d)?,
        (None, Resume::No) => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            RunDir::create(Path::new(&format!(
                "parx-run-{stamp}-{}",
                std::process::id()
            )))?
        }
        (None, _) => {
            bail!("--resume with --slurm continues a run directory: give it with --run-dir DIR")
        }
    };
    let info = format!("shards {n}\nmode {}\n", if part { "part" } else { "tasks" });
    if resume == Resume::No {
        rundir::replace(&dir.join("run"), info.as_bytes())?;
        let mut args = Vec::new();
        for a in std::env::args_os().skip(1) {
            args.extend_from_slice(a.as_bytes());
            args.push(0);
        }
        rundir::replace(&dir.join("args"), &args)?;
    } else {
        let had = rundir::read(&dir.join("run"))?.unwrap_or_default();
        if had != info.as_bytes() {
            bail!(
                "--run-dir {}: it holds a run of another shape ({}); resume it with the same \
                 --slurm N and inputs",
                dir.path.display(),
                String::from_utf8_lossy(&had).trim().replace('\n', ", ")
            );
        }
    }
    if resume != Resume::No {
        // A submitter killed outright leaves its array running: do not run shards twice.
        let jobs = rundir::read(&dir.join("jobs"))?.unwrap_or_default();
        let last = String::from_utf8_lossy(&jobs);
        if let Some(job) = last.lines().last().and_then(|l| l.split(' ').next()) {
            // Array index k-1 is shard k; one that wrote its status is only being cleaned up.
            let mut running = false;
            for idx in slurm::queued(job).unwrap_or_default().into_keys() {
                running |= shard_exit(&dir, idx + 1)?.is_none();
            }
            if running {
                bail!(
                    "--run-dir {}: its Slurm array job {job} is still pending or running; wait \
                     for it or cancel it (scancel {job}) before resuming",
                    dir.path.display()
                );
            }
        }
    }
    let stdin = reads_stdin(&cfg).then(|| dir.join("stdin"));
    if let Some(p) = &stdin {
        if resume == Resume::No {
            let mut f = rundir::create(p)?;
            io::copy(&mut io::stdin().lock(), &mut f).context("saving stdin")?;
        } else if rundir::open_read(p)?.is_none() {
            bail!(
                "--run-dir {}: the saved stdin is missing",
                dir.path.display()
            );
        }
        use_saved_stdin(&mut cfg, p);
    }
    let (cfg, counts) = count_tasks(cfg, n)?;

    // Which shards run: all of them, or those with missing (--resume) or failed
    // (--resume-failed) tasks.
    let mut todo = Vec::new();
    for k in 1..=n {
        let needed = match resume {
            Resume::No => true,
            _ => {
                let code = shard_exit(&dir, k)?;
                let log = Log::read(&dir.shard(k).join("joblog"))?;
                !ended_normally(code)
                    || (log.rows.len() as u64) < counts[k as usize - 1]
                    || (resume == Resume::Failed && log.failed() > 0)
            }
        };
        if needed {
            todo.push(k);
        }
    }
    let sig = Arc::new(AtomicI32::new(0));
    sys::catch_signals()?;
    std::thread::Builder::new()
        .name("parx-signals".into())
        .spawn({
            let sig = sig.clone();
            move || {
                if let Ok(s) = sys::wait_signal() {
                    sig.store(s, Ordering::SeqCst);
                }
            }
        })?;
    let mut outcome = Outcome::default();
    if !todo.is_empty() {
        for &k in &todo {
            dir.make_shard(k)?;
            rundir::remove(&dir.shard(k).join("status"))?;
        }
        let all = todo.len() as u64 == n;
        let spec = if all {
            format!("0-{}", n - 1)
        } else {
            todo.iter()
                .map(|k| (k - 1).to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let mode = match resume {
            Resume::No => "no",
            Resume::All => "all",
            Resume::Failed => "failed",
        };
        let script = dir.join("job.sh");
        rundir::replace(&script, &job_script(&dir, n, all, mode, stdin.as_deref()))?;
        let cwd = std::env::current_dir()?;
        let job = slurm::submit(&script, &spec, &cwd, &sc.sbatch_args)?;
        let mut jobs = rundir::append(&dir.join("jobs"))?;
        writeln!(jobs, "{job} {spec}")?;
        crate::messages::note(format_args!(
            "Slurm array job {job} ({} of {n} shards); run directory {}",
            todo.len(),
            dir.path.display()
        ));
        if let Some(code) = wait(&dir, &job, n, &todo, &counts, &cfg, &sig, &mut outcome)? {
            return Ok(code);
        }
    }
    finish(&dir, n, &counts, &cfg, part, &mut outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_for_the_batch_script() {
        let mut v = Vec::new();
        sh_quote(&mut v, b"it's $HOME");
        assert_eq!(v, br"'it'\''s $HOME'");
        assert!(ended_normally(Some(0)) && ended_normally(Some(101)));
        assert!(!ended_normally(None) && !ended_normally(Some(143)) && !ended_normally(Some(255)));
    }
}
