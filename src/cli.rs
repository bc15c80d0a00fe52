//! The command line, as clap sees it. Parsed once and turned into a `config::Config`; nothing
//! outside this module and `config/` sees clap types.

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

const AFTER_HELP: &str =
    "Examples, inputs, placeholders, exit status, environment: parx --help, man parx";

const AFTER_LONG_HELP: &str = concat!(
    "Exit status:\n",
    include_str!("../doc/exit-status.txt"),
    "\nEnvironment:\n",
    include_str!("../doc/environment.txt"),
    "\nExamples:\n",
    include_str!("../doc/examples.txt"),
);

/// The raw command line. Fields are declared in the order `--help` shows them: one
/// `help_heading` per topic (inputs, command, chunking, workers, output, job control, resources,
/// compatibility, cluster); a doc comment's first paragraph is the one-line `-h` text.
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
    // ---- Inputs ----
    /// Read values from FILE, one per line (`-` is stdin); repeatable
    #[arg(
        aliases = ["argfile"],
        short = 'a',
        long = "arg-file",
        value_name = "FILE",
        help_heading = "Inputs"
    )]
    pub arg_file: Vec<OsString>,

    /// Values end with NUL instead of newline
    #[arg(
        short = '0',
        long = "null",
        conflicts_with = "delimiter",
        help_heading = "Inputs"
    )]
    pub null: bool,

    /// Values end with DELIM (escapes: \n \t \r \0 \\ \xHH)
    #[arg(
        short = 'd',
        long = "delimiter",
        value_name = "DELIM",
        help_heading = "Inputs"
    )]
    pub delimiter: Option<String>,

    /// Link the sources (zip) instead of combining them; shorter ones recycle
    #[arg(aliases = ["xapply"], long, help_heading = "Inputs")]
    pub link: bool,

    /// Walk PATH: every entry under it is a value (repeatable)
    #[arg(
        long,
        value_name = "PATH",
        help_heading = "Inputs",
        allow_hyphen_values = true
    )]
    pub walk: Vec<OsString>,

    /// With --walk: only entries with extension EXT (repeatable)
    #[arg(
        long,
        value_name = "EXT",
        requires = "walk",
        help_heading = "Inputs",
        allow_hyphen_values = true
    )]
    pub ext: Vec<OsString>,

    /// With --walk: only paths matching PATTERN (`**` crosses `/`)
    #[arg(
        long,
        value_name = "PATTERN",
        requires = "walk",
        help_heading = "Inputs",
        allow_hyphen_values = true
    )]
    pub glob: Vec<String>,

    /// With --walk: entry type f, d or l: file, directory, symlink [default: f]
    #[arg(
        long = "type",
        value_enum,
        value_name = "TYPE",
        requires = "walk",
        hide_possible_values = true,
        help_heading = "Inputs"
    )]
    pub entry_type: Vec<TypeArg>,

    /// With --walk: include entries whose name starts with a dot
    #[arg(long, requires = "walk", help_heading = "Inputs")]
    pub hidden: bool,

    /// With --walk: follow symbolic links
    #[arg(long, requires = "walk", help_heading = "Inputs")]
    pub follow: bool,

    /// With --walk: descend at most N levels (1: PATH's direct children)
    #[arg(long, value_name = "N", requires = "walk", help_heading = "Inputs")]
    pub max_depth: Option<usize>,

    // ---- Command ----
    /// Run the command through `sh -c` (values quoted)
    #[arg(long, help_heading = "Command")]
    pub shell: bool,

    /// Print each command instead of running it
    #[arg(aliases = ["dryrun", "dr"], long, help_heading = "Command")]
    pub dry_run: bool,

    /// Split each value into columns {1} {2} ... at matches of REGEX
    #[arg(
        aliases = ["col-sep"],
        long,
        value_name = "REGEX",
        allow_hyphen_values = true,
        help_heading = "Command"
    )]
    pub colsep: Option<String>,

    /// Up to N values per command (N records with several sources)
    #[arg(
        aliases = ["maxargs"],
        short = 'n',
        long = "max-args",
        value_name = "N",
        help_heading = "Command"
    )]
    pub max_args: Option<usize>,

    /// As many values per command as fit (a{}b repeated per value)
    #[arg(short = 'X', help_heading = "Command")]
    pub context_x: bool,

    // ---- Chunking ----
    /// Split stdin into record-aligned chunks, each fed to a command's stdin
    #[arg(aliases = ["spreadstdin"], long, conflicts_with = "pipe_part", help_heading = "Chunking")]
    pub pipe: bool,

    /// Split the -a/:::: files in place (memory-mapped) into chunks
    #[arg(long = "pipe-part", alias = "pipepart", help_heading = "Chunking")]
    pub pipe_part: bool,

    /// Chunk size: 16M (×1024), 16m (×1000), -4 (4 per slot) [default: 1M]
    #[arg(
        aliases = ["block-size", "blocksize"],
        long,
        value_name = "SIZE",
        allow_hyphen_values = true,
        help_heading = "Chunking"
    )]
    pub block: Option<String>,

    /// N records per chunk (without a chunk mode: N values per command)
    #[arg(
        aliases = ["maxreplaceargs"],
        short = 'N',
        long = "max-replace-args",
        value_name = "N",
        help_heading = "Chunking"
    )]
    pub max_replace_args: Option<u64>,

    /// A record is N lines, FASTQ: -L 4 (else: N lines per command)
    #[arg(
        aliases = ["maxlines"],
        short = 'L',
        long = "max-lines",
        value_name = "N",
        help_heading = "Chunking"
    )]
    pub max_lines: Option<u64>,

    /// Record terminator, escapes allowed [default: \n, NUL with -0]
    #[arg(long, value_name = "STR", help_heading = "Chunking")]
    pub recend: Option<String>,

    /// Records begin with STR (chunks are split only before it)
    #[arg(long, value_name = "STR", help_heading = "Chunking")]
    pub recstart: Option<String>,

    /// First N records: a header sent with every chunk (`:`: column names)
    #[arg(long, value_name = "N|:", help_heading = "Chunking")]
    pub header: Option<String>,

    // ---- Workers ----
    /// Job slots: N, or N% +N -N of the CPUs, or FILE [default: usable CPUs]
    #[arg(
        short = 'j',
        long = "jobs",
        short_alias = 'P',
        alias = "max-procs",
        value_name = "N",
        allow_hyphen_values = true,
        help_heading = "Workers"
    )]
    pub jobs: Option<String>,

    /// thread: a child per task, process: -j workers on stdin
    ///
    /// With process, a worker must answer every record it reads with exactly one result, in
    /// order: one line, or everything up to --result-end SEP.
    #[arg(
        long,
        value_enum,
        value_name = "KIND",
        default_value_t = PoolArg::Thread,
        hide_possible_values = true,
        help_heading = "Workers"
    )]
    pub pool: PoolArg,

    /// With --pool process: restart a worker after N tasks
    #[arg(long, value_name = "N", help_heading = "Workers")]
    pub max_tasks: Option<u64>,

    /// With --pool process: results end with SEP, not a newline
    #[arg(long, value_name = "SEP", help_heading = "Workers")]
    pub result_end: Option<String>,

    /// With --pool process: workers speak the framed protocol (docs/framed-protocol.md)
    ///
    /// Records and results are length-framed (any bytes), each answer names its record, and a
    /// worker may answer a record with a failure and go on. Each result is printed followed
    /// by the record terminator (or --result-end SEP).
    #[arg(long, help_heading = "Workers")]
    pub framed: bool,

    /// With --framed: print results and failures as frames too (for programs reading parx)
    #[arg(long, requires = "framed", help_heading = "Workers")]
    pub framed_out: bool,

    // ---- Output ----
    /// Print outputs in input order (default: as tasks complete)
    #[arg(aliases = ["keeporder"], short = 'k', long = "keep-order", help_heading = "Output")]
    pub keep_order: bool,

    /// Prefix each output line with the task's values and a TAB
    #[arg(long, help_heading = "Output")]
    pub tag: bool,

    /// Prefix each output line with STR (placeholders expanded) and a TAB
    #[arg(aliases = ["tag-string"], long, value_name = "STR", help_heading = "Output")]
    pub tagstring: Option<OsString>,

    /// Print whole lines as they come, from all tasks at once (never torn)
    #[arg(aliases = ["line-buffered", "linebuffer", "linebuffered"], long, alias = "lb", help_heading = "Output")]
    pub line_buffer: bool,

    /// Also store each task's stdout, stderr and exit status under DIR/<seq>/
    // The help text shows `<seq>` as typed; it is not an HTML tag.
    #[allow(rustdoc::invalid_html_tags)]
    #[arg(aliases = ["result", "res"], long, value_name = "DIR", help_heading = "Output")]
    pub results: Option<std::path::PathBuf>,

    /// Show a progress bar on stderr; silent when stderr is not a terminal
    #[arg(long, help_heading = "Output")]
    pub bar: bool,

    /// Show progress and the time left on stderr; silent when stderr is not a terminal
    #[arg(long, aliases = ["progress"], help_heading = "Output")]
    pub eta: bool,

    // ---- Job control ----
    /// Kill a task (TERM, then KILL) after DUR: 500ms, 30s, 2m, 1.5
    #[arg(long, value_name = "DUR", help_heading = "Job control")]
    pub timeout: Option<String>,

    /// Run a failed task up to N times in all (0: until it succeeds)
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = runs,
        help_heading = "Job control"
    )]
    pub retries: Option<u32>,

    /// Stop early: soon|now,fail|success|done=N|N% (or GNU's 0 1 2)
    #[arg(
        aliases = ["halt-on-error", "haltonerror"],
        long,
        value_name = "WHEN,WHY=N",
        allow_hyphen_values = true,
        help_heading = "Job control"
    )]
    pub halt: Option<String>,

    /// Log every finished task to FILE (GNU parallel's columns)
    #[arg(aliases = ["jl"], long, value_name = "FILE", help_heading = "Job control")]
    pub joblog: Option<std::path::PathBuf>,

    /// With --joblog or --run-dir: skip tasks already logged
    #[arg(long, requires = "resume_from", help_heading = "Job control")]
    pub resume: bool,

    /// With --joblog or --run-dir: rerun only the failed tasks
    #[arg(aliases = ["resumefailed"], long, requires = "resume_from", help_heading = "Job control")]
    pub resume_failed: bool,

    /// With --joblog: rerun the failed tasks' commands from the log (command and inputs ignored)
    #[arg(
        aliases = ["retryfailed"],
        long,
        requires = "joblog",
        conflicts_with_all = ["pipe", "pipe_part", "slurm"],
        help_heading = "Job control"
    )]
    pub retry_failed: bool,

    /// Pause DUR between task starts
    #[arg(long, value_name = "DUR", help_heading = "Job control")]
    pub delay: Option<String>,

    // ---- Resources (-j FILE is under Workers) ----
    /// Start tasks only while fewer than MAX processes run (N, N%, +N, -N)
    #[arg(
        long,
        value_name = "MAX",
        allow_hyphen_values = true,
        help_heading = "Resources"
    )]
    pub load: Option<String>,

    /// Start tasks only while SIZE memory is free (below SIZE/2: requeue one)
    #[arg(long, value_name = "SIZE", help_heading = "Resources")]
    pub memfree: Option<String>,

    /// Pause the youngest tasks while less than 2×SIZE memory is free
    #[arg(long, value_name = "SIZE", help_heading = "Resources")]
    pub memsuspend: Option<String>,

    /// Start no task while the machine is swapping (pages swapped in and out)
    #[arg(long, help_heading = "Resources")]
    pub noswap: bool,

    // ---- Compatibility: GNU parallel and xargs spellings ----
    /// At most N characters per command line (-X, -m, -n)
    #[arg(
        aliases = ["maxchars"],
        short = 's',
        long = "max-chars",
        value_name = "N",
        value_parser = max_chars,
        help_heading = "Compatibility"
    )]
    pub max_chars: Option<usize>,

    /// As many values per command as fit, spread over the slots at the end
    #[arg(short = 'm', help_heading = "Compatibility")]
    pub multi: bool,

    /// Several values per command, up to the line limit (xargs' packing)
    #[arg(long = "xargs", help_heading = "Compatibility")]
    pub xargs: bool,

    /// Run as TOOL: `parx --as xargs ...` is GNU xargs 4.9 (as is parx run by the name `xargs`)
    ///
    /// Must be the first argument: everything after it is TOOL's command line, with TOOL's
    /// options, input rules, messages and exit statuses, run on parx's engine.
    #[arg(long = "as", value_name = "TOOL", value_parser = ["xargs", "parallel"], help_heading = "Compatibility")]
    pub as_tool: Option<String>,

    /// Run the tasks in a random order (GNU parallel's --shuf; reads the whole input first)
    #[arg(long, help_heading = "Compatibility")]
    pub shuf: bool,

    /// Print the number of physical CPU cores and exit (GNU parallel)
    #[arg(long, aliases = ["numberofcpus"], help_heading = "Compatibility")]
    pub number_of_cpus: bool,

    /// Print the number of physical CPU cores and exit (GNU parallel)
    #[arg(long, aliases = ["numberofcores"], help_heading = "Compatibility")]
    pub number_of_cores: bool,

    /// Print the number of hardware threads and exit (GNU parallel)
    #[arg(long, aliases = ["numberofthreads"], help_heading = "Compatibility")]
    pub number_of_threads: bool,

    /// Print the number of CPU sockets and exit (GNU parallel)
    #[arg(long, aliases = ["numberofsockets"], help_heading = "Compatibility")]
    pub number_of_sockets: bool,

    /// Print the longest command line a shell command may have and exit (GNU parallel)
    #[arg(long, aliases = ["maxlinelengthallowed"], help_heading = "Compatibility")]
    pub max_line_length_allowed: bool,

    /// Print the GNU parallel version whose command line parx follows (20221122) and exit;
    /// status 255 if VERSION is newer
    #[arg(long, aliases = ["minversion"], value_name = "VERSION", help_heading = "Compatibility")]
    pub min_version: Option<u64>,

    /// Accepted for GNU parallel: parx counts the CPUs this process may use (no effect)
    #[arg(
        long = "use-cpus-instead-of-cores",
        aliases = [
            "usecpusinsteadofcores",
            "use-cores-instead-of-threads",
            "usecoresinsteadofthreads",
            "use-sockets-instead-of-threads",
            "usesocketsinsteadofthreads"
        ],
        hide = true
    )]
    pub cpu_counting: bool,

    /// Set by the `parallel` personality (never on the command line): GNU's command semantics.
    #[arg(skip)]
    pub gnu: bool,

    /// Exit if a command line would exceed the -s size (xargs -x)
    #[arg(short = 'x', long = "exit", help_heading = "Compatibility")]
    pub exit_on_size: bool,

    /// Print each command on stdout before its output (GNU's -vv: the same)
    #[arg(short = 'v', action = clap::ArgAction::Count, help_heading = "Compatibility")]
    pub print_command: u8,

    /// Print each command on stderr before it runs
    #[arg(short = 't', long = "verbose", help_heading = "Compatibility")]
    pub verbose: bool,

    /// Skip values that are empty or only blanks
    #[arg(aliases = ["norunifempty"], short = 'r', long = "no-run-if-empty", help_heading = "Compatibility")]
    pub no_run_if_empty: bool,

    /// STR replaces {} as the value placeholder
    #[arg(short = 'I', value_name = "STR", help_heading = "Compatibility")]
    pub replace: Option<String>,

    /// STR replaces {.} (GNU parallel's --extensionreplace)
    #[arg(long = "extensionreplace", aliases = ["er"], value_name = "STR", help_heading = "Compatibility")]
    pub ext_replace: Option<String>,

    /// STR replaces {/} (GNU parallel's --basenamereplace)
    #[arg(long = "basenamereplace", aliases = ["bnr"], value_name = "STR", help_heading = "Compatibility")]
    pub base_replace: Option<String>,

    /// STR replaces {//} (GNU parallel's --dirnamereplace)
    #[arg(long = "dirnamereplace", aliases = ["dnr"], value_name = "STR", help_heading = "Compatibility")]
    pub dir_replace: Option<String>,

    /// STR replaces {/.} (GNU parallel's --basenameextensionreplace)
    #[arg(long = "basenameextensionreplace", aliases = ["bner"], value_name = "STR", help_heading = "Compatibility")]
    pub base_ext_replace: Option<String>,

    /// STR replaces {#} (GNU parallel's --seqreplace)
    #[arg(
        long = "seqreplace",
        value_name = "STR",
        help_heading = "Compatibility"
    )]
    pub seq_replace: Option<String>,

    /// STR replaces {%} (GNU parallel's --slotreplace)
    #[arg(
        long = "slotreplace",
        value_name = "STR",
        help_heading = "Compatibility"
    )]
    pub slot_replace: Option<String>,

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

    /// GNU parallel's extra placeholders ({..} {+.} {##} {:-x} ...)
    #[arg(long, help_heading = "Compatibility")]
    pub plus: bool,

    /// The first value is not used
    #[arg(aliases = ["skipfirstline"], long, help_heading = "Compatibility")]
    pub skip_first_line: bool,

    /// STR instead of ::: (and STR+ instead of :::+)
    #[arg(aliases = ["argsep"], long, value_name = "STR", help_heading = "Compatibility")]
    pub arg_sep: Option<OsString>,

    /// STR instead of :::: (and STR+ instead of ::::+)
    #[arg(aliases = ["argfilesep"], long, value_name = "STR", help_heading = "Compatibility")]
    pub arg_file_sep: Option<OsString>,

    /// Output as it comes, not grouped (lines of different tasks may mix)
    #[arg(short = 'u', long = "ungroup", help_heading = "Compatibility")]
    pub ungroup: bool,

    /// Signals ending a task: SIG,MS,SIG,...,SIG (MS: wait in ms)
    #[arg(aliases = ["term-seq"], long, value_name = "SEQ", help_heading = "Compatibility")]
    pub termseq: Option<String>,

    /// Where output spills to disk [default: $TMPDIR]
    #[arg(aliases = ["tempdir"], long, value_name = "DIR", help_heading = "Compatibility")]
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
    #[arg(aliases = ["processslotvar"], long, value_name = "NAME", help_heading = "Compatibility")]
    pub process_slot_var: Option<String>,

    /// Accepted for GNU parallel; values are never shell syntax anyway
    #[arg(short = 'q', long = "quote", help_heading = "Compatibility")]
    pub quote: bool,

    /// Accepted for GNU parallel; no effect
    #[arg(aliases = ["willcite", "nn", "nonotice"], long, hide = true)]
    pub will_cite: bool,

    /// Accepted for GNU parallel; no effect
    #[arg(long, hide = true)]
    pub no_notice: bool,

    /// Accepted for GNU parallel (grouped output is the default); no effect
    #[arg(long, hide = true)]
    pub group: bool,

    /// Accepted for GNU parallel (it compresses its temporary files); no effect: parx holds
    /// output in memory and spills only beyond its budget, uncompressed
    #[arg(long, hide = true)]
    pub compress: bool,

    /// --pipe/--pipe-part: each chunk in a temp file that {} names, not on stdin
    #[arg(long, help_heading = "Chunking")]
    pub cat: bool,

    /// --pipe: one command per job slot, each fed many chunks in turn on its stdin
    #[arg(
        aliases = ["roundrobin"],
        long,
        requires = "pipe",
        conflicts_with_all = ["cat", "pipe_part"],
        help_heading = "Chunking"
    )]
    pub round_robin: bool,

    /// --pipe/--pipe-part: remove the record separators (--recend, --recstart) from each chunk
    #[arg(aliases = ["remove-rec-sep", "removerecsep"], long = "rrs", help_heading = "Chunking")]
    pub remove_rec_sep: bool,

    /// --pipe: --recend and --recstart are regular expressions
    #[arg(long, requires = "pipe", help_heading = "Chunking")]
    pub regexp: bool,

    /// Store each task's stdout in a temp file ($TMPDIR, --tmpdir) and print its name instead
    #[arg(long, conflicts_with_all = ["tag", "tagstring", "results"], help_heading = "Output")]
    pub files: bool,

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

    // ---- Cluster ----
    /// Run share K of N of the tasks (`auto`: from array-job variables)
    #[arg(long, value_name = "K/N|auto", help_heading = "Cluster")]
    pub shard: Option<String>,

    /// Run as a Slurm array of N shares, then print the merged output
    ///
    /// Submit one Slurm array of N tasks, each running its share of the tasks, then wait and
    /// print the merged output (parx must be on storage every node sees).
    #[arg(long, value_name = "N", help_heading = "Cluster")]
    pub slurm: Option<u32>,

    /// Pass ARG to sbatch (repeatable): --slurm-arg=--time=10
    #[arg(
        long,
        value_name = "ARG",
        requires = "slurm",
        allow_hyphen_values = true,
        help_heading = "Cluster"
    )]
    pub slurm_arg: Vec<OsString>,

    /// The --slurm run directory [default: a new one here]; reuse it to --resume
    ///
    /// The --slurm run directory (outputs, job logs, status); by default a new one in the
    /// current directory. Give it again with --resume or --resume-failed to continue a run.
    #[arg(long, value_name = "DIR", requires = "slurm", help_heading = "Cluster")]
    pub run_dir: Option<std::path::PathBuf>,

    /// Run at most K of the --slurm array's tasks at once (sbatch --array=...%K)
    #[arg(long, value_name = "K", requires = "slurm", help_heading = "Cluster")]
    pub slurm_throttle: Option<u32>,

    /// Keep the --slurm run directory after a successful run (it is removed by default)
    #[arg(long, requires = "slurm", help_heading = "Cluster")]
    pub keep_run_dir: bool,

    /// Show how far a --slurm run is (from its run directory, from any terminal), then exit
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "slurm",
        help_heading = "Cluster"
    )]
    pub slurm_status: Option<std::path::PathBuf>,

    /// The command and its arguments, then the input sources (`:::`, `:::+`, `::::`, `::::+`)
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        num_args = 0..
    )]
    pub command: Vec<OsString>,
}

