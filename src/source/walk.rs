//! `--walk` input source: a streaming, deterministic directory walker.
//!
//! This module walks what `--walk PATH` and its filters (`--ext`, `--glob`,
//! `--type`, `--hidden`, `--follow`, `--max-depth`) select, as compiled once
//! by [`crate::config::walk`], yielding matching paths one at a time from the
//! [`Walker`] iterator.
//!
//! Semantics:
//! * Entries come out depth-first, parents before children, sorted bytewise
//!   by file name within each directory; roots are walked in the order given.
//! * A root itself is never an entry. Output paths are the root exactly as
//!   typed joined with the relative path (`tree/` gives `tree/a`, `.` gives
//!   `./a`).
//! * Paths are handled as bytes (`OsStr`/`Path`) end to end; non-UTF-8 names
//!   pass through untouched.
//! * Problems (unreadable directories, vanished entries, symlink loops or
//!   dangling links under `--follow`, missing roots) become [`WalkError`]
//!   items and the walk carries on.

use std::collections::VecDeque;
use std::error::Error;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use globset::GlobSet;
use walkdir::{DirEntry, FilterEntry, WalkDir};

use crate::config::walk::CompiledWalk;
use crate::source::Values;

/// A non-fatal problem met while walking; the walk continues after it.
///
/// Displays as `PATH: reason` (one line; the caller adds the `parx:` prefix).
#[derive(Debug)]
pub(super) struct WalkError {
    path: PathBuf,
    message: String,
    source: Option<io::Error>,
}

impl WalkError {
    fn from_walkdir(err: walkdir::Error, root: &Path) -> WalkError {
        let path = err.path().unwrap_or(root).to_path_buf();
        if let Some(ancestor) = err.loop_ancestor() {
            let message = format!(
                "filesystem loop: points to ancestor {}",
                crate::messages::name(ancestor)
            );
            return WalkError {
                path,
                message,
                source: None,
            };
        }
        match err.into_io_error() {
            Some(io_err) => WalkError {
                path,
                message: io_err.to_string(),
                source: Some(io_err),
            },
            None => WalkError {
                path,
                message: "unknown walk error".to_string(),
                source: None,
            },
        }
    }
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keep the warning on one line even if the path contains control
        // characters such as newlines: escape those.
        let shown = crate::messages::name(&self.path);
        for c in shown.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl Error for WalkError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_ref().map(|e| e as &(dyn Error + 'static))
    }
}

/// Prune predicate used with `filter_entry`; a plain fn pointer so that
/// [`Walker`] has a nameable type and no per-entry boxing.
type Prune = fn(&DirEntry) -> bool;

fn keep_all(_: &DirEntry) -> bool {
    true
}

fn not_hidden(entry: &DirEntry) -> bool {
    // Depth 0 is the root as typed (may be `.` or `.config`): never pruned.
    entry.depth() == 0 || name_bytes(entry).first() != Some(&b'.')
}

/// The file name of a non-root entry, as bytes.
///
/// Same result as `DirEntry::file_name()` for depth >= 1 (walkdir builds those
/// paths as `parent.join(name)`, and a readdir name never contains `/` nor is
/// `.`/`..`), but a byte scan instead of `Path` component parsing, which
/// profiling showed dominating the per-directory sort.
fn name_bytes(entry: &DirEntry) -> &[u8] {
    let bytes = entry.path().as_os_str().as_bytes();
    match memchr::memrchr(b'/', bytes) {
        Some(i) => &bytes[i + 1..],
        None => bytes,
    }
}

/// Final extension of a file name, with `Path::extension` semantics: `None`
/// when there is no dot or the only dot is leading (`.bashrc`).
fn extension(name: &[u8]) -> Option<&[u8]> {
    match memchr::memrchr(b'.', name) {
        None | Some(0) => None,
        Some(i) => Some(&name[i + 1..]),
    }
}

/// Bytewise ordering by file name within one directory (what `sort_by_file_name` does).
/// Siblings' paths are the same parent path joined with their names, so comparing whole
/// paths bytewise orders them by name: a plain memcmp, no search for the last `/`.
fn by_name(a: &DirEntry, b: &DirEntry) -> std::cmp::Ordering {
    use std::os::unix::ffi::OsStrExt;
    a.path()
        .as_os_str()
        .as_bytes()
        .cmp(b.path().as_os_str().as_bytes())
}

/// Streaming iterator over the entries selected by a [`CompiledWalk`].
/// Yields `Ok(path)` for each matching entry and
/// `Err(WalkError)` for each problem, in walk order.
pub(super) struct Walker {
    pending: VecDeque<PathBuf>,
    current: Option<(PathBuf, FilterEntry<walkdir::IntoIter, Prune>)>,
    exts: Vec<OsString>,
    globs: Option<GlobSet>,
    want_file: bool,
    want_dir: bool,
    want_link: bool,
    hidden: bool,
    follow: bool,
    max_depth: Option<usize>,
}

impl fmt::Debug for Walker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Walker")
            .field("pending", &self.pending)
            .field("current_root", &self.current.as_ref().map(|c| &c.0))
            .finish_non_exhaustive()
    }
}

