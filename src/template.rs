//! Command templates: parsing placeholders, rendering a task into an argv (no shell) or a
//! `sh -c` script with every substituted value quoted when it needs it, and quoting for
//! `--dry-run`.
//!
//! Placeholders follow GNU parallel: `{}` `{.}` `{/}` `{//}` `{/.}` `{#}` `{%}` and the
//! positional forms `{N}` `{N.}` `{N/}` `{N//}` `{N/.}` (`{-N}` counts from the end; blanks may
//! follow N, as in `{1 }`). In a batch (`-n`, `-N`, `-X`, `-m`) `{N}` is the batch's Nth value,
//! as in GNU parallel; with one record it is the record's Nth source or column. `-I STR` makes
//! STR the value placeholder instead of `{}`; `--plus` adds GNU's extra ones (`{..}` `{+.}`
//! `{##}` `{0#}` `{:-x}` `{#re}` `{%%re}` ...); `--header :` adds `{name}` for named columns.
//! Anything else in braces is literal.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::OnceLock;

use crate::task::Record;

/// What a value placeholder does to its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transform {
    /// `{}`: the value as is.
    Whole,
    /// `{.}`: without its extension.
    NoExt,
    /// `{/}`: its basename.
    Base,
    /// `{//}`: its dirname (`.` when none).
    Dir,
    /// `{/.}`: basename without extension.
    BaseNoExt,
    /// `--plus` `{..}`: without two extensions.
    NoExt2,
    /// `--plus` `{...}`: without three extensions.
    NoExt3,
    /// `--plus` `{/..}`: basename without two extensions.
    BaseNoExt2,
    /// `--plus` `{/...}`: basename without three extensions.
    BaseNoExt3,
    /// `--plus` `{+/}`: the directory part (empty when none).
    PlusDir,
    /// `--plus` `{+.}`: the extension (empty when none).
    PlusExt,
    /// `--plus` `{+..}`: the last two extensions.
    PlusExt2,
    /// `--plus` `{+...}`: the last three extensions.
    PlusExt3,
    /// `--plus` `{:…}` `{#…}` `{%…}`: an operation with parameters (index into the template's
    /// table).
    Op(u16),
}

/// Which value a value placeholder takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Col {
    /// `{N}`: the Nth (1-based) value of the task.
    Pos(usize),
    /// `{-N}`: the Nth value from the end.
    Neg(usize),
    /// `{name}` (`--header :`): the column of that name (index into the template's names).
    Named(u16),
}

/// One placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placeholder {
    /// A value, or column `col` of it.
    Value {
        /// `None` for each record in turn, `Some` for one value of the task.
        col: Option<Col>,
        /// The transformation applied.
        tr: Transform,
    },
    /// `{#}`: the sequence number.
    Seq,
    /// `{%}`: the job slot.
    Slot,
    /// `--plus` `{##}`: the number of tasks.
    Total,
    /// `--plus` `{0#}`: the sequence number, zero-padded to the width of the number of tasks.
    SeqPad,
    /// `--plus` `{0%}`: the slot, zero-padded to the width of the number of slots.
    SlotPad,
}

/// A `--plus` operation with parameters.
#[derive(Clone, Debug)]
enum Op {
    /// `{:-x}`: `x` when the value is empty (or `0`, as Perl's `||=`).
    Default(Vec<u8>),
    /// `{:N}`: without its first N bytes; `{:N:M}`: M bytes from N.
    Substr(usize, Option<usize>),
    /// `{#re}` / `{##re}`: without the shortest / longest prefix matching `re`.
    Prefix(regex::bytes::Regex),
    /// `{%re}` / `{%%re}`: without the shortest / longest suffix matching `re`.
    Suffix(regex::bytes::Regex, bool),
    /// `{/re/s}` (first match), `{//re/s}` (every match), `{/#re/s}`, `{/%re/s}` (anchored):
    /// matches of `re` replaced by `s`, as Bash's `${v/re/s}`.
    Replace(regex::bytes::Regex, Vec<u8>, bool),
    /// `{^re}` `{^^re}` `{,re}` `{,,re}`: the first (leading) / every match of `re` upper- or
    /// lower-cased, as Bash's `${v^a}` `${v^^a}` `${v,a}` `${v,,a}`.
    Case(regex::bytes::Regex, bool, bool),
}

/// `--plus`'s `{uniq}` and `{choose_k}`: a task whose values fail it does not run (its
/// number is used up, as in GNU parallel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Filter {
    /// Every value of the task differs from the others.
    Uniq,
    /// The values are in strictly increasing order (one of each combination).
    ChooseK,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Lit(Vec<u8>),
    Ph(Placeholder),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Word {
    pieces: Vec<Piece>,
}

/// How placeholders are spelled: `-I`, `--plus`, `--header :`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Syntax {
    /// `-I STR`: STR is the value placeholder instead of `{}`.
    pub replace: Option<Vec<u8>>,
    /// `--plus`: GNU parallel's extra replacement strings.
    pub plus: bool,
    /// `--header :`: `{name}` names a column.
    pub header: bool,
    /// GNU parallel's `--extensionreplace` and friends: a string that stands for a
    /// placeholder.
    pub more: Vec<(Vec<u8>, Placeholder)>,
}

/// What parsing collects besides the words.
#[derive(Default)]
struct Tables {
    ops: Vec<Op>,
    names: Vec<Vec<u8>>,
    filter: Option<Filter>,
}

