//! The validated run configuration, built once from the command line. Everything below this
//! module works from [`Config`]; every usage error is found here and reported as one line.
//!
//! This is the one bridge from clap's [`Cli`] (what was typed) to what it means: the
//! submodules hold the rules parsed and compiled once here (`--walk` filters, chunk records,
//! `--halt`), and nothing below imports clap, nor does this module import a source or a pool.

pub mod chunk;
pub mod halt;
pub mod joblog;
pub mod sched;
pub mod walk;
pub mod xargs;

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use std::time::Duration;

use crate::cli::{Cli, PoolArg, TypeArg};
use crate::shard::Shard;
use crate::template::{Mode, Placeholder, Replace, Syntax, Template};
use crate::units::parse_duration;
use chunk::{parse_block_size, BlockSize, RecordSpec};
use halt::HaltSpec;
use walk::{CompiledWalk, EntryType, WalkSpec};

/// A usage error: reported as `parx: <message>`, exit status 255.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn usage<T>(msg: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError(msg.into()))
}

/// Everything a run needs to know, validated.
#[derive(Debug)]
pub struct Config {
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

/// `--slurm N`, `--slurm-arg`, `--run-dir`.
#[derive(Debug, Clone)]
pub struct SlurmConfig {
    /// Array tasks (shards), at least 1.
    pub tasks: u32,
    /// Extra sbatch arguments, in order.
    pub sbatch_args: Vec<OsString>,
    /// The run directory (`None`: a new one in the current directory).
    pub run_dir: Option<PathBuf>,
    /// `--slurm-throttle K`: at most K array tasks at once (`%K`).
    pub throttle: Option<u32>,
    /// `--keep-run-dir`: keep the run directory after a successful run.
    pub keep_run_dir: bool,
    /// `-j N` given as a number: each array task asks for N CPUs (`--cpus-per-task`).
    pub cpus_per_task: Option<u32>,
}

/// GNU parallel / xargs options beyond the core (docs/CONTRACT.md "Compatibility").
#[derive(Debug, Default)]
pub struct Compat {
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
    /// `--timeout N%`: N% of the median run time of the tasks so far.
    pub timeout_pct: Option<f64>,
    /// The `xargs` personality: GNU xargs' input, packing, messages and statuses.
    pub xargs: Option<xargs::XargsSpec>,
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
pub enum TaskStdin {
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
pub struct Limits {
    /// `-s/--max-chars`: a command line stays shorter than this many characters (the script
    /// of a shell command; the words and their NULs of an exec'd one, as xargs counts).
    pub max_chars: Option<usize>,
    /// `-X`/`-m`: spread the last batch over this many slots (0 or 1: no spreading).
    pub spread_over: usize,
    /// `-x` (xargs): a value whose command line would reach the `-s` limit ends the input
    /// with an error instead of running alone.
    pub exit_on_size: bool,
}

// ---- Resources -------------------------------------------------------------------------

/// Resource-aware scheduling: when a task may start (see [`crate::gate`]).
#[derive(Debug, Clone, Default)]
pub struct Sched {
    /// `--load`: start only while fewer processes than this run on the machine.
    pub load: Option<f64>,
    /// `--memfree`: start only while this much memory is available (bytes).
    pub memfree: Option<u64>,
    /// `--memsuspend`: stop the youngest tasks while less than twice this is available.
    pub memsuspend: Option<u64>,
    /// `--noswap`: start only while the machine is not swapping.
    pub noswap: bool,
    /// `-j FILE`: the slot count is read from this file, again whenever a task ends.
    pub jobs_file: Option<PathBuf>,
    /// The CPUs this process may use (what `-j N%`, `+N`, `-N` and `--load N%` refer to).
    pub cpus: usize,
}

impl Sched {
    /// Whether any resource option is given.
    pub fn active(&self) -> bool {
        self.load.is_some()
            || self.memfree.is_some()
            || self.memsuspend.is_some()
            || self.noswap
            || self.jobs_file.is_some()
    }
}

/// With `-j FILE`, the pool has this many slots at least (and the file's first value, if more):
/// the file may widen the run up to it.
pub const JOBS_FILE_SLOTS: usize = 64;

/// `-j`: the slot count, and the `-j FILE` if one is named.
fn jobs_option(value: Option<&str>, cpus: usize) -> Result<(usize, Option<PathBuf>), UsageError> {
    let Some(s) = value else {
        return Ok((cpus, None));
    };
    match parse_jobs(s, cpus) {
        Ok(n) => Ok((n, None)),
        Err(e) => match sched::jobs_file(s) {
            Some(path) => {
                let n = sched::read_jobs_file(&path, cpus)
                    .map_err(|e| UsageError(format!("-j {s}: {e}")))?;
                Ok((n.max(JOBS_FILE_SLOTS), Some(path)))
            }
            None => usage(format!("{e}, or the name of a file holding one")),
        },
    }
}

/// `--load`, `--memfree`, `--memsuspend` and `-j FILE`, validated.
fn sched_config(
    (load, memfree, memsuspend): (&Option<String>, &Option<String>, &Option<String>),
    cpus: usize,
    jobs_file: Option<PathBuf>,
    pool: PoolKind,
) -> Result<Sched, UsageError> {
    let size = |opt: &str, v: &Option<String>| -> Result<Option<u64>, UsageError> {
        let Some(t) = v.as_deref() else {
            return Ok(None);
        };
        match parse_block_size(t) {
            Ok(BlockSize::Bytes(n)) if n > 0 => Ok(Some(n)),
            _ => usage(format!(
                "invalid {opt} '{t}': use a size such as 500M or 2G (K M G T: powers of 1024)"
            )),
        }
    };
    if jobs_file.is_some() && pool == PoolKind::Process {
        return usage(
            "-j FILE needs --pool thread: process-pool workers are started once per slot \
             (give -j a number)",
        );
    }
    Ok(Sched {
        load: match load {
            None => None,
            Some(l) => Some(sched::parse_load(l, cpus).or_else(usage)?),
        },
        memfree: size("--memfree", memfree)?,
        memsuspend: size("--memsuspend", memsuspend)?,
        noswap: false,
        jobs_file,
        cpus,
    })
}

/// How many records go into one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batch {
    /// One record per task (the default).
    One,
    /// `-n N`: up to N records per task (N ≥ 2), fewer if the argument limit says so.
    MaxArgs(usize),
    /// `-X`: as many records as fit the OS argument limit (see `source::batch`).
    Fit,
}

/// The chunk modes' settings.
#[derive(Debug)]
pub struct ChunkConfig {
    /// Where the data comes from.
    pub mode: ChunkMode,
    /// `--block`: bytes per chunk, or chunks per job slot per file (`--pipe-part` only).
    pub block: BlockSize,
    /// `-N` (times `-L`): records per chunk instead of a size.
    pub lines: Option<u64>,
    /// `-L N` without `-N`: a record is N lines (chunks hold whole groups of N lines).
    pub group: u64,
    /// `--recend`/`--recstart` (default: the value delimiter, newline or NUL with `-0`).
    pub rec: RecordSpec,
    /// `--header`: leading records sent before every chunk.
    pub header: u64,
    /// `--header REGEX`: the header is what REGEX matches at the start instead.
    pub header_re: Option<chunk::HeaderRe>,
    /// `--pipe-part --shard K/N`: only the K-th of N contiguous, record-aligned byte ranges of
    /// the files is split (instead of every N-th task).
    pub part: Option<Shard>,
    /// `--cat`: each chunk (header first) is written to a temp file that `{}` names, removed
    /// when its task is done; the command's stdin is empty.
    pub cat: bool,
    /// `--round-robin`: one command per job slot, fed the chunks in turn.
    pub round_robin: bool,
    /// `--rrs`: the record separators are removed from each chunk.
    pub remove_rec_sep: bool,
    /// `--regexp`: records are split where these regular expressions match.
    pub regexp: Option<chunk::SplitRe>,
}

/// Where chunk data comes from.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunkMode {
    /// `--pipe`: stdin, or the one file given with `-a`/`::::`.
    Pipe(Option<PathBuf>),
    /// `--pipe-part`: these files, memory-mapped.
    PipePart(Vec<PathBuf>),
}

/// Job control and output shaping beyond the core. Shared by both pools.
#[derive(Debug, Default)]
pub struct JobControl {
    /// `--timeout`: a task's process group gets TERM after this, then KILL after a grace.
    pub timeout: Option<Duration>,
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

impl JobControl {
    /// Whether a task that failed `runs` times may run again.
    pub fn may_rerun(&self, runs: u32) -> bool {
        self.max_runs.is_none_or(|m| runs < m)
    }
}

/// Which tasks an existing job log makes parx skip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Resume {
    /// None: the log is started over.
    #[default]
    No,
    /// `--resume`: every logged task.
    All,
    /// `--resume-failed`: logged tasks that succeeded (failed ones run again).
    Failed,
}

/// Which pool runs the tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// One child process per task, supervised by `jobs` threads.
    Thread,
    /// `jobs` long-lived workers fed on stdin.
    Process,
}

