//! The validated run configuration, built once from the command line. Everything below this
//! module works from [`Config`]; every usage error is found here and reported as one line.
//!
//! This is the one bridge from clap's [`Cli`] (what was typed) to what it means, as
//! ripgrep's high args are to its low args. [`Config::from_cli`] is pure: the machine's facts
//! (CPUs, the process's limits, the environment) come in as a [`Machine`] gathered once by the
//! caller, and what it would tell the user comes back as notes; it sets nothing. Each option
//! group is parsed in its own submodule (`input`, `command`, `chunk`, `compat`, `jobctl`,
//! `sched`, `slurm`; `walk` and `halt` hold the rules compiled once), and the `parallel` and
//! `xargs` personalities (`crate::gnu`, `crate::xargs`) are front ends onto the same
//! `Config`. Nothing below imports clap, nor does this module import a source or a pool.

pub(crate) mod chunk;
mod command;
mod compat;
pub(crate) mod halt;
mod input;
mod jobctl;
pub(crate) mod joblog;
pub(crate) mod sched;
mod slurm;
pub(crate) mod walk;
pub(crate) mod xargs;

pub(crate) use chunk::{ChunkConfig, ChunkMode};
pub(crate) use compat::{Batch, Compat, Limits, TaskStdin};
pub(crate) use input::{InputSpec, SourceKind, SourceSpec};
pub(crate) use jobctl::{parse_termseq, JobControl, Resume, Timeout};
pub(crate) use sched::Sched;
pub(crate) use slurm::SlurmConfig;

use crate::cli::Cli;
use crate::template::Template;

/// A usage error: reported as `parx: <message>`, exit status 255.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub String);

fn usage<T>(msg: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError(msg.into()))
}

/// Everything a run needs to know, validated.
#[derive(Debug)]
pub(crate) struct Config {
    /// Number of job slots (at least 1).
    pub jobs: usize,
    /// Print outputs in input order (`-k`) rather than completion order.
    pub keep_order: bool,
    /// Print each rendered command instead of running it.
    pub dry_run: bool,
    /// Which pool runs the tasks.
    pub pool: PoolKind,
    /// The command template.
    pub template: Template,
    /// Where the argument values come from (unused in chunk modes).
    pub input: InputSpec,
    /// `--max-tasks`: with the process pool, a worker is restarted after this many tasks.
    pub max_tasks: Option<u64>,
    /// `--result-end`: the byte that ends each result of a `--pool process` worker (printed
    /// without it), instead of the record terminator.
    pub result_end: Option<u8>,
    /// `--framed`: process-pool workers speak the framed protocol (`crate::pool::process`'s
    /// `framed`); `Some(true)` with `--framed-out` (results printed as frames).
    pub framed: Option<bool>,
    /// How many records go into one task (`-n`, `-X`).
    pub batch: Batch,
    /// `--pipe`/`--pipe-part`: tasks are chunks of data instead of argument values.
    pub chunks: Option<ChunkConfig>,
    /// Job control and observability (`--timeout`, `--retries`, `--halt`, `--joblog`, ...).
    pub jobs_ctl: JobControl,
    /// `--slurm`: run as one Slurm array instead of here (see `crate::cluster`).
    pub slurm: Option<SlurmConfig>,
    /// GNU parallel / xargs options (docs/CONTRACT.md "Compatibility").
    pub compat: Compat,
    /// Resource-aware scheduling (`--load`, `--memfree`, `--memsuspend`, `-j FILE`).
    pub sched: Sched,
}

/// Which pool runs the tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PoolKind {
    /// One child process per task, supervised by `jobs` threads.
    Thread,
    /// `jobs` long-lived workers fed on stdin.
    Process,
}

/// The facts about the machine and the process that options are relative to, gathered once
/// by the caller (`crate::resources::machine`) and passed to [`Config::from_cli`].
pub(crate) struct Machine {
    /// The CPUs this process may use (what `-j N%`, `+N`, `-N` and `--load N%` refer to).
    pub cpus: usize,
    /// The most job slots the process's limits allow, with the limit that sets it
    /// ([`crate::sys::slot_limit`]).
    pub slot_limit: (usize, Option<String>),
    /// `-j 0`: as many slots as the limits allow ([`crate::sys::max_slots`]).
    pub max_slots: usize,
    /// Looks up an environment variable (`--shard auto`).
    pub env: fn(&str) -> Option<String>,
}

