//! The module graph of `src/`: which module names which other module in its code (`use`
//! statements and paths through `crate::`, `super::`, `self::`, a child module or a `use`d
//! module name), at two levels: the top-level modules, and the same with the submodules of the
//! modules that have them (`pool::process`, `source::walk`, `config::chunk`, ...). The crate
//! root (`lib.rs`) is `lib`. Comments and string literals are skipped; `mod x;` declarations are
//! not uses; test-only items (`#[cfg(test)]`, such as unit-test modules building a `Config`
//! from a command line) are left out: the graph is that of the code the binary is built from. Used by `cargo xtask modules` (prints it) and `tests/it/modules.rs` (fails on a cycle).
//!
//! A cycle is one at the top level, or one between submodules ([`layers`]: a module's use of
//! the submodules it is made of — `source` dispatching to `source::walk`, which takes shared
//! types from `super` — is its own business, as in fd's `exec/`).
//!
//! This reads the source as text, not as the compiler does: a name brought in by a glob
//! (`use x::*`) and then used bare is not seen, and `use` aliases are per file, not per block.
//! That is enough for parx, whose code names modules by path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module's path below the crate root (`[]` is the root).
pub type ModPath = Vec<String>;

/// `module → modules it uses`, at one level.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// One source file: its module path and its text.
struct File {
    module: ModPath,
    text: String,
}

/// Reads every `.rs` file below `src` (a crate's `src/` with `lib.rs`).
fn read_tree(src: &Path) -> std::io::Result<Vec<File>> {
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("below src");
            let mut module: ModPath = rel
                .with_extension("")
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect();
            if module == ["lib"] || module == ["main"] {
                // The binary is outside the library's graph.
                if module == ["main"] {
                    continue;
                }
                module.clear();
            } else if module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            files.push(File {
                module,
                text: std::fs::read_to_string(&path)?,
            });
        }
    }
    files.sort_by(|a, b| a.module.cmp(&b.module));
    Ok(files)
}

