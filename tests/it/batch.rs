//! `-n`, `-X` and `--colsep`: the real binary, real processes, real argument limits.

use crate::common;

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use tempfile::TempDir;

use common::{ok, parx};

#[test]
fn x_context_replace() {
    // (-j1: with more slots -X spreads a short input over them.)
    assert_eq!(
        ok(&["-j1", "-X", "echo", "a{}b", ":::", "1", "2"]),
        "a1b a2b\n"
    );
    assert_eq!(
        ok(&["-j1", "-X", "echo", "{#}", "-{}-", "x", ":::", "1", "2", "3"]),
        "1 -1- -2- -3- x\n"
    );
    // A command string: context replace within each of its words.
    assert_eq!(
        ok(&["-j1", "-X", "echo a{}b && echo {.}", ":::", "1.c", "it's"]),
        "a1.cb ait'sb\n1 it's\n"
    );
    // No placeholder: all values appended.
    assert_eq!(ok(&["-j1", "-X", "echo", "-", ":::", "1", "2"]), "- 1 2\n");
}

#[test]
fn n_batches_in_input_order_with_k() {
    let vals: Vec<String> = (1..=20).map(|i| i.to_string()).collect();
    let mut args = vec![
        "-k",
        "-j4",
        "-n",
        "3",
        "sh",
        "-c",
        "sleep 0.0$((7 - $1 % 7)); echo $0 \"$@\"",
        "{#}",
        "{}",
    ];
    args.push(":::");
    args.extend(vals.iter().map(String::as_str));
    let out = ok(&args);
    let want: Vec<String> = (0..7)
        .map(|b| {
            let vals: Vec<String> = (b * 3 + 1..=(b * 3 + 3).min(20))
                .map(|i| i.to_string())
                .collect();
            format!("{} {}", b + 1, vals.join(" "))
        })
        .collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), want);
    // Several sources: -n counts records; {N} numbers the batch's values (GNU parallel).
    assert_eq!(
        ok(&["-k", "-n", "2", "echo", "{1}={2}", "{3}={4}", ":::", "a", "b", ":::", "x", "y"]),
        "a=x a=y\nb=x b=y\n"
    );
    // --dry-run shows the batches.
    assert_eq!(
        ok(&["-k", "-n", "2", "--dry-run", "echo", ":::", "a b", "c", "d"]),
        "echo 'a b' c\necho d\n"
    );
}

/// Counts every line of `out`: each value must be there exactly once.
fn assert_each_once(out: &[u8], want: &[String]) {
    let mut seen: HashMap<&[u8], usize> = HashMap::new();
    for l in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        *seen.entry(l).or_default() += 1;
    }
    assert_eq!(seen.len(), want.len());
    for w in want {
        assert_eq!(seen.get(w.as_bytes()), Some(&1), "{w}");
    }
}

fn write_values(dir: &Path, n: usize, len: usize) -> (std::path::PathBuf, Vec<String>) {
    let vals: Vec<String> = (0..n).map(|i| format!("{i:0len$}")).collect();
    let f = dir.join("vals");
    fs::write(&f, vals.join("\n") + "\n").unwrap();
    (f, vals)
}

