//! The command line, as clap sees it. Parsed once and turned into a [`crate::config::Config`];
//! nothing outside this module and `config.rs` sees clap types.

use std::ffi::OsString;

use clap::{Parser, ValueEnum};

const USAGE: &str = "parx [OPTIONS] [COMMAND [ARG]...] [::: VALUES... | :::+ VALUES... | :::: FILES... | ::::+ FILES...]...";

// The text shared by `--help` and the man page lives in `doc/*.txt`, once (the man page
// generator in `xtask/src/gen.rs` reads the same constants).

/// The DESCRIPTION: shown by `--help` above the options and by the man page.
pub const DESCRIPTION: &str = include_str!("../doc/description.txt");
/// The EXAMPLES: a description line (indent 2), then its command (indent 4).
pub const EXAMPLES: &str = include_str!("../doc/examples.txt");
/// The EXIT STATUS: `TERM  definition` lines (indent 2), continuation lines indented deeper.
pub const EXIT_STATUS: &str = include_str!("../doc/exit-status.txt");
/// The ENVIRONMENT: same layout as [`EXIT_STATUS`].
pub const ENVIRONMENT: &str = include_str!("../doc/environment.txt");
/// The SEE ALSO line of the man page.
pub const SEE_ALSO: &str = include_str!("../doc/see-also.txt");

const AFTER_HELP: &str = concat!(
    "Examples:\n",
    include_str!("../doc/examples.txt"),
    "\nMore (inputs, placeholders, exit status, environment): parx --help, man parx"
);

const AFTER_LONG_HELP: &str = concat!(
    "Exit status:\n",
    include_str!("../doc/exit-status.txt"),
    "\nEnvironment:\n",
    include_str!("../doc/environment.txt"),
    "\nExamples:\n",
    include_str!("../doc/examples.txt"),
);

/// The raw command line.
#[derive(Parser, Debug)]
#[command(
    name = "parx",
    version,
    about = "Run a command in parallel over arguments, files and chunks of input",
    override_usage = USAGE,
    long_about = DESCRIPTION,
    after_help = AFTER_HELP,
    after_long_help = AFTER_LONG_HELP,
    max_term_width = 100,
    group = clap::ArgGroup::new("resume_from").args(["joblog", "run_dir"]).multiple(true)
)]
pub struct Cli {
    /// Job slots: N, N% of the CPUs, +N or -N relative to the CPU count, or FILE (re-read as tasks end) [default: CPUs this process may use]
    #[arg(
        short = 'j',
        long = "jobs",
        short_alias = 'P',
        alias = "max-procs",
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