impl Word {
    fn parse(w: &[u8], syn: &Syntax, t: &mut Tables) -> Word {
        let mut pieces = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while i < w.len() {
            let mut found = None;
            if let Some(r) = syn.replace.as_deref().filter(|r| w[i..].starts_with(r)) {
                found = Some((
                    Placeholder::Value {
                        col: None,
                        tr: Transform::Whole,
                    },
                    r.len(),
                ));
            } else if let Some((r, ph)) = syn.more.iter().find(|(r, _)| w[i..].starts_with(r)) {
                found = Some((*ph, r.len()));
            } else if w[i] == b'{' {
                if let Some(end) = w[i..].iter().position(|&c| c == b'}') {
                    found = parse_placeholder(&w[i + 1..i + end], syn, t).map(|p| (p, end + 1));
                }
            }
            match found {
                Some((ph, len)) => {
                    if !lit.is_empty() {
                        pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                    }
                    pieces.push(Piece::Ph(ph));
                    i += len;
                }
                None => {
                    lit.push(w[i]);
                    i += 1;
                }
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Word { pieces }
    }

    fn phs(&self) -> impl Iterator<Item = &Placeholder> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Ph(ph) => Some(ph),
            Piece::Lit(_) => None,
        })
    }

    /// Whether any value placeholder (`{}`, `{1}`, …) occurs.
    fn uses_values(&self) -> bool {
        self.phs().any(|p| matches!(p, Placeholder::Value { .. }))
    }

    /// Whether a placeholder that stands for each record in turn (`{}`, `{.}`, …) occurs.
    fn per_record(&self) -> bool {
        self.phs()
            .any(|p| matches!(p, Placeholder::Value { col: None, .. }))
    }

    /// The word cut at blanks (space, tab, newline): `Ok` parts and `Err` runs of blanks.
    fn blank_split(&self) -> Vec<Result<Word, &[u8]>> {
        let blank = |c: &u8| matches!(c, b' ' | b'\t' | b'\n');
        let mut out = Vec::new();
        let mut cur = Word { pieces: Vec::new() };
        for p in &self.pieces {
            let Piece::Lit(l) = p else {
                cur.pieces.push(p.clone());
                continue;
            };
            let mut rest = &l[..];
            while !rest.is_empty() {
                let n = rest.iter().take_while(|c| !blank(c)).count();
                if n > 0 {
                    cur.pieces.push(Piece::Lit(rest[..n].to_vec()));
                }
                rest = &rest[n..];
                let b = rest.iter().take_while(|c| blank(c)).count();
                if b > 0 {
                    if !cur.pieces.is_empty() {
                        out.push(Ok(std::mem::replace(&mut cur, Word { pieces: Vec::new() })));
                    }
                    out.push(Err(&rest[..b]));
                    rest = &rest[b..];
                }
            }
        }
        if !cur.pieces.is_empty() {
            out.push(Ok(cur));
        }
        out
    }

    /// `Some(tr)` when the word is exactly one whole-record placeholder such as `{}`.
    fn lone_whole(&self) -> Option<Transform> {
        match self.pieces.as_slice() {
            [Piece::Ph(Placeholder::Value { col: None, tr })] => Some(*tr),
            _ => None,
        }
    }
}

/// Parses what is between `{` and `}`.
fn parse_placeholder(inner: &[u8], syn: &Syntax, t: &mut Tables) -> Option<Placeholder> {
    if syn.plus {
        match inner {
            b"##" => return Some(Placeholder::Total),
            b"0#" => return Some(Placeholder::SeqPad),
            b"0%" => return Some(Placeholder::SlotPad),
            _ => {}
        }
    }
    match inner {
        b"#" => return Some(Placeholder::Seq),
        b"%" => return Some(Placeholder::Slot),
        _ => {}
    }
    // A position: -?digits, then optional blanks (GNU parallel: `{1 }`, even across lines).
    let neg = inner.first() == Some(&b'-');
    let start = usize::from(neg);
    let digits = inner[start..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    let (col, rest) = if digits > 0 {
        let n: usize = std::str::from_utf8(&inner[start..start + digits])
            .ok()?
            .parse()
            .ok()?;
        if n == 0 {
            return None;
        }
        let mut rest = &inner[start + digits..];
        while let [b' ' | b'\t' | b'\n' | b'\r', tail @ ..] = rest {
            rest = tail;
        }
        (Some(if neg { Col::Neg(n) } else { Col::Pos(n) }), rest)
    } else if neg {
        return None;
    } else {
        (None, inner)
    };
    if syn.plus {
        let filter = match rest {
            b"uniq" => Some(Filter::Uniq),
            b"choose_k" => Some(Filter::ChooseK),
            _ => None,
        };
        if let Some(f) = filter {
            t.filter = Some(f);
            return Some(Placeholder::Value {
                col,
                tr: Transform::Whole,
            });
        }
    }
    let tr = match rest {
        b"" if col.is_none() && syn.replace.is_some() => return None,
        b"" => Transform::Whole,
        b"." => Transform::NoExt,
        b"/" => Transform::Base,
        b"//" => Transform::Dir,
        b"/." => Transform::BaseNoExt,
        _ if syn.plus => match plus_transform(rest, t) {
            Some(tr) => tr,
            None => return named(col, rest, syn, t),
        },
        _ => return named(col, rest, syn, t),
    };
    Some(Placeholder::Value { col, tr })
}

/// `{name}` with `--header :`.
fn named(col: Option<Col>, rest: &[u8], syn: &Syntax, t: &mut Tables) -> Option<Placeholder> {
    if !syn.header || col.is_some() || rest.is_empty() {
        return None;
    }
    let i = match t.names.iter().position(|n| n == rest) {
        Some(i) => i,
        None => {
            t.names.push(rest.to_vec());
            t.names.len() - 1
        }
    };
    Some(Placeholder::Value {
        col: Some(Col::Named(u16::try_from(i).ok()?)),
        tr: Transform::Whole,
    })
}

/// `--plus` replacement strings (after the position, if any).
fn plus_transform(rest: &[u8], t: &mut Tables) -> Option<Transform> {
    let tr = match rest {
        b".." => Transform::NoExt2,
        b"..." => Transform::NoExt3,
        b"/.." => Transform::BaseNoExt2,
        b"/..." => Transform::BaseNoExt3,
        b"+/" => Transform::PlusDir,
        b"+." => Transform::PlusExt,
        b"+.." => Transform::PlusExt2,
        b"+..." => Transform::PlusExt3,
        _ => {
            let op = parse_op(rest)?;
            t.ops.push(op);
            return Some(Transform::Op(u16::try_from(t.ops.len() - 1).ok()?));
        }
    };
    Some(tr)
}

/// `{:-x}` `{:N}` `{:N:M}` `{#re}` `{##re}` `{%re}` `{%%re}`.
fn parse_op(rest: &[u8]) -> Option<Op> {
    let text = std::str::from_utf8(rest).ok()?;
    let re = |pattern: &str, lazy: bool| {
        regex::bytes::RegexBuilder::new(pattern)
            .swap_greed(lazy)
            .build()
            .ok()
    };
    if let Some(d) = text.strip_prefix(":-") {
        return (!d.is_empty()).then(|| Op::Default(d.as_bytes().to_vec()));
    }
    if let Some(spec) = text.strip_prefix(':') {
        let mut it = spec.splitn(2, ':');
        let from = it.next()?.parse().ok()?;
        let len = match it.next() {
            None => None,
            Some(l) => Some(l.parse().ok()?),
        };
        return Some(Op::Substr(from, len));
    }
    let lit = |r: &str| r.as_bytes().to_vec();
    for (prefix, anchor, all) in [("//", "", true), ("/#", "^", false), ("/%", "$", false)] {
        if let Some(spec) = text.strip_prefix(prefix) {
            let (p, r) = spec.split_once('/')?;
            let pattern = match anchor {
                "^" => format!("^(?:{p})"),
                "$" => format!("(?:{p})$"),
                _ => format!("(?:{p})"),
            };
            return (!p.is_empty())
                .then(|| re(&pattern, true).map(|x| Op::Replace(x, lit(r), all)))?;
        }
    }
    if let Some(spec) = text.strip_prefix('/') {
        let (p, r) = spec.split_once('/')?;
        if p.is_empty() || p.starts_with(['#', '%']) {
            return None;
        }
        return re(&format!("(?:{p})"), true).map(|x| Op::Replace(x, lit(r), false));
    }
    for (prefix, upper, all) in [
        ("^^", true, true),
        ("^", true, false),
        (",,", false, true),
        (",", false, false),
    ] {
        if let Some(p) = text.strip_prefix(prefix) {
            let pattern = if all {
                format!("(?:{p})")
            } else {
                format!("^(?:{p})")
            };
            return (!p.is_empty()).then(|| re(&pattern, true).map(|x| Op::Case(x, upper, all)))?;
        }
    }
    if let Some(p) = text.strip_prefix("##") {
        return (!p.is_empty()).then(|| re(&format!("^(?:{p})"), false).map(Op::Prefix))?;
    }
    if let Some(p) = text.strip_prefix('#') {
        return (!p.is_empty()).then(|| re(&format!("^(?:{p})"), true).map(Op::Prefix))?;
    }
    if let Some(p) = text.strip_prefix("%%") {
        return (!p.is_empty())
            .then(|| re(&format!("(?:{p})$"), false).map(|r| Op::Suffix(r, true)))?;
    }
    if let Some(p) = text.strip_prefix('%') {
        return (!p.is_empty())
            .then(|| re(&format!("(?:{p})$"), true).map(|r| Op::Suffix(r, false)))?;
    }
    None
}

impl Op {
    fn apply(&self, v: &[u8]) -> Vec<u8> {
        match self {
            Op::Default(d) => {
                if v.is_empty() || v == b"0" {
                    d.clone()
                } else {
                    v.to_vec()
                }
            }
            Op::Substr(from, len) => {
                let s = v.get(*from..).unwrap_or_default();
                match len {
                    Some(l) => s[..s.len().min(*l)].to_vec(),
                    None => s.to_vec(),
                }
            }
            Op::Prefix(re) => match re.find(v) {
                Some(m) => v[m.end()..].to_vec(),
                None => v.to_vec(),
            },
            Op::Replace(re, with, all) => {
                let with = regex::bytes::NoExpand(with);
                match all {
                    true => re.replace_all(v, with).into_owned(),
                    false => re.replace(v, with).into_owned(),
                }
            }
            Op::Case(re, upper, all) => {
                let change = |m: &regex::bytes::Captures<'_>| -> Vec<u8> {
                    let text = String::from_utf8_lossy(&m[0]);
                    match upper {
                        true => text.to_uppercase().into_bytes(),
                        false => text.to_lowercase().into_bytes(),
                    }
                };
                match all {
                    true => re.replace_all(v, change).into_owned(),
                    false => re.replace(v, change).into_owned(),
                }
            }
            Op::Suffix(re, longest) => {
                // The shortest suffix starts at the last position where the pattern matches
                // to the end; the longest at the first.
                let ends_here = |&i: &usize| {
                    re.find_at(v, i)
                        .is_some_and(|m| m.start() == i && m.end() == v.len())
                };
                let at = if *longest {
                    (0..=v.len()).find(ends_here)
                } else {
                    (0..=v.len()).rev().find(ends_here)
                };
                match at {
                    Some(i) => v[..i].to_vec(),
                    None => v.to_vec(),
                }
            }
        }
    }
}