/// `--retries N`: a count of runs, 0 or more.
fn runs(s: &str) -> Result<u32, String> {
    s.parse()
        .map_err(|_| "N is the number of runs in all, 0 or more (0: until it succeeds)".to_owned())
}

/// `-s N` / `--max-chars N`: a number of characters. GNU parallel's `-s` is this too, but a
/// habit from elsewhere may mean `--shell`: say so when the value is not a number.
fn max_chars(s: &str) -> Result<usize, String> {
    s.parse().map_err(|_| {
        "not a number of characters (-s is --max-chars, as in xargs and GNU parallel; did you \
         mean --shell?)"
            .to_owned()
    })
}

/// `--pool` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PoolArg {
    /// A new child process per task, -j at a time
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

/// Help and version go to stdout with status 0; usage errors become one line and 255.
pub(crate) fn clap_error(e: &clap::Error) -> i32 {
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
            crate::messages::error(format_args!("{line}{} (see 'parx --help')", allowed(e)));
            crate::exit::EXIT_ERROR
        }
    }
}

/// For an invalid value of an option with a fixed set of them (`--pool proc`): `: one of A, B
/// (did you mean B?)`, which clap puts on lines of their own.
fn allowed(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let Some(ContextValue::Strings(valid)) = e.get(ContextKind::ValidValue) else {
        return String::new();
    };
    let mut text = format!(": one of {}", valid.join(", "));
    if let Some(ContextValue::String(s)) = e.get(ContextKind::SuggestedValue) {
        text.push_str(&format!(" (did you mean '{s}'?)"));
    }
    text
}

