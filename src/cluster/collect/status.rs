//! `--slurm-status DIR`: what a run directory says of its run (tasks done and failed over
//! every shard, each shard's state), on stdout.

use super::*;

/// `--slurm-status`: what the run directory says of the run, on stdout.
pub(in crate::cluster) fn status(path: &Path) -> anyhow::Result<i32> {
    use std::io::Write;
    let dir = RunDir::open(path)?;
    let field = |file: &str, key: &str| -> anyhow::Result<Option<String>> {
        Ok(rundir::read(&dir.join(file))?.and_then(|t| {
            String::from_utf8_lossy(&t)
                .lines()
                .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_owned()))
        }))
    };
    let Some(n) = field("run", "shards ")?.and_then(|v| v.parse::<u64>().ok()) else {
        bail!(
            "{}: not a --slurm run directory (no 'run' file)",
            path.display()
        );
    };
    let total = field("shape", "tasks ")?.and_then(|v| v.parse::<u64>().ok());
    let mut lines = Vec::new();
    let (mut done, mut failed) = (BTreeSet::new(), 0);
    for k in 1..=n {
        if !dir.shard(k).is_dir() {
            continue;
        }
        let (end, log) = shard_log(&dir, k)?;
        failed += log.failed();
        done.extend(log.rows.keys().copied());
        let state = match (&end.slurm, end.code) {
            (Some(s), _) => format!("ended by Slurm ({s})"),
            (None, Some(c)) if ended_normally(Some(c)) => format!("finished (exit {c})"),
            (None, Some(c)) => format!("stopped (exit {c})"),
            (None, None) => "running, pending or lost".into(),
        };
        lines.push(format!(
            "shard {k}/{n}: {} tasks done ({} failed), {state}",
            log.rows.len(),
            log.failed()
        ));
    }
    let of = total.map_or(String::new(), |t| format!(" of {t}"));
    let job = rundir::read(&dir.join("jobs"))?
        .and_then(|t| {
            String::from_utf8_lossy(&t)
                .lines()
                .last()
                .map(str::to_owned)
        })
        .and_then(|l| l.split(' ').next().map(str::to_owned))
        .unwrap_or_else(|| "-".into());
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{}: {}{of} tasks done, {failed} failed; Slurm array job {job}",
        dir.path.display(),
        done.len()
    )?;
    for l in lines {
        writeln!(out, "{l}")?;
    }
    Ok(Report::default().status())
}
