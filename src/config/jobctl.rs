//! Job control: `--timeout`, `--retries`, `--halt`, `--joblog`, `--resume`, `--delay`,
//! `--shard`, `--tag`, `--line-buffer`, `--results`, `--bar`, `--eta`, and `--termseq`'s
//! signals. Parsed into a [`JobControl`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::halt::{self, HaltSpec};
use super::{usage, UsageError};
use crate::cli::Cli;
use crate::shard::Shard;
use crate::template::Template;
use crate::units::parse_duration;

/// Job control and output shaping beyond the core. Shared by both pools.
#[derive(Debug, Default)]
pub(crate) struct JobControl {
    /// `--timeout`: a task's process group gets TERM after this, then KILL after a grace.
    pub timeout: Option<Timeout>,
    /// `--retries N`: runs of a failed task in all, as GNU parallel counts (`None`: until it
    /// succeeds, `--retries 0`); 1 without `--retries`.
    pub max_runs: Option<u32>,
    /// `--halt`: when to stop early (`None`: never).
    pub halt: Option<HaltSpec>,
    /// `--joblog`: the log file.
    pub joblog: Option<PathBuf>,
    /// `--joblog +FILE`: rows are appended to what the file holds, without a header.
    pub joblog_append: bool,
    /// `--retry-failed`: the tasks are the job log's (with `resume` Failed: those logged
    /// failed run again; a number the log has no row for does not run).
    pub retry_failed: bool,
    /// `--resume` / `--resume-failed`: which logged tasks are skipped.
    pub resume: Resume,
    /// `--delay`: the least time between two task starts.
    pub delay: Option<Duration>,
    /// `--shard`: this machine's share of the tasks.
    pub shard: Option<Shard>,
    /// `--tag` / `--tagstring`: the template of the prefix of every output line.
    pub tag: Option<Template>,
    /// `--line-buffer`: whole lines are printed as they come (without `-k`).
    pub line_buffer: bool,
    /// `--results`: the directory where each task's outputs are stored.
    pub results: Option<PathBuf>,
    /// `--files`: each task's stdout goes to a temp file, whose name is printed instead.
    pub files: bool,
    /// `--bar`: show a progress bar on stderr (if a terminal).
    pub bar: bool,
    /// `--eta`: show progress with the time left on stderr (if a terminal).
    pub eta: bool,
}

/// Which tasks an existing job log makes parx skip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Resume {
    /// None: the log is started over.
    #[default]
    No,
    /// `--resume`: every logged task.
    All,
    /// `--resume-failed`: logged tasks that succeeded (failed ones run again).
    Failed,
}

/// `--termseq SIG,MS,SIG,MS,...,SIG`: signal names (TERM, SIGTERM) or numbers, each but the
/// last followed by the milliseconds to wait before the next. GNU's default is
/// TERM,200,TERM,100,TERM,50,KILL,25.
pub(crate) fn parse_termseq(s: &str) -> Result<Vec<(i32, Duration)>, String> {
    let bad =
        |why: &str| format!("invalid --termseq '{s}': {why} (e.g. TERM,200,TERM,100,KILL,25)");
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let mut out = Vec::new();
    for pair in parts.chunks(2) {
        let sig =
            signal_number(pair[0]).ok_or_else(|| bad(&format!("unknown signal '{}'", pair[0])))?;
        let wait = match pair.get(1) {
            Some(ms) => Duration::from_millis(
                ms.parse()
                    .map_err(|_| bad(&format!("'{ms}' is not milliseconds")))?,
            ),
            None => Duration::ZERO,
        };
        out.push((sig, wait));
    }
    if out.is_empty() {
        return Err(bad("no signal"));
    }
    // The last signal's wait: the grace for the pipes to close; a KILL always ends it.
    if let Some(last) = out.last_mut() {
        if last.1.is_zero() {
            last.1 = Duration::from_millis(500);
        }
    }
    if out.last().map(|l| l.0) != Some(libc::SIGKILL) {
        out.push((libc::SIGKILL, Duration::from_millis(500)));
    }
    Ok(out)
}

fn signal_number(name: &str) -> Option<i32> {
    if let Ok(n) = name.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let n = name.strip_prefix("SIG").unwrap_or(name);
    Some(match n {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        _ => return None,
    })
}

