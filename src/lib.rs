//! parx: run a command in parallel over arguments, files and chunks of input.
//!
//! Data flow (docs/CONTRACT.md): `source` → bounded task channel → `pool` → bounded message channel
//! → `merge` (the one writer of stdout). [`run_main`] parses the command line into a
//! `config::Config` (the only place clap is seen), `run` wires the flow together, and `exit`
//! maps how it went to the exit status. parx's own stderr lines go through `messages`.

// Rules the compiler keeps: `unsafe` only in `sys` (which allows it and carries a SAFETY note per
// block), and no `pub` item the crate alone uses (`pub(crate)` says so).
#![deny(unsafe_code)]
#![deny(unreachable_pub)]
// stderr has one owner, `messages` (which allows this), so the progress bar is never torn.
#![deny(clippy::print_stderr)]

pub mod cli;
pub(crate) mod cluster;
pub(crate) mod config;
pub(crate) mod exit;
pub(crate) mod gate;
pub(crate) mod gnu;
pub(crate) mod halt;
pub(crate) mod joblog;
pub(crate) mod lines;
pub(crate) mod merge;
pub(crate) mod messages;
pub(crate) mod observe;
pub(crate) mod output;
pub(crate) mod pool;
pub(crate) mod progress;
pub(crate) mod resources;
pub(crate) mod results;
pub(crate) mod shard;
pub(crate) mod source;
#[allow(unsafe_code)]
pub(crate) mod sys;
pub(crate) mod task;
pub(crate) mod template;
pub(crate) mod units;
pub(crate) mod watchdog;
pub(crate) mod xargs;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

use crate::cli::Cli;
use crate::config::{ChunkMode, Config, PoolKind, Resume};
use crate::exit::EXIT_ERROR;
use crate::joblog::Joblog;
use crate::observe::Observer;
use crate::pool::{Launcher, Run};
use crate::source::{Skip, Source};
use crate::task::{Msg, Task};

/// How long task process groups get after TERM before KILL when parx stops early.
const GRACE: Duration = Duration::from_secs(2);
/// After a signal, how long the signal thread gives the run to end once the tasks are gone,
/// before it exits on its own (the merger may be stuck writing to a stdout nobody reads).
const LAST_RESORT: Duration = Duration::from_millis(200);

/// Parses the command line, runs, and returns the exit status.
pub fn run_main() -> i32 {
    // parx's binary run again as the orphan watchdog of a parx run.
    if let Some(code) = watchdog::serve_if_asked() {
        return code;
    }
    // The personality: by the name parx is run as (a link named `xargs`), or `--as NAME`
    // first.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let called = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(std::borrow::ToOwned::to_owned);
    let name = called.as_deref().and_then(|n| n.to_str());
    let (tool, rest) = match args.get(1).map(|a| a.as_encoded_bytes()) {
        _ if matches!(name, Some("xargs" | "parallel")) => (name, &args[1..]),
        Some(b"--as=xargs") => (Some("xargs"), &args[2..]),
        Some(b"--as=parallel") => (Some("parallel"), &args[2..]),
        Some(b"--as") => (args.get(2).and_then(|a| a.to_str()), &args[3..]),
        _ => (None, &args[..0]),
    };
    let planned = match tool {
        Some("xargs") => Some(xargs::plan(rest)),
        Some("parallel") => Some(gnu::plan(rest)),
        _ => None,
    };
    if let Some(planned) = planned {
        return match planned {
            Ok(cfg) => {
                set_tmpdir(&cfg);
                run_or_255(cfg)
            }
            Err(code) => code,
        };
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return cli::clap_error(&e),
    };
    if let Some(dir) = &cli.slurm_status {
        return cluster::status(dir);
    }
    if let Some((text, code)) = cli::info(&cli, resources::cpu_topology) {
        print!("{text}");
        return code;
    }
    let mut notes = Vec::new();
    let built = Config::from_cli(cli, &resources::machine(), &mut notes);
    for n in notes {
        messages::note(n);
    }
    let cfg = match built {
        Ok(c) => c,
        Err(e) => {
            messages::error(e);
            return EXIT_ERROR;
        }
    };
    set_tmpdir(&cfg);
    if cfg.slurm.is_none() {
        return run_or_255(cfg);
    }
    // --slurm: the cluster module submits and collects, or prepares an array task's shard,
    // which runs here as any run.
    match cluster::plan(cfg) {
        cluster::Plan::Done(code) => code,
        cluster::Plan::Task(cfg, task) => task.finish(run_or_255(*cfg)),
    }
}