/// How the command is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Separate words, exec'd directly.
    Argv,
    /// Through `sh -c`, values quoted.
    Shell,
    /// No command: each value is itself a shell command line.
    ValueIsCommand,
}

/// How a placeholder that stands for each record expands when a task has several records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Replace {
    /// `-X`, `-n`, `-N`, `-L`: the placeholder's word is repeated per record (`a{}b` → `a1b a2b`).
    #[default]
    Context,
    /// `-m`, `--xargs`: the placeholder alone is replaced by all values (`a{}b` → `a1 2b`).
    Plain,
}

/// A parsed command template.
#[derive(Clone, Debug)]
pub(crate) struct Template {
    words: Vec<Word>,
    mode: Mode,
    uses_values: bool,
    /// Any placeholder at all, `{#}` and `{%}` included: values are appended only without.
    any_placeholder: bool,
    /// `{uniq}` / `{choose_k}`: which tasks run.
    filter: Option<Filter>,
    /// Values are appended when no placeholder occurs (false in chunk modes).
    append: bool,
    replace: Replace,
    ops: Vec<Op>,
    names: Vec<Vec<u8>>,
    /// `--header :`: the column names read from the input.
    header: OnceLock<Vec<Vec<u8>>>,
    /// `{##}`: the number of tasks, once known.
    total: OnceLock<u64>,
    /// The number of job slots (`{0%}`'s width).
    jobs: usize,
}

/// A rendered command, ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Rendered {
    /// Program and arguments.
    Argv(Vec<OsString>),
    /// A script for `sh -c`.
    Shell(Vec<u8>),
}

/// What one rendering needs to know about the task.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx<'a> {
    /// `{#}`.
    pub seq: u64,
    /// `{%}`.
    pub slot: usize,
    /// The task's argument records.
    pub records: &'a [Record],
}

/// Bytes that make a single command word need a shell.
const SHELL_META: &[u8] = b" \t\n|&;<>()$`\\\"'*?[#~";

/// What a rendering resolves value placeholders against.
struct Env<'a> {
    ctx: &'a Ctx<'a>,
    /// Every value of the task, in order (`{N}`, `{-N}`).
    flat: Vec<&'a OsString>,
    shell: bool,
}

impl Template {
    /// Parses the command words. One word with whitespace or shell metacharacters, or
    /// `force_shell`, means shell mode; no words means each value is a command line.
    pub(crate) fn new(words: &[OsString], force_shell: bool) -> Template {
        Self::with_syntax(words, force_shell, &Syntax::default())
    }

    /// [`Template::new`] with `-I`, `--plus` or `--header :` spellings.
    pub(crate) fn with_syntax(words: &[OsString], force_shell: bool, syn: &Syntax) -> Template {
        let mode = if words.is_empty() {
            Mode::ValueIsCommand
        } else if force_shell
            || (words.len() == 1 && words[0].as_bytes().iter().any(|c| SHELL_META.contains(c)))
        {
            Mode::Shell
        } else {
            Mode::Argv
        };
        let mut t = Tables::default();
        let words: Vec<Word> = words
            .iter()
            .map(|w| Word::parse(w.as_bytes(), syn, &mut t))
            .collect();
        let uses_values = words.iter().any(Word::uses_values);
        let any_placeholder = words.iter().any(|w| w.phs().next().is_some());
        Template {
            words,
            mode,
            uses_values,
            any_placeholder,
            append: true,
            replace: Replace::Context,
            ops: t.ops,
            names: t.names,
            filter: t.filter,
            header: OnceLock::new(),
            total: OnceLock::new(),
            jobs: 1,
        }
    }