impl JobControl {
    /// Whether its options need the tasks one at a time (see
    /// [`super::Config::value_blocks`]): a clock, a log row, a skip, a share, a tag, a
    /// directory or a progress tick per task. Every field is named, so a new one does not
    /// compile until someone decides.
    pub(crate) fn needs_each_task(&self) -> bool {
        let JobControl {
            timeout,
            // A block's values are re-sent as they are when its worker ends.
            max_runs: _,
            // Counts tasks as they end, blocks or not.
            halt: _,
            joblog,
            // With a job log (counted there).
            joblog_append: _,
            // Needs a job log and the thread pool's tasks (counted there).
            retry_failed: _,
            resume,
            delay,
            shard,
            tag,
            // Results go out whole either way.
            line_buffer: _,
            results,
            files,
            bar,
            eta,
        } = self;
        timeout.is_some()
            || joblog.is_some()
            || *resume != Resume::No
            || delay.is_some()
            || shard.is_some()
            || tag.is_some()
            || results.is_some()
            || *files
            || *bar
            || *eta
    }
}

/// `--timeout`: how long a task may run before its group is ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Timeout {
    /// `--timeout DURATION`.
    After(Duration),
    /// `--timeout N%`: N% of the median run time of the tasks done so far (no limit before
    /// one is done). The thread pool's: a process-pool worker's records have no run time of
    /// their own.
    OfMedian(f64),
}

impl Timeout {
    /// The limit of a task starting now; `median` gives the median run time so far.
    pub(crate) fn limit(&self, median: impl FnOnce() -> Option<Duration>) -> Option<Duration> {
        match *self {
            Timeout::After(d) => Some(d),
            Timeout::OfMedian(pct) => Some(median()?.mul_f64(pct / 100.0)),
        }
    }

    /// The limit when it is a fixed duration (what a process-pool worker's records get).
    pub(crate) fn fixed(&self) -> Option<Duration> {
        match *self {
            Timeout::After(d) => Some(d),
            Timeout::OfMedian(_) => None,
        }
    }

    /// Whether the tasks' run times must be recorded (`N%`).
    pub(crate) fn of_median(&self) -> Option<f64> {
        match *self {
            Timeout::After(_) => None,
            Timeout::OfMedian(pct) => Some(pct),
        }
    }
}

/// A duration option (`--timeout`, `--delay`).
fn duration(opt: &str, v: &Option<String>) -> Result<Option<Duration>, UsageError> {
    v.as_deref()
        .map(|d| parse_duration(d).map_err(|e| UsageError(format!("{opt}: {e}"))))
        .transpose()
}

/// `--timeout`: a duration, or `N%` of the median run time.
fn timeout(cli: &Cli) -> Result<Option<Timeout>, UsageError> {
    Ok(match cli.timeout.as_deref() {
        Some(t) if t.ends_with('%') => {
            let pct = t[..t.len() - 1]
                .parse::<f64>()
                .ok()
                .filter(|p| p.is_finite() && *p > 0.0)
                .ok_or_else(|| {
                    UsageError(format!(
                        "invalid --timeout '{t}': use N% with N > 0, e.g. 200%"
                    ))
                })?;
            Some(Timeout::OfMedian(pct))
        }
        _ => duration("--timeout", &cli.timeout)?
            .filter(|d| !d.is_zero())
            .map(Timeout::After),
    })
}

/// The job-control options, validated. `env` looks up the environment (`--shard auto` reads
/// the array job's variables).
pub(super) fn parse(
    cli: &mut Cli,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<JobControl, UsageError> {
    let timeout = timeout(cli)?;
    let (joblog, joblog_append) = super::joblog::split(cli.joblog.take());
    let jobs_ctl = JobControl {
        timeout,
        max_runs: match cli.retries {
            None => Some(1),
            Some(0) => None,
            Some(n) => Some(n),
        },
        halt: match &cli.halt {
            None => None,
            Some(h) => halt::parse(&halt::gnu_halt(h)).or_else(usage)?,
        },
        joblog,
        joblog_append,
        retry_failed: cli.retry_failed,
        resume: match (cli.resume, cli.resume_failed || cli.retry_failed) {
            (_, true) => Resume::Failed,
            (true, false) => Resume::All,
            (false, false) => Resume::No,
        },
        delay: duration("--delay", &cli.delay)?.filter(|d| !d.is_zero()),
        shard: match &cli.shard {
            None => None,
            Some(s) => Some(crate::shard::parse(s, env).or_else(usage)?),
        },
        tag: match (&cli.tagstring, cli.tag) {
            (Some(t), _) => Some(Template::new(std::slice::from_ref(t), false)),
            (None, true) => Some(Template::new(&[OsString::from("{}")], false)),
            (None, false) => None,
        },
        // -u: output as it comes; parx still never tears a line.
        line_buffer: cli.line_buffer || cli.ungroup,
        results: cli.results.take(),
        files: cli.files && !cli.dry_run,
        bar: cli.bar,
        eta: cli.eta,
    };
    Ok(jobs_ctl)
}
