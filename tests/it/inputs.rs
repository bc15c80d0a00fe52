//! Inputs (docs/CONTRACT.md): stdin, `:::`, `::::`/`-a`, products and links, delimiters,
//! streaming, and empty input. The real binary on real processes, with an explicit stdin.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

// ---------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------

#[test]
fn stdin_lines_are_values() {
    assert_eq!(run_str(&["-k", "echo"], b"a\nb c\nd\n"), "a\nb c\nd\n");
    // The last value need not end with a newline.
    assert_eq!(run_str(&["-k", "echo"], b"x\ny"), "x\ny\n");
}

#[test]
fn triple_colon_gives_literal_values() {
    assert_eq!(
        run_str(&["-k", "echo", ":::", "a", "b c", "d"], b""),
        "a\nb c\nd\n"
    );
    // With a source given, stdin is not an input.
    assert_eq!(
        run_str(&["-k", "echo", ":::", "a"], b"not a value\n"),
        "a\n"
    );
}

#[test]
fn quad_colon_and_arg_file_read_one_value_per_line() {
    let dir = tempdir();
    let f = dir.path().join("vals");
    std::fs::write(&f, "v1\nv 2\nv3\n").unwrap();
    let f = f.to_str().unwrap();
    let want = "v1\nv 2\nv3\n";
    assert_eq!(run_str(&["-k", "echo", "::::", f], b""), want);
    assert_eq!(run_str(&["-k", "-a", f, "echo"], b""), want);
    assert_eq!(run_str(&["-k", "--arg-file", f, "echo"], b""), want);
    // `-` is stdin.
    assert_eq!(
        run_str(&["-k", "echo", "::::", "-"], b"s1\ns2\n"),
        "s1\ns2\n"
    );
    assert_eq!(run_str(&["-k", "-a", "-", "echo"], b"s1\ns2\n"), "s1\ns2\n");
}

#[test]
fn several_sources_cross_with_first_varying_slowest() {
    assert_eq!(
        run_str(&["-k", "echo", ":::", "a", "b", ":::", "1", "2"], b""),
        "a 1\na 2\nb 1\nb 2\n"
    );
    let three = run_str(
        &[
            "-k", "echo", ":::", "a", "b", ":::", "1", "2", ":::", "x", "y",
        ],
        b"",
    );
    assert_eq!(
        lines(three.as_bytes()),
        ["a 1 x", "a 1 y", "a 2 x", "a 2 y", "b 1 x", "b 1 y", "b 2 x", "b 2 y"]
    );
    // A file source crosses the same way; stdin as the first source streams.
    let dir = tempdir();
    let f = dir.path().join("nums");
    std::fs::write(&f, "1\n2\n").unwrap();
    assert_eq!(
        run_str(
            &["-k", "echo", "::::", "-", "::::", f.to_str().unwrap()],
            b"a\nb\n"
        ),
        "a 1\na 2\nb 1\nb 2\n"
    );
    // Without -k the same set of lines.
    assert_eq!(
        sorted_lines(&run_ok(&["echo", ":::", "a", "b", ":::", "1", "2"], b"")),
        ["a 1", "a 2", "b 1", "b 2"]
    );
}

#[test]
fn linked_sources_zip_and_the_shorter_ends_it() {
    assert_eq!(
        run_str(&["-k", "echo", ":::", "a", "b", "c", ":::+", "1", "2"], b""),
        "a 1\nb 2\n"
    );
    assert_eq!(
        run_str(&["-k", "echo", ":::", "a", "b", ":::+", "1", "2", "3"], b""),
        "a 1\nb 2\n"
    );
    let dir = tempdir();
    let f = dir.path().join("nums");
    std::fs::write(&f, "1\n2\n3\n4\n").unwrap();
    assert_eq!(
        run_str(
            &[
                "-k",
                "echo",
                ":::",
                "a",
                "b",
                "c",
                "::::+",
                f.to_str().unwrap()
            ],
            b""
        ),
        "a 1\nb 2\nc 3\n"
    );
    // A linked pair crossed with a third source.
    assert_eq!(
        run_str(
            &["-k", "echo", ":::", "a", "b", ":::+", "1", "2", ":::", "x", "y"],
            b""
        ),
        "a 1 x\na 1 y\nb 2 x\nb 2 y\n"
    );
    // A linked pair after a first source: zipped too, the shorter ends it.
    assert_eq!(
        run_str(
            &["-k", "echo", ":::", "x", "y", ":::", "a", "b", "c", ":::+", "1", "2"],
            b""
        ),
        "x a 1\nx b 2\ny a 1\ny b 2\n"
    );
}