    /// A command that is its values: no words of its own, run without a shell, every value
    /// an argument (the `xargs` personality, whose records are whole command lines).
    pub(crate) fn argv_values() -> Template {
        let mut t = Self::new(&[], false);
        t.mode = Mode::Argv;
        t
    }

    /// Never append values to the command (chunk modes: the data is on stdin).
    pub(crate) fn without_appending(mut self) -> Template {
        self.append = false;
        self
    }

    /// `-m`/`--xargs`: plain replace in batches instead of context replace.
    pub(crate) fn with_replace(mut self, r: Replace) -> Template {
        self.replace = r;
        self
    }

    /// The number of job slots (for `{0%}`).
    pub(crate) fn with_jobs(mut self, jobs: usize) -> Template {
        self.jobs = jobs;
        self
    }

    /// Whether a task with these records runs (`{uniq}`, `{choose_k}`; always without them).
    pub(crate) fn accepts(&self, records: &[Record]) -> bool {
        let values: Vec<&OsString> = records.iter().flatten().collect();
        match self.filter {
            None => true,
            Some(Filter::Uniq) => {
                let mut sorted = values.clone();
                sorted.sort();
                sorted.dedup();
                sorted.len() == values.len()
            }
            Some(Filter::ChooseK) => values.windows(2).all(|w| w[0] < w[1]),
        }
    }

    /// Whether a value placeholder (`{}`, `{.}`, `{1}`, …) occurs in the command.
    pub(crate) fn uses_values(&self) -> bool {
        self.uses_values
    }

    /// Whether the program every task runs is the same word, typed without a placeholder
    /// (`cmd {}`, not `{} arg` or a shell command line): if it cannot be started for one task,
    /// it cannot for any.
    pub(crate) fn fixed_program(&self) -> bool {
        self.mode == Mode::Argv && self.words.first().is_some_and(|w| w.phs().next().is_none())
    }

    /// Whether `{##}` or `{0#}` occurs: the number of tasks must be known before the first runs.
    pub(crate) fn needs_total(&self) -> bool {
        self.placeholders()
            .any(|p| matches!(p, Placeholder::Total | Placeholder::SeqPad))
    }

    /// Sets the number of tasks (`{##}`); the first call wins.
    pub(crate) fn set_total(&self, n: u64) {
        let _ = self.total.set(n);
    }

    /// The column names read from the input (`--header :`), once read.
    pub(crate) fn header_names(&self) -> Option<&[Vec<u8>]> {
        self.header.get().map(Vec::as_slice)
    }

    /// Sets the column names read from the input (`--header :`); the first call wins.
    pub(crate) fn set_header(&self, names: Vec<Vec<u8>>) {
        let _ = self.header.set(names);
    }

    /// The names used in `{name}` placeholders that are not among the header's columns.
    pub(crate) fn unknown_names(&self) -> Vec<String> {
        let header = self.header.get().map(Vec::as_slice).unwrap_or_default();
        self.names
            .iter()
            .filter(|n| !header.contains(n))
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect()
    }

