//! The validated run configuration, built once from the command line. Everything below this
//! module works from [`Config`]; every usage error is found here and reported as one line.
//!
//! This is the one bridge from clap's [`Cli`] (what was typed) to what it means: the
//! submodules hold the rules parsed and compiled once here (`--walk` filters, chunk records,
//! `--halt`), and nothing below imports clap, nor does this module import a source or a pool.

pub mod chunk;
pub mod halt;
pub mod walk;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use std::time::Duration;

use crate::cli::{Cli, PoolArg, TypeArg};
use crate::shard::Shard;
use crate::template::{Mode, Placeholder, Template};
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
    /// How many records go into one task (`-n`, `-X`).
    pub batch: Batch,
    /// `--pipe`/`--pipe-part`: tasks are chunks of data instead of argument values.
    pub chunks: Option<ChunkConfig>,
    /// Job control and observability (`--timeout`, `--retries`, `--halt`, `--joblog`, ...).
    pub jobs_ctl: JobControl,
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
    /// `-L`: records per chunk instead of a size.
    pub lines: Option<u64>,
    /// `--recend`/`--recstart` (default: the value delimiter, newline or NUL with `-0`).
    pub rec: RecordSpec,
    /// `--header`: leading records sent before every chunk.
    pub header: u64,
}

/// Where chunk data comes from.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunkMode {
    /// `--pipe`: stdin, or the one file given with `-a`/`::::`.
    Pipe(Option<PathBuf>),
    /// `--pipe-part`: these files, memory-mapped.
    PipePart(Vec<PathBuf>),
}

