//! parx: run a command in parallel over arguments, files and chunks of input.
//!
//! Data flow (DESIGN.md): sources → bounded task channel → pool → bounded message channel →
//! merger (the one writer of stdout). `run_main` wires them together and maps the outcome to
//! the exit status.

pub mod cli;
pub mod config;
pub mod gate;
pub mod halt;
pub mod joblog;
pub mod lines;
pub mod merge;
pub mod observe;
pub mod output;
pub mod pool;
pub mod progress;
pub mod resources;
pub mod results;
pub mod shard;
pub mod source;
pub mod sys;
pub mod task;
pub mod template;
pub mod units;
pub mod watchdog;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use crossbeam_channel::bounded;

use crate::cli::Cli;
use crate::config::{ChunkMode, Config, PoolKind, Resume};
use crate::pool::Control;
use crate::task::{Msg, Task};

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
            // One line: clap continues some messages on indented lines (the missing argument).
            let mut lines = text.lines();
            let mut line = lines.next().unwrap_or("invalid usage").to_owned();
            if line.ends_with(':') {
                for more in lines.take_while(|l| l.starts_with(' ')) {
                    line.push(' ');
                    line.push_str(more.trim());
                }
            }
            let line = line.strip_prefix("error: ").unwrap_or(&line);
            eprintln!("parx: {line} (see 'parx --help')");
            EXIT_ERROR
        }
    }
}

/// What the source thread reads.
enum Input {
    Args(Vec<source::args::Values>),
    Chunks(source::pipe::Opened),
}

/// Runs a validated configuration and returns the exit status.
pub fn run(cfg: Config) -> anyhow::Result<i32> {
    let cfg = Arc::new(cfg);
    // Handled, not blocked: children must start with an empty signal mask.
    sys::catch_signals()?;
    let mut ctl = Control::new(cfg.jobs);
    // --walk problems: reported as they happen, each counted like a failed task.
    let warnings = Arc::new(AtomicU64::new(0));
    let input = match &cfg.chunks {
        Some(c) => Input::Chunks(source::pipe::open(c)?),
        None => Input::Args(source::args::open_all(&cfg.input, &warnings)?),
    };
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
    // Resources (issue 13): the gate, and its monitor thread.
    ctl.gate = gate::Gate::new(&cfg.sched, cfg.jobs, cfg.pool == PoolKind::Thread);
    let ctl = Arc::new(ctl);
    if ctl.gate.is_some() && !cfg.dry_run {
        gate::spawn_monitor(ctl.clone()).context("starting the resource monitor")?;
    }
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
                    // The merger may be stuck writing to a stdout nobody reads: end the
                    // children here too and leave with the signal's status either way.
                    ctl.end_children(GRACE);
                    std::thread::sleep(Duration::from_millis(200));
                    std::process::exit(128 + sig);
                }
            }
        })?;

    // --pipe chunks are whole blocks of data: hand each straight to a free slot (a zero-capacity
    // channel), so in flight are one chunk per slot plus the one being read.
    let task_cap = match cfg.chunks.as_ref().map(|c| &c.mode) {
        Some(ChunkMode::Pipe(_)) => 0,
        _ => cfg.jobs * 2 + 16,
    };
    let (task_tx, task_rx) = bounded::<Task>(task_cap);
    if task_cap == 0 {
        sys::return_big_frees();
    }
    let (msg_tx, msg_rx) = bounded::<Msg>(cfg.jobs * 4 + 16);
    // The source holds no sender of the merger's channel: a source blocked reading its input
    // must not keep the run alive once the pool is done. Tasks it skips under -k (--resume,
    // --shard) go on a channel of their own, which the merger drains when the pool is done.
    let skips = jc.shard.is_some() || jc.resume != Resume::No;
    let (skip_tx, skip_rx) = crossbeam_channel::unbounded::<u64>();
    let skip_tx = (skips && cfg.keep_order).then_some(skip_tx);
    std::thread::Builder::new()
        .name("parx-source".into())
        .spawn({
            let (cfg, ctl) = (cfg.clone(), ctl.clone());
            move || {
                let skip = |seq: u64| {
                    let jc = &cfg.jobs_ctl;
                    jc.shard.is_some_and(|s| !s.runs(seq))
                        || match jc.resume {
                            Resume::No => false,
                            Resume::All => logged.done.contains(&seq),
                            Resume::Failed => logged.succeeded.contains(&seq),
                        }
                };
                let submit = |task: Task| -> bool {
                    if skips && skip(task.seq) {
                        return match &skip_tx {
                            Some(tx) => tx.send(task.seq).is_ok(),
                            None => true,
                        };
                    }
                    ctl.tasks_read.fetch_add(1, Ordering::AcqRel);
                    send_task(&task_tx, &ctl, task)
                };
                let res = match input {
                    Input::Args(sources) => source::feed(&cfg, sources, submit),
                    Input::Chunks(opened) => {
                        let c = cfg.chunks.as_ref().expect("chunk mode");
                        let mut seq = 0;
                        let mut send = |input| {
                            seq += 1;
                            submit(Task { seq, input })
                        };
                        let mut report = |e: anyhow::Error| ctl.error(format_args!("{e:#}"));
                        source::pipe::produce(c, cfg.jobs, opened, &mut send, &mut report)
                    }
                };
                ctl.input_done.store(true, Ordering::Release);
                if let Err(e) = res {
                    ctl.error(format_args!("{e:#}"));
                }
            }
        })?;

    if cfg.dry_run && cfg.pool == PoolKind::Process {
        // Values would go to the workers' stdin: what would run is one worker per slot.
        for slot in 1..=cfg.jobs {
            let r = cfg.template.render(&template::Ctx {
                seq: 0,
                slot,
                records: &[],
            });
            println!("{}", String::from_utf8_lossy(&r.display()));
        }
        return Ok(0);
    }
    match cfg.pool {
        PoolKind::Thread => drop(pool::thread::start(&cfg, &ctl, task_rx, msg_tx)),
        PoolKind::Process => drop(pool::process::start(&cfg, &ctl, task_rx, msg_tx)),
    }

    let sum = merge::run(&cfg, &ctl, &mut obs, msg_rx, sig_rx, skip_rx);
    obs.finish();
    let code = exit_status(&sum, &obs, &ctl, warnings.load(Ordering::Relaxed));
    if let Some(w) = &ctl.watchdog {
        // Ends whatever is still live and leaves no watchdog behind.
        w.finish(!ctl.any_child());
    }
    Ok(code)
}

/// Ends what is still running when the merge stopped early, and maps the run to the exit
/// status (DESIGN.md). `warnings` (--walk problems) count like failed tasks.
fn exit_status(sum: &merge::Summary, obs: &observe::Observer, ctl: &Control, warnings: u64) -> i32 {
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
    if ctl.failed() || obs.log_failed {
        return EXIT_ERROR;
    }
    (sum.failed + warnings).min(101) as i32
}

/// Sends a task to the pool, giving up when the run stops or the pool is gone. Returns
/// whether the source should go on.
fn send_task(tx: &crossbeam_channel::Sender<Task>, ctl: &Control, mut task: Task) -> bool {
    use crossbeam_channel::SendTimeoutError;
    loop {
        match tx.send_timeout(task, Duration::from_millis(100)) {
            Ok(()) => return true,
            Err(SendTimeoutError::Timeout(t)) if !ctl.stopping() => task = t,
            Err(_) => return false,
        }
    }
}