impl Config {
    /// Validates the parsed command line against the `machine`'s facts. Pure: what the user
    /// should be told (a `-j` lowered to the limits, `:::` values `--pipe-part` ignores) is
    /// pushed to `notes`, which the caller writes, before the error if there is one.
    pub(crate) fn from_cli(
        mut cli: Cli,
        machine: &Machine,
        notes: &mut Vec<String>,
    ) -> Result<Config, UsageError> {
        let (jobs, jobs_file) = sched::jobs(cli.jobs.as_deref(), machine, notes)?;
        command::refuse_unsupported(&cli)?;
        let more = command::more_replacements(&cli)?;
        let delimiter = input::delimiter(&cli)?;
        let seps = input::Seps {
            arg: cli.arg_sep.clone().unwrap_or_else(|| ":::".into()),
            file: cli.arg_file_sep.clone().unwrap_or_else(|| "::::".into()),
        };
        let (command, trailing) = input::split_command(std::mem::take(&mut cli.command), &seps)?;
        command::refuse_perl(&command)?;
        // The `parallel` personality: GNU runs the words joined by spaces as shell code
        // (without -q, which quotes each word: the words as they are).
        let (command, force_shell) = if cli.gnu && !cli.quote && !command.is_empty() {
            (vec![command::join_words(&command)], true)
        } else {
            (command, cli.shell)
        };
        let walking = !cli.walk.is_empty();
        let mut sources = input::sources(&mut cli, trailing)?;
        let (named_header, mut chunks) = chunk::parse(&mut cli, &mut sources, &delimiter, notes)?;
        let mut template = command::template(
            &cli,
            (&command, force_shell),
            more,
            named_header,
            jobs,
            chunks.as_ref(),
        )?;
        let chunk_mode = cli.pipe || cli.pipe_part;
        let command::PoolOpts {
            pool,
            max_tasks,
            result_end,
            framed,
        } = command::pool(&cli, &template, chunk_mode)?;
        let (batch, drop_values, limits) =
            compat::packing(&cli, (chunk_mode, walking), jobs, &mut template)?;
        let colsep = input::colsep(&cli)?;
        let mut sched = sched::sched_config(
            (&cli.load, &cli.memfree, &cli.memsuspend),
            machine.cpus,
            jobs_file,
            pool,
        )?;
        sched.noswap = cli.noswap;
        let mut jobs_ctl = jobctl::parse(&mut cli, &machine.env)?;
        let slurm = slurm::parse(&mut cli)?;
        if let Some(c) = chunks
            .as_mut()
            .filter(|c| matches!(c.mode, ChunkMode::PipePart(_)))
        {
            // --pipe-part shards by byte range, not by task number.
            c.part = jobs_ctl.shard.take();
        }
        let termseq = cli
            .termseq
            .as_deref()
            .map(parse_termseq)
            .transpose()
            .or_else(usage)?;
        let trim = input::trim(&cli)?;
        let process_slot_var = compat::process_slot_var(&mut cli)?;
        let tmpdir = compat::tmpdir(&mut cli)?;
        let compat = Compat {
            limits,
            drop_values,
            print_command: cli.print_command > 0,
            verbose: cli.verbose,
            termseq,
            tmpdir,
            nice: cli.nice,
            process_slot_var,
            xargs: None,
            task_stdin: TaskStdin::Null,
            shell: None,
            shell_direct: false,
            shuf: cli.shuf,
            gnu: cli.gnu,
        };
        // --retry-failed: the job log's commands, the failed ones run again (the command line's
        // command and inputs are ignored, as GNU parallel's).
        if cli.retry_failed {
            let log = jobs_ctl
                .joblog
                .as_deref()
                .unwrap_or(std::path::Path::new(""));
            (template, sources) = joblog::retry(log)?;
        }
        Ok(Config {
            compat,
            sched,
            jobs_ctl,
            jobs,
            keep_order: cli.keep_order,
            dry_run: cli.dry_run,
            pool,
            template,
            input: InputSpec {
                sources,
                link_all: cli.link,
                delimiter,
                colsep,
                // An empty -E string means no end-of-input value (xargs).
                eof: cli.eof.filter(|e| !e.is_empty()),
                trim,
                skip_empty: cli.no_run_if_empty,
                skip_first: cli.skip_first_line,
                header: named_header,
                continue_lines: cli.max_lines.is_some() && !chunk_mode,
            },
            max_tasks,
            result_end,
            framed,
            batch,
            chunks,
            slurm,
        })
    }

    /// The byte that ends a record sent to or read from a `--pool process` worker.
    pub(crate) fn record_end(&self) -> u8 {
        if self.input.delimiter == [0] {
            0
        } else {
            b'\n'
        }
    }