/// The text with comments, string and character literals blanked out.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, s: &[u8]| {
        out.extend(s.iter().map(|&c| if c == b'\n' { c } else { b' ' }))
    };
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if let Some(hashes) = raw_string_at(b, i) {
            // r"..", r#".."#, br"..": to the quote followed by as many hashes.
            i = b[i..]
                .iter()
                .position(|&c| c == b'"')
                .map_or(b.len(), |p| i + p + 1);
            while i < b.len() {
                if b[i] == b'"'
                    && b[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&h| h == b'#')
                        .count()
                        == hashes
                {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == b'\'' && (b.get(i + 1) == Some(&b'\\') || b.get(i + 2) == Some(&b'\'')) {
            // A character literal, not a lifetime.
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else {
            out.push(c);
            i += 1;
            continue;
        }
        let end = i.min(b.len());
        blank(&mut out, &b[start..end]);
        i = end;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// At `i`: the number of `#` of a raw string literal starting there, if one does.
fn raw_string_at(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    let mut j = i;
    if b.get(j) == Some(&b'b') || b.get(j) == Some(&b'c') {
        j += 1;
    }
    if b.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = b[j..].iter().take_while(|&&c| c == b'#').count();
    (b.get(j + hashes) == Some(&b'"')).then_some(hashes)
}

/// Identifiers (a raw `r#x` as `x`), `::`, and single punctuation characters.
fn tokens(code: &str) -> Vec<&str> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            if c == b'r' && b.get(i + 1) == Some(&b'#') {
                i += 2;
            }
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(&code[s..i]);
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
        } else if c == b':' && b.get(i + 1) == Some(&b':') {
            out.push("::");
            i += 2;
        } else {
            let n = code[i..].chars().next().map_or(1, char::len_utf8);
            out.push(&code[i..i + n]);
            i += n;
        }
    }
    out
}

fn is_ident(t: &str) -> bool {
    t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
}

/// Expands the use tree starting at `toks[*i]` (after `use`, or inside braces) into full
/// paths, each with the name it binds (`None` for a glob).
fn use_tree(
    toks: &[&str],
    i: &mut usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    let mut path = prefix.to_vec();
    loop {
        match toks.get(*i).copied() {
            Some("{") => {
                *i += 1;
                loop {
                    match toks.get(*i).copied() {
                        Some("}") => {
                            *i += 1;
                            break;
                        }
                        Some(",") => *i += 1,
                        None => return,
                        _ => use_tree(toks, i, &path, out),
                    }
                }
                return;
            }
            Some("*") => {
                *i += 1;
                out.push((path, None));
                return;
            }
            Some(t) if is_ident(t) => {
                *i += 1;
                path.push(t.to_owned());
                if toks.get(*i) == Some(&"::") {
                    *i += 1;
                    continue;
                }
                let mut name = t.to_owned();
                if toks.get(*i) == Some(&"as") {
                    name = toks.get(*i + 1).copied().unwrap_or("_").to_owned();
                    *i += 2;
                }
                if name == "self" {
                    path.pop();
                    name = path.last().cloned().unwrap_or_default();
                }
                out.push((path, Some(name)));
                return;
            }
            _ => return,
        }
    }
}

/// The index just past the item starting at `toks[i]`: through its `;`, or through the `}`
/// matching its first `{` if that comes first.
fn skip_item(toks: &[&str], mut i: usize) -> usize {
    let mut depth = 0usize;
    while let Some(&t) = toks.get(i) {
        i += 1;
        match t {
            ";" if depth == 0 => break,
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
    }
    i
}

/// The module graph of the crate whose `src/` is `src`, at the top level (`fine == false`) or
/// with the submodules of every module that has them.
pub fn graph(src: &Path, fine: bool) -> std::io::Result<Graph> {
    let files = read_tree(src)?;
    let modules: BTreeSet<ModPath> = files.iter().map(|f| f.module.clone()).collect();
    let nested: BTreeSet<String> = modules
        .iter()
        .filter(|m| m.len() > 1)
        .map(|m| m[0].clone())
        .collect();
    let node = |m: &[String]| -> String {
        // The longest known module that is a prefix of the path.
        let known = (0..=m.len())
            .rev()
            .find(|&n| modules.contains(&m[..n]))
            .unwrap_or(0);
        let keep = if fine && known > 0 && nested.contains(&m[0]) {
            known.min(2)
        } else {
            known.min(1)
        };
        if keep == 0 {
            "lib".to_owned()
        } else {
            m[..keep].join("::")
        }
    };
    let mut g = Graph::new();
    for f in &files {
        let from = node(&f.module);
        g.entry(from.clone()).or_default();
        let code = code_only(&f.text);
        let toks = tokens(&code);
        // Names this file binds to crate modules or items (`use`), and its child modules.
        let mut alias: BTreeMap<String, ModPath> = BTreeMap::new();
        let children: BTreeSet<&str> = toks
            .windows(3)
            .filter(|w| w[0] == "mod" && w[2] == ";")
            .map(|w| w[1])
            .collect();
        // The module the code at each token is in (inline `mod x { }` blocks count).
        let mut scope: Vec<(String, usize)> = Vec::new();
        let mut depth = 0usize;
        let here = |scope: &[(String, usize)]| {
            let mut m = f.module.clone();
            m.extend(scope.iter().map(|(n, _)| n.clone()));
            m
        };
        let resolve =
            |path: &[String], at: &ModPath, alias: &BTreeMap<String, ModPath>| -> Option<ModPath> {
                let first = path.first()?;
                let (mut base, rest) = match first.as_str() {
                    "crate" => (Vec::new(), &path[1..]),
                    "self" => (at.clone(), &path[1..]),
                    "super" => {
                        let mut b = at.clone();
                        let mut k = 0;
                        while path.get(k).is_some_and(|s| s == "super") {
                            b.pop();
                            k += 1;
                        }
                        (b, &path[k..])
                    }
                    c if *at == f.module && children.contains(c) => (at.clone(), path),
                    a => (alias.get(a)?.clone(), &path[1..]),
                };
                base.extend(rest.iter().cloned());
                Some(base)
            };
        let mut i = 0;
        let mut uses: Vec<ModPath> = Vec::new();
        while i < toks.len() {
            let t = toks[i];
            if toks[i..].starts_with(&["#", "[", "cfg", "(", "test", ")", "]"]) {
                i = skip_item(&toks, i + 7);
                continue;
            }
            match t {
                "{" => depth += 1,
                "}" => {
                    depth = depth.saturating_sub(1);
                    if scope.last().is_some_and(|(_, d)| *d == depth) {
                        scope.pop();
                    }
                }
                "mod" if toks.get(i + 2) == Some(&"{") => {
                    scope.push((toks[i + 1].to_owned(), depth));
                    depth += 1;
                    i += 3;
                    continue;
                }
                "use" => {
                    i += 1;
                    let mut out = Vec::new();
                    use_tree(&toks, &mut i, &[], &mut out);
                    let at = here(&scope);
                    for (path, name) in out {
                        if let Some(full) = resolve(&path, &at, &alias) {
                            if let Some(name) = name {
                                alias.insert(name, full.clone());
                            }
                            uses.push(full);
                        }
                    }
                    continue;
                }
                _ if is_ident(t)
                    && toks.get(i + 1) == Some(&"::")
                    && (i == 0 || toks[i - 1] != "::") =>
                {
                    let mut path = vec![t.to_owned()];
                    let mut j = i + 1;
                    while toks.get(j) == Some(&"::") && toks.get(j + 1).is_some_and(|s| is_ident(s))
                    {
                        path.push(toks[j + 1].to_owned());
                        j += 2;
                    }
                    if let Some(full) = resolve(&path, &here(&scope), &alias) {
                        uses.push(full);
                    }
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        for u in uses {
            let to = node(&u);
            if to != from {
                g.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    Ok(g)
}

/// `g` without the edges from a module to its own submodules (`pool -> pool::child`), which
/// are the module's own business: the graph whose cycles count at the submodule level.
pub fn layers(g: &Graph) -> Graph {
    g.iter()
        .map(|(from, to)| {
            let own = format!("{from}::");
            let to = to
                .iter()
                .filter(|t| !t.starts_with(&own))
                .cloned()
                .collect();
            (from.clone(), to)
        })
        .collect()
}

/// The cycles of `g`: its strongly connected components of more than one module, each sorted.
pub fn cycles(g: &Graph) -> Vec<Vec<String>> {
    // Tarjan's algorithm.
    struct T<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                scc.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out.sort();
    t.out
}

/// The graph as text: one `module -> a, b, c` line per module.
pub fn render(g: &Graph) -> String {
    let mut s = String::new();
    for (from, to) in g {
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        s.push_str(&format!("{from} -> {}\n", to.join(", ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_strings_are_not_code() {
        let c =
            code_only("a // crate::x\nb \"crate::y\" r#\"crate::z\"# '\\'' 'a c /* crate::w */ d");
        assert!(!c.contains("crate"), "{c}");
        assert!(c.contains("'a c"));
    }

    #[test]
    fn use_trees_expand() {
        let code = "crate::{a::{self, B}, c::*, d as e};";
        let toks = tokens(code);
        let mut out = Vec::new();
        use_tree(&toks, &mut 0, &[], &mut out);
        let got: Vec<(String, Option<String>)> =
            out.into_iter().map(|(p, n)| (p.join("::"), n)).collect();
        assert_eq!(
            got,
            [
                ("crate::a".into(), Some("a".into())),
                ("crate::a::B".into(), Some("B".into())),
                ("crate::c".into(), None),
                ("crate::d".into(), Some("e".into())),
            ]
        );
    }

    #[test]
    fn test_only_items_are_skipped() {
        let toks = tokens("#[cfg(test)] mod tests { fn f() { crate::a::b(); } } crate::c::d();");
        let at = skip_item(&toks, 7);
        assert_eq!(&toks[at..at + 3], ["crate", "::", "c"]);
        let toks = tokens("#[cfg(test)] use crate::a; crate::c::d();");
        assert_eq!(toks[skip_item(&toks, 7)], "crate");
    }

    #[test]
    fn finds_a_cycle() {
        let mut g = Graph::new();
        g.entry("a".into()).or_default().insert("b".into());
        g.entry("b".into()).or_default().insert("c".into());
        g.entry("c".into()).or_default().insert("a".into());
        g.entry("d".into()).or_default().insert("a".into());
        assert_eq!(cycles(&g), [["a", "b", "c"]]);
    }
}