    /// Run the command through `sh -c` (values quoted)
    #[arg(long)]
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
        conflicts_with = "context_x"
    )]
    pub max_args: Option<usize>,

    /// As many values per command as fit the line limit (context replace: a{}b per value)
    #[arg(short = 'X')]
    pub context_x: bool,

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

    /// Chunk modes: N records per chunk instead of a size; else N values per command with {N}
    /// the Nth (GNU's max-replace-args)
    #[arg(short = 'N', long = "max-replace-args", value_name = "N")]
    pub max_replace_args: Option<u64>,

    /// Chunk modes: a record is N lines (FASTQ: -L 4); else N input lines per command
    #[arg(short = 'L', long = "max-lines", value_name = "N")]
    pub max_lines: Option<u64>,

    /// Record terminator [default: \n, NUL with -0] (escapes: \n \t \r \0 \\ \xHH)
    #[arg(long, value_name = "STR", help_heading = "Chunk modes")]
    pub recend: Option<String>,

    /// Records begin with STR (chunks are split only before it)
    #[arg(long, value_name = "STR", help_heading = "Chunk modes")]
    pub recstart: Option<String>,

    /// Chunk modes: the first N records are a header, sent at the start of every chunk;
    /// `:` with argument sources: the first value names the column ({name})
    #[arg(long, value_name = "N|:", help_heading = "Chunk modes")]
    pub header: Option<String>,

    /// How tasks run: a child process per task, or long-lived workers fed on stdin (process:
    /// a worker answers each record it reads with exactly one result, in order)
    #[arg(long, value_enum, value_name = "KIND", default_value_t = PoolArg::Thread)]
    pub pool: PoolArg,

    /// With --pool process: restart a worker after it has been sent N tasks
    #[arg(long, value_name = "N")]
    pub max_tasks: Option<u64>,

    /// With --pool process: each result ends with SEP instead of the record terminator, so a
    /// result may span lines; printed without SEP (escapes: \n \t \r \0 \\ \xHH)
    #[arg(long, value_name = "SEP")]
    pub result_end: Option<String>,
    /// Kill a task (its whole process group: TERM, then KILL) after DUR (500ms, 30s, 2m, 1.5)
    #[arg(long, value_name = "DUR", help_heading = "Job control")]
    pub timeout: Option<String>,

    /// Run a failed task up to N times in all (0: until it succeeds); only the last attempt's
    /// output is printed
    #[arg(long, value_name = "N", help_heading = "Job control")]
    pub retries: Option<u32>,

    /// When to stop early: never, soon|now,fail=N|success=N|done=N (N or N%); GNU's 0 1 2 -1 -2 N%
    #[arg(
        long,
        value_name = "WHEN,WHY=N",
        allow_hyphen_values = true,
        help_heading = "Job control"
    )]
    pub halt: Option<String>,

    /// Log every finished task to FILE (GNU parallel's TSV columns; `-`: stdout)
    #[arg(long, value_name = "FILE", help_heading = "Job control")]
    pub joblog: Option<std::path::PathBuf>,

    /// With --joblog (or --slurm --run-dir): skip tasks already in the log
    #[arg(long, requires = "resume_from", help_heading = "Job control")]
    pub resume: bool,

    /// With --joblog (or --slurm --run-dir): skip tasks logged as succeeded, rerun failed ones
    #[arg(long, requires = "resume_from", help_heading = "Job control")]
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
    #[arg(long, alias = "lb", help_heading = "Output")]
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

    // --- Cluster (issue 16): --slurm and its options; see src/cluster/. ---
    /// Submit one Slurm array of N tasks, each running this share of the tasks, then wait and
    /// print the merged output (parx must be on storage every node sees)
    #[arg(long, value_name = "N", help_heading = "Cluster")]
    pub slurm: Option<u32>,

    /// Pass ARG to sbatch (repeatable), e.g. --slurm-arg=--time=10 --slurm-arg=-pshort
    #[arg(
        long,
        value_name = "ARG",
        requires = "slurm",
        allow_hyphen_values = true,
        help_heading = "Cluster"
    )]
    pub slurm_arg: Vec<OsString>,

    /// The --slurm run directory (outputs, job logs, status); default: a new one in the
    /// current directory. Give it again with --resume or --resume-failed to continue a run
    #[arg(long, value_name = "DIR", requires = "slurm", help_heading = "Cluster")]
    pub run_dir: Option<std::path::PathBuf>,
    // --- end of Cluster ---
    // --- Compatibility: GNU parallel and xargs spellings (DESIGN.md "Compatibility") ---
    /// At most N characters per command line (-X, -m, -n)
    #[arg(
        short = 's',
        long = "max-chars",
        value_name = "N",
        help_heading = "Compatibility"
    )]
    pub max_chars: Option<usize>,

    /// Several values per command, up to the line limit, spread over the slots at the end
    #[arg(short = 'm', help_heading = "Compatibility")]
    pub multi: bool,

    /// Several values per command, up to the line limit (xargs' packing)
    #[arg(long = "xargs", help_heading = "Compatibility")]
    pub xargs: bool,

    /// Exit if a command line would exceed the -s size (xargs -x)
    #[arg(short = 'x', long = "exit", help_heading = "Compatibility")]
    pub exit_on_size: bool,

    /// Print each command on stdout before its output
    #[arg(short = 'v', help_heading = "Compatibility")]
    pub print_command: bool,

    /// Print each command on stderr before it runs
    #[arg(short = 't', long = "verbose", help_heading = "Compatibility")]
    pub verbose: bool,

    /// Skip values that are empty or only blanks
    #[arg(short = 'r', long = "no-run-if-empty", help_heading = "Compatibility")]
    pub no_run_if_empty: bool,

    /// STR replaces {} as the value placeholder
    #[arg(short = 'I', value_name = "STR", help_heading = "Compatibility")]
    pub replace: Option<String>,

    /// The value STR ends the input
    #[arg(
        short = 'E',
        long = "eof",
        value_name = "STR",
        help_heading = "Compatibility"
    )]
    pub eof: Option<OsString>,

    /// Trim blanks around values: n (none), l, r, lr, rl
    #[arg(long, value_name = "n|l|r|lr|rl", help_heading = "Compatibility")]
    pub trim: Option<String>,

    /// GNU parallel's extra replacement strings ({..} {+.} {##} {0#} {:-x} {#re} {%re} ...)
    #[arg(long, help_heading = "Compatibility")]
    pub plus: bool,

    /// The first value is not used
    #[arg(long, help_heading = "Compatibility")]
    pub skip_first_line: bool,

    /// STR instead of ::: (and STR+ instead of :::+)
    #[arg(long, value_name = "STR", help_heading = "Compatibility")]
    pub arg_sep: Option<OsString>,

    /// STR instead of :::: (and STR+ instead of ::::+)
    #[arg(long, value_name = "STR", help_heading = "Compatibility")]
    pub arg_file_sep: Option<OsString>,

    /// Output as it comes, not grouped (lines of different tasks may mix)
    #[arg(short = 'u', long = "ungroup", help_heading = "Compatibility")]
    pub ungroup: bool,

    /// Signals (and milliseconds between them) that end a task: SIG,MS,SIG,MS,...,SIG
    #[arg(long, value_name = "SEQ", help_heading = "Compatibility")]
    pub termseq: Option<String>,

    /// Where output spills to disk [default: $TMPDIR]
    #[arg(long, value_name = "DIR", help_heading = "Compatibility")]
    pub tmpdir: Option<std::path::PathBuf>,

    /// Run tasks under nice N
    #[arg(
        long,
        value_name = "N",
        allow_hyphen_values = true,
        help_heading = "Compatibility"
    )]
    pub nice: Option<i32>,

    /// xargs: NAME holds the job slot number in each task's environment
    #[arg(long, value_name = "NAME", help_heading = "Compatibility")]
    pub process_slot_var: Option<String>,

    /// Accepted for GNU parallel (values are never shell syntax in exec mode already)
    #[arg(short = 'q', long = "quote", help_heading = "Compatibility")]
    pub quote: bool,

    /// Accepted for GNU parallel; no effect
    #[arg(long, hide = true)]
    pub will_cite: bool,

    /// Accepted for GNU parallel; no effect
    #[arg(long, hide = true)]
    pub no_notice: bool,

    /// Accepted for GNU parallel (grouped output is the default); no effect
    #[arg(long, hide = true)]
    pub group: bool,

    /// GNU parallel's remote options: refused (parx runs on one machine; see --shard)
    #[arg(
        short = 'S',
        long = "sshlogin",
        alias = "sshloginfile",
        alias = "slf",
        alias = "transferfile",
        alias = "return",
        alias = "basefile",
        alias = "bf",
        alias = "workdir",
        alias = "wd",
        alias = "controlmaster",
        alias = "trc",
        alias = "ssh",
        value_name = "X",
        hide = true
    )]
    pub remote: Option<String>,

    /// GNU parallel's remote flags: refused (parx runs on one machine; see --shard)
    #[arg(
        long = "transfer",
        alias = "cleanup",
        alias = "nonall",
        alias = "onall",
        hide = true
    )]
    pub remote_flag: bool,

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
