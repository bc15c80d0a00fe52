//! The command line, as clap sees it. Parsed once and turned into a [`crate::config::Config`];
//! nothing outside this module and `config.rs` sees clap types.

use std::ffi::OsString;

use clap::{Parser, ValueEnum};

const USAGE: &str = "parx [OPTIONS] [COMMAND [ARG]...] [::: VALUES... | :::+ VALUES... | :::: FILES... | ::::+ FILES...]...";

const AFTER_HELP: &str = "\
Inputs: each line of stdin is a value, unless sources are given: `::: a b` (literal values),
`:::: FILE` or `-a FILE` (one value per line; `-` is stdin). Several sources combine as a
cartesian product (first varies slowest); `:::+`/`::::+` link a source to the previous one.

Placeholders: {} value, {.} no extension, {/} basename, {//} dirname, {/.} basename without
extension, {#} sequence number, {%} job slot, {N} {N.} {N/} {N//} {N/.} the Nth source.
Without placeholders the values are appended. Separate words run without a shell; one word
with spaces or shell syntax (or -s) runs with `sh -c`, every value single-quoted.

Exit status: 0 all succeeded; 1-100 that many failed; 101 more than 100 failed;
130/143 interrupted; 255 parx's own error.

Examples:
  find . -name '*.png' -print0 | parx -0 optipng
  parx -k echo {//} {} ::: a a/b a/b/c
  parx 'gzip -9 {} && echo done {}' ::: *.log
  zcat big.gz | parx --pipe -k grep ERROR
  parx --pipe-part -a big.log --block 16M -k wc -l";

/// The raw command line.
#[derive(Parser, Debug)]
#[command(
    name = "parx",
    version,
    about = "Run a command in parallel over arguments, files and chunks of input",
    override_usage = USAGE,
    after_help = AFTER_HELP,
    max_term_width = 100
)]
pub struct Cli {
    /// Job slots: N, N% of the CPUs, +N or -N relative to the CPU count, or FILE (re-read as tasks end) [default: CPUs this process may use]
    #[arg(
        short = 'j',
        long = "jobs",
        value_name = "N",
        allow_hyphen_values = true
    )]
    pub jobs: Option<String>,

    /// Print outputs in input order (default: as tasks complete)
    #[arg(short = 'k', long = "keep-order")]
    pub keep_order: bool,

    /// Read values from FILE, one per line (`-` is stdin); repeatable
    #[arg(short = 'a', long = "arg-file", value_name = "FILE")]
    pub arg_file: Vec<OsString>,

    /// Values end with NUL instead of newline
    #[arg(short = '0', long = "null", conflicts_with = "delimiter")]
    pub null: bool,

    /// Values end with DELIM (escapes: \n \t \r \0 \\ \xHH)
    #[arg(short = 'd', long = "delimiter", value_name = "DELIM")]
    pub delimiter: Option<String>,

    /// Link all sources (zip), recycling the shorter ones
    #[arg(long)]
    pub link: bool,

    /// Run the command through `sh -c` (values single-quoted)
    #[arg(short = 's', long)]
    pub shell: bool,

    /// Print each command instead of running it
    #[arg(long)]
    pub dry_run: bool,

    /// Split each value into columns {1} {2} ... at matches of REGEX
    #[arg(long, value_name = "REGEX", allow_hyphen_values = true)]
    pub colsep: Option<String>,

    /// Up to N values per command (N records with several sources)
    #[arg(
        short = 'n',
        long = "max-args",
        value_name = "N",
        conflicts_with = "xargs"
    )]
    pub max_args: Option<usize>,

    /// As many values per command as fit the OS argument limit (context replace: a{}b per value)
    #[arg(short = 'X')]
    pub xargs: bool,

    /// Walk PATH: every entry under it is a value (repeatable)
    #[arg(
        long,
        value_name = "PATH",
        help_heading = "Walking",
        allow_hyphen_values = true
    )]
    pub walk: Vec<OsString>,

    /// Only entries with extension EXT (repeatable)
    #[arg(
        long,
        value_name = "EXT",
        requires = "walk",
        help_heading = "Walking",
        allow_hyphen_values = true
    )]
    pub ext: Vec<OsString>,

    /// Only entries whose path relative to PATH matches PATTERN (repeatable; `**` crosses `/`)
    #[arg(
        long,
        value_name = "PATTERN",
        requires = "walk",
        help_heading = "Walking",
        allow_hyphen_values = true
    )]
    pub glob: Vec<String>,

    /// Entry type: f file, d directory, l symlink (repeatable) [default: f]
    #[arg(
        long = "type",
        value_enum,
        value_name = "TYPE",
        requires = "walk",
        help_heading = "Walking"
    )]
    pub entry_type: Vec<TypeArg>,

    /// Include entries whose name starts with a dot
    #[arg(long, requires = "walk", help_heading = "Walking")]
    pub hidden: bool,

    /// Follow symbolic links
    #[arg(long, requires = "walk", help_heading = "Walking")]
    pub follow: bool,

    /// Descend at most N levels (1: PATH's direct children)
    #[arg(long, value_name = "N", requires = "walk", help_heading = "Walking")]
    pub max_depth: Option<usize>,
    /// Chunk mode: stdin is data, split into record-aligned chunks fed to the command's stdin
    #[arg(long, conflicts_with = "pipe_part", help_heading = "Chunk modes")]
    pub pipe: bool,

    /// Chunk mode: the -a/:::: files are data, memory-mapped and split in place
    #[arg(long = "pipe-part", alias = "pipepart", help_heading = "Chunk modes")]
    pub pipe_part: bool,

    /// Target chunk size [default: 1M]; K M G T are powers of 1024, k m g t of 1000;
    /// -N: N chunks per job slot per file (--pipe-part)
    #[arg(
        long,
        value_name = "SIZE",
        allow_hyphen_values = true,
        help_heading = "Chunk modes"
    )]
    pub block: Option<String>,

    /// N records per chunk instead of a size
    #[arg(
        short = 'L',
        long = "lines",
        value_name = "N",
        conflicts_with = "block",
        help_heading = "Chunk modes"
    )]
    pub lines: Option<u64>,

    /// Record terminator [default: \n, NUL with -0] (escapes: \n \t \r \0 \\ \xHH)
    #[arg(long, value_name = "STR", help_heading = "Chunk modes")]
    pub recend: Option<String>,

    /// Records begin with STR (chunks are split only before it)
    #[arg(long, value_name = "STR", help_heading = "Chunk modes")]
    pub recstart: Option<String>,

    /// The first N records are a header, sent at the start of every chunk
    #[arg(long, value_name = "N", help_heading = "Chunk modes")]
    pub header: Option<u64>,

    /// How tasks run: a child process per task, or long-lived workers fed on stdin
    #[arg(long, value_enum, value_name = "KIND", default_value_t = PoolArg::Thread)]
    pub pool: PoolArg,

    /// With --pool process: restart a worker after it has been sent N tasks
    #[arg(long, value_name = "N")]
    pub max_tasks: Option<u64>,
    /// Kill a task (its whole process group: TERM, then KILL) after DUR (500ms, 30s, 2m, 1.5)
    #[arg(long, value_name = "DUR", help_heading = "Job control")]
    pub timeout: Option<String>,

    /// Run a failed task up to N more times; only the last attempt's output is printed
    #[arg(long, value_name = "N", help_heading = "Job control")]
    pub retries: Option<u32>,

    /// When to stop early: never, soon|now,fail=N|success=N|done=N (N or N%)
    #[arg(long, value_name = "WHEN,WHY=N", help_heading = "Job control")]
    pub halt: Option<String>,

    /// Log every finished task to FILE (GNU parallel's TSV columns)
    #[arg(long, value_name = "FILE", help_heading = "Job control")]
    pub joblog: Option<std::path::PathBuf>,

    /// With --joblog: skip tasks already in the log
    #[arg(long, requires = "joblog", help_heading = "Job control")]
    pub resume: bool,

    /// With --joblog: skip tasks logged as succeeded, rerun those logged as failed
    #[arg(long, requires = "joblog", help_heading = "Job control")]
    pub resume_failed: bool,

    /// Pause DUR between task starts
    #[arg(long, value_name = "DUR", help_heading = "Job control")]
    pub delay: Option<String>,

    /// Run only share K of N (task seq s runs iff (s-1) % N == K-1); `auto` reads array-job variables
    #[arg(long, value_name = "K/N|auto", help_heading = "Job control")]
    pub shard: Option<String>,

    // ---- Resources (issue 13): --load, --memfree, --memsuspend (-j FILE is under --jobs) ----
    /// Start a task only while fewer than MAX processes run on the machine (N, N%/+N/-N of the CPUs)
    #[arg(
        long,
        value_name = "MAX",
        allow_hyphen_values = true,
        help_heading = "Resources"
    )]
    pub load: Option<String>,

    /// Start a task only while SIZE memory is available; below SIZE/2 the youngest task is killed and run again later
    #[arg(long, value_name = "SIZE", help_heading = "Resources")]
    pub memfree: Option<String>,

    /// Stop (SIGSTOP) the youngest tasks while less than 2×SIZE memory is available; continue them when it is back
    #[arg(long, value_name = "SIZE", help_heading = "Resources")]
    pub memsuspend: Option<String>,

    /// Prefix each output line with the task's values and a TAB
    #[arg(long, help_heading = "Output")]
    pub tag: bool,

    /// Prefix each output line with STR (placeholders expanded) and a TAB
    #[arg(long, value_name = "STR", help_heading = "Output")]
    pub tagstring: Option<OsString>,

    /// Print whole lines as they come, from all tasks at once (never torn)
    #[arg(long, help_heading = "Output")]
    pub line_buffer: bool,

    /// Also store each task's stdout, stderr and exit status under DIR/<seq>/
    #[arg(long, value_name = "DIR", help_heading = "Output")]
    pub results: Option<std::path::PathBuf>,

    /// Show a progress bar on stderr (only when stderr is a terminal)
    #[arg(long, help_heading = "Output")]
    pub bar: bool,

    /// Show progress with an estimated time left on stderr (only when stderr is a terminal)
    #[arg(long, help_heading = "Output")]
    pub eta: bool,

    /// The command and its arguments, then the input sources (`:::`, `:::+`, `::::`, `::::+`)
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        num_args = 0..
    )]
    pub command: Vec<OsString>,
}

/// `--pool` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PoolArg {
    /// One child process per task, supervised by -j threads
    Thread,
    /// -j long-lived workers, tasks streamed to their stdin
    Process,
}

/// `--type` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TypeArg {
    /// Regular file
    F,
    /// Directory
    D,
    /// Symbolic link (without --follow)
    L,
}

/// The clap command (for the man page and completions).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