    /// The run mode.
    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    /// Every placeholder that occurs in the command.
    pub(crate) fn placeholders(&self) -> impl Iterator<Item = Placeholder> + '_ {
        self.words.iter().flat_map(|w| w.phs().copied())
    }

    fn env<'a>(&self, ctx: &'a Ctx<'a>, shell: bool) -> Env<'a> {
        Env {
            ctx,
            flat: ctx.records.iter().flatten().collect(),
            shell,
        }
    }

    /// Renders the command for one task.
    pub(crate) fn render(&self, ctx: &Ctx) -> Rendered {
        match self.mode {
            Mode::Argv => Rendered::Argv(self.render_argv(ctx)),
            Mode::Shell => Rendered::Shell(self.render_shell(ctx)),
            Mode::ValueIsCommand => {
                let mut script = Vec::new();
                for v in ctx.records.iter().flatten() {
                    if !script.is_empty() {
                        script.push(b' ');
                    }
                    script.extend_from_slice(v.as_bytes());
                }
                Rendered::Shell(script)
            }
        }
    }

    /// Expands the words as plain text, joined by spaces: no quoting, no appended values
    /// (`--tag`, `--tagstring`). A value placeholder stands for each record in turn.
    pub(crate) fn expand_text(&self, ctx: &Ctx) -> Vec<u8> {
        let env = self.env(ctx, false);
        let mut out = Vec::new();
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            if !w.per_record() {
                out.extend(self.expand(w, &env, None));
                continue;
            }
            for (j, rec) in ctx.records.iter().enumerate() {
                if j > 0 {
                    out.push(b' ');
                }
                out.extend(self.expand(w, &env, Some(rec)));
            }
        }
        out
    }

    fn appends(&self) -> bool {
        self.append && !self.any_placeholder
    }

    fn render_argv(&self, ctx: &Ctx) -> Vec<OsString> {
        let env = self.env(ctx, false);
        let mut out = Vec::with_capacity(self.words.len() + 1);
        for w in &self.words {
            if !w.per_record() {
                if self.missing_lone_position(w, &env) {
                    // `{3}` of a batch of two: no word (as the shell drops an empty one in
                    // GNU parallel's command line).
                    continue;
                }
                out.push(OsString::from_vec(self.expand(w, &env, None)));
                continue;
            }
            if self.replace == Replace::Plain && ctx.records.len() > 1 {
                out.extend(
                    self.expand_split(w, &env)
                        .into_iter()
                        .map(OsString::from_vec),
                );
                continue;
            }
            for rec in ctx.records {
                match w.lone_whole() {
                    Some(tr) => {
                        for v in rec {
                            out.push(OsString::from_vec(self.transform(v.as_bytes(), tr)));
                        }
                    }
                    None => out.push(OsString::from_vec(self.expand(w, &env, Some(rec)))),
                }
            }
        }
        if self.appends() {
            out.extend(ctx.records.iter().flatten().cloned());
        }
        out
    }

    fn render_shell(&self, ctx: &Ctx) -> Vec<u8> {
        let env = self.env(ctx, true);
        let mut s = Vec::new();
        let sep = |s: &mut Vec<u8>| {
            if !s.is_empty() {
                s.push(b' ');
            }
        };
        for w in &self.words {
            if !w.per_record() {
                sep(&mut s);
                s.extend(self.expand(w, &env, None));
                continue;
            }
            if ctx.records.len() > 1 {
                sep(&mut s);
                if self.replace == Replace::Plain {
                    s.extend(self.expand(w, &env, None));
                    continue;
                }
                // Context replace within each blank-separated part of a command string, as
                // GNU parallel does (`'echo a{}b'` → `echo a1b a2b`); a part with only
                // positional placeholders is copied once.
                for part in w.blank_split() {
                    match part {
                        Err(blank) => s.extend_from_slice(blank),
                        Ok(p) if !p.per_record() => s.extend(self.expand(&p, &env, None)),
                        Ok(p) => {
                            for (i, rec) in ctx.records.iter().enumerate() {
                                if i > 0 {
                                    s.push(b' ');
                                }
                                s.extend(self.expand(&p, &env, Some(rec)));
                            }
                        }
                    }
                }
                continue;
            }
            for rec in ctx.records {
                sep(&mut s);
                s.extend(self.expand(w, &env, Some(rec)));
            }
        }
        if self.appends() {
            for v in ctx.records.iter().flatten() {
                sep(&mut s);
                shell_word_into(&mut s, v.as_bytes());
            }
        }
        s
    }

    /// The values a value placeholder stands for: `rec`'s for `{}` (all of the task's when
    /// `rec` is `None`), one of the task's for `{N}`.
    fn values<'a>(
        &self,
        col: Option<Col>,
        env: &Env<'a>,
        rec: Option<&'a Record>,
    ) -> Vec<&'a OsString> {
        let n = env.flat.len();
        let at = |i: Option<usize>| {
            i.and_then(|i| env.flat.get(i).copied())
                .into_iter()
                .collect()
        };
        match col {
            None => match rec {
                Some(r) => r.iter().collect(),
                None => env.flat.clone(),
            },
            Some(Col::Pos(p)) => at(Some(p - 1)),
            Some(Col::Neg(k)) => at(n.checked_sub(k)),
            Some(Col::Named(i)) => {
                let name = &self.names[usize::from(i)];
                let pos = self
                    .header
                    .get()
                    .and_then(|h| h.iter().position(|c| c == name));
                at(pos)
            }
        }
    }

    /// Expands one word for one record (or, with `None`, for all values of the task at once:
    /// words without per-record placeholders, and `-m`'s plain replace).
    fn expand(&self, w: &Word, env: &Env, rec: Option<&Record>) -> Vec<u8> {
        let ctx = env.ctx;
        let mut out = Vec::new();
        for p in &w.pieces {
            match p {
                Piece::Lit(l) => out.extend_from_slice(l),
                Piece::Ph(Placeholder::Value { col, tr }) => {
                    let vals = self.values(*col, env, rec);
                    // A missing position (`{3}` of two values) is nothing, as in GNU
                    // parallel; an empty record still quotes as ''.
                    if vals.is_empty() && env.shell && col.is_none() {
                        out.extend_from_slice(b"''");
                    }
                    for (i, v) in vals.iter().enumerate() {
                        if i > 0 {
                            out.push(b' ');
                        }
                        let v = self.transform(v.as_bytes(), *tr);
                        if env.shell {
                            shell_word_into(&mut out, &v);
                        } else {
                            out.extend_from_slice(&v);
                        }
                    }
                }
                Piece::Ph(ph) => out.extend(self.number(*ph, ctx)),
            }
        }
        out
    }

    /// Whether `w` is exactly one positional placeholder with no value to take.
    fn missing_lone_position(&self, w: &Word, env: &Env) -> bool {
        match w.pieces.as_slice() {
            [Piece::Ph(Placeholder::Value { col: Some(c), .. })] => {
                self.values(Some(*c), env, None).is_empty()
            }
            _ => false,
        }
    }

    /// `-m` in argv mode: the word as the shell would split `a{}b` with values `1 2`
    /// (`a1`, `2b`).
    fn expand_split(&self, w: &Word, env: &Env) -> Vec<Vec<u8>> {
        let mut words = vec![Vec::new()];
        for p in &w.pieces {
            match p {
                Piece::Lit(l) => words.last_mut().expect("non-empty").extend_from_slice(l),
                Piece::Ph(Placeholder::Value { col, tr }) => {
                    for (i, v) in self.values(*col, env, None).iter().enumerate() {
                        if i > 0 {
                            words.push(Vec::new());
                        }
                        let v = self.transform(v.as_bytes(), *tr);
                        words.last_mut().expect("non-empty").extend_from_slice(&v);
                    }
                }
                Piece::Ph(ph) => words
                    .last_mut()
                    .expect("non-empty")
                    .extend(self.number(*ph, env.ctx)),
            }
        }
        words
    }

    /// `{#}`, `{%}` and `--plus`'s numbers.
    fn number(&self, ph: Placeholder, ctx: &Ctx) -> Vec<u8> {
        let width = |n: u64| n.max(1).to_string().len();
        let total = self.total.get().copied().unwrap_or(0);
        match ph {
            Placeholder::Seq => ctx.seq.to_string().into_bytes(),
            Placeholder::Slot => ctx.slot.to_string().into_bytes(),
            Placeholder::Total => total.to_string().into_bytes(),
            Placeholder::SeqPad => format!("{:0w$}", ctx.seq, w = width(total)).into_bytes(),
            Placeholder::SlotPad => {
                format!("{:0w$}", ctx.slot, w = width(self.jobs as u64)).into_bytes()
            }
            Placeholder::Value { .. } => Vec::new(),
        }
    }

    /// Applies a transform, the template's `--plus` operations included.
    fn transform(&self, v: &[u8], tr: Transform) -> Vec<u8> {
        match tr {
            Transform::Op(i) => self.ops[usize::from(i)].apply(v),
            _ => transform(v, tr),
        }
    }
}

/// Appends `v` as one shell word exactly as GNU parallel quotes a value for a Bourne shell
/// (its `shell_quote_scalar_default`): as it is when it holds only letters, digits and
/// `-_.+/`; else single-quoted, each `'` as `'"'"'`, with the `''` this leaves at either end
/// dropped. Same bytes as GNU's, so `-X` packs the same values into a command line and
/// `--dry-run` prints the same script.
pub(crate) fn shell_word_into(out: &mut Vec<u8>, v: &[u8]) {
    let plain = |c: &u8| c.is_ascii_alphanumeric() || b"-_.+/".contains(c);
    if v.is_empty() {
        out.extend_from_slice(b"''");
        return;
    }
    if v.iter().all(plain) {
        out.extend_from_slice(v);
        return;
    }
    let mut q = vec![b'\''];
    for &c in v {
        if c == b'\'' {
            q.extend_from_slice(b"'\"'\"'");
        } else {
            q.push(c);
        }
    }
    q.push(b'\'');
    let start = if q.starts_with(b"''") { 2 } else { 0 };
    let end = if q.len() >= start + 2 && q.ends_with(b"''") {
        q.len() - 2
    } else {
        q.len()
    };
    out.extend_from_slice(&q[start..end.max(start)]);
}