/// The argument inputs.
#[derive(Debug)]
pub struct InputSpec {
    /// The sources, in command-line order (`-a` files first).
    pub sources: Vec<SourceSpec>,
    /// `--link`: zip every source, recycling the shorter ones.
    pub link_all: bool,
    /// The value terminator (newline, NUL with `-0`, or `-d`).
    pub delimiter: Vec<u8>,
    /// `--colsep`: each value is split into columns at the matches of this regex.
    pub colsep: Option<regex::bytes::Regex>,
    /// `-E`: this value ends each source.
    pub eof: Option<OsString>,
    /// `--trim`: blanks removed around values (and columns).
    pub trim: Trim,
    /// `-r`: values that are empty or only blanks are skipped.
    pub skip_empty: bool,
    /// `--skip-first-line`: the first value of the first source is not used.
    pub skip_first: bool,
    /// `--header :`: the first value of each source names its column (`{name}`).
    pub header: bool,
    /// `-L` (not in chunk modes): a value ending in a blank continues with the next value of
    /// its source (GNU parallel, xargs).
    pub continue_lines: bool,
}

/// `--trim`: which ends of a value lose their blanks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trim {
    /// Leading blanks.
    pub left: bool,
    /// Trailing blanks.
    pub right: bool,
}

impl Trim {
    /// Trims `v` (spaces and tabs, as GNU parallel).
    pub fn apply<'a>(&self, mut v: &'a [u8]) -> &'a [u8] {
        let blank = |c: &u8| *c == b' ' || *c == b'\t';
        if self.left {
            while v.first().is_some_and(blank) {
                v = &v[1..];
            }
        }
        if self.right {
            while v.last().is_some_and(blank) {
                v = &v[..v.len() - 1];
            }
        }
        v
    }
}

/// One input source.
#[derive(Debug)]
pub struct SourceSpec {
    /// What it reads.
    pub kind: SourceKind,
    /// Zipped with the previous source (`:::+`, `::::+`) instead of crossed with it.
    pub linked: bool,
}

/// What a source reads.
#[derive(Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// Literal values (`:::`).
    Values(Vec<OsString>),
    /// A file, one value per record (`::::`, `-a`).
    File(PathBuf),
    /// Standard input, one value per record.
    Stdin,
    /// `--walk` roots and filters: one value per selected entry.
    Walk(CompiledWalk),
}

/// Two input sources that are the same pipe or socket (`:::: /dev/stdin :::: /dev/stdin`, or
/// `-` and `/dev/stdin` with stdin a pipe): a product reads its later sources again and again,
/// and a pipe can be read only once — the second would be empty and the run would silently do
/// nothing (GNU parallel then runs each value of the first with an empty second). Returns the
/// error to give.
fn same_pipe_twice(sources: &[SourceSpec]) -> Option<String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut seen: Vec<((u64, u64), String)> = Vec::new();
    for s in sources {
        let (path, name) = match &s.kind {
            SourceKind::File(p) => (p.clone(), p.display().to_string()),
            SourceKind::Stdin => (PathBuf::from("/proc/self/fd/0"), "stdin (-)".to_owned()),
            _ => continue,
        };
        let Ok(m) = std::fs::metadata(&path) else {
            continue;
        };
        if !(m.file_type().is_fifo() || m.file_type().is_socket()) {
            continue;
        }
        let id = (m.dev(), m.ino());
        if let Some((_, first)) = seen.iter().find(|(i, _)| *i == id) {
            let what = if *first == name {
                format!("{name} is given as an input source twice")
            } else {
                format!("{first} and {name} are the same input")
            };
            return Some(format!(
                "{what}, but it is a pipe and can be read only once (save it to a file and give the file)"
            ));
        }
        seen.push((id, name));
    }
    None
}

