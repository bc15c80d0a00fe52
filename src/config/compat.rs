//! GNU parallel / xargs options beyond the core (docs/CONTRACT.md "Compatibility"): how
//! values are packed into commands (`-n`, `-N`, `-L`, `-X`, `-m`, `--xargs`, `-s`, `-x`), `-v`,
//! `-t`, `--termseq`, `--tmpdir`, `--nice`, `--process-slot-var`, `--shuf`. Parsed into a
//! [`Compat`] and a [`Batch`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::{usage, UsageError};
use crate::cli::Cli;
use crate::template::{Replace, Template};

/// GNU parallel / xargs options beyond the core (docs/CONTRACT.md "Compatibility").
#[derive(Debug, Default)]
pub(crate) struct Compat {
    /// `-s`, `-X`/`-m` spreading: how batches are packed.
    pub limits: Limits,
    /// `-N 0`: the command runs once per value, without it.
    pub drop_values: bool,
    /// `-v`: each command is printed on stdout before its output.
    pub print_command: bool,
    /// `-t`/`--verbose`: each command is printed on stderr before it runs.
    pub verbose: bool,
    /// `--termseq`: the signals that end a task, each with the wait after it.
    pub termseq: Option<Vec<(i32, Duration)>>,
    /// `--tmpdir`: where output spills.
    pub tmpdir: Option<PathBuf>,
    /// `--nice`: tasks run under this niceness.
    pub nice: Option<i32>,
    /// `--process-slot-var`: this variable holds the slot number in each task's environment.
    pub process_slot_var: Option<OsString>,
    /// The `xargs` personality: GNU xargs' input, packing, messages and statuses.
    pub xargs: Option<super::xargs::XargsSpec>,
    /// What an argument task's stdin is.
    pub task_stdin: TaskStdin,
    /// The shell that runs shell-mode commands (`None`: `sh`); the `parallel` personality's
    /// is the one GNU parallel picks.
    pub shell: Option<PathBuf>,
    /// A shell-mode command whose text holds nothing a shell would interpret runs without the
    /// shell (the `parallel` personality: same result, a fork+exec less).
    pub shell_direct: bool,
    /// `--shuf`: the tasks run in a random order.
    pub shuf: bool,
    /// The `parallel` personality (GNU parallel's `--results` layout).
    pub gnu: bool,
}

/// The stdin of a task that is not fed a chunk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum TaskStdin {
    /// /dev/null (parx's default, and xargs').
    #[default]
    Null,
    /// parx's own stdin (xargs with `-a FILE`).
    Inherit,
    /// /dev/tty (xargs `-o`).
    Tty,
}

/// How batches are packed beyond the record count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    /// `-s/--max-chars`: a command line stays shorter than this many characters (the script
    /// of a shell command; the words and their NULs of an exec'd one, as xargs counts).
    pub max_chars: Option<usize>,
    /// `-X`/`-m`: spread the last batch over this many slots (0 or 1: no spreading).
    pub spread_over: usize,
    /// `-x` (xargs): a value whose command line would reach the `-s` limit ends the input
    /// with an error instead of running alone.
    pub exit_on_size: bool,
    /// Without `-s`: the line is xargs' (128 KiB: `--walk`, parx's own `find | xargs`), not
    /// GNU parallel's.
    pub xargs_line: bool,
}

/// How many records go into one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Batch {
    /// One record per task (the default).
    One,
    /// `-n N`: up to N records per task (N ≥ 2), fewer if the argument limit says so.
    MaxArgs(usize),
    /// `-X`: as many records as fit the OS argument limit (see `source::batch`).
    Fit,
}

impl Compat {
    /// Whether its options need the tasks one at a time (see
    /// [`super::Config::value_blocks`]): a command per value (`-N 0`), printed (`-v`, `-t`) or
    /// shuffled. Every field is named, so a new one does not compile
    /// until someone decides.
    pub(crate) fn needs_each_task(&self) -> bool {
        let Compat {
            // Packing is for batches; value blocks are one value per task.
            limits: _,
            drop_values,
            print_command,
            verbose,
            // How a worker ends, not a task.
            termseq: _,
            tmpdir: _,
            nice: _,
            // One per worker.
            process_slot_var: _,
            // The personalities set their own tasks (none uses the process pool).
            xargs: _,
            task_stdin: _,
            shell: _,
            shell_direct: _,
            shuf,
            gnu: _,
        } = self;
        *drop_values || *print_command || *verbose || *shuf
    }
}