/// Applies a transform to one value (GNU parallel's rules, Perl `dirname` for `{//}`).
pub(crate) fn transform(v: &[u8], tr: Transform) -> Vec<u8> {
    match tr {
        Transform::Whole | Transform::Op(_) => v.to_vec(),
        Transform::NoExt => no_ext(v).to_vec(),
        Transform::Base => basename(v).to_vec(),
        Transform::Dir => dirname(v),
        Transform::BaseNoExt => no_ext(basename(v)).to_vec(),
        Transform::NoExt2 => strip_exts(v, 2).to_vec(),
        Transform::NoExt3 => strip_exts(v, 3).to_vec(),
        Transform::BaseNoExt2 => strip_exts(basename(v), 2).to_vec(),
        Transform::BaseNoExt3 => strip_exts(basename(v), 3).to_vec(),
        Transform::PlusDir => match memchr::memrchr(b'/', v) {
            Some(i) => v[..i].to_vec(),
            None => Vec::new(),
        },
        Transform::PlusExt => match memchr::memrchr(b'.', v) {
            Some(i) => v[i + 1..].to_vec(),
            None => Vec::new(),
        },
        Transform::PlusExt2 => exts(v, 2).to_vec(),
        Transform::PlusExt3 => exts(v, 3).to_vec(),
    }
}

/// GNU's `s:\.[^/.]*\.[^/.]*$::` (n = 2): the value without its last n extensions, when it
/// has n.
fn strip_exts(v: &[u8], n: usize) -> &[u8] {
    match ext_start(v, n) {
        Some(i) => &v[..i],
        None => v,
    }
}

/// GNU's `s:.*\.([^/.]*\.[^/.]*)$:$1:` (n = 2): the last n extensions, or empty.
fn exts(v: &[u8], n: usize) -> &[u8] {
    match ext_start(v, n) {
        Some(i) => &v[i + 1..],
        None => b"",
    }
}

/// Where the last `n` extensions (`.x.y`, no `/` in them) of `v` start.
fn ext_start(v: &[u8], n: usize) -> Option<usize> {
    let mut end = v.len();
    let mut at = None;
    for _ in 0..n {
        let i = memchr::memrchr(b'.', &v[..end])?;
        if v[i + 1..end].contains(&b'/') {
            return None;
        }
        at = Some(i);
        end = i;
    }
    at
}

fn basename(v: &[u8]) -> &[u8] {
    match memchr::memrchr(b'/', v) {
        Some(i) => &v[i + 1..],
        None => v,
    }
}

fn no_ext(v: &[u8]) -> &[u8] {
    match memchr::memrchr(b'.', v) {
        Some(i) if !v[i..].contains(&b'/') => &v[..i],
        _ => v,
    }
}

fn dirname(v: &[u8]) -> Vec<u8> {
    fn fileparse(p: &[u8]) -> (&[u8], &[u8]) {
        match memchr::memrchr(b'/', p) {
            Some(i) => (&p[..=i], &p[i + 1..]),
            None => (b"./", p),
        }
    }
    fn strip(mut d: &[u8]) -> &[u8] {
        while d.len() > 1 && d.ends_with(b"/") {
            d = &d[..d.len() - 1];
        }
        d
    }
    let (d, base) = fileparse(v);
    let mut d = strip(d);
    if base.is_empty() {
        d = strip(fileparse(d).0);
    }
    d.to_vec()
}

/// Appends `v` single-quoted for `sh`: `it's` becomes `'it'\''s'`.
pub(crate) fn quote_into(out: &mut Vec<u8>, v: &[u8]) {
    out.push(b'\'');
    for &c in v {
        if c == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(c);
        }
    }
    out.push(b'\'');
}

/// Appends `v` to `out`, quoted only when it needs it.
fn display_word_into(out: &mut Vec<u8>, v: &OsStr) {
    let b = v.as_bytes();
    let plain = |c: &u8| c.is_ascii_alphanumeric() || b"_-./:@%+=,^".contains(c);
    if !b.is_empty() && b.iter().all(plain) {
        out.extend_from_slice(b);
    } else {
        quote_into(out, b);
    }
}

/// Shell words that are not programs to exec: reserved words and builtins (bash's and POSIX
/// sh's). A command starting with one needs its shell even when it has an executable of the
/// same name (`echo`'s options differ, `cd` would do nothing).
const SHELL_WORDS: &[&str] = &[
    "!",
    ".",
    ":",
    "[",
    "[[",
    "]]",
    "{",
    "}",
    "alias",
    "bg",
    "bind",
    "break",
    "builtin",
    "caller",
    "case",
    "cd",
    "command",
    "compgen",
    "complete",
    "compopt",
    "continue",
    "coproc",
    "declare",
    "dirs",
    "disown",
    "do",
    "done",
    "echo",
    "elif",
    "else",
    "enable",
    "esac",
    "eval",
    "exec",
    "exit",
    "export",
    "fc",
    "fg",
    "fi",
    "for",
    "function",
    "getopts",
    "hash",
    "help",
    "history",
    "if",
    "in",
    "jobs",
    "kill",
    "let",
    "local",
    "logout",
    "mapfile",
    "popd",
    "printf",
    "pushd",
    "pwd",
    "read",
    "readarray",
    "readonly",
    "return",
    "select",
    "set",
    "shift",
    "shopt",
    "source",
    "suspend",
    "test",
    "then",
    "time",
    "times",
    "trap",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "until",
    "wait",
    "while",
];

/// The words of a shell command line that a shell would run as they are: words of letters,
/// digits, bytes past ASCII and `-_.+/,:@%` only, separated by blanks, the first not a reserved
/// word or builtin (nor an assignment). `None` when the shell is needed.
pub(crate) fn direct_words(script: &[u8]) -> Option<Vec<OsString>> {
    let safe = |c: &u8| c.is_ascii_alphanumeric() || *c >= 0x80 || b"-_.+/,:@%".contains(c);
    let words: Vec<&[u8]> = script
        .split(|c| *c == b' ' || *c == b'\t')
        .filter(|w| !w.is_empty())
        .collect();
    let first = std::str::from_utf8(words.first()?).ok()?;
    if SHELL_WORDS.contains(&first) || !words.iter().all(|w| w.iter().all(safe)) {
        return None;
    }
    Some(
        words
            .iter()
            .map(|w| OsString::from_vec(w.to_vec()))
            .collect(),
    )
}

