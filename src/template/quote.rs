//! GNU parallel's path transforms (`{.}`, `{/}`, `{//}`, `{/.}` and `--plus`'s) and quoting:
//! a value as one shell word (GNU's rules), GNU xargs' escaping, when a script needs no shell,
//! and a rendered command as `--dry-run` prints it.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::grammar::Transform;
use super::Rendered;

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
pub(super) fn strip_exts(v: &[u8], n: usize) -> &[u8] {
    match ext_start(v, n) {
        Some(i) => &v[..i],
        None => v,
    }
}

/// GNU's `s:.*\.([^/.]*\.[^/.]*)$:$1:` (n = 2): the last n extensions, or empty.
pub(super) fn exts(v: &[u8], n: usize) -> &[u8] {
    match ext_start(v, n) {
        Some(i) => &v[i + 1..],
        None => b"",
    }
}

/// Where the last `n` extensions (`.x.y`, no `/` in them) of `v` start.
pub(super) fn ext_start(v: &[u8], n: usize) -> Option<usize> {
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

pub(super) fn basename(v: &[u8]) -> &[u8] {
    match memchr::memrchr(b'/', v) {
        Some(i) => &v[i + 1..],
        None => v,
    }
}

pub(super) fn no_ext(v: &[u8]) -> &[u8] {
    match memchr::memrchr(b'.', v) {
        Some(i) if !v[i..].contains(&b'/') => &v[..i],
        _ => v,
    }
}

pub(super) fn dirname(v: &[u8]) -> Vec<u8> {
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
pub(super) fn display_word_into(out: &mut Vec<u8>, v: &OsStr) {
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
