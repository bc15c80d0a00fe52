//! Commands (docs/CONTRACT.md): argv or shell, placeholders, values that reach the command
//! literally, and `--dry-run`. The real binary on real processes, with an explicit stdin.

use crate::common;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use common::*;

// ---------------------------------------------------------------------------------------
// Command modes and placeholders
// ---------------------------------------------------------------------------------------

#[test]
fn separate_words_run_without_a_shell() {
    let dir = tempdir();
    let out = parx()
        .current_dir(dir.path())
        .args([
            "-k", "echo", "$HOME", ">", "out", "x{}y", ":::", "1", "$(id)",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "$HOME > out x1y\n$HOME > out x$(id)y\n"
    );
    assert!(
        dir_names(dir.path()).is_empty(),
        "a shell ran: {:?}",
        dir_names(dir.path())
    );
}

#[test]
fn options_after_the_command_belong_to_it() {
    assert_eq!(
        run_str(
            &["-k", "echo", "-j", "3", "-k", "--dry-run", "-0", ":::", "a"],
            b""
        ),
        "-j 3 -k --dry-run -0 a\n"
    );
    // `--` may separate parx's options from the command.
    assert_eq!(
        run_str(&["-k", "--", "echo", "x", ":::", "a"], b""),
        "x a\n"
    );
}

#[test]
fn one_word_with_shell_syntax_runs_through_sh() {
    assert_eq!(
        run_str(&["-k", "echo {} | tr a-z A-Z", ":::", "abc", "d e"], b""),
        "ABC\nD E\n"
    );
    assert_eq!(
        run_str(&["-k", "echo {} && echo done", ":::", "x"], b""),
        "x\ndone\n"
    );
    let dir = tempdir();
    parx()
        .current_dir(dir.path())
        .args(["echo hi >{}.out", ":::", "f1", "f 2"])
        .assert()
        .success()
        .stdout("");
    assert_eq!(dir_names(dir.path()), ["f 2.out", "f1.out"]);
}

#[test]
fn shell_option_forces_sh() {
    assert_eq!(
        run_str(
            &["-k", "--shell", "echo", "{}", "|", "tr", "a-z", "A-Z", ":::", "ab"],
            b""
        ),
        "AB\n"
    );
    assert_eq!(
        run_str(&["-k", "--shell", "echo", "$((1+2))", ":::", "v"], b""),
        "3 v\n"
    );
}

#[test]
fn values_are_appended_when_no_placeholder() {
    assert_eq!(
        run_str(&["-k", "echo", "pre", ":::", "a", "b c"], b""),
        "pre a\npre b c\n"
    );
    // Any placeholder, {#} and {%} included, means nothing is appended (GNU parallel).
    assert_eq!(
        run_str(&["-k", "echo", "n{#}", ":::", "a", "b"], b""),
        "n1\nn2\n"
    );
    // Shell mode appends the values quoted.
    assert_eq!(
        run_ok(&["-k", "printf '<%s>'", ":::", "a b", "it's", "$x"], b""),
        b"<a b><it's><$x>"
    );
}

#[test]
fn no_command_runs_each_value_as_a_command_line() {
    assert_eq!(
        run_str(&["-k"], b"echo one\necho two | tr a-z A-Z\nexit 0\n"),
        "one\nTWO\n"
    );
    assert_eq!(
        run_str(&["-k", ":::", "echo a", "echo b; echo c"], b""),
        "a\nb\nc\n"
    );
    let (code, _, _) = run_status(&[OsStr::new("-k")], b"true\nfalse\nexit 3\n");
    assert_eq!(code, 2, "two of the three command lines fail");
}

#[test]
fn path_placeholders() {
    assert_eq!(
        run_str(
            &[
                "-k",
                "echo",
                "{}",
                "{.}",
                "{/}",
                "{//}",
                "{/.}",
                ":::",
                "dir/sub/f.tar.gz",
                "plain"
            ],
            b""
        ),
        "dir/sub/f.tar.gz dir/sub/f.tar f.tar.gz dir/sub f.tar\nplain plain plain . plain\n"
    );
    // Inside words, and in shell mode (quoted there).
    assert_eq!(
        run_str(&["-k", "echo", "_{/.}_", "_{//}_", ":::", "a b/c d.e"], b""),
        "_c d_ _a b_\n"
    );
    assert_eq!(
        run_str(&["-k", "echo _{/.}_ _{//}_", ":::", "a b/c d.e"], b""),
        "_c d_ _a b_\n"
    );
}

#[test]
fn dirname_placeholder_matches_gnu_parallel() {
    assert_eq!(
        run_str(
            &["-k", "echo", "{//}", "{}", ":::", "a", "a/b", "a/b/c"],
            b""
        ),
        ". a\na a/b\na/b a/b/c\n"
    );
}

#[test]
fn numbered_source_placeholders() {
    assert_eq!(
        run_str(
            &[
                "-k", "echo", "{2}", "{1}", "{1.}", "{2/}", "{1//}", "{2/.}", ":::", "d/a.x",
                ":::", "e/b.y"
            ],
            b""
        ),
        "e/b.y d/a.x d/a b.y d b\n"
    );
    assert_eq!(
        run_str(
            &["-k", "echo", "{2}-{1}", ":::", "a", "b", ":::", "1", "2"],
            b""
        ),
        "1-a\n2-a\n1-b\n2-b\n"
    );
}

#[test]
fn sequence_number_placeholder_counts_inputs_from_one() {
    let input: String = (0..30).map(|i| format!("v{i}\n")).collect();
    let out = run_str(&["-j4", "echo", "{#}", "{}"], input.as_bytes());
    let mut got: Vec<(usize, String)> = lines(out.as_bytes())
        .iter()
        .map(|l| {
            let (n, v) = l.split_once(' ').unwrap();
            (n.parse().unwrap(), v.to_owned())
        })
        .collect();
    got.sort();
    let want: Vec<(usize, String)> = (0..30).map(|i| (i + 1, format!("v{i}"))).collect();
    assert_eq!(got, want);
}

#[test]
fn slot_placeholder_is_within_jobs() {
    let vals: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let mut args = vec!["-j3", "echo", "{%}", "{}", ":::"];
    args.extend(vals.iter().map(String::as_str));
    let out = run_str(&args, b"");
    let slots: Vec<usize> = out
        .split_whitespace()
        .step_by(2)
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(slots.len(), 40);
    assert!(
        slots.iter().all(|s| (1..=3).contains(s)),
        "slots out of 1..=3: {slots:?}"
    );
}

/// Values that would run `touch pwned` (or glob, split, or act as options) if they ever
/// reached a shell or an argv unquoted.
fn hostile_values() -> Vec<Vec<u8>> {
    [
        &b"$(touch pwned)"[..],
        b";touch pwned",
        b"`touch pwned`",
        b"it's",
        b"a b",
        b"-rf",
        b"*",
        b"\xff\xfe",
        b"x' ; touch pwned ; '",
        b"\"$(touch pwned)\"",
        b"|touch pwned",
        b"&& touch pwned &",
        b">pwned",
        b"\\' \\\\",
        b"$HOME ~ {} {1}",
        b"",
    ]
    .iter()
    .map(|v| v.to_vec())
    .collect()
}

fn hex(v: &[u8]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs parx in a temp dir holding only `bait` (so that an unquoted `*` would glob to it)
/// with `values` given on stdin with `-0` or as `:::` arguments, each task running
/// fixtures/core/argv.py; checks each task saw exactly `wrap(value)` (hex per argument) and
/// that no file was created.
fn check_values_reach_literally(
    mode: &str,
    command: &[OsString],
    values: &[Vec<u8>],
    via_stdin: bool,
) {
    let dir = tempdir();
    std::fs::write(dir.path().join("bait"), "").unwrap();
    let mut args: Vec<OsString> = os(&["-k", "-j4"]);
    let mut stdin = Vec::new();
    if via_stdin {
        args.push("-0".into());
        for v in values {
            stdin.extend_from_slice(v);
            stdin.push(0);
        }
        args.extend(command.iter().cloned());
    } else {
        args.extend(command.iter().cloned());
        args.push(":::".into());
        args.extend(values.iter().map(|v| OsStr::from_bytes(v).to_owned()));
    }
    let out = parx()
        .current_dir(dir.path())
        .args(&args)
        .write_stdin(stdin)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let got = lines(&out);
    assert_eq!(
        got.len(),
        values.len(),
        "{mode}: one line per value expected, got {got:?}"
    );
    for (v, line) in values.iter().zip(&got) {
        let want = format!(
            "{} {} {}",
            hex(b"pre"),
            hex(v),
            hex(&[b"x", &v[..], b"y"].concat())
        );
        assert_eq!(
            line,
            &want,
            "{mode}: value {:?} did not arrive literally",
            String::from_utf8_lossy(v)
        );
    }
    assert_eq!(
        dir_names(dir.path()),
        ["bait"],
        "{mode}: a value ran as shell code"
    );
}

#[test]
fn hostile_values_reach_argv_commands_literally() {
    let py = fixture("argv.py");
    let py = py.to_str().unwrap();
    let mut with_nl = hostile_values();
    with_nl.push(b"line1\nline2\ntouch pwned".to_vec());
    let cmd = os(&["python3", py, "pre", "{}", "x{}y"]);
    check_values_reach_literally("argv, :::", &cmd, &hostile_values(), false);
    check_values_reach_literally("argv, -0 stdin", &cmd, &with_nl, true);
}

#[test]
fn hostile_values_reach_shell_commands_literally() {
    let py = fixture("argv.py");
    let script = format!("python3 {} pre {{}} x{{}}y", sh_quote(py.to_str().unwrap()));
    let mut with_nl = hostile_values();
    with_nl.push(b"line1\nline2\ntouch pwned".to_vec());
    check_values_reach_literally(
        "one-word shell, :::",
        &os(&[&script]),
        &hostile_values(),
        false,
    );
    check_values_reach_literally("one-word shell, -0 stdin", &os(&[&script]), &with_nl, true);
    let forced = os(&[
        "--shell",
        "python3",
        py.to_str().unwrap(),
        "pre",
        "{}",
        "x{}y",
    ]);
    check_values_reach_literally("-s, :::", &forced, &hostile_values(), false);
    check_values_reach_literally("-s, -0 stdin", &forced, &with_nl, true);
}

#[test]
fn hostile_values_appended_literally_in_both_modes() {
    let py = fixture("argv.py");
    let py = py.to_str().unwrap();
    let mut values = hostile_values();
    values.push(b"line1\nline2\ntouch pwned".to_vec());
    let shell = format!("python3 {}", sh_quote(py));
    for cmd in [
        os(&["python3", py]),
        os(&[&shell]),
        os(&["--shell", "python3", py]),
    ] {
        let dir = tempdir();
        std::fs::write(dir.path().join("bait"), "").unwrap();
        let stdin: Vec<u8> = values
            .iter()
            .flat_map(|v| [&v[..], b"\0"].concat())
            .collect();
        let mut args = os(&["-k", "-0"]);
        args.extend(cmd.iter().cloned());
        let out = parx()
            .current_dir(dir.path())
            .args(&args)
            .write_stdin(stdin)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let want: Vec<String> = values.iter().map(|v| hex(v)).collect();
        assert_eq!(lines(&out), want, "{cmd:?}");
        assert_eq!(
            dir_names(dir.path()),
            ["bait"],
            "{cmd:?}: a value ran as shell code"
        );
    }
}

// ---------------------------------------------------------------------------------------
// --dry-run
// ---------------------------------------------------------------------------------------

#[test]
fn dry_run_prints_commands_quoted_in_input_order_with_k() {
    assert_eq!(
        run_str(&["--dry-run", "-k", "echo", ":::", "a b", "it's", "x"], b""),
        "echo 'a b'\necho 'it'\\''s'\necho x\n"
    );
    // Shell mode prints the script parx would give to sh -c.
    assert_eq!(
        run_str(
            &["--dry-run", "-k", "echo {} >{.}.out", ":::", "a b.c"],
            b""
        ),
        "echo 'a b.c' >'a b'.out\n"
    );
}

#[test]
fn dry_run_without_k_prints_every_command_once() {
    assert_eq!(
        sorted_lines(&run_ok(
            &["--dry-run", "echo", ":::", "a b", "it's", "x"],
            b""
        )),
        ["echo 'a b'", "echo 'it'\\''s'", "echo x"]
    );
}

#[test]
fn dry_run_runs_nothing() {
    let dir = tempdir();
    let out = parx()
        .current_dir(dir.path())
        .args(["--dry-run", "-k", "touch", "{}", ":::", "f1", "f2"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8(out).unwrap(), "touch f1\ntouch f2\n");
    parx()
        .current_dir(dir.path())
        .args(["--dry-run", "touch {} && touch g"])
        .write_stdin("f3\n")
        .assert()
        .success();
    assert!(dir_names(dir.path()).is_empty(), "--dry-run ran a command");
}