/// One word quoted as GNU's `quotearg` shell-escape style quotes it (xargs `-t`, `ls
/// --quoting-style=shell-escape`): bare when nothing in it is special to a shell, in double
/// quotes when its only special character is `'`, else in single quotes with `'\''` for a
/// quote and control bytes as `$'\n'`, `$'\001'`.
pub(crate) fn shell_escape(w: &[u8]) -> Vec<u8> {
    const SPECIAL: &[u8] = b" !\"$&'()*;<=>?[\\^`|";
    let control = |c: u8| c < 0x20 || c == 0x7f;
    let utf8 = std::str::from_utf8(w).is_ok();
    // Bytes outside ASCII print as they are in valid UTF-8, escaped otherwise.
    let escaped = |c: u8| control(c) || (c >= 0x80 && !utf8);
    let special = |i: usize, c: u8| {
        SPECIAL.contains(&c)
            || escaped(c)
            || (i == 0 && (c == b'#' || c == b'~'))
            || (w.len() == 1 && (c == b'{' || c == b'}'))
    };
    if w.is_empty() {
        return b"''".to_vec();
    }
    if !w.iter().enumerate().any(|(i, &c)| special(i, c)) {
        return w.to_vec();
    }
    let dq_safe =
        |c: u8| c.is_ascii_alphanumeric() || b" %'+,-./:@]_".contains(&c) || (c >= 0x80 && utf8);
    if w.contains(&b'\'') && w.iter().all(|&c| dq_safe(c)) {
        let mut out = vec![b'"'];
        out.extend_from_slice(w);
        out.push(b'"');
        return out;
    }
    let mut out = vec![b'\''];
    let (mut quoted, mut esc) = (true, false);
    for &c in w {
        if escaped(c) {
            if quoted {
                out.push(b'\'');
                quoted = false;
            }
            if !esc {
                out.extend_from_slice(b"$'");
                esc = true;
            }
            match c {
                7 => out.extend_from_slice(b"\\a"),
                8 => out.extend_from_slice(b"\\b"),
                b'\t' => out.extend_from_slice(b"\\t"),
                b'\n' => out.extend_from_slice(b"\\n"),
                0x0b => out.extend_from_slice(b"\\v"),
                0x0c => out.extend_from_slice(b"\\f"),
                b'\r' => out.extend_from_slice(b"\\r"),
                _ => out.extend_from_slice(format!("\\{c:03o}").as_bytes()),
            }
            continue;
        }
        if esc {
            out.push(b'\'');
            esc = false;
        }
        if !quoted {
            out.push(b'\'');
            quoted = true;
        }
        if c == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(c);
        }
    }
    if esc || quoted {
        out.push(b'\'');
    }
    out
}

impl Rendered {
    /// The command as GNU xargs `-t` prints it: the words quoted by [`shell_escape`].
    pub(crate) fn display_escaped(&self) -> Vec<u8> {
        match self {
            Rendered::Shell(s) => s.clone(),
            Rendered::Argv(words) => {
                let words: Vec<Vec<u8>> =
                    words.iter().map(|w| shell_escape(w.as_bytes())).collect();
                words.join(&b' ')
            }
        }
    }

