//! The walker's unit tests: order, filters, depth, symlinks, unreadable entries.

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
fn extension_matches_std() {
    for n in [
        "a.txt", ".bashrc", "a.", "a", "a.b.c", "..x", ".a.b", "x..", "-rf",
    ] {
        assert_eq!(
            extension(n.as_bytes()),
            Path::new(n).extension().map(OsStrExt::as_bytes),
            "{n}"
        );
    }
}

/// What walkdir (the walker parx used before) yields for `s`: the same order, paths and
/// selection are expected of [`Walker`].
fn walkdir_reference(s: &WalkSpec) -> Vec<Result<PathBuf, String>> {
    let c = s.compile().unwrap();
    let mut out = Vec::new();
    for root in &s.roots {
        let mut wd = walkdir::WalkDir::new(root)
            .follow_links(s.follow)
            .sort_by(|a, b| a.file_name().as_bytes().cmp(b.file_name().as_bytes()));
        if let Some(d) = s.max_depth {
            wd = wd.max_depth(d);
        }
        let hidden = s.hidden;
        let it = wd.into_iter().filter_entry(move |e| {
            hidden || e.depth() == 0 || e.file_name().as_bytes().first() != Some(&b'.')
        });
        for e in it {
            let e = match e {
                Ok(e) => e,
                Err(e) => {
                    out.push(Err(e.path().unwrap_or(root).display().to_string()));
                    continue;
                }
            };
            let ft = e.file_type();
            let name = e.file_name().as_bytes();
            let ok = e.depth() > 0
                && ((c.want_file && ft.is_file())
                    || (c.want_dir && ft.is_dir())
                    || (c.want_link && ft.is_symlink()))
                && (c.exts.is_empty()
                    || extension(name).is_some_and(|x| c.exts.iter().any(|e| e.as_bytes() == x)))
                && c.globs
                    .as_ref()
                    .is_none_or(|g| g.is_match(e.path().strip_prefix(root).unwrap_or(e.path())));
            if ok {
                out.push(Ok(e.into_path()));
            }
        }
    }
    out
}

#[test]
fn same_walk_as_walkdir() {
    let t = TempDir::new().unwrap();
    let b = t.path();
    make(
        b,
        &[
            "a/b/c/d.txt",
            "a/b/c/e.rs",
            "a/B",
            "a/.h/x.txt",
            "a/.h2",
            "z/",
            "z/y/",
            "m.txt",
            "M.txt",
            "-rf",
            "sp ace/1",
            "x\u{e9}/2.txt",
            "n/n/n/n/n/n.txt",
            // Names that tie on their first 8 bytes, or end within them.
            "p/long_name_b",
            "p/long_name_a",
            "p/long_name",
            "p/long_nam",
            "p/long_na\u{e9}",
            "p/longer",
        ],
    );
    fs::write(b.join(OsStr::from_bytes(b"a/b/\xff.txt")), b"x").unwrap();
    symlink("a/b", b.join("lb")).unwrap();
    symlink("m.txt", b.join("lm")).unwrap();
    symlink("nowhere", b.join("ldang")).unwrap();
    symlink("..", b.join("a/b/up")).unwrap();
    symlink("../../n", b.join("a/b/ln")).unwrap();
    let all = [EntryType::File, EntryType::Dir, EntryType::Symlink];
    let mut n = 0;
    for follow in [false, true] {
        for hidden in [false, true] {
            for max_depth in [None, Some(1), Some(3)] {
                for types in [vec![], vec![EntryType::Dir], all.to_vec()] {
                    for (exts, globs) in [
                        (vec![], vec![]),
                        (vec![OsString::from("txt")], vec![]),
                        (vec![], vec!["a/**".to_string(), "*.txt".to_string()]),
                    ] {
                        let s = WalkSpec {
                            // A linked root under --follow is left out: walkdir then
                            // takes a link to the link target's parent for a loop.
                            roots: if follow {
                                vec![b.to_path_buf(), b.join("a/")]
                            } else {
                                vec![b.to_path_buf(), b.join("a/"), b.join("lb")]
                            },
                            exts,
                            globs,
                            types: types.clone(),
                            hidden,
                            follow,
                            max_depth,
                        };
                        let got: Vec<Result<PathBuf, String>> = walk(&s)
                            .unwrap()
                            .map(|r| r.map_err(|e| e.path.display().to_string()))
                            .collect();
                        assert_eq!(got, walkdir_reference(&s), "{s:?}");
                        n += got.len();
                    }
                }
            }
        }
    }
    assert!(n > 500, "{n}");
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

#[test]
fn sort_key_orders_as_bytes() {
    let names: [&[u8]; 10] = [
        b"a",
        b"ab",
        b"abcdefgh",
        b"abcdefgh\x00z",
        b"abcdefghi",
        b"abcdefgi",
        b"abcdefg\xff",
        b"\xff",
        b"B",
        b"long_name_a",
    ];
    for a in names {
        for b in names {
            let by_key = sort_key(a).cmp(&sort_key(b)).then_with(|| a.cmp(b));
            assert_eq!(by_key, a.cmp(b), "{a:?} {b:?}");
        }
    }
}