impl Config {
    /// Validates the parsed command line.
    pub fn from_cli(cli: Cli) -> Result<Config, UsageError> {
        // Resources: the CPUs this process may use, and -j FILE.
        let cpus = crate::resources::usable_cpus();
        let (jobs, jobs_file) = jobs_option(cli.jobs.as_deref(), cpus)?;
        let jobs = if jobs == 0 {
            crate::sys::max_slots()
        } else {
            cap_jobs(jobs)?
        };
        refuse_unsupported(&cli)?;
        let more = more_replacements(&cli)?;
        let delimiter = match (&cli.delimiter, cli.null) {
            (Some(d), _) => parse_delimiter(d).map_err(|e| UsageError(format!("-d: {e}")))?,
            (None, true) => vec![0],
            (None, false) => vec![b'\n'],
        };
        let seps = Seps {
            arg: cli.arg_sep.clone().unwrap_or_else(|| ":::".into()),
            file: cli.arg_file_sep.clone().unwrap_or_else(|| "::::".into()),
        };
        let (command, trailing) = split_command(cli.command, &seps)?;
        if let Some(w) = command
            .iter()
            .find(|w| w.as_bytes().windows(2).any(|p| p == b"{="))
        {
            return usage(format!(
                "Perl expressions ({}) are not supported: use --plus's replacement strings, or \
                 compute the value in the command (e.g. $(...) in a shell command)",
                w.to_string_lossy()
            ));
        }
        // The `parallel` personality: GNU runs the words joined by spaces as shell code
        // (without -q, which quotes each word: the words as they are).
        let (command, force_shell) = if cli.gnu && !cli.quote && !command.is_empty() {
            (vec![join_words(&command)], true)
        } else {
            (command, cli.shell)
        };
        let mut sources: Vec<SourceSpec> = cli
            .arg_file
            .into_iter()
            .map(|f| SourceSpec {
                kind: file_source(f),
                linked: false,
            })
            .collect();
        if !cli.walk.is_empty() {
            let spec = WalkSpec {
                roots: cli.walk.into_iter().map(PathBuf::from).collect(),
                exts: cli.ext,
                globs: cli.glob,
                types: cli
                    .entry_type
                    .iter()
                    .map(|t| match t {
                        TypeArg::F => EntryType::File,
                        TypeArg::D => EntryType::Dir,
                        TypeArg::L => EntryType::Symlink,
                    })
                    .collect(),
                hidden: cli.hidden,
                follow: cli.follow,
                max_depth: cli.max_depth,
            };
            // Compiles the globs: a bad pattern is a usage error before anything runs.
            let walk = spec.compile().or_else(usage)?;
            // The walk comes first: it is the streamed source of a product.
            sources.insert(
                0,
                SourceSpec {
                    kind: SourceKind::Walk(walk),
                    linked: false,
                },
            );
        }
        sources.extend(trailing);
        if sources.is_empty() {
            sources.push(SourceSpec {
                kind: SourceKind::Stdin,
                linked: false,
            });
        }
        if sources
            .iter()
            .filter(|s| s.kind == SourceKind::Stdin)
            .count()
            > 1
        {
            return usage(
                "stdin (-) is given as an input source twice, but it can be read only once \
                 (save it to a file and give the file)",
            );
        }
        if let Some(msg) = same_pipe_twice(&sources) {
            return usage(msg);
        }
        let chunk_mode = cli.pipe || cli.pipe_part;
        // `--header :` in argument mode names columns; in chunk modes it is one header line.
        let (named_header, header_records) = match cli.header.as_deref() {
            None => (false, None),
            Some(":") if chunk_mode => (false, Some(1)),
            Some(":") => (true, None),
            Some(n) => match n.parse::<u64>() {
                Ok(n) => (false, Some(n)),
                // Chunk modes: a regular expression (GNU parallel).
                Err(_) if chunk_mode => (false, None),
                Err(_) => {
                    return usage(format!(
                        "invalid --header '{n}': use a number of records (chunk modes) or ':' \
                         (the first value names the column)"
                    ))
                }
            },
        };
        let chunk_opts = ChunkOpts {
            block: cli.block,
            records: if chunk_mode {
                cli.max_replace_args
            } else {
                None
            },
            lines: if chunk_mode { cli.max_lines } else { None },
            recend: cli.recend,
            recstart: cli.recstart,
            header: header_records,
            cat: cli.cat,
            round_robin: cli.round_robin,
            remove_rec_sep: cli.remove_rec_sep,
            regexp: cli.regexp,
            header_re: match cli.header.as_deref() {
                Some(re) if chunk_mode && re != ":" && re.parse::<u64>().is_err() => {
                    Some(chunk::HeaderRe::new(re).map_err(|e| {
                        let msg = e.to_string();
                        let reason = msg.lines().last().unwrap_or_default();
                        let reason = reason.strip_prefix("error: ").unwrap_or(reason);
                        UsageError(format!("invalid --header '{re}': {reason}"))
                    })?)
                }
                _ => None,
            },
        };
        let chunks = match (cli.pipe, cli.pipe_part) {
            (false, false) => {
                chunk_opts.refuse_outside_chunk_modes()?;
                None
            }
            (pipe, _) => Some(chunk_config(pipe, chunk_opts, &mut sources, &delimiter)?),
        };
        let syntax = Syntax {
            replace: match cli.replace.as_deref() {
                Some("") => return usage("-I needs a non-empty replacement string, e.g. -I {}"),
                r => r.map(|r| r.as_bytes().to_vec()),
            },
            plus: cli.plus,
            header: named_header,
            more,
        };
        let mut template = Template::with_syntax(&command, force_shell, &syntax).with_jobs(jobs);
        if let Some(c) = &chunks {
            if command.is_empty() {
                return usage(
                    "--pipe and --pipe-part need a command to run on each chunk \
                     (e.g. parx --pipe wc -l)",
                );
            }
            // (--cat: `{}` is the chunk's file.)
            if matches!(c.mode, ChunkMode::Pipe(_)) && template.uses_values() && !c.cat {
                return usage(
                    "{} and other value placeholders have no value under --pipe \
                     (the chunk is on stdin); {#} and {%} work",
                );
            }
            template = template.without_appending();
        }
        let pool = match cli.pool {
            PoolArg::Thread => PoolKind::Thread,
            PoolArg::Process if cli.cat => return usage(
                "--cat gives each chunk's file to a command of its own: it needs the thread pool",
            ),
            PoolArg::Process if cli.files => {
                return usage(
                    "--files stores each task's output in a file: it needs the thread pool \
                     (a worker's results are not tasks' outputs one by one)",
                )
            }
            PoolArg::Process => {
                check_worker_command(&template)?;
                PoolKind::Process
            }
        };
        if cli.max_tasks == Some(0) {
            return usage(
                "invalid --max-tasks 0: a worker runs at least 1 task (use --max-tasks N, N >= 1)",
            );
        }
        if cli.max_tasks.is_some() && pool != PoolKind::Process {
            return usage(
                "--max-tasks goes with --pool process (add --pool process, or drop --max-tasks)",
            );
        }
        let result_end = match &cli.result_end {
            None => None,
            Some(_) if pool != PoolKind::Process => {
                return usage("--result-end goes with --pool process")
            }
            Some(s) => match parse_delimiter(s).or_else(usage)?[..] {
                [b] => Some(b),
                _ => {
                    return usage(format!(
                        "invalid --result-end '{s}': one byte is needed (e.g. '\\0')"
                    ))
                }
            },
        };
        let framed = match (cli.framed, pool) {
            (false, _) => None,
            (true, PoolKind::Thread) => {
                return usage("--framed goes with --pool process (add --pool process)")
            }
            (true, PoolKind::Process) if chunk_mode => {
                return usage(
                    "--framed does not take chunks yet (--pipe, --pipe-part): use the line protocol, or give values",
                )
            }
            (true, PoolKind::Process) if cli.framed_out && (cli.tag || cli.tagstring.is_some()) => {
                return usage("--framed-out prints frames, which take no tag: drop --tag/--tagstring")
            }
            (true, PoolKind::Process) => Some(cli.framed_out),
        };
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
            template = template.with_replace(Replace::Plain);
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
        };
        let colsep = match &cli.colsep {
            None => None,
            Some(re) => Some(regex::bytes::Regex::new(re).map_err(|e| {
                // regex's message spans several lines (pattern, caret, reason): keep the reason.
                let msg = e.to_string();
                let reason = msg.lines().last().unwrap_or_default();
                let reason = reason.strip_prefix("error: ").unwrap_or(reason).to_owned();
                UsageError(format!("invalid --colsep '{re}': {reason}"))
            })?),
        };
        let mut sched = sched_config(
            (&cli.load, &cli.memfree, &cli.memsuspend),
            cpus,
            jobs_file,
            pool,
        )?;
        sched.noswap = cli.noswap;
        let dur = |opt: &str, v: &Option<String>| -> Result<Option<Duration>, UsageError> {
            v.as_deref()
                .map(|d| parse_duration(d).map_err(|e| UsageError(format!("{opt}: {e}"))))
                .transpose()
        };
        let (timeout, timeout_pct) = match cli.timeout.as_deref() {
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
                (None, Some(pct))
            }
            _ => (
                dur("--timeout", &cli.timeout)?.filter(|d| !d.is_zero()),
                None,
            ),
        };
        let (joblog, joblog_append) = joblog::split(cli.joblog);
        let jobs_ctl = JobControl {
            timeout,
            max_runs: match cli.retries {
                None => Some(1),
                Some(0) => None,
                Some(n) => Some(n),
            },
            halt: match &cli.halt {
                None => None,
                Some(h) => halt::parse(&gnu_halt(h)).or_else(usage)?,
            },
            joblog,
            joblog_append,
            retry_failed: cli.retry_failed,
            resume: match (cli.resume, cli.resume_failed || cli.retry_failed) {
                (_, true) => Resume::Failed,
                (true, false) => Resume::All,
                (false, false) => Resume::No,
            },
            delay: dur("--delay", &cli.delay)?.filter(|d| !d.is_zero()),
            shard: match &cli.shard {
                None => None,
                Some(s) => Some(crate::shard::parse(s, |k| std::env::var(k).ok()).or_else(usage)?),
            },
            tag: match (&cli.tagstring, cli.tag) {
                (Some(t), _) => Some(Template::new(std::slice::from_ref(t), false)),
                (None, true) => Some(Template::new(&[OsString::from("{}")], false)),
                (None, false) => None,
            },
            // -u: output as it comes; parx still never tears a line.
            line_buffer: cli.line_buffer || cli.ungroup,
            results: cli.results,
            files: cli.files && !cli.dry_run,
            bar: cli.bar,
            eta: cli.eta,
        };
        let slurm = match cli.slurm {
            None => None,
            Some(0) => return usage("--slurm 0: an array needs at least 1 task"),
            Some(_) if cli.slurm_throttle == Some(0) => {
                return usage("--slurm-throttle 0: at least 1 array task must run at once")
            }
            Some(_)
                if cli.slurm_arg.iter().any(|a| {
                    let a = a.to_string_lossy();
                    a == "-a"
                        || a.starts_with("--array")
                        || (a.starts_with("-a") && !a.starts_with("--"))
                }) =>
            {
                return usage(
                    "--slurm-arg=--array: parx chooses the array (index i runs share i+1 of N); \
                     to limit how many run at once use --slurm-throttle K",
                )
            }
            Some(tasks) => Some(SlurmConfig {
                tasks,
                sbatch_args: cli.slurm_arg,
                run_dir: cli.run_dir,
                throttle: cli.slurm_throttle,
                keep_run_dir: cli.keep_run_dir,
                cpus_per_task: cli
                    .jobs
                    .as_deref()
                    .and_then(|j| j.trim().parse::<u32>().ok())
                    .filter(|&j| j > 0),
            }),
        };
        let mut jobs_ctl = jobs_ctl;
        let mut chunks = chunks;
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
        let trim = match cli.trim.as_deref() {
            // GNU parallel trims the columns of --colsep on both sides unless told otherwise.
            None if cli.colsep.is_some() => Trim {
                left: true,
                right: true,
            },
            None | Some("n") => Trim::default(),
            Some("l") => Trim {
                left: true,
                right: false,
            },
            Some("r") => Trim {
                left: false,
                right: true,
            },
            Some("lr" | "rl") => Trim {
                left: true,
                right: true,
            },
            Some(t) => return usage(format!("invalid --trim '{t}': use n, l, r, lr or rl")),
        };
        let process_slot_var = match cli.process_slot_var {
            Some(v) if v.is_empty() || v.contains('=') => {
                return usage(format!(
                    "invalid --process-slot-var '{v}': a variable name, without '='"
                ))
            }
            v => v.map(OsString::from),
        };
        if let Some(d) = &cli.tmpdir {
            if !d.is_dir() {
                return usage(format!(
                    "--tmpdir {}: not a directory (give an existing directory)",
                    d.display()
                ));
            }
            // GNU parallel: --tmpdir is the same as setting $TMPDIR (parx's spill files and
            // the tasks'). Set here, before any thread of the run starts.
            std::env::set_var("TMPDIR", d);
        }
        let compat = Compat {
            limits,
            drop_values,
            print_command: cli.print_command > 0,
            verbose: cli.verbose,
            termseq,
            tmpdir: cli.tmpdir,
            nice: cli.nice,
            process_slot_var,
            timeout_pct,
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
            max_tasks: cli.max_tasks,
            result_end,
            framed,
            batch,
            chunks,
            slurm,
        })
    }

    /// The byte that ends a record sent to or read from a `--pool process` worker.
    pub fn record_end(&self) -> u8 {
        if self.input.delimiter == [0] {
            0
        } else {
            b'\n'
        }
    }

    /// Whether one-value tasks may travel in blocks (`TaskInput::Lines`): a process pool fed
    /// from one file or stdin whose values are exactly the records the workers read (the
    /// delimiter is the record terminator, nothing filters, splits, groups or renames them), and
    /// nothing needs the tasks one by one (a job-log row, a progress tick, a `--results`
    /// directory, a tag, a clock, a count per worker, a skip). Then the values are sent as
    /// they were read, with no task of their own: what makes the pool as fast as its workers.
    pub fn value_blocks(&self) -> bool {
        let i = &self.input;
        let jc = &self.jobs_ctl;
        self.pool == PoolKind::Process
            && !self.dry_run
            && !self.compat.shuf
            && self.chunks.is_none()
            && matches!(
                &i.sources[..],
                [SourceSpec {
                    kind: SourceKind::Stdin | SourceKind::File(_),
                    ..
                }]
            )
            && i.delimiter == [self.record_end()]
            && i.colsep.is_none()
            && i.eof.is_none()
            && i.trim == Trim::default()
            && !i.skip_empty
            && !i.skip_first
            && !i.header
            && !i.continue_lines
            && self.batch == Batch::One
            && !self.template.needs_total()
            && !self.compat.drop_values
            && !self.compat.print_command
            && !self.compat.verbose
            && self.compat.timeout_pct.is_none()
            && self.max_tasks.is_none()
            && jc.timeout.is_none()
            && jc.joblog.is_none()
            && jc.resume == Resume::No
            && jc.delay.is_none()
            && jc.shard.is_none()
            && jc.tag.is_none()
            && jc.results.is_none()
            && !jc.bar
            && !jc.eta
    }
}

