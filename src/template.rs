//! Command templates: parsing placeholders, rendering a task into an argv (no shell) or a
//! `sh -c` script with every substituted value single-quoted, and quoting for `--dry-run`.
//!
//! Placeholders follow GNU parallel: `{}` `{.}` `{/}` `{//}` `{/.}` `{#}` `{%}` and the
//! column forms `{N}` `{N.}` `{N/}` `{N//}` `{N/.}`. Anything else in braces is literal.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::task::Record;

/// What a value placeholder does to its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
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
}

/// One placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placeholder {
    /// A value, or column `col` (1-based) of it.
    Value {
        /// `None` for the whole record, `Some(n)` for column n.
        col: Option<usize>,
        /// The transformation applied.
        tr: Transform,
    },
    /// `{#}`: the sequence number.
    Seq,
    /// `{%}`: the job slot.
    Slot,
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

impl Word {
    fn parse(w: &[u8]) -> Word {
        let mut pieces = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while i < w.len() {
            if w[i] == b'{' {
                if let Some(end) = w[i..].iter().position(|&c| c == b'}') {
                    if let Some(ph) = parse_placeholder(&w[i + 1..i + end]) {
                        if !lit.is_empty() {
                            pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                        }
                        pieces.push(Piece::Ph(ph));
                        i += end + 1;
                        continue;
                    }
                }
            }
            lit.push(w[i]);
            i += 1;
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Word { pieces }
    }

    fn uses_values(&self) -> bool {
        self.pieces
            .iter()
            .any(|p| matches!(p, Piece::Ph(Placeholder::Value { .. })))
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

fn parse_placeholder(inner: &[u8]) -> Option<Placeholder> {
    let digits = inner.iter().take_while(|c| c.is_ascii_digit()).count();
    let (num, rest) = inner.split_at(digits);
    let tr = match rest {
        b"" => Transform::Whole,
        b"." => Transform::NoExt,
        b"/" => Transform::Base,
        b"//" => Transform::Dir,
        b"/." => Transform::BaseNoExt,
        b"#" if num.is_empty() => return Some(Placeholder::Seq),
        b"%" if num.is_empty() => return Some(Placeholder::Slot),
        _ => return None,
    };
    let col = if num.is_empty() {
        None
    } else {
        let n: usize = std::str::from_utf8(num).ok()?.parse().ok()?;
        if n == 0 {
            return None;
        }
        Some(n)
    };
    Some(Placeholder::Value { col, tr })
}

/// How the command is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Separate words, exec'd directly.
    Argv,
    /// Through `sh -c`, values single-quoted.
    Shell,
    /// No command: each value is itself a shell command line.
    ValueIsCommand,
}

/// A parsed command template.
#[derive(Clone, Debug)]
pub struct Template {
    words: Vec<Word>,
    mode: Mode,
    uses_values: bool,
    /// Values are appended when no value placeholder occurs (false in chunk modes).
    append: bool,
}

/// A rendered command, ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rendered {
    /// Program and arguments.
    Argv(Vec<OsString>),
    /// A script for `sh -c`.
    Shell(Vec<u8>),
}

/// What one rendering needs to know about the task.
#[derive(Clone, Copy, Debug)]
pub struct Ctx<'a> {
    /// `{#}`.
    pub seq: u64,
    /// `{%}`.
    pub slot: usize,
    /// The task's argument records.
    pub records: &'a [Record],
}

/// Bytes that make a single command word need a shell.
const SHELL_META: &[u8] = b" \t\n|&;<>()$`\\\"'*?[#~";

impl Template {
    /// Parses the command words. One word with whitespace or shell metacharacters, or
    /// `force_shell`, means shell mode; no words means each value is a command line.
    pub fn new(words: &[OsString], force_shell: bool) -> Template {
        let mode = if words.is_empty() {
            Mode::ValueIsCommand
        } else if force_shell
            || (words.len() == 1 && words[0].as_bytes().iter().any(|c| SHELL_META.contains(c)))
        {
            Mode::Shell
        } else {
            Mode::Argv
        };
        let words: Vec<Word> = words.iter().map(|w| Word::parse(w.as_bytes())).collect();
        let uses_values = words.iter().any(Word::uses_values);
        Template {
            words,
            mode,
            uses_values,
            append: true,
        }
    }

    /// Never append values to the command (chunk modes: the data is on stdin).
    pub fn without_appending(mut self) -> Template {
        self.append = false;
        self
    }

    /// Whether a value placeholder (`{}`, `{.}`, `{1}`, …) occurs in the command.
    pub fn uses_values(&self) -> bool {
        self.uses_values
    }