/// The longest `sh -c` script GNU parallel finds it may run on Linux (`parallel
/// --max-line-length-allowed`, 20221122), under the 128 KiB `MAX_ARG_STRLEN`.
pub const GNU_MAX_LINE: usize = 130_329;

/// The GNU parallel version whose command line and behaviour parx follows.
pub const GNU_VERSION: u64 = 20_221_122;

/// GNU parallel's options that print a fact and exit: the text for stdout and the status, if
/// one was given. `topology` gives (sockets, cores, threads).
pub(crate) fn info(
    cli: &Cli,
    topology: impl Fn() -> (usize, usize, usize),
) -> Option<(String, i32)> {
    let (sockets, cores, threads) = if cli.number_of_cpus
        || cli.number_of_cores
        || cli.number_of_threads
        || cli.number_of_sockets
    {
        topology()
    } else {
        (0, 0, 0)
    };
    let n = if cli.number_of_cpus || cli.number_of_cores {
        cores
    } else if cli.number_of_threads {
        threads
    } else if cli.number_of_sockets {
        sockets
    } else if cli.max_line_length_allowed {
        GNU_MAX_LINE
    } else if let Some(v) = cli.min_version {
        let code = crate::exit::Report {
            errored: v > GNU_VERSION,
            ..crate::exit::Report::default()
        }
        .status();
        return Some((format!("{GNU_VERSION}\n"), code));
    } else {
        return None;
    };
    Some((format!("{n}\n"), 0))
}