    /// The command as one shell-readable line (for `--dry-run`).
    pub(crate) fn display(&self) -> Vec<u8> {
        match self {
            Rendered::Shell(s) => s.clone(),
            Rendered::Argv(words) => {
                let size: usize = words.iter().map(|w| w.len() + 3).sum();
                let mut out = Vec::with_capacity(size);
                for (i, w) in words.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    display_word_into(&mut out, w);
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn argv(cmd: &[&str], recs: &[&[&str]], seq: u64, slot: usize) -> Vec<String> {
        let t = Template::new(&os(cmd), false);
        let recs: Vec<Record> = recs.iter().map(|r| os(r)).collect();
        match t.render(&Ctx {
            seq,
            slot,
            records: &recs,
        }) {
            Rendered::Argv(a) => a.into_iter().map(|s| s.into_string().unwrap()).collect(),
            Rendered::Shell(s) => vec!["SHELL".into(), String::from_utf8(s).unwrap()],
        }
    }

    #[test]
    fn transforms_match_gnu_parallel() {
        let cases: &[(&str, &str, &str, &str, &str)] = &[
            // value, {.}, {/}, {//}, {/.}
            ("foo.", "foo", "foo.", ".", "foo"),
            (".bashrc", "", ".bashrc", ".", ""),
            ("a/.b", "a/", ".b", "a", ""),
            ("a/b.c/d", "a/b.c/d", "d", "a/b.c", "d"),
            ("/a", "/a", "a", "/", "a"),
            ("a/", "a/", "", ".", ""),
            ("a/b/", "a/b/", "", "a", ""),
            ("x.tar.gz", "x.tar", "x.tar.gz", ".", "x.tar"),
            ("a", "a", "a", ".", "a"),
            ("/", "/", "", "/", ""),
        ];
        for &(v, ne, b, d, bne) in cases {
            let t = |tr| String::from_utf8(transform(v.as_bytes(), tr)).unwrap();
            assert_eq!(t(Transform::NoExt), ne, "{{.}} of {v}");
            assert_eq!(t(Transform::Base), b, "{{/}} of {v}");
            assert_eq!(t(Transform::Dir), d, "{{//}} of {v}");
            assert_eq!(t(Transform::BaseNoExt), bne, "{{/.}} of {v}");
        }
    }

    #[test]
    fn placeholders_inside_words_and_unknown_braces_literal() {
        assert_eq!(
            argv(
                &["echo", "x{}y", "{#}-{%}", "{foo}", "{}}"],
                &[&["v"]],
                7,
                2
            ),
            ["echo", "xvy", "7-2", "{foo}", "v}"]
        );
        assert_eq!(
            argv(
                &["cp", "{}", "{.}.bak", "{/}", "{//}", "{/.}"],
                &[&["d/f.txt"]],
                1,
                1
            ),
            ["cp", "d/f.txt", "d/f.bak", "f.txt", "d", "f"]
        );
    }

    #[test]
    fn values_appended_without_placeholder() {
        assert_eq!(
            argv(&["echo", "-n"], &[&["a b"]], 1, 1),
            ["echo", "-n", "a b"]
        );
        // Any placeholder, {#} included, means nothing is appended (GNU parallel).
        assert_eq!(argv(&["echo", "{#}"], &[&["v"]], 3, 1), ["echo", "3"]);
    }

    #[test]
    fn columns_and_several_records() {
        assert_eq!(
            argv(&["echo", "{2}", "{1/}", "{3}"], &[&["a/x", "b"]], 1, 1),
            ["echo", "b", "x"]
        );
        // A missing position inside a word is empty; blanks may follow N; {-N} from the end.
        assert_eq!(
            argv(&["echo", "<{3}>", "{1 }", "{-1}"], &[&["a", "b"]], 1, 1),
            ["echo", "<>", "a", "b"]
        );
        // In a batch, {N} is the batch's Nth value.
        assert_eq!(
            argv(&["echo", "{3}", "{1}"], &[&["a"], &["b"], &["c"]], 1, 1),
            ["echo", "c", "a"]
        );
        assert_eq!(
            argv(&["echo", "{}"], &[&["a", "b"]], 1, 1),
            ["echo", "a", "b"]
        );
        assert_eq!(
            argv(&["echo", "a{}b"], &[&["1"], &["2"]], 1, 1),
            ["echo", "a1b", "a2b"]
        );
        assert_eq!(
            argv(&["echo", "-"], &[&["1"], &["2"]], 1, 1),
            ["echo", "-", "1", "2"]
        );
    }

    #[test]
    fn shell_mode_quotes_every_value() {
        let t = Template::new(&os(&["echo {} && echo {.}"]), false);
        assert_eq!(t.mode(), Mode::Shell);
        let recs = vec![os(&["it's $(x).c"])];
        let r = t.render(&Ctx {
            seq: 1,
            slot: 1,
            records: &recs,
        });
        assert_eq!(
            r,
            Rendered::Shell(b"echo 'it'\"'\"'s $(x).c' && echo 'it'\"'\"'s $(x)'".to_vec())
        );
        let t = Template::new(&os(&["wc", "-l"]), true);
        let r = t.render(&Ctx {
            seq: 1,
            slot: 1,
            records: &[os(&["a b"])],
        });
        assert_eq!(r, Rendered::Shell(b"wc -l 'a b'".to_vec()));
    }

    #[test]
    fn shell_mode_context_replace_with_several_records() {
        let t = Template::new(&os(&["printf '%s  ' a{}b {#} && echo x{.}"]), false);
        let recs = vec![os(&["1.c"]), os(&["it's"])];
        let r = t.render(&Ctx {
            seq: 4,
            slot: 1,
            records: &recs,
        });
        assert_eq!(
            r,
            Rendered::Shell(
                b"printf '%s  ' a1.cb a'it'\"'\"'s'b 4 && echo x1 x'it'\"'\"'s'".to_vec()
            )
        );
    }

    #[test]
    fn mode_selection() {
        assert_eq!(Template::new(&os(&["echo"]), false).mode(), Mode::Argv);
        assert_eq!(
            Template::new(&os(&["echo", "a b"]), false).mode(),
            Mode::Argv
        );
        assert_eq!(Template::new(&os(&["gzip -9"]), false).mode(), Mode::Shell);
        assert_eq!(Template::new(&os(&["a;b"]), false).mode(), Mode::Shell);
        assert_eq!(Template::new(&[], false).mode(), Mode::ValueIsCommand);
    }

    #[test]
    fn plus_bash_operations_and_filters() {
        let syn = Syntax {
            plus: true,
            ..Syntax::default()
        };
        let one = |w: &str, v: &str| {
            let t = Template::with_syntax(&os(&["echo", w]), false, &syn);
            let rec = os(&[v]);
            match t.render(&Ctx {
                seq: 1,
                slot: 1,
                records: &[rec],
            }) {
                Rendered::Argv(a) => a[1].to_string_lossy().into_owned(),
                Rendered::Shell(_) => unreachable!(),
            }
        };
        assert_eq!(one("{/def/ghi}", "abcdefdef"), "abcghidef");
        assert_eq!(one("{//def/ghi}", "abcdefdef"), "abcghighi");
        assert_eq!(one("{/#abc/x}", "abcabc"), "xabc");
        assert_eq!(one("{/%abc/x}", "abcabc"), "abcx");
        assert_eq!(one("{^a}", "abcAa"), "AbcAa");
        assert_eq!(one("{^^a}", "abcAa"), "AbcAA");
        assert_eq!(one("{,A}", "AbcAa"), "abcAa");
        assert_eq!(one("{,,A}", "AbcAa"), "abcaa");
        let t = Template::with_syntax(&os(&["echo", "{uniq}"]), false, &syn);
        assert!(t.accepts(&[os(&["a"]), os(&["b"])]));
        assert!(!t.accepts(&[os(&["a"]), os(&["a"])]));
        let t = Template::with_syntax(&os(&["echo", "{choose_k}"]), false, &syn);
        assert!(t.accepts(&[os(&["A", "B"])]));
        assert!(!t.accepts(&[os(&["B", "A"])]));
    }

    #[test]
    fn direct_words_only_when_no_shell_is_needed() {
        let d = |s: &str| {
            direct_words(s.as_bytes()).map(|w| {
                w.iter()
                    .map(|w| w.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            d("gzip -9 a/b.c"),
            Some(vec!["gzip".into(), "-9".into(), "a/b.c".into()])
        );
        assert_eq!(d("true  1"), Some(vec!["true".into(), "1".into()]));
        for needs in [
            "echo a",
            "gzip 'a b'",
            "a > b",
            "X=1 cmd",
            "cmd ~/x",
            "cd /",
            "",
            "f *",
        ] {
            assert_eq!(d(needs), None, "{needs}");
        }
    }

    #[test]
    fn shell_words_quote_as_gnu_parallel() {
        let q = |w: &[u8]| {
            let mut out = Vec::new();
            shell_word_into(&mut out, w);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(q(b"a-b_c.d+e/f9"), "a-b_c.d+e/f9");
        assert_eq!(q(b""), "''");
        assert_eq!(q(b"a b"), "'a b'");
        assert_eq!(q(b"it's"), "'it'\"'\"'s'");
        assert_eq!(q(b"'a'"), "\"'\"'a'\"'\"");
        assert_eq!(q(b"x:y@z%"), "'x:y@z%'");
    }

    #[test]
    fn shell_escape_quotes_as_gnu_xargs() {
        let q = |w: &[u8]| String::from_utf8(shell_escape(w)).unwrap();
        assert_eq!(q(b"plain-word_1.c"), "plain-word_1.c");
        assert_eq!(q(b""), "''");
        assert_eq!(q(b"a b"), "'a b'");
        assert_eq!(q(b"it's"), "\"it's\"");
        assert_eq!(q(b"it's $x"), "'it'\\''s $x'");
        assert_eq!(q(b"\n "), "''$'\\n'' '");
        assert_eq!(q(b"\x0c\r\t\x0b\n"), "''$'\\f\\r\\t\\v\\n'");
        assert_eq!(q(b"a\nb"), "'a'$'\\n''b'");
        assert_eq!(q(b"a\x7f"), "'a'$'\\177'");
        assert_eq!(q(b"~x"), "'~x'");
        assert_eq!(q(b"x~"), "x~");
        assert_eq!(q(b"{"), "'{'");
        assert_eq!(q(b"{}"), "{}");
        assert_eq!(q(b"a=b"), "'a=b'");
    }

    #[test]
    fn display_quotes_only_when_needed() {
        let r = Rendered::Argv(os(&["echo", "a b", "it's", "", "x-y/z.c"]));
        assert_eq!(r.display(), b"echo 'a b' 'it'\\''s' '' x-y/z.c");
    }
}
