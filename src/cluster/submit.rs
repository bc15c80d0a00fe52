//! The submitting side of `--slurm`: refuses what does not go with it, creates or reopens the
//! run directory, saves stdin, counts each shard's tasks, picks the shards to (re)run, writes
//! the batch script and submits one array; then hands over to [`super::collect`].

use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};

use super::collect::{
    ended_normally, finish, shard_exit, shard_log, tidy_output_files, wait, Log, LogRow, Outcome,
    ShardEnd, STATE_FILE,
};
use super::rundir::{self, RunDir};
use super::{slurm, ENV_RUN, ENV_TASKS};
use crate::config::{ChunkMode, Config, Resume, SlurmConfig, SourceKind};
use crate::shard::Shard;
use crate::sys;
use crate::template::quote_into as sh_quote;
use crate::template::Learned;

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
            "--results (the run directory holds the outputs)",
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
fn count_tasks(cfg: Config, n: u64, learned: &Arc<Learned>) -> anyhow::Result<(Config, Vec<u64>)> {
    let spread = |total: u64| (1..=n).map(|k| (total + n - k) / n).collect::<Vec<_>>();
    let is_part = matches!(
        cfg.chunks.as_ref().map(|c| &c.mode),
        Some(ChunkMode::PipePart(_))
    );
    // Runs the sources as a run would (the one interface every source has), counting tasks.
    let count = |cfg: Config| -> anyhow::Result<(Config, u64)> {
        let cfg = Arc::new(cfg);
        let mut total = 0;
        crate::source::open(&cfg, learned)?.produce(&mut |t| {
            // The process pool's sources may hand many one-value tasks as one block.
            total += match t {
                crate::task::TaskInput::Lines(l) => l.count,
                _ => 1,
            };
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

/// The batch script every array task runs. It states the mapping: array index `i` runs share
/// `i+1` of `n`, whatever array it was submitted as (`sbatch --array=3 job.sh` by hand runs
/// share 4); an index that is not a share is refused in one line on stderr (Slurm's output
/// file) and in `DIR/refused`.
fn job_script(dir: &RunDir, n: u64, tasks: Option<u64>, stdin: Option<&Path>) -> Vec<u8> {
    let mut s = format!(
        "#!/bin/sh\n# parx --slurm: one array task of this run (written by parx).\n# {n} shares: \
         array index i (0 to {last}) runs share i+1 of {n}; any other index is refused.\n",
        last = n - 1
    )
    .into_bytes();
    s.extend_from_slice(format!("export {ENV_RUN}=").as_bytes());
    sh_quote(&mut s, dir.path.as_os_str().as_bytes());
    s.push(b'\n');
    if let Some(t) = tasks {
        // Dynamic shares: the share is the batches this task claims (see claim.rs); the
        // index only names its directory.
        s.extend_from_slice(format!("export {ENV_TASKS}={t}\n").as_bytes());
    }
    s.extend_from_slice(
        format!(
            "i=${{SLURM_ARRAY_TASK_ID:-none}}\n\
             case $i in\n\
             ''|*[!0-9]*) why=\"not run as a task of a Slurm array (submit it with --array=0-{last})\" ;;\n\
             *) [ \"$i\" -lt {n} ] || why=\"array index $i is not a share of this run ({n} shares: indices 0-{last})\" ;;\n\
             esac\n\
             [ -n \"${{why:-}}\" ] || [ -d \"${ENV_RUN}\" ] || why=\"this node ($(hostname)) cannot see the run directory ${ENV_RUN} (it must be on storage every node sees)\"\n\
             if [ -n \"${{why:-}}\" ]; then\n\
             \x20   echo \"parx: $why\" >&2\n\
             \x20   {{ echo \"job ${{SLURM_JOB_ID:-?}}: $why\" >>\"${ENV_RUN}/refused\"; }} 2>/dev/null\n\
             \x20   exit 2\n\
             fi\n\
             exec ",
            last = n - 1
        )
        .as_bytes(),
    );
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("parx"));
    sh_quote(&mut s, exe.as_os_str().as_bytes());
    s.extend_from_slice(format!(" --shard \"$((i + 1))/{n}\"").as_bytes());
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

/// The run directory: a new one (its shape and the command line recorded), or with `--resume`
/// the one given, which must hold a run of the same shape.
fn open_run_dir(sc: &SlurmConfig, n: u64, resume: Resume, part: bool) -> anyhow::Result<RunDir> {
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
    Ok(dir)
}

/// The array job of the run's last submission, if any; with `--resume`, an error while it
/// still runs (a submitter killed outright leaves its array running: shards must not run
/// twice).
fn last_job(dir: &RunDir, resume: Resume) -> anyhow::Result<Option<String>> {
    let jobs = rundir::read(&dir.join("jobs"))?.unwrap_or_default();
    let last_job = String::from_utf8_lossy(&jobs)
        .lines()
        .last()
        .and_then(|l| l.split(' ').next())
        .map(str::to_owned);
    if resume != Resume::No {
        // A submitter killed outright leaves its array running: do not run shards twice.
        if let Some(job) = &last_job {
            // Array index k-1 is shard k; one that wrote its status is only being cleaned up.
            let mut running = false;
            for idx in slurm::queued(job).unwrap_or_default().into_keys() {
                running |= shard_exit(dir, idx + 1)?.is_none();
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
    Ok(last_job)
}

/// Records the run's shape (its task count and command), or with `--resume` checks the run
/// directory holds one of the same shape (else the logs do not fit the run).
fn check_shape(
    dir: &RunDir,
    resume: Resume,
    total: u64,
    command: &crate::template::Rendered,
) -> anyhow::Result<()> {
    let shape = format!(
        "tasks {total}\ncommand {}\n",
        String::from_utf8_lossy(&command.display()).replace('\n', "\\n")
    );
    if resume == Resume::No {
        rundir::replace(&dir.join("shape"), shape.as_bytes())?;
    } else if let Some(had) = rundir::read(&dir.join("shape"))? {
        if had != shape.as_bytes() {
            let say = |t: &str| t.trim().replace('\n', ", ");
            bail!(
                "--run-dir {}: it holds a run of another command or inputs ({}); this one is \
                 {}; resume it with the same command and inputs, or start a new run",
                dir.path.display(),
                say(&String::from_utf8_lossy(&had)),
                say(&shape)
            );
        }
    }
    Ok(())
}

/// A shard whose array task Slurm ended after the last submitter stopped watching (killed
/// outright): Slurm is asked while it remembers, and its word recorded.
fn record_slurm_ends(dir: &RunDir, job: &str, n: u64) -> anyhow::Result<()> {
    for k in 1..=n {
        let end = ShardEnd::read(dir, k)?;
        if end.slurm.is_none()
            && dir.shard(k).is_dir()
            && (!ended_normally(end.code)
                || Log::read(&dir.shard(k).join("joblog"), false)?.any_killed())
        {
            if let Some(s) = slurm::ended_state(job, k - 1).filter(|s| slurm::ended_by_slurm(s)) {
                rundir::replace(&dir.shard(k).join(STATE_FILE), format!("{s}\n").as_bytes())?;
            }
        }
    }
    Ok(())
}

/// Which shards run. A shard to run again gets its log cut to the tasks it skips: tasks
/// Slurm's TERM ended are left out (they did not run), and with --resume-failed the failed
/// ones; its array task then continues from that log.
fn shards_to_run(
    dir: &RunDir,
    n: u64,
    part: bool,
    resume: Resume,
    counts: &[u64],
    total: u64,
) -> anyhow::Result<Vec<u64>> {
    // Which shards run. A shard to run again gets its log cut to the tasks it skips: tasks
    // Slurm's TERM ended are left out (they did not run), and with --resume-failed the failed
    // ones; its array task then continues from that log.
    let keep = |r: &LogRow| resume != Resume::Failed || !r.failed();
    let mut todo = Vec::new();
    if !part {
        // Dynamic shares: as many shards as there is work (at most N), each claiming batches;
        // every shard's log is cut, since any shard may take any task left.
        let mut work = total;
        if resume != Resume::No {
            let mut kept = std::collections::BTreeSet::<u64>::new();
            for k in (1..=n).filter(|&k| dir.shard(k).is_dir()) {
                let (_, log) = shard_log(dir, k)?;
                kept.extend(log.rows.keys().filter(|&&s| keep(log.row(s))));
                rundir::replace(&dir.shard(k).join("joblog"), &log.text(keep))?;
            }
            work = total.saturating_sub(kept.len() as u64);
        }
        todo.extend(1..=n.min(work));
        if !todo.is_empty() {
            rundir::replace(&dir.join("claims"), b"0\n")?;
            rundir::remove(&dir.join(super::collect::HALT_FILE))?;
            for &k in &todo {
                dir.make_shard(k)?;
                rundir::remove(&dir.shard(k).join("claims"))?;
            }
        }
    } else {
        // --pipe-part: static byte ranges, shard by shard.
        for k in 1..=n {
            let count = counts[k as usize - 1];
            if count == 0 {
                continue;
            }
            if resume == Resume::No {
                todo.push(k);
                continue;
            }
            let (end, log) = shard_log(dir, k)?;
            let retry_failed = resume == Resume::Failed && log.failed() > 0;
            if end.normal() && (log.rows.len() as u64) >= count && !retry_failed {
                continue;
            }
            dir.make_shard(k)?;
            rundir::replace(&dir.shard(k).join("joblog"), &log.text(keep))?;
            todo.push(k);
        }
    }
    Ok(todo)
}

/// The signal parx gets while it waits for the array (0 until one comes), from a thread of
/// its own.
fn watch_signals() -> anyhow::Result<Arc<AtomicI32>> {
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
    Ok(sig)
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
    let dir = open_run_dir(&sc, n, resume, part)?;
    let last_job = last_job(&dir, resume)?;
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
    // What the sources learn counting (the task count, the header's names), as a run's would.
    let learned = Arc::default();
    let (cfg, counts) = count_tasks(cfg, n, &learned)?;

    let total: u64 = counts.iter().sum();
    // The same command over the same inputs, or the logs do not fit the run.
    let command = cfg.template.render(&crate::template::Ctx {
        seq: 0,
        slot: 1,
        records: &[],
        learned: &learned,
    });
    check_shape(&dir, resume, total, &command)?;
    if let (Some(job), true) = (&last_job, resume != Resume::No) {
        record_slurm_ends(&dir, job, n)?;
    }
    let todo = shards_to_run(&dir, n, part, resume, &counts, total)?;
    let sig = watch_signals()?;
    let mut outcome = Outcome::default();
    if !todo.is_empty() {
        for &k in &todo {
            dir.make_shard(k)?;
            rundir::remove(&dir.shard(k).join("status"))?;
            rundir::remove(&dir.shard(k).join(STATE_FILE))?;
        }
        let spec = if todo.len() as u64 == n {
            format!("0-{}", n - 1)
        } else {
            todo.iter()
                .map(|k| (k - 1).to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let script = dir.join("job.sh");
        let tasks = (!part).then_some(total);
        rundir::replace(&script, &job_script(&dir, n, tasks, stdin.as_deref()))?;
        let cwd = std::env::current_dir()?;
        let job = match slurm::submit(
            &script,
            &spec,
            sc.throttle,
            sc.cpus_per_task,
            &cwd,
            &sc.sbatch_args,
        ) {
            Ok(job) => job,
            Err(e) => {
                if resume == Resume::No {
                    // Refused before anything ran: leave no run directory behind.
                    let _ = std::fs::remove_dir_all(&dir.path);
                }
                return Err(e);
            }
        };
        let mut jobs = rundir::append(&dir.join("jobs"))?;
        writeln!(jobs, "{job} {spec}")?;
        crate::messages::note(format_args!(
            "Slurm array job {job} ({} of {n} shards); run directory {}",
            todo.len(),
            dir.path.display()
        ));
        let waited = wait(&dir, &job, n, &todo, &counts, &cfg, &sig, &mut outcome);
        // Slurm's output files: what is in them was quoted; the empty ones go.
        tidy_output_files(&job, todo.iter().map(|k| k - 1), false);
        if let Some(s) = waited? {
            let report = crate::exit::Report {
                interrupted: Some(s),
                ..crate::exit::Report::default()
            };
            return Ok(report.status());
        }
    }
    let code = finish(&dir, n, &counts, &cfg, part, &mut outcome)?.status();
    if code == 0 && outcome.stdout_open() && !sc.keep_run_dir {
        // Every submission's Slurm output files go with the run directory.
        let jobs = rundir::read(&dir.join("jobs"))?.unwrap_or_default();
        for line in String::from_utf8_lossy(&jobs).lines() {
            if let Some(job) = line.split(' ').next() {
                tidy_output_files(job, 0..n, true);
            }
        }
        std::fs::remove_dir_all(&dir.path)
            .with_context(|| format!("removing the run directory {}", dir.path.display()))?;
    }
    Ok(code)
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