/// A worker runs its command once: values arrive on stdin, so only `{%}` may appear.
fn check_worker_command(t: &Template) -> Result<(), UsageError> {
    if t.mode() == Mode::ValueIsCommand {
        return usage(
            "--pool process needs a worker command that reads values on its stdin \
             (e.g. parx --pool process ./worker.py ::: a b)",
        );
    }
    if let Some(ph) = t.placeholders().find(|p| *p != Placeholder::Slot) {
        return usage(format!(
            "--pool process: only {{%}} may appear in the worker command (found {}); values arrive on its stdin",
            describe_placeholder(ph)
        ));
    }
    Ok(())
}

fn describe_placeholder(p: Placeholder) -> String {
    use crate::template::{Col, Transform::*};
    match p {
        Placeholder::Seq => "{#}".into(),
        Placeholder::Slot => "{%}".into(),
        Placeholder::Total => "{##}".into(),
        Placeholder::SeqPad => "{0#}".into(),
        Placeholder::SlotPad => "{0%}".into(),
        Placeholder::Value { col, tr } => {
            let n = match col {
                None => String::new(),
                Some(Col::Pos(n)) => n.to_string(),
                Some(Col::Neg(n)) => format!("-{n}"),
                Some(Col::Named(_)) => return "a {name} placeholder".into(),
            };
            let t = match tr {
                Whole => "",
                NoExt => ".",
                Base => "/",
                Dir => "//",
                BaseNoExt => "/.",
                NoExt2 => "..",
                NoExt3 => "...",
                BaseNoExt2 => "/..",
                BaseNoExt3 => "/...",
                PlusDir => "+/",
                PlusExt => "+.",
                PlusExt2 => "+..",
                PlusExt3 => "+...",
                Op(_) => return format!("a {{{n}...}} placeholder"),
            };
            format!("{{{n}{t}}}")
        }
    }
}