#[test]
fn link_option_recycles_the_shorter_sources() {
    assert_eq!(
        run_str(
            &["--link", "-k", "echo", ":::", "a", "b", "c", "d", ":::", "1", "2"],
            b""
        ),
        "a 1\nb 2\nc 1\nd 2\n"
    );
    assert_eq!(
        run_str(
            &["--link", "-k", "echo", ":::", "a", ":::", "1", "2", "3"],
            b""
        ),
        "a 1\na 2\na 3\n"
    );
}

#[test]
fn null_option_splits_on_nul_and_keeps_newlines() {
    let out = run_ok(&["-0", "-k", "printf", "[%s]"], b"a b\0c\nd\0e");
    assert_eq!(out, b"[a b][c\nd][e]");
    let out = run_ok(&["--null", "-k", "printf", "[%s]"], b"x\0");
    assert_eq!(out, b"[x]");
}

#[test]
fn delimiter_option_with_escapes() {
    assert_eq!(
        run_ok(&["-d", ",", "-k", "printf", "[%s]"], b"a,b c,x\ny"),
        b"[a][b c][x\ny]"
    );
    assert_eq!(
        run_ok(&["-d", "\\t", "-k", "printf", "[%s]"], b"a\tb c\tz"),
        b"[a][b c][z]"
    );
    assert_eq!(
        run_ok(&["-d", "\\x1f", "-k", "printf", "[%s]"], b"a\x1fb,c\x1f"),
        b"[a][b,c]"
    );
    assert_eq!(
        run_ok(&["--delimiter", "\\n", "-k", "printf", "[%s]"], b"a\nb\n"),
        b"[a][b]"
    );
    // The delimiter also applies to files.
    let dir = tempdir();
    let f = dir.path().join("csv");
    std::fs::write(&f, "p,q").unwrap();
    assert_eq!(
        run_ok(
            &[
                "-d",
                ",",
                "-k",
                "printf",
                "[%s]",
                "::::",
                f.to_str().unwrap()
            ],
            b""
        ),
        b"[p][q]"
    );
}

#[test]
fn trailing_carriage_return_is_kept() {
    assert_eq!(
        run_ok(&["-k", "printf", "[%s]"], b"a\r\nb\r\n"),
        b"[a\r][b\r]"
    );
}

#[test]
fn first_task_starts_before_stdin_ends() {
    let mut child = parx_std()
        .arg("echo")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let start = Instant::now();
    let writer = std::thread::spawn(move || {
        stdin.write_all(b"a\n").unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_secs(2));
        let _ = stdin.write_all(b"b\n");
        // Dropping stdin ends the input.
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(first, "a\n");
    assert!(
        elapsed < Duration::from_millis(1500),
        "first output came after {elapsed:?}: the input is not streamed"
    );
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    writer.join().unwrap();
    assert_eq!(rest, "b\n");
    let st = wait_timeout(&mut child, Duration::from_secs(10)).expect("parx did not exit");
    assert!(st.success());
}

// ---------------------------------------------------------------------------------------
// Empty input
// ---------------------------------------------------------------------------------------

#[test]
fn empty_input_runs_nothing_and_succeeds() {
    let dir = tempdir();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    let empty = empty.to_str().unwrap();
    let cases: &[&[&str]] = &[
        &["touch", "ran"],
        &["touch", "ran", ":::"],
        &["touch", "ran", "::::", empty],
        &["-a", empty, "touch", "ran"],
        &["touch", "ran", ":::", "a", ":::"],
        &["-0", "touch", "ran"],
        &[],
    ];
    for args in cases {
        parx()
            .current_dir(dir.path())
            .args(*args)
            .assert()
            .code(0)
            .stdout("")
            .stderr("");
        assert_eq!(dir_names(dir.path()), ["empty"], "{args:?}: a task ran");
    }
}