    /// The run mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Every placeholder that occurs in the command.
    pub fn placeholders(&self) -> impl Iterator<Item = Placeholder> + '_ {
        self.words.iter().flat_map(|w| {
            w.pieces.iter().filter_map(|p| match p {
                Piece::Ph(ph) => Some(*ph),
                Piece::Lit(_) => None,
            })
        })
    }

    /// Renders the command for one task.
    pub fn render(&self, ctx: &Ctx) -> Rendered {
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
    pub fn expand_text(&self, ctx: &Ctx) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            if !w.uses_values() {
                out.extend(expand(w, ctx, None, false));
                continue;
            }
            for (j, rec) in ctx.records.iter().enumerate() {
                if j > 0 {
                    out.push(b' ');
                }
                out.extend(expand(w, ctx, Some(rec), false));
            }
        }
        out
    }

    fn render_argv(&self, ctx: &Ctx) -> Vec<OsString> {
        let mut out = Vec::with_capacity(self.words.len() + 1);
        for w in &self.words {
            if !w.uses_values() {
                out.push(OsString::from_vec(expand(w, ctx, None, false)));
                continue;
            }
            for rec in ctx.records {
                match w.lone_whole() {
                    Some(tr) => {
                        for v in rec {
                            out.push(OsString::from_vec(transform(v.as_bytes(), tr)));
                        }
                    }
                    None => out.push(OsString::from_vec(expand(w, ctx, Some(rec), false))),
                }
            }
        }
        if !self.uses_values && self.append {
            out.extend(ctx.records.iter().flatten().cloned());
        }
        out
    }

    fn render_shell(&self, ctx: &Ctx) -> Vec<u8> {
        let mut s = Vec::new();
        let sep = |s: &mut Vec<u8>| {
            if !s.is_empty() {
                s.push(b' ');
            }
        };
        for w in &self.words {
            if !w.uses_values() {
                sep(&mut s);
                s.extend(expand(w, ctx, None, true));
                continue;
            }
            if ctx.records.len() > 1 {
                // Several records (-n/-X): context replace within each blank-separated part
                // of a command string, as GNU parallel does (`'echo a{}b'` → `echo a1b a2b`).
                sep(&mut s);
                for part in w.blank_split() {
                    match part {
                        Err(blank) => s.extend_from_slice(blank),
                        Ok(p) if !p.uses_values() => s.extend(expand(&p, ctx, None, true)),
                        Ok(p) => {
                            for (i, rec) in ctx.records.iter().enumerate() {
                                if i > 0 {
                                    s.push(b' ');
                                }
                                s.extend(expand(&p, ctx, Some(rec), true));
                            }
                        }
                    }
                }
                continue;
            }
            for rec in ctx.records {
                sep(&mut s);
                s.extend(expand(w, ctx, Some(rec), true));
            }
        }
        if !self.uses_values && self.append {
            for v in ctx.records.iter().flatten() {
                sep(&mut s);
                quote_into(&mut s, v.as_bytes());
            }
        }
        s
    }
}

/// Expands one word for one record (or none, for words without value placeholders).
fn expand(w: &Word, ctx: &Ctx, rec: Option<&Record>, shell: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for p in &w.pieces {
        match p {
            Piece::Lit(l) => out.extend_from_slice(l),
            Piece::Ph(Placeholder::Seq) => out.extend_from_slice(ctx.seq.to_string().as_bytes()),
            Piece::Ph(Placeholder::Slot) => out.extend_from_slice(ctx.slot.to_string().as_bytes()),
            Piece::Ph(Placeholder::Value { col, tr }) => {
                let rec = rec.map(Vec::as_slice).unwrap_or(&[]);
                let cols: &[OsString] = match col {
                    None => rec,
                    Some(n) => rec.get(n - 1).map(std::slice::from_ref).unwrap_or(&[]),
                };
                if cols.is_empty() && shell {
                    out.extend_from_slice(b"''");
                }
                for (i, v) in cols.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    let v = transform(v.as_bytes(), *tr);
                    if shell {
                        quote_into(&mut out, &v);
                    } else {
                        out.extend_from_slice(&v);
                    }
                }
            }
        }
    }
    out
}

/// Applies a transform to one value (GNU parallel's rules, Perl `dirname` for `{//}`).
pub fn transform(v: &[u8], tr: Transform) -> Vec<u8> {
    match tr {
        Transform::Whole => v.to_vec(),
        Transform::NoExt => no_ext(v).to_vec(),
        Transform::Base => basename(v).to_vec(),
        Transform::Dir => dirname(v),
        Transform::BaseNoExt => no_ext(basename(v)).to_vec(),
    }
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
pub fn quote_into(out: &mut Vec<u8>, v: &[u8]) {
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

/// Quotes a word for display only when it needs it (for `--dry-run`).
pub fn display_word(v: &OsStr) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() + 2);
    display_word_into(&mut out, v);
    out
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

impl Rendered {
    /// The command as one shell-readable line (for `--dry-run`).
    pub fn display(&self) -> Vec<u8> {
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
        // {#} alone is not a value placeholder: the value is still appended.
        assert_eq!(argv(&["echo", "{#}"], &[&["v"]], 3, 1), ["echo", "3", "v"]);
    }

    #[test]
    fn columns_and_several_records() {
        assert_eq!(
            argv(&["echo", "{2}", "{1/}", "{3}"], &[&["a/x", "b"]], 1, 1),
            ["echo", "b", "x", ""]
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
            Rendered::Shell(b"echo 'it'\\''s $(x).c' && echo 'it'\\''s $(x)'".to_vec())
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
                b"printf '%s  ' a'1.c'b a'it'\\''s'b 4 && echo x'1' x'it'\\''s'".to_vec()
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
    fn display_quotes_only_when_needed() {
        let r = Rendered::Argv(os(&["echo", "a b", "it's", "", "x-y/z.c"]));
        assert_eq!(r.display(), b"echo 'a b' 'it'\\''s' '' x-y/z.c");
    }
}