/// The chunk options as given.
struct ChunkOpts {
    block: Option<String>,
    /// `-N`: records per chunk.
    records: Option<u64>,
    /// `-L`: lines per record.
    lines: Option<u64>,
    recend: Option<String>,
    recstart: Option<String>,
    header: Option<u64>,
    header_re: Option<chunk::HeaderRe>,
    cat: bool,
    round_robin: bool,
    remove_rec_sep: bool,
    regexp: bool,
}

impl ChunkOpts {
    fn refuse_outside_chunk_modes(&self) -> Result<(), UsageError> {
        let given = [
            (self.block.is_some(), "--block"),
            (self.recend.is_some(), "--recend"),
            (self.recstart.is_some(), "--recstart"),
            (self.header.is_some(), "--header"),
            (self.cat, "--cat"),
            (self.remove_rec_sep, "--rrs"),
        ];
        match given.iter().find(|(g, _)| *g) {
            Some((_, name)) => usage(format!(
                "{name} needs --pipe or --pipe-part (it sets how input is cut into chunks)"
            )),
            None => Ok(()),
        }
    }
}

/// Validates the chunk options and picks the data source.
fn chunk_config(
    pipe: bool,
    o: ChunkOpts,
    sources: &mut Vec<SourceSpec>,
    delimiter: &[u8],
) -> Result<ChunkConfig, UsageError> {
    if !pipe {
        // GNU parallel: `:::` values beside data files are ignored; alone, they name the files.
        let has_files = sources
            .iter()
            .any(|s| matches!(s.kind, SourceKind::File(_)));
        let mut ignored = Vec::new();
        let mut named = Vec::new();
        sources.retain(|s| match &s.kind {
            SourceKind::Values(v) => {
                if has_files {
                    ignored.extend(v.iter().map(|v| v.to_string_lossy().into_owned()));
                } else {
                    named.extend(v.iter().cloned());
                }
                false
            }
            _ => true,
        });
        if !ignored.is_empty() {
            eprintln!(
                "parx: warning: --pipe-part splits the -a/:::: files; the ::: values ({}) are not used",
                ignored.join(" ")
            );
        }
        sources.extend(named.into_iter().map(|f| SourceSpec {
            kind: SourceKind::File(f.into()),
            linked: false,
        }));
    }
    let sources = &sources[..];
    let files = || {
        sources.iter().map(|s| match &s.kind {
            SourceKind::File(p) => Ok(p.clone()),
            SourceKind::Stdin => Err("-"),
            SourceKind::Values(_) => Err(":::"),
            SourceKind::Walk(_) => Err("--walk"),
        })
    };
    let mode = if pipe {
        match sources {
            [SourceSpec {
                kind: SourceKind::Stdin,
                ..
            }] => ChunkMode::Pipe(None),
            [SourceSpec {
                kind: SourceKind::File(p),
                ..
            }] => ChunkMode::Pipe(Some(p.clone())),
            _ => {
                let (got, fix) = match sources {
                    [s] if matches!(s.kind, SourceKind::Values(_)) => {
                        ("::: values".to_owned(), "pipe the data in")
                    }
                    [s] if matches!(s.kind, SourceKind::Walk(_)) => {
                        ("--walk".to_owned(), "use --pipe-part for files")
                    }
                    more => (
                        format!("{} input sources", more.len()),
                        "use --pipe-part for several files",
                    ),
                };
                return usage(format!(
                    "--pipe reads stdin, or one file given with -a FILE or :::: FILE, not {got} \
                     ({fix})"
                ));
            }
        }
    } else {
        match files().collect::<Result<Vec<_>, _>>() {
            Ok(f) if sources.iter().all(|s| s.kind != SourceKind::Stdin) => ChunkMode::PipePart(f),
            Err("--walk") => {
                return usage("--pipe-part takes files given with -a or ::::, not --walk")
            }
            _ => {
                return usage(
                    "--pipe-part needs files given with -a FILE or :::: FILE (stdin cannot be \
                     mapped: use --pipe)",
                )
            }
        }
    };
    let block = match &o.block {
        // GNU parallel's --pipe-part default: 10 chunks per job slot (here at most 1M each).
        None if !pipe => BlockSize::PerSlotMax(10, 1 << 20),
        None => BlockSize::Bytes(1 << 20),
        Some(b) => parse_block_size(b).map_err(|e| UsageError(format!("--block: {e}")))?,
    };
    if pipe && matches!(block, BlockSize::PerSlot(_)) {
        return usage(format!(
            "--block {} (chunks per job slot) needs --pipe-part; give --pipe a size (e.g. 1M)",
            o.block.as_deref().unwrap_or_default()
        ));
    }
    if o.lines == Some(0) {
        return usage("invalid -L 0: a chunk holds at least 1 record (use -L N, N >= 1)");
    }
    if o.records == Some(0) {
        return usage("-N must be at least 1 (records per chunk)");
    }
    if o.block.is_some() && o.records.is_some() {
        return usage("--block and -N both size the chunks: use one");
    }
    let group = match (o.records, o.lines) {
        (None, Some(l)) if l > 1 => {
            if o.recend.is_some() || o.recstart.is_some() {
                return usage(
                    "-L counts lines: --recend/--recstart go with -N (records per chunk)",
                );
            }
            l
        }
        _ => 0,
    };
    let esc = |name: &str, v: &Option<String>| -> Result<Option<Vec<u8>>, UsageError> {
        match v.as_deref() {
            None => Ok(None),
            Some("") => Ok(Some(Vec::new())),
            // (--regexp: a regular expression, compiled below; kept as it is.)
            Some(t) if o.regexp => Ok(Some(t.as_bytes().to_vec())),
            Some(t) => parse_delimiter(t)
                .map(Some)
                .map_err(|e| UsageError(format!("{name}: {e}"))),
        }
    };
    let recstart = esc("--recstart", &o.recstart)?.filter(|r| !r.is_empty());
    let recend = match esc("--recend", &o.recend)? {
        Some(r) => r,
        None if recstart.is_some() => Vec::new(),
        None => delimiter.to_vec(),
    };
    // `--recend ''` without `--recstart` (GNU parallel): records are single bytes, so a chunk
    // ends exactly at its block size.
    // --regexp (GNU parallel): the two strings as they were given are regular expressions.
    let regexp = match o.regexp {
        false => None,
        true if group > 1 || o.header_re.is_some() => {
            return usage("--regexp splits records itself: not with -L or --header REGEX")
        }
        true => Some(
            chunk::SplitRe::new(o.recend.as_deref(), o.recstart.as_deref()).map_err(|e| {
                let msg = e.to_string();
                let reason = msg.lines().last().unwrap_or_default();
                let reason = reason.strip_prefix("error: ").unwrap_or(reason);
                UsageError(format!("--regexp: invalid --recend/--recstart: {reason}"))
            })?,
        ),
    };
    Ok(ChunkConfig {
        mode,
        block,
        // -N n with -L l: n*l records per chunk (GNU parallel).
        lines: o.records.map(|n| n.saturating_mul(o.lines.unwrap_or(1))),
        group,
        rec: RecordSpec { recend, recstart },
        header: o.header.unwrap_or(0),
        header_re: o.header_re,
        part: None,
        cat: o.cat,
        round_robin: o.round_robin,
        remove_rec_sep: o.remove_rec_sep,
        regexp,
    })
}