/// Job control and output shaping beyond the core (issue 6). Shared by both pools.
#[derive(Debug, Default)]
pub struct JobControl {
    /// `--timeout`: a task's process group gets TERM after this, then KILL after a grace.
    pub timeout: Option<Duration>,
    /// `--retries`: extra runs of a failed task (N+1 runs at most).
    pub retries: u32,
    /// `--halt`: when to stop early (`None`: never).
    pub halt: Option<HaltSpec>,
    /// `--joblog`: the log file.
    pub joblog: Option<PathBuf>,
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
    /// `--bar`: show a progress bar on stderr (if a terminal).
    pub bar: bool,
    /// `--eta`: show progress with the time left on stderr (if a terminal).
    pub eta: bool,
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

impl Config {
    /// Validates the parsed command line.
    pub fn from_cli(cli: Cli) -> Result<Config, UsageError> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let jobs = match &cli.jobs {
            None => cpus,
            Some(s) => parse_jobs(s, cpus).or_else(usage)?,
        };
        let delimiter = match (&cli.delimiter, cli.null) {
            (Some(d), _) => parse_delimiter(d).map_err(|e| UsageError(format!("-d: {e}")))?,
            (None, true) => vec![0],
            (None, false) => vec![b'\n'],
        };
        let (command, trailing) = split_command(cli.command)?;
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
        let chunk_opts = ChunkOpts {
            block: cli.block,
            lines: cli.lines,
            recend: cli.recend,
            recstart: cli.recstart,
            header: cli.header,
        };
        let chunks = match (cli.pipe, cli.pipe_part) {
            (false, false) => {
                chunk_opts.refuse_outside_chunk_modes()?;
                None
            }
            (pipe, _) => Some(chunk_config(pipe, chunk_opts, &sources, &delimiter)?),
        };
        let mut template = Template::new(&command, cli.shell);
        if let Some(c) = &chunks {
            if command.is_empty() {
                return usage(
                    "--pipe and --pipe-part need a command to run on each chunk \
                     (e.g. parx --pipe wc -l)",
                );
            }
            if matches!(c.mode, ChunkMode::Pipe(_)) && template.uses_values() {
                return usage(
                    "{} and other value placeholders have no value under --pipe \
                     (the chunk is on stdin); {#} and {%} work",
                );
            }
            template = template.without_appending();
        }
        let pool = match cli.pool {
            PoolArg::Thread => PoolKind::Thread,
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
        let batch = match (cli.max_args, cli.xargs) {
            (_, true) => Batch::Fit,
            (None | Some(1), false) => Batch::One,
            (Some(0), false) => return usage("invalid -n 0: at least 1 value per command"),
            (Some(n), false) => Batch::MaxArgs(n),
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
        let dur = |opt: &str, v: &Option<String>| -> Result<Option<Duration>, UsageError> {
            v.as_deref()
                .map(|d| parse_duration(d).map_err(|e| UsageError(format!("{opt}: {e}"))))
                .transpose()
        };
        let jobs_ctl = JobControl {
            timeout: dur("--timeout", &cli.timeout)?.filter(|d| !d.is_zero()),
            retries: cli.retries.unwrap_or(0),
            halt: match &cli.halt {
                None => None,
                Some(h) => halt::parse(h).or_else(usage)?,
            },
            joblog: cli.joblog,
            resume: match (cli.resume, cli.resume_failed) {
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
            line_buffer: cli.line_buffer,
            results: cli.results,
            bar: cli.bar,
            eta: cli.eta,
        };
        Ok(Config {
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
            },
            max_tasks: cli.max_tasks,
            batch,
            chunks,
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
    use crate::template::Transform::*;
    match p {
        Placeholder::Seq => "{#}".into(),
        Placeholder::Slot => "{%}".into(),
        Placeholder::Value { col, tr } => {
            let n = col.map(|c| c.to_string()).unwrap_or_default();
            let t = match tr {
                Whole => "",
                NoExt => ".",
                Base => "/",
                Dir => "//",
                BaseNoExt => "/.",
            };
            format!("{{{n}{t}}}")
        }
    }
}

/// The chunk options as given.
struct ChunkOpts {
    block: Option<String>,
    lines: Option<u64>,
    recend: Option<String>,
    recstart: Option<String>,
    header: Option<u64>,
}

impl ChunkOpts {
    fn refuse_outside_chunk_modes(&self) -> Result<(), UsageError> {
        let given = [
            (self.block.is_some(), "--block"),
            (self.lines.is_some(), "-L/--lines"),
            (self.recend.is_some(), "--recend"),
            (self.recstart.is_some(), "--recstart"),
            (self.header.is_some(), "--header"),
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
    sources: &[SourceSpec],
    delimiter: &[u8],
) -> Result<ChunkConfig, UsageError> {
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
            Err(":::") => {
                return usage("--pipe-part takes files (-a FILE or :::: FILE), not ::: values")
            }
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
    let esc = |name: &str, v: &Option<String>| -> Result<Option<Vec<u8>>, UsageError> {
        match v.as_deref() {
            None => Ok(None),
            Some("") => Ok(Some(Vec::new())),
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
    if recend.is_empty() && recstart.is_none() {
        return usage(
            "--recend '' (empty) needs --recstart, so that records start or end somewhere",
        );
    }
    Ok(ChunkConfig {
        mode,
        block,
        lines: o.lines,
        rec: RecordSpec { recend, recstart },
        header: o.header.unwrap_or(0),
    })
}

fn file_source(f: OsString) -> SourceKind {
    if f == "-" {
        SourceKind::Stdin
    } else {
        SourceKind::File(f.into())
    }
}

/// Splits the trailing words into the command and the `:::`-style sources.
fn split_command(words: Vec<OsString>) -> Result<(Vec<OsString>, Vec<SourceSpec>), UsageError> {
    let mut command = Vec::new();
    let mut sources: Vec<SourceSpec> = Vec::new();
    // The separator in force: (files?, linked?)
    let mut current: Option<(bool, bool)> = None;
    for w in words {
        let sep = match w.as_bytes() {
            b":::" => Some((false, false)),
            b":::+" => Some((false, true)),
            b"::::" => Some((true, false)),
            b"::::+" => Some((true, true)),
            _ => None,
        };
        if let Some((files, linked)) = sep {
            if linked && sources.is_empty() {
                return usage(format!(
                    "{0} needs a source before it (it links its values to the previous source; \
                     use {1} for the first)",
                    w.to_string_lossy(),
                    if files { "::::" } else { ":::" }
                ));
            }
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

/// Parses `-j`: `N`, `N%` of the CPUs, `+N`/`-N` relative to the CPU count (at least 1).
pub fn parse_jobs(s: &str, cpus: usize) -> Result<usize, String> {
    let bad = || format!("invalid -j '{s}': use N, N%, +N or -N");
    let num = |t: &str| t.parse::<usize>().map_err(|_| bad());
    let n = if let Some(p) = s.strip_suffix('%') {
        (cpus * num(p)? / 100).max(1)
    } else if let Some(p) = s.strip_prefix('+') {
        cpus.saturating_add(num(p)?)
    } else if let Some(p) = s.strip_prefix('-') {
        cpus.saturating_sub(num(p)?).max(1)
    } else {
        let n = num(s)?;
        if n == 0 {
            return Err(format!("invalid -j '{s}': at least 1 job slot is needed"));
        }
        n
    };
    Ok(n.min(65536))
}

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
        assert!(parse_jobs("0", 2).is_err());
        assert!(parse_jobs("x", 2).is_err());
        assert!(parse_jobs("", 2).is_err());
        assert!(parse_jobs("%", 2).is_err());
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
        let (cmd, src) = split_command(w(&[
            "echo", "{}", ":::", "a", "b", ":::+", "1", "::::", "f", "-",
        ]))
        .unwrap();
        assert_eq!(cmd, w(&["echo", "{}"]));
        assert_eq!(src.len(), 4);
        assert_eq!(src[0].kind, SourceKind::Values(w(&["a", "b"])));
        assert!(src[1].linked);
        assert_eq!(src[2].kind, SourceKind::File("f".into()));
        assert_eq!(src[3].kind, SourceKind::Stdin);
        assert!(split_command(w(&[":::+", "a"])).is_err());
        assert!(split_command(w(&["echo", "::::"])).is_err());
    }
}