/// `-n`, `-N`, `-L` (argument mode), `-X`, `-m`, `--xargs` and `-s`: how many values go into
/// one command, whether the values are dropped (`-N 0`) and the limits of a batch.
/// `-m`/`--xargs` make the template's replacements plain.
pub(super) fn packing(
    cli: &Cli,
    (chunk_mode, walking): (bool, bool),
    jobs: usize,
    template: &mut Template,
) -> Result<(Batch, bool, Limits), UsageError> {
    // -n / -N / -L (argument mode) / -X / -m / --xargs: how many values per command.
    let packing = [
        (cli.context_x, "-X"),
        (cli.multi, "-m"),
        (cli.xargs, "--xargs"),
        (cli.max_args.is_some(), "-n"),
        (!chunk_mode && cli.max_replace_args.is_some(), "-N"),
        (!chunk_mode && cli.max_lines.is_some(), "-L"),
    ];
    let fill = cli.context_x || cli.multi || cli.xargs;
    for group in [&packing[..3], &packing[3..]] {
        let given: Vec<&str> = group.iter().filter(|p| p.0).map(|p| p.1).collect();
        if given.len() > 1 {
            return usage(format!(
                "{} and {} both set how many values go into a command: use one",
                given[0], given[1]
            ));
        }
    }
    let mut drop_values = false;
    let per_cmd = match (cli.max_args, chunk_mode) {
        (Some(n), _) => Some(n as u64),
        (None, false) => cli.max_replace_args.or(cli.max_lines),
        (None, true) => None,
    };
    let batch = match per_cmd {
        // -X/-m/--xargs fill the line; with -n/-N/-L N (GNU), with at most N values.
        None if fill => Batch::Fit,
        None | Some(1) => Batch::One,
        // -N 0 and -n 0 (GNU parallel): the command runs once per value, without it.
        Some(0) => {
            drop_values = true;
            Batch::One
        }
        Some(n) => Batch::MaxArgs(usize::try_from(n).unwrap_or(usize::MAX)),
    };
    if cli.multi || cli.xargs {
        *template =
            std::mem::replace(template, Template::argv_values()).with_replace(Replace::Plain);
    }
    if cli.max_chars == Some(0) {
        return usage("invalid -s 0: a command line needs at least 1 character");
    }
    let limits = Limits {
        max_chars: cli.max_chars,
        // (With a count, GNU fills every command up to it: nothing is spread.)
        spread_over: if (cli.context_x || cli.multi) && per_cmd.is_none() {
            jobs
        } else {
            0
        },
        exit_on_size: cli.exit_on_size,
        // GNU parallel has no --walk: it packs as `find | xargs`, which it replaces (half
        // the commands of GNU's line on a long walk).
        xargs_line: walking,
    };
    Ok((batch, drop_values, limits))
}

/// `--process-slot-var NAME`.
pub(super) fn process_slot_var(cli: &mut Cli) -> Result<Option<OsString>, UsageError> {
    match cli.process_slot_var.take() {
        Some(v) if v.is_empty() || v.contains('=') => usage(format!(
            "invalid --process-slot-var '{v}': a variable name, without '='"
        )),
        v => Ok(v.map(OsString::from)),
    }
}

/// `--tmpdir DIR`: an existing directory. GNU parallel: it is the same as setting `$TMPDIR`
/// (parx's spill files and the tasks'); the caller sets it before any thread of the run
/// starts (`lib::run_main`).
pub(super) fn tmpdir(cli: &mut Cli) -> Result<Option<PathBuf>, UsageError> {
    if let Some(d) = &cli.tmpdir {
        if !d.is_dir() {
            return usage(format!(
                "--tmpdir {}: not a directory (give an existing directory)",
                d.display()
            ));
        }
    }
    Ok(cli.tmpdir.take())
}