#[test]
fn x_200k_values_each_arrives_once() {
    let t = TempDir::new().unwrap();
    let (f, vals) = write_values(t.path(), 200_000, 50);
    let out = parx()
        .args(["-X", "-j2", "printf", "%s\\n", "::::"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_each_once(&out.stdout, &vals);
}

/// Values long enough that the argument limit, not the line limit (raised with a huge `-s`),
/// ends each batch; run with a large environment too, which the budget must leave room for.
/// No E2BIG, nothing lost.
#[test]
fn x_batches_near_the_argument_limit() {
    let t = TempDir::new().unwrap();
    let (f, vals) = write_values(t.path(), 6000, 2000);
    for env_size in [0, 1 << 20] {
        let mut cmd = parx();
        // One environment string may not exceed 128 KiB either: several of 100 KB.
        for i in 0..env_size / 100_000 {
            cmd.env(format!("PARX_TEST_BIG{i}"), "e".repeat(100_000));
        }
        let out = cmd
            .args([
                "-X",
                "-j2",
                "-s",
                "100000000",
                "sh",
                "-c",
                "printf '%s\\n' \"$@\"; echo \"n=$#\" >&2",
                "sh",
                "::::",
            ])
            .arg(&f)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert_each_once(&out.stdout, &vals);
        let sizes: Vec<usize> = err
            .lines()
            .map(|l| l.strip_prefix("n=").unwrap().parse().unwrap())
            .collect();
        // Batches are as full as the limit allows: few, and not tiny.
        let limit = if env_size == 0 { 2 << 20 } else { 1 << 20 };
        assert!(sizes.len() < 6000 * 2010 / (limit / 2), "{sizes:?}");
        assert!(sizes.len() > 6000 * 2010 / limit, "{sizes:?}");
    }
    // A command string is one argument: at most 128 KiB per command.
    let out = parx()
        .args(["-X", "-j2", "printf '%s\\n' {}", "::::"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_each_once(&out.stdout, &vals);
}

#[test]
fn oversized_value_fails_its_task_only() {
    let t = TempDir::new().unwrap();
    let big = "b".repeat(200_000);
    let f = t.path().join("vals");
    fs::write(&f, format!("a\n{big}\nc\n")).unwrap();
    for extra in [&["-X"][..], &[]] {
        let out = parx()
            .args(extra)
            .args(["-k", "printf", "%s\\n", "::::"])
            .arg(&f)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(out.stdout, b"a\nc\n");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("parx: ") && err.contains("Argument list too long"),
            "{err}"
        );
    }
}

#[test]
fn colsep_splits_values_into_columns() {
    let t = TempDir::new().unwrap();
    let tsv = t.path().join("t.tsv");
    fs::write(&tsv, "a\tb c\tx.y\n1\t2\n").unwrap();
    let out = parx()
        .args(["-k", "--colsep", "\t", "echo", "{2}|{1}|{3.}|{}", "::::"])
        .arg(&tsv)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"b c|a|x|a b c x.y\n2|1||1 2\n");
    // CSV from stdin, a regex separator, shell mode quoting each column.
    let out = parx()
        .args(["-k", "--colsep", " *, *", "echo {3}-{1}"])
        .write_stdin("a , $(x) ,c\nd,e,f\n")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"c-a\nf-d\n");
    // With -n: {N} is the batch's Nth value, columns of all its records in order (GNU).
    assert_eq!(
        ok(&["-n", "2", "--colsep", ",", "echo", "{2}", "{4}", ":::", "a,b", "c,d"]),
        "b d\n"
    );
    let out = parx().args(["--colsep", "(", "echo"]).output().unwrap();
    assert_eq!(out.status.code(), Some(255));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "parx: invalid --colsep '(': unclosed group\n"
    );
}

#[test]
fn n0_runs_once_per_value_without_it_and_colsep_trims() {
    // GNU parallel: -n 0 as -N 0; --colsep trims its columns on both sides unless --trim.
    assert_eq!(
        ok(&["-k", "-n", "0", "echo", "x", ":::", "a", "b"]),
        "x\nx\n"
    );
    assert_eq!(
        ok(&["--colsep", ",", "echo", "[{1}]", "[{2}]", ":::", "a , b"]),
        "[a] [b]\n"
    );
    assert_eq!(
        ok(&["--colsep", ",", "--trim", "n", "echo", "[{1}]", "[{2}]", ":::", "a , b"]),
        "[a ] [ b]\n"
    );
}

#[test]
fn bad_batch_options() {
    for args in [&["-n", "x", "echo"][..], &["-n", "2", "-N", "2", "echo"]] {
        let out = parx().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(255), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("parx: ") && err.lines().count() == 1,
            "{err}"
        );
    }
}