    /// Whether one-value tasks may travel in blocks (`TaskInput::Lines`): a process pool fed
    /// from one file or stdin whose values are exactly the records the workers read, and
    /// nothing needs the tasks one by one (a job-log row, a progress tick, a `--results`
    /// directory, a tag, a clock, a count per worker, a skip). Then the values are sent as
    /// they were read, with no task of their own: what makes the pool as fast as its workers.
    ///
    /// Each group says whether it needs the tasks one by one (`needs_each_task`), naming all
    /// its fields: a new per-task option does not compile until it is decided there.
    pub(crate) fn value_blocks(&self) -> bool {
        let Config {
            jobs: _,
            // The merger orders results, blocks or not.
            keep_order: _,
            dry_run,
            pool,
            template,
            input,
            max_tasks,
            // How results are cut, not tasks.
            result_end: _,
            // Frames carry blocks of values too (`framed::encode_job`).
            framed: _,
            batch,
            chunks,
            jobs_ctl,
            // Runs elsewhere.
            slurm: _,
            compat,
            // Gates starting workers, not tasks.
            sched: _,
        } = self;
        *pool == PoolKind::Process
            && !dry_run
            && chunks.is_none()
            && *batch == Batch::One
            && !template.needs_total()
            && max_tasks.is_none()
            && !input.needs_each_task(self.record_end())
            && !jobs_ctl.needs_each_task()
            && !compat.needs_each_task()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config from parx's arguments (after `parx`), with this machine's facts.
    pub(crate) fn config(args: &[&str]) -> Config {
        use clap::Parser;
        let cli = Cli::try_parse_from(std::iter::once("parx").chain(args.iter().copied()))
            .expect("valid command line");
        Config::from_cli(cli, &crate::resources::machine(), &mut Vec::new()).expect("valid config")
    }

    /// Values travel in blocks only when nothing needs them one task at a time.
    #[test]
    fn value_blocks_only_when_no_task_is_needed_alone() {
        let blocks = |args: &[&str]| {
            let mut all = vec!["--pool", "process"];
            all.extend_from_slice(args);
            config(&all).value_blocks()
        };
        assert!(blocks(&["cat"]));
        assert!(blocks(&["-0", "-k", "--retries", "3", "cat"]));
        assert!(blocks(&["-a", "Cargo.toml", "cat"]));
        for one_by_one in [
            &["--joblog", "log", "cat"][..],
            &["--timeout", "5", "cat"],
            &["--max-tasks", "9", "cat"],
            &["--tag", "cat"],
            &["--results", "dir", "cat"],
            &["-d", ",", "cat"],
            &["--colsep", ",", "cat"],
            &["-n", "2", "cat"],
            &["--shard", "1/2", "cat"],
            &["cat", ":::", "a", "b"],
            &["--bar", "cat"],
            &["--delay", "1", "cat"],
            &["--resume", "--joblog", "log", "cat"],
            &["-E", "x", "cat"],
            &["--trim", "l", "cat"],
            &["-r", "cat"],
            &["--skip-first-line", "cat"],
            &["-v", "cat"],
            &["--shuf", "cat"],
            &["--timeout", "200%", "cat"],
        ] {
            assert!(!blocks(one_by_one), "{one_by_one:?}");
        }
    }

    /// `from_cli` is pure: what it has to say comes back as notes, and `--tmpdir` is not set in
    /// parx's environment by it.
    #[test]
    fn notes_are_returned_not_written() {
        use clap::Parser;
        let machine = Machine {
            cpus: 2,
            slot_limit: (10, Some("ulimit -n 64".into())),
            max_slots: 10,
            env: |_| None,
        };
        let cli = Cli::try_parse_from(["parx", "-j", "50", "true"]).expect("valid command line");
        let mut notes = Vec::new();
        let cfg = Config::from_cli(cli, &machine, &mut notes).expect("valid config");
        assert_eq!(cfg.jobs, 10);
        assert_eq!(
            notes,
            ["-j 50 lowered to 10: ulimit -n 64 allows no more slots (raise it for more)"]
        );
        let cli = Cli::try_parse_from(["parx", "-j", "0", "true"]).expect("valid command line");
        let cfg = Config::from_cli(cli, &machine, &mut notes).expect("valid config");
        assert_eq!(cfg.jobs, 10);
        let cli = Cli::try_parse_from(["parx", "-j", "50%", "true"]).expect("valid command line");
        assert_eq!(
            Config::from_cli(cli, &machine, &mut notes)
                .expect("valid")
                .jobs,
            1
        );
    }
}