/// `--tmpdir DIR`: GNU parallel's same as setting `$TMPDIR` (parx's spill files and the
/// tasks'). Set in parx's environment here, before any thread of the run starts.
fn set_tmpdir(cfg: &Config) {
    if let Some(d) = &cfg.compat.tmpdir {
        std::env::set_var("TMPDIR", d);
    }
}

/// [`run`], an error reported on stderr and mapped to status 255 (1 as `xargs`).
fn run_or_255(cfg: Config) -> i32 {
    let code = exit::own_error(cfg.compat.xargs.is_some());
    run(cfg).unwrap_or_else(|e| {
        messages::error(format_args!("{e:#}"));
        code
    })
}

/// Runs a validated configuration and returns the exit status: the input is opened, then a
/// source thread streams numbered tasks to the pool, whose slots run them and send their
/// outputs to the merger (this thread), which writes stdout; how it all went makes one
/// [`exit::Report`].
pub(crate) fn run(cfg: Config) -> anyhow::Result<i32> {
    let cfg = Arc::new(cfg);
    // `parx … >&-`: printing fails (255), rather than going to /dev/null.
    sys::refuse_closed_stdout();
    // The orphan guard first, while the only descriptors parx holds are those it inherited
    // (its copy of the table keeps none of parx's pipes open). A dry run starts no task.
    let watchdog = match cfg.dry_run {
        true => None,
        false => Some(watchdog::Watchdog::spawn().context("starting the orphan watchdog")?),
    };
    // Handled, not blocked: children must start with an empty signal mask.
    sys::catch_signals()?;
    let learned = Arc::new(template::Learned::default());
    let input = source::open(&cfg, &learned)?;
    let (mut ctl, joblog, skip) = prepare(&cfg, learned)?;
    if let Some(w) = watchdog {
        ctl.slots_mut()
            .set_watchdog(w)
            .context("starting the orphan watchdog")?;
    }
    if cfg.dry_run && cfg.pool == PoolKind::Process {
        print_workers(&cfg).context("writing stdout")?;
        return Ok(exit::Report::default().status());
    }
    let counted = match progress::shown(cfg.jobs_ctl.bar, cfg.jobs_ctl.eta) {
        true => source::count_ahead(input.as_ref(), &skip),
        false => Arc::default(),
    };
    let capacity = task_capacity(&cfg);
    // The thread pool's slots keep the source to a low-water mark (a `--pipe` chunk goes
    // straight to a slot: its channel holds none).
    if cfg.pool == PoolKind::Thread && capacity > 0 {
        ctl.slots_mut().refill = Some(pool::queue::Refill::new(capacity));
    }
    let ctl = Arc::new(ctl);
    if !cfg.dry_run {
        ctl.slots
            .start_gate_monitor()
            .context("starting the resource monitor")?;
    }
    let (task_tx, task_rx) = bounded::<Task>(capacity);
    let (msg_tx, msg_rx) = bounded::<Msg>(cfg.jobs * 4 + 16);
    // Tasks skipped under -k (--resume, --shard) go on a channel of their own, which the
    // merger drains when the pool is done.
    let (skip_tx, skip_rx) = unbounded::<u64>();
    let skip_tx = (skip.any() && cfg.keep_order).then_some(skip_tx);
    let slots = match cfg.pool {
        PoolKind::Thread => pool::thread::start(&cfg, &ctl, task_rx, msg_tx),
        PoolKind::Process => Launcher::started(pool::process::start(&cfg, &ctl, task_rx, msg_tx)),
    };
    // The first slot starts now, alongside the source (almost every run has a task), and the
    // signal thread after them: a signal caught meanwhile waits in its pipe.
    slots.grow(1, &ctl);
    spawn_source(&ctl, &slots, input, skip, task_tx, skip_tx)?;
    let (_running, interrupts) = watch_signals(&ctl)?;
    let mut obs = Observer::new(&cfg, &ctl, joblog, counted);
    let sum = merge::run(&cfg, &ctl, &mut obs, msg_rx, interrupts, skip_rx);
    obs.finish();
    let report = exit::Report {
        interrupted: sum.interrupted,
        stdout_closed: sum.stdout_closed,
        write_error: sum.write_error,
        halt: obs.halt_status(),
        errored: ctl.state.failed() || messages::errored(),
        not_found: messages::not_found(),
        failed: sum.failed,
        warnings: messages::warnings(),
        xargs: cfg.compat.xargs.is_some(),
        shard_errored: false,
    };
    finish(&ctl, report.stopped_early(), &slots);
    Ok(report.status())
}

