//! `--walk`: the real binary over trees built in temp dirs.

use crate::common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use tempfile::TempDir;

use common::parx;

/// Creates files (and parents) under `dir`; names ending in `/` are directories.
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

/// Runs parx in `dir` and returns (stdout, stderr, status).
fn run(dir: &Path, args: &[&str]) -> (String, String, i32) {
    let out = parx().current_dir(dir).args(args).output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[test]
fn walk_is_sorted_and_filtered() {
    let t = TempDir::new().unwrap();
    make(
        t.path(),
        &[
            "tree/b.log",
            "tree/a.txt",
            "tree/sub/z.txt",
            "tree/sub/deep/y.txt",
            "tree/sub/c.rs",
            "tree/.hid/x.txt",
            "tree/.dot.txt",
            "tree/B.txt",
            "other/o.txt",
        ],
    );
    let d = t.path();
    let (out, err, code) = run(d, &["-k", "-j3", "--walk", "tree", "echo"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        lines(&out),
        [
            "tree/B.txt",
            "tree/a.txt",
            "tree/b.log",
            "tree/sub/c.rs",
            "tree/sub/deep/y.txt",
            "tree/sub/z.txt"
        ]
    );
    // Without -k and one slot the walk order is the run order too.
    let (out1, _, _) = run(d, &["-j1", "--walk", "tree", "echo"]);
    assert_eq!(out1, out);
    let (out, _, _) = run(
        d,
        &[
            "-k", "--walk", "tree", "--ext", "txt", "--ext", ".rs", "echo",
        ],
    );
    assert_eq!(
        lines(&out),
        [
            "tree/B.txt",
            "tree/a.txt",
            "tree/sub/c.rs",
            "tree/sub/deep/y.txt",
            "tree/sub/z.txt"
        ]
    );
    let (out, _, _) = run(d, &["-k", "--walk", "tree", "--glob", "sub/*.txt", "echo"]);
    assert_eq!(lines(&out), ["tree/sub/z.txt"]);
    let (out, _, _) = run(d, &["-k", "--walk", "tree", "--glob", "**/*.txt", "echo"]);
    assert_eq!(
        lines(&out),
        [
            "tree/B.txt",
            "tree/a.txt",
            "tree/sub/deep/y.txt",
            "tree/sub/z.txt"
        ]
    );
    let (out, _, _) = run(d, &["-k", "--walk", "tree", "--type", "d", "echo"]);
    assert_eq!(lines(&out), ["tree/sub", "tree/sub/deep"]);
    let (out, _, _) = run(d, &["-k", "--walk", "tree", "--max-depth", "1", "echo"]);
    assert_eq!(lines(&out), ["tree/B.txt", "tree/a.txt", "tree/b.log"]);
    let (out, _, _) = run(
        d,
        &["-k", "--walk", "tree", "--hidden", "--ext", "txt", "echo"],
    );
    assert_eq!(
        lines(&out),
        [
            "tree/.dot.txt",
            "tree/.hid/x.txt",
            "tree/B.txt",
            "tree/a.txt",
            "tree/sub/deep/y.txt",
            "tree/sub/z.txt"
        ]
    );
    // Roots in the order given; placeholders work on walked paths.
    let (out, _, _) = run(
        d,
        &[
            "-k",
            "--walk",
            "other",
            "--walk",
            "tree/sub/",
            "--max-depth",
            "1",
            "echo",
            "{/.}",
            "{//}",
        ],
    );
    assert_eq!(lines(&out), ["o other", "c tree/sub", "z tree/sub"]);
}

#[test]
fn walk_options_need_walk_and_valid_values() {
    let t = TempDir::new().unwrap();
    for args in [
        &["--ext", "txt", "echo"][..],
        &["--walk", ".", "--glob", "a[", "echo"],
        &["--walk", ".", "--type", "x", "echo"],
        &["--walk", ".", "--max-depth", "-1", "echo"],
    ] {
        let (out, err, code) = run(t.path(), args);
        assert_eq!(code, 255, "{args:?}");
        assert_eq!(out, "");
        assert!(
            err.starts_with("parx: ") && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}

#[test]
fn walk_types_and_follow() {
    let t = TempDir::new().unwrap();
    let d = t.path();
    make(d, &["tree/real/f", "tree/t"]);
    symlink("t", d.join("tree/lf")).unwrap();
    symlink("real", d.join("tree/ld")).unwrap();
    symlink("nowhere", d.join("tree/dang")).unwrap();
    // Without --follow links are type l and a dangling link is no error.
    let (out, err, code) = run(d, &["-k", "--walk", "tree", "echo"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(lines(&out), ["tree/real/f", "tree/t"]);
    let (out, _, code) = run(d, &["-k", "--walk", "tree", "--type", "l", "echo"]);
    assert_eq!(code, 0);
    assert_eq!(lines(&out), ["tree/dang", "tree/ld", "tree/lf"]);
    // With --follow the links are followed, and the dangling one is a counted warning.
    let (out, err, code) = run(d, &["-k", "--walk", "tree", "--follow", "echo"]);
    assert_eq!(
        lines(&out),
        ["tree/ld/f", "tree/lf", "tree/real/f", "tree/t"]
    );
    assert_eq!(code, 1);
    assert_eq!(lines(&err).len(), 1, "{err}");
    assert!(err.starts_with("parx: tree/dang: "), "{err}");
}

#[test]
fn walk_problems_are_warned_counted_and_the_walk_goes_on() {
    let t = TempDir::new().unwrap();
    let d = t.path();
    make(d, &["tree/a/1", "tree/a/2", "tree/z"]);
    symlink("..", d.join("tree/a/up")).unwrap();
    symlink("self", d.join("tree/self")).unwrap();
    symlink("nowhere", d.join("tree/dang")).unwrap();
    let (out, err, code) = run(d, &["-k", "-j2", "--walk", "tree", "--follow", "echo"]);
    assert_eq!(lines(&out), ["tree/a/1", "tree/a/2", "tree/z"]);
    let warn = lines(&err);
    assert_eq!(warn.len(), 3, "{err}");
    assert!(warn.iter().all(|l| l.starts_with("parx: tree/")), "{err}");
    assert!(
        warn[0].starts_with("parx: tree/a/up: filesystem loop"),
        "{err}"
    );
    assert!(warn[1].starts_with("parx: tree/dang: "), "{err}");
    assert!(warn[2].starts_with("parx: tree/self: "), "{err}");
    assert_eq!(code, 3);
    // Warnings and failed tasks add up in the exit status.
    let (_, _, code) = run(d, &["--walk", "tree", "--follow", "false"]);
    assert_eq!(code, 6);
    // A missing root: a warning, the other roots are walked.
    let (out, err, code) = run(d, &["-k", "--walk", "nope", "--walk", "tree/a", "echo"]);
    assert_eq!(lines(&out), ["tree/a/1", "tree/a/2"]);
    assert!(err.starts_with("parx: nope: No such file"), "{err}");
    assert_eq!(code, 1);
}

#[test]
fn walk_unreadable_directory_is_a_warning() {
    let t = TempDir::new().unwrap();
    let d = t.path();
    make(d, &["tree/a", "tree/locked/secret", "tree/z"]);
    let locked = d.join("tree/locked");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    let blocked = fs::read_dir(&locked).is_err();
    let (out, err, code) = run(d, &["-k", "--walk", "tree", "echo"]);
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
    if !blocked {
        // Running as root: mode 000 does not stop reading, nothing to observe.
        assert_eq!(code, 0);
        return;
    }
    assert_eq!(lines(&out), ["tree/a", "tree/z"]);
    assert_eq!(err, "parx: tree/locked: Permission denied\n");
    assert_eq!(code, 1);
}

/// Task 1 runs while the walk is still inside `a/` (the bounded task channel holds far
/// fewer than a/'s 300 entries, so the walker waits for the pool): what it creates in `zzz/`
/// is walked, and what it removes is a warning. Collecting the walk before running would
/// see neither.
#[test]
fn walk_streams_the_first_task_starts_during_the_walk() {
    let t = TempDir::new().unwrap();
    let d = t.path();
    let names: Vec<String> = (0..300).map(|i| format!("tree/a/{i:04}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    make(d, &names);
    make(d, &["tree/zzz/", "tree/zz/gone"]);
    let script =
        r#"if [ "$1" = tree/a/0000 ]; then touch tree/zzz/late; rm -r tree/zz; fi; echo "$1""#;
    let (out, err, code) = run(
        d,
        &["-j1", "-k", "--walk", "tree", "sh", "-c", script, "sh"],
    );
    let out = lines(&out);
    assert_eq!(out.len(), 301, "{err}");
    assert_eq!(out[300], "tree/zzz/late");
    assert!(err.starts_with("parx: tree/zz: No such file"), "{err}");
    assert_eq!(code, 1);
}

#[test]
fn walk_paths_are_bytes() {
    let t = TempDir::new().unwrap();
    let d = t.path();
    let names: [&[u8]; 5] = [b"a\xff.txt", b"new\nline", b"-rf", b"sp ace", b"qu'ote\""];
    for n in names {
        fs::write(d.join(OsStr::from_bytes(n)), b"x").unwrap();
    }
    let out = parx()
        .current_dir(d)
        .args(["-k", "--walk", ".", "printf", "%s\\0"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let got: Vec<&[u8]> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .collect();
    let mut want: Vec<Vec<u8>> = names.iter().map(|n| [b"./", *n].concat()).collect();
    want.sort();
    assert_eq!(got, want);
    // Leading dashes as the whole value, with -X and shell mode too.
    let out = parx()
        .current_dir(d)
        .args([
            "-k",
            "-X",
            "--walk",
            ".",
            "--glob",
            "-*",
            "--glob",
            "sp*",
            "printf '[%s]' {/}",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"[-rf][sp ace]");
}

#[test]
fn walk_with_batches_dry_run_and_keep_order() {
    let t = TempDir::new().unwrap();
    let d = t.path();
    let names: Vec<String> = (0..25).map(|i| format!("tree/{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    make(d, &names);
    let (out, _, code) = run(
        d,
        &[
            "-k",
            "-j4",
            "-n",
            "10",
            "--walk",
            "tree",
            "--dry-run",
            "echo",
            "{#}",
            "{/}",
        ],
    );
    assert_eq!(code, 0);
    let want: Vec<String> = (0..3)
        .map(|b| {
            let vals: Vec<String> = (b * 10..(b * 10 + 10).min(25))
                .map(|i| format!("{i:02}"))
                .collect();
            format!("echo {} {}", b + 1, vals.join(" "))
        })
        .collect();
    assert_eq!(lines(&out), want);
    let (out, _, code) = run(
        d,
        &["-j1", "-X", "--walk", "tree", "sh", "-c", "echo $#", "sh"],
    );
    assert_eq!((out.as_str(), code), ("25\n", 0));
    // With more slots, the input's last batch is spread over them (GNU parallel's -X).
    let (out, _, code) = run(
        d,
        &[
            "-j2", "-k", "-X", "--walk", "tree", "sh", "-c", "echo $#", "sh",
        ],
    );
    assert_eq!((out.as_str(), code), ("13\n12\n", 0));
}

/// `--walk -X` fills xargs' 128 KiB line (half the commands of GNU parallel's 63,664
/// characters); the same paths from stdin keep GNU's line, and `-s` still sets it.
#[test]
fn walk_x_fills_xargs_line() {
    let t = TempDir::new().unwrap();
    let names: Vec<String> = (0..6000)
        .map(|i| format!("tree/d{}/file-{i:030}.txt", i % 7))
        .collect();
    make(
        t.path(),
        &names.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    // Each command prints its line's length as -s counts it: the words and their NULs.
    let count = "n=$((${#0}+1)); for a; do n=$((n+${#a}+1)); done; echo $n $#";
    let longest = |args: &[&str], stdin: Option<&str>| -> (usize, usize, usize) {
        let mut cmd = parx();
        cmd.current_dir(t.path()).args(args);
        cmd.args(["sh", "-c", count, "sh"]);
        let out = match stdin {
            Some(s) => cmd.write_stdin(s.to_owned()).output().unwrap(),
            None => cmd.output().unwrap(),
        };
        assert!(out.status.success(), "{out:?}");
        let rows: Vec<(usize, usize)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let (a, b) = l.split_once(' ').unwrap();
                (a.parse().unwrap(), b.parse().unwrap())
            })
            .collect();
        let max = rows.iter().map(|r| r.0).max().unwrap();
        let values = rows.iter().map(|r| r.1).sum();
        (max, rows.len(), values)
    };
    let (walk_max, walk_cmds, walk_values) = longest(&["--walk", "tree", "-j1", "-X"], None);
    assert_eq!(walk_values, 6000);
    assert!(walk_max > 63_664 && walk_max < 131_072, "{walk_max}");
    let listed = names.join("\n") + "\n";
    let (gnu_max, gnu_cmds, gnu_values) = longest(&["-j1", "-X"], Some(&listed));
    assert_eq!(gnu_values, 6000);
    assert!(gnu_max < 63_664, "{gnu_max}");
    assert!(gnu_cmds >= 2 * walk_cmds - 1, "{gnu_cmds} {walk_cmds}");
    let (set_max, _, _) = longest(&["--walk", "tree", "-j1", "-X", "-s", "20000"], None);
    assert!(set_max < 20_000, "{set_max}");
}
