//! xargs users: `-0`, `-d`, `-a`, `-n`, `-P`, `-I`, `-r`, `-t`, `-s`, `-L`,
//! `-E`, `-x` and `--process-slot-var` as GNU xargs documents them. Where parx's defaults
//! differ (one value per command unless `-n`/`-X`/`-m`; grouped output), the README's
//! migration table says so; these tests pin what matches.

use crate::common;

use std::fs;

use common::{lines, ok_in, parx, sorted_lines, tempdir};

#[test]
fn null_separated_input() {
    // find -print0 | xargs -0: names with newlines and spaces stay whole.
    let out = ok_in(&["-0", "-k", "printf", "<%s>\\n"], b"a b\0c\nd\0");
    assert_eq!(out, "<a b>\n<c\nd>\n");
}

#[test]
fn delimiter() {
    assert_eq!(ok_in(&["-d", ",", "-k", "echo"], b"a,b,c"), "a\nb\nc\n");
    assert_eq!(ok_in(&["-d", "\\t", "-k", "echo"], b"a b\tc"), "a b\nc\n");
}

#[test]
fn arg_file() {
    let d = tempdir();
    let f = d.path().join("args");
    fs::write(&f, "x\ny\n").unwrap();
    assert_eq!(
        ok_in(&["-a", f.to_str().unwrap(), "-k", "echo"], b"ignored\n"),
        "x\ny\n"
    );
}

#[test]
fn max_args() {
    assert_eq!(ok_in(&["-n", "2", "-k", "echo"], b"1\n2\n3\n"), "1 2\n3\n");
}

#[test]
fn max_procs_p() {
    let out = ok_in(&["-P", "3", "echo"], b"a\nb\nc\n");
    assert_eq!(sorted_lines(out.as_bytes()), ["a", "b", "c"]);
    // -P 0: as many as possible.
    let out = ok_in(&["-P", "0", "echo"], b"a\nb\n");
    assert_eq!(sorted_lines(out.as_bytes()), ["a", "b"]);
}

#[test]
fn replace_str() {
    let out = ok_in(&["-I", "XX", "-k", "echo", "pre-XX-post"], b"a\nb\n");
    assert_eq!(out, "pre-a-post\npre-b-post\n");
}

#[test]
fn no_run_if_empty() {
    assert_eq!(ok_in(&["-r", "echo", "ran"], b""), "");
    assert_eq!(ok_in(&["-r", "-k", "echo"], b"\n  \na\n"), "a\n");
}

#[test]
fn trace_on_stderr() {
    let out = parx()
        .args(["-t", "echo", "hi"])
        .write_stdin("a\n")
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"hi a\n");
    assert_eq!(out.stderr, b"echo hi a\n");
}

#[test]
fn max_chars() {
    // "echo 1 2" is 5+2+2 = 9 characters with its NULs; the next value would make 11.
    let out = ok_in(
        &["-s", "10", "-j1", "-k", "--xargs", "echo"],
        b"1\n2\n3\n4\n",
    );
    assert_eq!(lines(out.as_bytes()), ["1 2", "3 4"]);
}

#[test]
fn max_lines() {
    assert_eq!(ok_in(&["-L", "2", "-k", "echo"], b"a\nb\nc\n"), "a b\nc\n");
}

#[test]
fn eof_string() {
    assert_eq!(ok_in(&["-E", "END", "-k", "echo"], b"a\nEND\nb\n"), "a\n");
}

#[test]
fn exit_when_too_long() {
    let out = parx()
        .args(["-x", "-s", "12", "-k", "echo"])
        .write_stdin("a\nbbbbbbbbbbbbbbbbbbbb\nc\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
    assert_eq!(out.stdout, b"a\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("parx: -x:") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn process_slot_var() {
    // xargs numbers slots from 0.
    let out = ok_in(
        &[
            "--process-slot-var",
            "SLOT",
            "-P",
            "1",
            "-k",
            "sh",
            "-c",
            "echo $SLOT $0",
        ],
        b"a\nb\n",
    );
    assert_eq!(out, "0 a\n0 b\n");
    let out = ok_in(
        &[
            "--process-slot-var=SLOT",
            "-P",
            "2",
            "sh",
            "-c",
            "echo $SLOT",
        ],
        b"a\nb\nc\nd\n",
    );
    assert!(
        sorted_lines(out.as_bytes())
            .iter()
            .all(|s| s == "0" || s == "1"),
        "{out}"
    );
}