/// Opens what the run writes besides stdout (`--results`, `--joblog`), reads what `--resume`
/// skips, and sets up the state the pool, the merger and the signal thread share.
fn prepare(
    cfg: &Arc<Config>,
    learned: Arc<template::Learned>,
) -> anyhow::Result<(Run, Option<Joblog>, Skip)> {
    let jc = &cfg.jobs_ctl;
    let state = pool::state::RunState::new(jc.halt, learned.clone());
    let mut ctl = Run::new(cfg.jobs, state, pool::life::Lifecycle::new(cfg));
    if let Some(dir) = &jc.results {
        // The `parallel` personality stores in GNU parallel's layout (and prints nothing).
        let gnu = cfg.compat.gnu.then(|| learned.clone());
        ctl.life.results = Some(
            results::Results::open(dir, gnu)
                .with_context(|| format!("--results {}", messages::name(dir)))?,
        );
    }
    let (joblog, done) = match &jc.joblog {
        Some(path) => {
            let (log, logged) = Joblog::open(path, jc.resume != Resume::No, jc.joblog_append)
                .with_context(|| format!("--joblog {}", messages::name(path)))?;
            let done = match jc.resume {
                Resume::No => HashSet::new(),
                Resume::All => logged.done,
                // --retry-failed: a task without a row has no command to run again.
                Resume::Failed if jc.retry_failed => {
                    let last = logged.done.iter().max().copied().unwrap_or(0);
                    (1..=last)
                        .filter(|s| logged.succeeded.contains(s) || !logged.done.contains(s))
                        .collect()
                }
                Resume::Failed => logged.succeeded,
            };
            (Some(log), done)
        }
        None => (None, HashSet::new()),
    };
    ctl.slots_mut().termseq = cfg.compat.termseq.clone();
    // Resources: the gate (its monitor thread starts with the run).
    ctl.slots_mut().gate =
        gate::Gate::new(&cfg.sched, cfg.jobs, cfg.pool == PoolKind::Thread).map(Arc::new);
    let skip = Skip {
        shard: jc.shard,
        done,
    };
    Ok((ctl, joblog, skip))
}