impl Walker {
    /// A walker over `walk`'s roots. No filesystem access happens here; problems are reported
    /// later, as `Err` items of the iterator.
    pub(super) fn new(walk: &CompiledWalk) -> Walker {
        Walker {
            pending: walk.spec.roots.iter().cloned().collect(),
            current: None,
            exts: walk.exts.clone(),
            globs: walk.globs.clone(),
            want_file: walk.want_file,
            want_dir: walk.want_dir,
            want_link: walk.want_link,
            hidden: walk.spec.hidden,
            follow: walk.spec.follow,
            max_depth: walk.spec.max_depth,
        }
    }

    fn start(&self, root: &Path) -> FilterEntry<walkdir::IntoIter, Prune> {
        // No `min_depth(1)`: walkdir clamps it to `max_depth`, which would make
        // `--max-depth 0` yield the root. Depth 0 is skipped in `next` instead.
        let mut wd = WalkDir::new(root)
            .follow_links(self.follow)
            .sort_by(by_name);
        if let Some(depth) = self.max_depth {
            wd = wd.max_depth(depth);
        }
        let prune: Prune = if self.hidden { keep_all } else { not_hidden };
        wd.into_iter().filter_entry(prune)
    }

    fn selected(&self, entry: &DirEntry, root: &Path) -> bool {
        if entry.depth() == 0 {
            return false; // the root itself is never an entry
        }
        let ft = entry.file_type();
        let type_ok = (self.want_file && ft.is_file())
            || (self.want_dir && ft.is_dir())
            || (self.want_link && ft.is_symlink());
        if !type_ok {
            return false;
        }
        if !self.exts.is_empty() {
            match extension(name_bytes(entry)) {
                Some(ext) => {
                    if !self.exts.iter().any(|e| e.as_bytes() == ext) {
                        return false;
                    }
                }
                None => return false,
            }
        }
        if let Some(globs) = &self.globs {
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap_or(path);
            if !globs.is_match(rel) {
                return false;
            }
        }
        true
    }
}

impl Iterator for Walker {
    type Item = Result<PathBuf, WalkError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some((root, iter)) = &mut self.current else {
                let root = self.pending.pop_front()?;
                let iter = self.start(&root);
                self.current = Some((root, iter));
                continue;
            };
            match iter.next() {
                None => self.current = None,
                Some(Err(err)) => return Some(Err(WalkError::from_walkdir(err, root))),
                Some(Ok(entry)) => {
                    // Reborrow immutably for the filter checks.
                    let (root, _) = self.current.as_ref()?;
                    if self.selected(&entry, root) {
                        return Some(Ok(entry.into_path()));
                    }
                }
            }
        }
    }
}

impl std::iter::FusedIterator for Walker {}

