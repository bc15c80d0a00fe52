//! The validated run configuration, built once from the command line. Everything below this
//! module works from [`Config`]; every usage error is found here and reported as one line.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use std::time::Duration;

use crate::cli::{Cli, PoolArg};
use crate::halt::HaltSpec;
use crate::shard::Shard;
use crate::template::Template;
use crate::units::parse_duration;

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
    /// Where the argument values come from.
    pub input: InputSpec,
    /// Job control and observability (`--timeout`, `--retries`, `--halt`, `--joblog`, ...).
    pub jobs_ctl: JobControl,
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
            (Some(d), _) => parse_delimiter(d).or_else(usage)?,
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
            return usage("stdin can be read as an input source only once");
        }
        let pool = match cli.pool {
            PoolArg::Thread => PoolKind::Thread,
            PoolArg::Process => return usage("--pool process is not available yet"),
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
                Some(h) => crate::halt::parse(h).or_else(usage)?,
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
            template: Template::new(&command, cli.shell),
            input: InputSpec {
                sources,
                link_all: cli.link,
                delimiter,
            },
        })
    }
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
                return usage(format!("{} needs a source before it", w.to_string_lossy()));
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
            return usage(":::: needs at least one file after it");
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
        let c = *b
            .get(i + 1)
            .ok_or_else(|| format!("invalid delimiter '{s}': trailing backslash"))?;
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
                return Err(format!(
                    "invalid delimiter '{s}': unknown escape \\{}",
                    c as char
                ))
            }
        });
    }
    if out.is_empty() {
        return Err("the delimiter must not be empty".into());
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