fn file_source(f: OsString) -> SourceKind {
    if f == "-" {
        SourceKind::Stdin
    } else {
        SourceKind::File(f.into())
    }
}

/// The source separators (`--arg-sep`, `--arg-file-sep`).
struct Seps {
    arg: OsString,
    file: OsString,
}

impl Seps {
    /// `Some((files?, linked?))` when `w` is a separator (`S` or `S+`).
    fn classify(&self, w: &[u8]) -> Option<(bool, bool)> {
        let is = |sep: &OsString, plus: bool| {
            let s = sep.as_bytes();
            if plus {
                w.len() == s.len() + 1 && w.starts_with(s) && w.ends_with(b"+")
            } else {
                w == s
            }
        };
        [(false, false), (false, true), (true, false), (true, true)]
            .into_iter()
            .find(|&(files, plus)| is(if files { &self.file } else { &self.arg }, plus))
    }
}

/// Splits the trailing words into the command and the `:::`-style sources. A linked
/// separator (`:::+`, `::::+`) first is a plain one: there is nothing before it to link to.
/// GNU parallel's `--extensionreplace` and friends: other strings for `{.}`, `{/}`, `{//}`,
/// `{/.}`, `{#}` and `{%}`.
fn more_replacements(cli: &Cli) -> Result<Vec<(Vec<u8>, Placeholder)>, UsageError> {
    use crate::template::Transform;
    let value = |tr| Placeholder::Value { col: None, tr };
    let pairs = [
        (
            &cli.ext_replace,
            "--extensionreplace",
            value(Transform::NoExt),
        ),
        (
            &cli.base_replace,
            "--basenamereplace",
            value(Transform::Base),
        ),
        (&cli.dir_replace, "--dirnamereplace", value(Transform::Dir)),
        (
            &cli.base_ext_replace,
            "--basenameextensionreplace",
            value(Transform::BaseNoExt),
        ),
        (&cli.seq_replace, "--seqreplace", Placeholder::Seq),
        (&cli.slot_replace, "--slotreplace", Placeholder::Slot),
    ];
    let mut out = Vec::new();
    for (s, opt, ph) in pairs {
        match s.as_deref() {
            Some("") => return usage(format!("{opt} needs a non-empty string")),
            Some(s) => out.push((s.as_bytes().to_vec(), ph)),
            None => {}
        }
    }
    Ok(out)
}