/// `--dry-run` with the process pool: values would go to the workers' stdin, so what would
/// run is one worker per slot.
fn print_workers(cfg: &Config) -> std::io::Result<()> {
    use std::io::Write;
    // Straight to fd 1: std's stdout would take a closed one (EBADF) for a success.
    let stdout = sys::stdout_file();
    let mut out = std::io::BufWriter::new(&*stdout);
    for slot in 1..=cfg.jobs {
        let r = cfg.template.render(&template::Ctx {
            seq: 0,
            slot,
            records: &[],
            learned: &template::Learned::default(),
        });
        out.write_all(&r.display())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Starts the thread that waits for SIGINT/SIGTERM: it stops the run (TERM to every task),
/// tells the merger, and ends the tasks. The run then ends as usual and [`exit::Report`]
/// gives the status; only if it has not ended [`LAST_RESORT`] after the tasks did (the
/// merger stuck writing to a stdout nobody reads) does this thread exit the process, with
/// the same status. The run holds the returned sender until it ends.
fn watch_signals(ctl: &Arc<Run>) -> std::io::Result<(Sender<()>, Receiver<i32>)> {
    let (sig_tx, sig_rx) = bounded::<i32>(1);
    let (running, ended) = bounded::<()>(0);
    let ctl = ctl.clone();
    std::thread::Builder::new()
        .name("parx-signals".into())
        .spawn(move || {
            if let Ok(sig) = sys::wait_signal() {
                // The merger hears of the signal before any task it ends: the tasks killed
                // for it get no job-log row, so `--resume` runs them again.
                let _ = sig_tx.send(sig);
                ctl.stop(libc::SIGTERM);
                ctl.slots.end_children(GRACE);
                if let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                    ended.recv_timeout(LAST_RESORT)
                {
                    let report = exit::Report {
                        interrupted: Some(sig),
                        ..exit::Report::default()
                    };
                    std::process::exit(report.status());
                }
            }
        })?;
    Ok((running, sig_rx))
}

/// How many tasks may wait for a free slot. `--pipe` chunks are whole blocks of data: each
/// goes straight to a free slot (a zero-capacity channel), so in flight are one chunk per slot
/// plus the one being read.
fn task_capacity(cfg: &Config) -> usize {
    match cfg.chunks.as_ref().map(|c| &c.mode) {
        Some(ChunkMode::Pipe(_)) => {
            sys::return_big_frees();
            0
        }
        // Blocks of values (up to 64 KiB each): a few per worker keep them busy.
        None if cfg.value_blocks() => cfg.jobs * 2 + 4,
        // Process-pool workers take values in blocks: a deep queue spares the source a
        // wake-up per value.
        None if cfg.pool == PoolKind::Process => 16 << 10,
        _ => cfg.jobs * 2 + 16,
    }
}

/// Starts the thread that reads the input and sends the numbered tasks to the pool (and,
/// with -k, the numbers of skipped ones to the merger), starting the pool's slots as tasks
/// come. It holds no sender of the merger's channel (the launcher it starts slots with does,
/// until the source ends or a slot does: see [`Launcher`]) and is not joined: a source
/// blocked reading its input must not keep the run alive once the pool is done.
fn spawn_source(
    ctl: &Arc<Run>,
    slots: &Arc<Launcher>,
    input: Box<dyn Source>,
    skip: Skip,
    tasks: Sender<Task>,
    skipped: Option<Sender<u64>>,
) -> std::io::Result<()> {
    let (ctl, slots) = (ctl.clone(), slots.clone());
    std::thread::Builder::new()
        .name("parx-source".into())
        .spawn(move || {
            let run = |task: Task| {
                let k = task.input.tasks();
                let n = ctl.state.tasks_read.fetch_add(k, Ordering::AcqRel) + k;
                slots.grow(n, &ctl);
                send_task(&tasks, &ctl, task)
            };
            let skip_one = |seq: u64| skipped.as_ref().is_none_or(|tx| tx.send(seq).is_ok());
            let res = source::stream_tasks(input, &skip, run, skip_one);
            ctl.state.input_done.store(true, Ordering::Release);
            if let Err(e) = res {
                messages::error(format_args!("{e:#}"));
            }
            // Last: with no slot started, this lets the merger end (the error is counted).
            slots.close();
        })?;
    Ok(())
}

/// The merge is over: ends what still runs if it stopped early, waits for the pool's slots,
/// and leaves no watchdog behind.
fn finish(ctl: &Run, stopped_early: bool, slots: &Launcher) {
    if stopped_early {
        ctl.stop(libc::SIGTERM);
        ctl.slots.end_children(GRACE);
    }
    slots.join();
    ctl.slots.finish_watchdog();
}

/// Sends a task to the pool, giving up when the run stops or the pool is gone. Returns
/// whether the source should go on.
fn send_task(tx: &crossbeam_channel::Sender<Task>, ctl: &Run, mut task: Task) -> bool {
    use crossbeam_channel::SendTimeoutError;
    if let Some(r) = &ctl.slots.refill {
        return r.send(tx, task, || ctl.state.stopping());
    }
    loop {
        match tx.send_timeout(task, Duration::from_millis(100)) {
            Ok(()) => return true,
            Err(SendTimeoutError::Timeout(t)) if !ctl.state.stopping() => task = t,
            Err(_) => return false,
        }
    }
}
