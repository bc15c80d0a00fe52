//! parx: run a command in parallel over arguments, files and chunks of input.
//!
//! Data flow (DESIGN.md): sources → bounded task channel → pool → bounded message channel →
//! merger (the one writer of stdout). `run_main` wires them together and maps the outcome to
//! the exit status.

pub mod cli;
pub mod config;
pub mod halt;
pub mod joblog;
pub mod lines;
pub mod merge;
pub mod observe;
pub mod output;
pub mod pool;
pub mod progress;
pub mod results;
pub mod shard;
pub mod source;
pub mod sys;
pub mod task;
pub mod template;
pub mod units;
pub mod watchdog;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use crossbeam_channel::bounded;

use crate::cli::Cli;
use crate::config::{Config, PoolKind, Resume};
use crate::pool::Control;
use crate::task::{Msg, Task, TaskInput};

/// Exit status for parx's own errors.
pub const EXIT_ERROR: i32 = 255;
/// How long task process groups get after TERM before KILL when parx stops early.
const GRACE: Duration = Duration::from_secs(2);

/// Parses the command line, runs, and returns the exit status.
pub fn run_main() -> i32 {
    if std::env::var_os(watchdog::ENV).is_some() {
        return watchdog::serve();
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return clap_error(&e),
    };
    let cfg = match Config::from_cli(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("parx: {e}");
            return EXIT_ERROR;
        }
    };
    match run(cfg) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("parx: {e:#}");
            EXIT_ERROR
        }
    }
}

/// Help and version go to stdout with status 0; usage errors become one line and 255.
fn clap_error(e: &clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            0
        }
        _ => {
            let text = e.render().to_string();
            let line = text.lines().next().unwrap_or("invalid usage");
            let line = line.strip_prefix("error: ").unwrap_or(line);
            eprintln!("parx: {line} (see 'parx --help')");
            EXIT_ERROR
        }
    }
}

/// Runs a validated configuration and returns the exit status.
pub fn run(cfg: Config) -> anyhow::Result<i32> {
    let cfg = Arc::new(cfg);
    // Handled, not blocked: children must start with an empty signal mask.
    sys::catch_signals()?;
    let mut ctl = Control::new(cfg.jobs);
    let sources = source::args::open_all(&cfg.input)?;
    let jc = &cfg.jobs_ctl;
    if let Some(dir) = &jc.results {
        ctl.results = Some(
            results::Results::open(dir).with_context(|| format!("--results {}", dir.display()))?,
        );
    }
    let (joblog, logged) = match &jc.joblog {
        Some(path) => {
            let (log, logged) = joblog::Joblog::open(path, jc.resume != Resume::No)
                .with_context(|| format!("--joblog {}", path.display()))?;
            (Some(log), logged)
        }
        None => (None, joblog::Logged::default()),
    };
    if !cfg.dry_run {
        ctl.watchdog = Some(watchdog::Watchdog::spawn().context("starting the orphan watchdog")?);
    }
    ctl.halt = jc
        .halt
        .map(|h| std::sync::Mutex::new(halt::HaltState::new(h)));
    let ctl = Arc::new(ctl);
    let mut obs = observe::Observer::new(&cfg, &ctl, joblog);

    let (sig_tx, sig_rx) = bounded::<i32>(1);
    std::thread::Builder::new()
        .name("parx-signals".into())
        .spawn({
            let ctl = ctl.clone();
            move || {
                if let Ok(sig) = sys::wait_signal() {
                    ctl.stop(libc::SIGTERM);
                    let _ = sig_tx.send(sig);
                }
            }
        })?;

    let (task_tx, task_rx) = bounded::<Task>(cfg.jobs * 2 + 16);
    let (msg_tx, msg_rx) = bounded::<Msg>(cfg.jobs * 4 + 16);
    std::thread::Builder::new()
        .name("parx-source".into())
        .spawn({
            let (cfg, ctl, msg_tx) = (cfg.clone(), ctl.clone(), msg_tx.clone());
            move || {
                let mut seq = 0;
                let skip = |seq: u64| {
                    let jc = &cfg.jobs_ctl;
                    jc.shard.is_some_and(|s| !s.runs(seq))
                        || match jc.resume {
                            Resume::No => false,
                            Resume::All => logged.done.contains(&seq),
                            Resume::Failed => logged.succeeded.contains(&seq),
                        }
                };
                let res = source::args::produce(&cfg.input, sources, |rec| {
                    seq += 1;
                    if skip(seq) {
                        return !cfg.keep_order || msg_tx.send(Msg::Skipped(seq)).is_ok();
                    }
                    ctl.tasks_read.fetch_add(1, Ordering::AcqRel);
                    task_tx
                        .send(Task {
                            seq,
                            input: TaskInput::Args(vec![rec]),
                        })
                        .is_ok()
                });
                ctl.input_done.store(true, Ordering::Release);
                if let Err(e) = res {
                    let _ = msg_tx.send(Msg::SourceError(e));
                }
            }
        })?;

    match cfg.pool {
        PoolKind::Thread => drop(pool::thread::start(&cfg, &ctl, task_rx, msg_tx)),
        PoolKind::Process => unreachable!("rejected by Config"),
    }

    let sum = merge::run(&cfg, &ctl, &mut obs, msg_rx, sig_rx);
    obs.finish();
    let code = exit_status(&sum, &obs, &ctl);
    if let Some(w) = &ctl.watchdog {
        // Ends whatever is still live and leaves no watchdog behind.
        w.finish();
    }
    Ok(code)
}

/// Ends what is still running when the merge stopped early, and maps the run to the exit
/// status (DESIGN.md).
fn exit_status(sum: &merge::Summary, obs: &observe::Observer, ctl: &Control) -> i32 {
    if let Some(sig) = sum.interrupted {
        ctl.stop(libc::SIGTERM);
        ctl.end_children(GRACE);
        return 128 + sig;
    }
    if sum.stdout_closed || sum.write_error {
        ctl.stop(libc::SIGTERM);
        ctl.end_children(GRACE);
        return if sum.write_error { EXIT_ERROR } else { 0 };
    }
    if let Some(code) = obs.halt_status() {
        return code;
    }
    if sum.source_error || obs.log_failed {
        return EXIT_ERROR;
    }
    sum.failed.min(101) as i32
}