/// Words joined by single spaces (GNU parallel's command line).
fn join_words(words: &[OsString]) -> OsString {
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(w.as_bytes());
    }
    OsString::from_vec(out)
}

fn split_command(
    words: Vec<OsString>,
    seps: &Seps,
) -> Result<(Vec<OsString>, Vec<SourceSpec>), UsageError> {
    let mut command = Vec::new();
    let mut sources: Vec<SourceSpec> = Vec::new();
    // The separator in force: (files?, linked?)
    let mut current: Option<(bool, bool)> = None;
    for w in words {
        let sep = seps.classify(w.as_bytes());
        if let Some((files, linked)) = sep {
            if !files {
                sources.push(SourceSpec {
                    kind: SourceKind::Values(Vec::new()),
                    linked,
                });
            }
            current = Some((files, linked));
            continue;
        }
        match current {
            None => command.push(w),
            Some((false, _)) => match sources.last_mut() {
                Some(SourceSpec {
                    kind: SourceKind::Values(v),
                    ..
                }) => v.push(w),
                _ => unreachable!("a ::: source is pushed when its separator is seen"),
            },
            Some((true, linked)) => sources.push(SourceSpec {
                kind: file_source(w),
                linked,
            }),
        }
    }
    if let Some((true, _)) = current {
        if !matches!(
            sources.last(),
            Some(SourceSpec {
                kind: SourceKind::File(_) | SourceKind::Stdin,
                ..
            })
        ) {
            return usage(":::: needs at least one file after it (:::: FILE, or :::: - for stdin)");
        }
    }
    Ok((command, sources))
}

/// Caps `-j N` by what the process's limits allow (issue 11): one note when it lowers it, a
/// usage error when not even one task could run.
fn cap_jobs(jobs: usize) -> Result<usize, UsageError> {
    let (cap, limit) = crate::sys::slot_limit();
    if jobs <= cap.min(MAX_JOBS) {
        return Ok(jobs);
    }
    if cap >= MAX_JOBS {
        crate::messages::note(format_args!(
            "-j {jobs} lowered to {MAX_JOBS}, the most parx runs at once"
        ));
        return Ok(MAX_JOBS);
    }
    let limit = limit.unwrap_or_default();
    if cap == 0 {
        return Err(UsageError(format!(
            "{limit} leaves no room to run a task: raise the limit"
        )));
    }
    crate::messages::note(format_args!(
        "-j {jobs} lowered to {cap}: {limit} allows no more slots (raise it for more)"
    ));
    Ok(cap)
}