/// The `--walk` source as argument values (each path's bytes, as an `OsString`). Problems are
/// reported as `parx: PATH: reason` warnings as they happen (each counts like a failed task in
/// the exit status); the walk goes on.
pub(super) fn values(walk: &CompiledWalk) -> Values {
    Box::new(Walker::new(walk).filter_map(move |item| match item {
        Ok(p) => Some(Ok(p.into_os_string())),
        Err(e) => {
            crate::messages::warn(e);
            None
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::walk::{EntryType, WalkSpec};
    use std::ffi::OsStr;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};
    use tempfile::TempDir;

    /// Creates files (and their parent dirs) under `dir`; names ending in `/`
    /// are created as directories.
    fn make(dir: &Path, names: &[&str]) {
        for name in names {
            let p = dir.join(name);
            if name.ends_with('/') {
                fs::create_dir_all(&p).unwrap();
            } else {
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(&p, b"x").unwrap();
            }
        }
    }

    fn spec(roots: &[&Path]) -> WalkSpec {
        WalkSpec {
            roots: roots.iter().map(|r| r.to_path_buf()).collect(),
            ..WalkSpec::default()
        }
    }

    fn spec_depth0(root: &Path) -> WalkSpec {
        WalkSpec {
            max_depth: Some(0),
            ..spec(&[root])
        }
    }

    fn walk(spec: &WalkSpec) -> Result<Walker, String> {
        Ok(Walker::new(&spec.compile()?))
    }

    /// Runs the walk; returns (paths relative to `base`, error strings).
    fn run(spec: &WalkSpec, base: &Path) -> (Vec<String>, Vec<String>) {
        let mut ok = Vec::new();
        let mut errs = Vec::new();
        for item in walk(spec).unwrap() {
            match item {
                Ok(p) => ok.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned()),
                Err(e) => errs.push(e.to_string()),
            }
        }
        (ok, errs)
    }

    fn paths(spec: &WalkSpec, base: &Path) -> Vec<String> {
        let (ok, errs) = run(spec, base);
        assert!(errs.is_empty(), "unexpected errors: {errs:?}");
        ok
    }

    #[test]
    fn order_sorted_parents_first_roots_in_order() {
        let t = TempDir::new().unwrap();
        let b = t.path();
        make(
            b,
            &["r2/z", "r2/a", "r1/b/y", "r1/b/x", "r1/a", "r1/c", "r1/B"],
        );
        let mut s = spec(&[&b.join("r2"), &b.join("r1")]);
        assert_eq!(
            paths(&s, b),
            ["r2/a", "r2/z", "r1/B", "r1/a", "r1/b/x", "r1/b/y", "r1/c"]
        );
        s.types = vec![EntryType::File, EntryType::Dir];
        assert_eq!(
            paths(&s, b),
            ["r2/a", "r2/z", "r1/B", "r1/a", "r1/b", "r1/b/x", "r1/b/y", "r1/c"]
        );
    }

    #[test]
    fn fast_name_helpers_match_std() {
        for n in [
            "a.txt", ".bashrc", "a.", "a", "a.b.c", "..x", ".a.b", "x..", "-rf",
        ] {
            assert_eq!(
                extension(n.as_bytes()),
                Path::new(n).extension().map(OsStrExt::as_bytes),
                "{n}"
            );
        }
        let t = TempDir::new().unwrap();
        make(t.path(), &["d/e/f.x", ".h", "g"]);
        for root in [t.path().to_path_buf(), t.path().join("d/")] {
            for e in WalkDir::new(&root).min_depth(1) {
                let e = e.unwrap();
                assert_eq!(name_bytes(&e), e.file_name().as_bytes());
            }
        }
    }

    #[test]
    fn ext_filter() {
        let t = TempDir::new().unwrap();
        let b = t.path();
        make(
            b,
            &[
                "a.txt", "b.log", "c.TXT", "d.tar.gz", "e", "f.rs", "txt", "g.txt/",
            ],
        );
        let mut s = spec(&[b]);
        s.exts = vec!["txt".into(), ".gz".into()];
        assert_eq!(paths(&s, b), ["a.txt", "d.tar.gz"]);
        s.exts = vec![".rs".into()];
        assert_eq!(paths(&s, b), ["f.rs"]);
        s.exts = vec!["tar.gz".into()];
        assert!(paths(&s, b).is_empty());
    }

    #[test]
    fn glob_relative() {
        let t = TempDir::new().unwrap();
        let b = t.path();
        make(
            b,
            &["a.txt", "sub/b.txt", "sub/c.log", "sub/deep/d.txt", "x.log"],
        );
        let mut s = spec(&[b]);
        s.globs = vec!["*.txt".into()];
        assert_eq!(paths(&s, b), ["a.txt"]);
        s.globs = vec!["**/*.txt".into()];
        assert_eq!(paths(&s, b), ["a.txt", "sub/b.txt", "sub/deep/d.txt"]);
        s.globs = vec!["sub/*.log".into(), "*.log".into()];
        assert_eq!(paths(&s, b), ["sub/c.log", "x.log"]);
        s.globs = vec!["sub/*".into()];
        assert_eq!(paths(&s, b), ["sub/b.txt", "sub/c.log"]);
        // Globs combine with ext (all filters must pass).
        s.globs = vec!["sub/**".into()];
        s.exts = vec!["txt".into()];
        assert_eq!(paths(&s, b), ["sub/b.txt", "sub/deep/d.txt"]);
        // Relative matching also works through a trailing-slash or `.`-ish root.
        let mut s = spec(&[&b.join("sub/")]);
        s.globs = vec!["*.txt".into()];
        assert_eq!(paths(&s, b), ["sub/b.txt"]);
    }

    #[test]
    fn bad_glob_is_usage_error() {
        let mut s = spec(&[Path::new(".")]);
        s.globs = vec!["a[".into()];
        let err = walk(&s).unwrap_err();
        assert!(err.starts_with("invalid --glob 'a[': "), "{err}");
    }

    #[test]
    fn types() {
        let t = TempDir::new().unwrap();
        let b = t.path();
        make(b, &["d/f", "g"]);
        symlink("g", b.join("l")).unwrap();
        let mut s = spec(&[b]);
        assert_eq!(paths(&s, b), ["d/f", "g"]);
        s.types = vec![EntryType::Dir];
        assert_eq!(paths(&s, b), ["d"]);
        s.types = vec![EntryType::Symlink];
        assert_eq!(paths(&s, b), ["l"]);
        s.types = vec![EntryType::Symlink, EntryType::Dir, EntryType::File];
        assert_eq!(paths(&s, b), ["d", "d/f", "g", "l"]);
    }

    #[test]
    fn hidden() {
        let t = TempDir::new().unwrap();
        let b = t.path();
        make(b, &[".h", ".hd/in", "v", "d/.x", "d/y"]);
        let mut s = spec(&[b]);
        s.types = vec![EntryType::File, EntryType::Dir];
        assert_eq!(paths(&s, b), ["d", "d/y", "v"]);
        s.hidden = true;
        assert_eq!(
            paths(&s, b),
            [".h", ".hd", ".hd/in", "d", "d/.x", "d/y", "v"]
        );
        // A hidden root is still walked (only entries below it are filtered).
        let mut s = spec(&[&b.join(".hd")]);
        assert_eq!(paths(&s, b), [".hd/in"]);
        s.globs = vec!["in".into()];
        assert_eq!(paths(&s, b), [".hd/in"]);
    }

    #[test]
    fn max_depth() {
        let t = TempDir::new().unwrap();
        let b = t.path();
        make(b, &["a", "d/b", "d/e/c"]);
        let mut s = spec(&[b]);
        s.types = vec![EntryType::File, EntryType::Dir];
        s.max_depth = Some(1);
        assert_eq!(paths(&s, b), ["a", "d"]);
        s.max_depth = Some(2);
        assert_eq!(paths(&s, b), ["a", "d", "d/b", "d/e"]);
        s.max_depth = Some(0);
        assert!(paths(&s, b).is_empty());
        // A missing root still warns at depth 0.
        let (ok, errs) = run(&spec_depth0(&b.join("nope")), b);
        assert!(ok.is_empty());
        assert_eq!(errs.len(), 1);
    }

    #[test]
    fn follow_vs_not() {
        let t = TempDir::new().unwrap();
        let b = t.path();
        make(b, &["real/f", "t"]);
        symlink("t", b.join("lf")).unwrap();
        symlink("real", b.join("ld")).unwrap();
        let mut s = spec(&[b]);
        assert_eq!(paths(&s, b), ["real/f", "t"]);
        s.types = vec![EntryType::Symlink];
        assert_eq!(paths(&s, b), ["ld", "lf"]);
        s.follow = true;
        assert!(paths(&s, b).is_empty());
        s.types = vec![EntryType::File];
        assert_eq!(paths(&s, b), ["ld/f", "lf", "real/f", "t"]);
    }

    #[test]
    fn dangling_link() {
        let t = TempDir::new().unwrap();
        let b = t.path();
        make(b, &["a"]);
        symlink("nowhere", b.join("dang")).unwrap();
        let mut s = spec(&[b]);
        s.types = vec![EntryType::File, EntryType::Symlink];
        assert_eq!(paths(&s, b), ["a", "dang"]);
        s.follow = true;
        let (ok, errs) = run(&s, b);
        assert_eq!(ok, ["a"]);
        assert_eq!(errs.len(), 1, "{errs:?}");
        let want = format!("{}: No such file or directory", b.join("dang").display());
        assert!(errs[0].starts_with(&want), "{errs:?}");
    }

    #[test]
    fn symlink_loop_with_follow() {
        let t = TempDir::new().unwrap();
        let b = t.path();
        make(b, &["d/a", "d/z"]);
        symlink("..", b.join("d/up")).unwrap();
        symlink("self", b.join("self")).unwrap();
        let mut s = spec(&[b]);
        // Without --follow: no loop, both links are just links.
        assert_eq!(paths(&s, b), ["d/a", "d/z"]);
        s.follow = true;
        let (ok, errs) = run(&s, b);
        assert_eq!(ok, ["d/a", "d/z"]);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].starts_with(&format!("{}: filesystem loop", b.join("d/up").display())),
            "{errs:?}"
        );
        // A self-referencing link fails to resolve (ELOOP).
        assert!(
            errs[1].starts_with(&format!("{}: ", b.join("self").display())),
            "{errs:?}"
        );
        assert!(!errs.iter().any(|e| e.contains('\n')));
    }

    #[test]
    fn unreadable_dir() {
        let t = TempDir::new().unwrap();
        let b = t.path();
        make(b, &["a", "locked/secret", "z"]);
        let locked = b.join("locked");
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        // As root (CAP_DAC_OVERRIDE, common in containers/CI) mode 000 does not
        // stop reading, so there is no error to observe; only check the walk
        // completes in that case.
        let blocked = fs::read_dir(&locked).is_err();
        let (ok, errs) = run(&spec(&[b]), b);
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
        if blocked {
            assert_eq!(ok, ["a", "z"]);
            assert_eq!(
                errs,
                [format!(
                    "{}: Permission denied (os error 13)",
                    locked.display()
                )]
            );
        } else {
            assert_eq!(ok, ["a", "locked/secret", "z"]);
            assert!(errs.is_empty());
        }
    }

    #[test]
    fn nonexistent_root_warns_and_continues() {
        let t = TempDir::new().unwrap();
        let b = t.path();
        make(b, &["ok/f"]);
        let missing = b.join("missing");
        let (ok, errs) = run(&spec(&[&missing, &b.join("ok")]), b);
        assert_eq!(ok, ["ok/f"]);
        assert_eq!(
            errs,
            [format!(
                "{}: No such file or directory (os error 2)",
                missing.display()
            )]
        );
    }

    #[test]
    fn odd_names_are_byte_exact() {
        let t = TempDir::new().unwrap();
        let b = t.path();
        let names: [&[u8]; 4] = [b"a\xff.txt", b"new\nline", b"-rf", b"sp ace"];
        for n in names {
            fs::write(b.join(OsStr::from_bytes(n)), b"x").unwrap();
        }
        let got: Vec<Vec<u8>> = walk(&spec(&[b]))
            .unwrap()
            .map(|r| {
                let p = r.unwrap();
                assert_eq!(p.parent().unwrap(), b);
                p.file_name().unwrap().as_bytes().to_vec()
            })
            .collect();
        let mut want: Vec<Vec<u8>> = names.iter().map(|n| n.to_vec()).collect();
        want.sort();
        assert_eq!(got, want);
        let mut s = spec(&[b]);
        s.exts = vec![OsStr::from_bytes(b"txt").into()];
        let got: Vec<PathBuf> = walk(&s).unwrap().map(Result::unwrap).collect();
        assert_eq!(got, [b.join(OsStr::from_bytes(b"a\xff.txt"))]);
        // Warnings about such paths stay on one line.
        let e = WalkError {
            path: PathBuf::from("x\ny"),
            message: "boom".into(),
            source: None,
        };
        assert_eq!(e.to_string(), "x\\ny: boom");
    }

    #[test]
    fn root_kept_as_typed() {
        let t = TempDir::new().unwrap();
        let b = t.path();
        make(b, &["tree/a", "tree/s/b"]);
        let as_typed = |root: &str| -> Vec<PathBuf> {
            let s = WalkSpec {
                roots: vec![b.join(root)],
                ..WalkSpec::default()
            };
            walk(&s).unwrap().map(Result::unwrap).collect()
        };
        let slash = as_typed("tree/");
        assert_eq!(
            slash
                .iter()
                .map(|p| p.as_os_str().as_bytes())
                .collect::<Vec<_>>(),
            [
                format!("{}/tree/a", b.display()).as_bytes(),
                format!("{}/tree/s/b", b.display()).as_bytes()
            ]
        );
        let dot = as_typed("tree/.");
        assert_eq!(
            dot[0].as_os_str().as_bytes(),
            format!("{}/tree/./a", b.display()).as_bytes()
        );
    }

    #[test]
    fn relative_roots_keep_form() {
        // Uses a relative root without changing the process cwd (tests run
        // in parallel): walk relative to the crate dir, into a tempdir made
        // inside it.
        let t = tempfile::Builder::new()
            .prefix("walkrel")
            .tempdir_in(".")
            .unwrap();
        let name = t.path().file_name().unwrap().to_owned();
        make(t.path(), &["a", "s/b"]);
        let rel = PathBuf::from(&name);
        let mut with_slash = rel.as_os_str().to_owned();
        with_slash.push("/");
        let mut dotted = OsString::from("./");
        dotted.push(&name);
        for (root, prefix) in [
            (rel.clone().into_os_string(), rel.as_os_str().to_owned()),
            (with_slash, rel.as_os_str().to_owned()),
            (dotted.clone(), dotted),
        ] {
            let got: Vec<OsString> = walk(&spec(&[Path::new(&root)]))
                .unwrap()
                .map(|r| r.unwrap().into_os_string())
                .collect();
            let mut a = prefix.clone();
            a.push("/a");
            let mut sb = prefix.clone();
            sb.push("/s/b");
            assert_eq!(got, [a, sb], "root {root:?}");
        }
        // `.` gives `./name` (cwd is the crate dir under `cargo test`).
        let mut s = spec(&[Path::new(".")]);
        s.max_depth = Some(1);
        let got: Vec<PathBuf> = walk(&s).unwrap().map(Result::unwrap).collect();
        assert!(got.contains(&PathBuf::from("./Cargo.toml")), "{got:?}");
        assert!(got
            .iter()
            .all(|p| p.as_os_str().as_bytes().starts_with(b"./")));
    }
}
