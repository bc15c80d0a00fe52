//! The placeholder grammar: how the command's words are parsed into literal pieces and
//! placeholders ([`Placeholder`], [`Transform`], [`Col`]), with `-I`, `--plus` and
//! `--header :` spellings ([`Syntax`]) and `--plus`'s bash-like operations and filters.

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
pub(super) enum Op {
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
pub(super) enum Piece {
    Lit(Vec<u8>),
    Ph(Placeholder),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Word {
    pub(super) pieces: Vec<Piece>,
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
pub(super) struct Tables {
    pub(super) ops: Vec<Op>,
    pub(super) names: Vec<Vec<u8>>,
    pub(super) filter: Option<Filter>,
}

impl Word {
    pub(super) fn parse(w: &[u8], syn: &Syntax, t: &mut Tables) -> Word {
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

    pub(super) fn phs(&self) -> impl Iterator<Item = &Placeholder> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Ph(ph) => Some(ph),
            Piece::Lit(_) => None,
        })
    }

    /// Whether any value placeholder (`{}`, `{1}`, …) occurs.
    pub(super) fn uses_values(&self) -> bool {
        self.phs().any(|p| matches!(p, Placeholder::Value { .. }))
    }

    /// Whether a placeholder that stands for each record in turn (`{}`, `{.}`, …) occurs.
    pub(super) fn per_record(&self) -> bool {
        self.phs()
            .any(|p| matches!(p, Placeholder::Value { col: None, .. }))
    }

    /// The word cut at blanks (space, tab, newline): `Ok` parts and `Err` runs of blanks.
    pub(super) fn blank_split(&self) -> Vec<Result<Word, &[u8]>> {
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
    pub(super) fn lone_whole(&self) -> Option<Transform> {
        match self.pieces.as_slice() {
            [Piece::Ph(Placeholder::Value { col: None, tr })] => Some(*tr),
            _ => None,
        }
    }
}

/// Parses what is between `{` and `}`.
pub(super) fn parse_placeholder(inner: &[u8], syn: &Syntax, t: &mut Tables) -> Option<Placeholder> {
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
pub(super) fn named(
    col: Option<Col>,
    rest: &[u8],
    syn: &Syntax,
    t: &mut Tables,
) -> Option<Placeholder> {
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
pub(super) fn plus_transform(rest: &[u8], t: &mut Tables) -> Option<Transform> {
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
pub(super) fn parse_op(rest: &[u8]) -> Option<Op> {
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
    pub(super) fn apply(&self, v: &[u8]) -> Vec<u8> {
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