/// Parses `-j`: `N`, `N%` of the CPUs, `+N`/`-N` relative to the CPU count (at least 1);
/// `0` (as many as possible) is returned as 0. The number is as typed: the caller caps it
/// ([`MAX_JOBS`], the limits).
pub fn parse_jobs(s: &str, cpus: usize) -> Result<usize, String> {
    let bad = || format!("invalid -j '{s}': use N, N%, +N, -N or 0 (as many as possible)");
    let num = |t: &str| t.parse::<usize>().map_err(|_| bad());
    let n = if let Some(p) = s.strip_suffix('%') {
        (cpus.saturating_mul(num(p)?) / 100).max(1)
    } else if let Some(p) = s.strip_prefix('+') {
        cpus.saturating_add(num(p)?)
    } else if let Some(p) = s.strip_prefix('-') {
        cpus.saturating_sub(num(p)?).max(1)
    } else {
        // 0: as many as possible (the caller decides how many that is).
        num(s)?
    };
    Ok(n)
}

/// The most slots parx runs at once (a bigger `-j` is lowered to it, with a note).
pub const MAX_JOBS: usize = 65536;

/// Parses a `-d` delimiter with escapes `\n \t \r \0 \\ \xHH`.
pub fn parse_delimiter(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = *b.get(i + 1).ok_or_else(|| {
            format!("invalid delimiter '{s}': trailing backslash (write \\\\ for a backslash)")
        })?;
        i += 2;
        out.push(match c {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'0' => 0,
            b'\\' => b'\\',
            b'x' => {
                let hex = b.get(i..i + 2).and_then(|h| std::str::from_utf8(h).ok());
                let v = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("invalid delimiter '{s}': \\x needs two hex digits"))?;
                i += 2;
                v
            }
            _ => {
                let c = c as char;
                return Err(format!(
                    "invalid delimiter '{s}': unknown escape \\{c} \
                     (use \\n \\t \\r \\0 \\\\ or \\xHH)"
                ));
            }
        });
    }
    if out.is_empty() {
        return Err("the delimiter must not be empty (e.g. -d , or -0 for NUL)".into());
    }
    Ok(out)
}

/// GNU parallel's older `--halt` forms: `0` `1` `2` `-1` `-2` and `N%`.
fn gnu_halt(h: &str) -> String {
    match h {
        "0" => "never".into(),
        "1" => "soon,fail=1".into(),
        "2" => "now,fail=1".into(),
        "-1" => "soon,success=1".into(),
        "-2" => "now,success=1".into(),
        _ if h.ends_with('%') && h[..h.len() - 1].parse::<f64>().is_ok() => {
            format!("soon,fail={h}")
        }
        _ => h.into(),
    }
}

/// `--termseq SIG,MS,SIG,MS,...,SIG`: signal names (TERM, SIGTERM) or numbers, each but the
/// last followed by the milliseconds to wait before the next. GNU's default is
/// TERM,200,TERM,100,TERM,50,KILL,25.
pub fn parse_termseq(s: &str) -> Result<Vec<(i32, Duration)>, String> {
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

/// GNU parallel options parx does not have: one line saying what to use instead.
fn refuse_unsupported(cli: &Cli) -> Result<(), UsageError> {
    if let Some(tool) = &cli.as_tool {
        return usage(format!(
            "--as {tool} must be the first argument (parx --as {tool} ...): what follows it is \
             {tool}'s command line"
        ));
    }
    if cli.remote.is_some() || cli.remote_flag {
        return usage(
            "--sshlogin and GNU parallel's other remote options are not supported: parx runs on \
             one machine; spread work over machines with --shard K/N (or --shard auto in an \
             array job), see the README's cluster section",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_forms() {
        assert_eq!(parse_jobs("3", 2), Ok(3));
        assert_eq!(parse_jobs("50%", 4), Ok(2));
        assert_eq!(parse_jobs("10%", 2), Ok(1));
        assert_eq!(parse_jobs("+2", 2), Ok(4));
        assert_eq!(parse_jobs("-1", 2), Ok(1));
        assert_eq!(parse_jobs("-5", 2), Ok(1));
        assert_eq!(parse_jobs("0", 2), Ok(0));
        assert!(parse_jobs("x", 2).is_err());
        assert!(parse_jobs("", 2).is_err());
        assert!(parse_jobs("%", 2).is_err());
    }

    /// Values travel in blocks only when nothing needs them one task at a time.
    #[test]
    fn value_blocks_only_when_no_task_is_needed_alone() {
        use clap::Parser;
        let blocks = |args: &[&str]| {
            let cli = crate::cli::Cli::try_parse_from(
                ["parx", "--pool", "process"]
                    .into_iter()
                    .chain(args.iter().copied()),
            )
            .expect("valid command line");
            Config::from_cli(cli).expect("valid config").value_blocks()
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
        ] {
            assert!(!blocks(one_by_one), "{one_by_one:?}");
        }
    }

    #[test]
    fn delimiters() {
        assert_eq!(parse_delimiter(","), Ok(b",".to_vec()));
        assert_eq!(parse_delimiter("\\t"), Ok(b"\t".to_vec()));
        assert_eq!(parse_delimiter("\\0"), Ok(vec![0]));
        assert_eq!(parse_delimiter("\\x1f"), Ok(vec![0x1f]));
        assert_eq!(parse_delimiter("ab\\n"), Ok(b"ab\n".to_vec()));
        assert!(parse_delimiter("").is_err());
        assert!(parse_delimiter("\\").is_err());
        assert!(parse_delimiter("\\xZZ").is_err());
        assert!(parse_delimiter("\\q").is_err());
    }

    #[test]
    fn sources_split_from_command() {
        let w = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        let seps = Seps {
            arg: ":::".into(),
            file: "::::".into(),
        };
        let (cmd, src) = split_command(
            w(&["echo", "{}", ":::", "a", "b", ":::+", "1", "::::", "f", "-"]),
            &seps,
        )
        .unwrap();
        assert_eq!(cmd, w(&["echo", "{}"]));
        assert_eq!(src.len(), 4);
        assert_eq!(src[0].kind, SourceKind::Values(w(&["a", "b"])));
        assert!(src[1].linked);
        assert_eq!(src[2].kind, SourceKind::File("f".into()));
        assert_eq!(src[3].kind, SourceKind::Stdin);
        assert!(split_command(w(&[":::+", "a"]), &seps).is_ok());
        assert!(split_command(w(&["echo", "::::"]), &seps).is_err());
    }
}
