//! The argument inputs' options: the sources (`:::`, `::::`, `-a`, `--walk`, stdin), how
//! values are delimited (`-d`, `-0`), split into columns (`--colsep`) and trimmed (`--trim`),
//! `-E`, `-r`, `--skip-first-line` and `--header :`. Parsed into an [`InputSpec`].

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::walk::{CompiledWalk, EntryType, WalkSpec};
use super::{usage, UsageError};
use crate::cli::{Cli, TypeArg};

/// The argument inputs.
#[derive(Debug)]
pub(crate) struct InputSpec {
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
pub(crate) struct Trim {
    /// Leading blanks.
    pub left: bool,
    /// Trailing blanks.
    pub right: bool,
}

impl Trim {
    /// Trims `v` (spaces and tabs, as GNU parallel).
    pub(crate) fn apply<'a>(&self, mut v: &'a [u8]) -> &'a [u8] {
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
pub(crate) struct SourceSpec {
    /// What it reads.
    pub kind: SourceKind,
    /// Zipped with the previous source (`:::+`, `::::+`) instead of crossed with it.
    pub linked: bool,
}

/// What a source reads.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SourceKind {
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
pub(super) fn same_pipe_twice(sources: &[SourceSpec]) -> Option<String> {
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

pub(super) fn file_source(f: OsString) -> SourceKind {
    if f == "-" {
        SourceKind::Stdin
    } else {
        SourceKind::File(f.into())
    }
}

/// The source separators (`--arg-sep`, `--arg-file-sep`).
pub(super) struct Seps {
    pub(super) arg: OsString,
    pub(super) file: OsString,
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

pub(super) fn split_command(
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

/// Parses a `-d` delimiter with escapes `\n \t \r \0 \\ \xHH`.
pub(crate) fn parse_delimiter(s: &str) -> Result<Vec<u8>, String> {
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

impl InputSpec {
    /// Whether its values must travel one task at a time (see [`super::Config::value_blocks`]):
    /// unless they come from one file or stdin and are exactly the records a worker reads
    /// (`record_end`-terminated, nothing filters, splits, groups or renames them). Every field
    /// is named, so a new one does not compile until someone decides.
    pub(crate) fn needs_each_task(&self, record_end: u8) -> bool {
        let InputSpec {
            sources,
            // One source: nothing to link.
            link_all: _,
            delimiter,
            colsep,
            eof,
            trim,
            skip_empty,
            skip_first,
            header,
            continue_lines,
        } = self;
        !matches!(
            &sources[..],
            [SourceSpec {
                kind: SourceKind::Stdin | SourceKind::File(_),
                ..
            }]
        ) || delimiter[..] != [record_end]
            || colsep.is_some()
            || eof.is_some()
            || *trim != Trim::default()
            || *skip_empty
            || *skip_first
            || *header
            || *continue_lines
    }
}

/// `-d`/`-0`: the value terminator (newline by default).
pub(super) fn delimiter(cli: &Cli) -> Result<Vec<u8>, UsageError> {
    Ok(match (&cli.delimiter, cli.null) {
        (Some(d), _) => parse_delimiter(d).map_err(|e| UsageError(format!("-d: {e}")))?,
        (None, true) => vec![0],
        (None, false) => vec![b'\n'],
    })
}

/// The sources in order: `--walk` first (the streamed source of a product), `-a` files, the
/// `:::`-style `trailing` ones, stdin when none is given. A source read twice is an error.
pub(super) fn sources(
    cli: &mut Cli,
    trailing: Vec<SourceSpec>,
) -> Result<Vec<SourceSpec>, UsageError> {
    let mut sources: Vec<SourceSpec> = std::mem::take(&mut cli.arg_file)
        .into_iter()
        .map(|f| SourceSpec {
            kind: file_source(f),
            linked: false,
        })
        .collect();
    if !cli.walk.is_empty() {
        let spec = WalkSpec {
            roots: std::mem::take(&mut cli.walk)
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            exts: std::mem::take(&mut cli.ext),
            globs: std::mem::take(&mut cli.glob),
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
    Ok(sources)
}

/// `--colsep`: the regex values are split at.
pub(super) fn colsep(cli: &Cli) -> Result<Option<regex::bytes::Regex>, UsageError> {
    let Some(re) = &cli.colsep else {
        return Ok(None);
    };
    regex::bytes::Regex::new(re).map(Some).map_err(|e| {
        // regex's message spans several lines (pattern, caret, reason): keep the reason.
        let msg = e.to_string();
        let reason = msg.lines().last().unwrap_or_default();
        let reason = reason.strip_prefix("error: ").unwrap_or(reason).to_owned();
        UsageError(format!("invalid --colsep '{re}': {reason}"))
    })
}

/// `--trim`.
pub(super) fn trim(cli: &Cli) -> Result<Trim, UsageError> {
    Ok(match cli.trim.as_deref() {
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
