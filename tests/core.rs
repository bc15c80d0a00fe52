//! Integration tests for the parx core (DESIGN.md: inputs, command modes, placeholders, -j,
//! grouped/ordered output, exit status, signals, closed stdout, --dry-run, integrity).
//!
//! Every test runs the real binary on real processes and gives it an explicit stdin.
//! Needs only sh, coreutils, python3 and mawk.

mod common;

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Runs `parx ARGS` with `stdin`, expects success, returns stdout.
fn run_ok(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    parx()
        .args(args)
        .write_stdin(stdin.to_vec())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone()
}

/// `run_ok` as a string.
fn run_str(args: &[&str], stdin: &[u8]) -> String {
    String::from_utf8(run_ok(args, stdin)).expect("utf-8 output")
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `parx ARGS` and returns (exit code, stdout, stderr).
fn run_status(args: &[&OsStr], stdin: &[u8]) -> (i32, Vec<u8>, Vec<u8>) {
    let out = parx()
        .args(args)
        .write_stdin(stdin.to_vec())
        .output()
        .unwrap();
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("parx killed by signal {:?}", out.status.signal()));
    (code, out.stdout, out.stderr)
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn refs(args: &[OsString]) -> Vec<&OsStr> {
    args.iter().map(OsString::as_os_str).collect()
}

// ---------------------------------------------------------------------------------------
// 1. Inputs
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
// 2. Command modes and placeholders
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
// 3. Job slots
// ---------------------------------------------------------------------------------------

/// Runs `tasks` tasks under `-j jobs` (or the default) that each record their start and end
/// time (ns) and slot, and returns (max number of tasks running at once, intervals).
/// Each task waits (at most 10 s) until `want` tasks have started, so on a loaded machine
/// the first `want` tasks still overlap; a pool running fewer than `want` at once shows up
/// as a lower maximum (after the wait), one running more as a higher maximum.
fn measure_concurrency(
    jobs: Option<&str>,
    tasks: usize,
    want: usize,
) -> (usize, Vec<(u128, u128, usize)>) {
    let dir = tempdir();
    let d = dir.path().to_str().unwrap();
    let script = format!(
        "s=$(date +%s%N); : >\"{{}}/{{#}}\"; i=0; \
         while :; do set -- \"{{}}\"/*; [ $# -ge {want} ] && break; \
         i=$((i+1)); [ $i -ge 200 ] && break; sleep 0.05; done; \
         sleep 0.1; e=$(date +%s%N); echo \"$s $e {{%}}\""
    );
    let mut args: Vec<&str> = Vec::new();
    let j = jobs.map(|j| format!("-j{j}"));
    args.extend(j.as_deref());
    args.extend(["sh", "-c", &script, ":::"]);
    args.extend((0..tasks).map(|_| d));
    let out = run_str(&args, b"");
    let iv: Vec<(u128, u128, usize)> = out
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(iv.len(), tasks);
    // Sweep: at equal times an end comes before a start.
    let mut ev: Vec<(u128, i32)> = iv.iter().flat_map(|&(s, e, _)| [(s, 1), (e, -1)]).collect();
    ev.sort();
    let (mut cur, mut max) = (0i32, 0i32);
    for (_, d) in ev {
        cur += d;
        max = max.max(cur);
    }
    (max as usize, iv)
}

fn check_jobs(jobs: Option<&str>, want: usize) {
    let (max, iv) = measure_concurrency(jobs, 2 * want, want);
    assert_eq!(
        max, want,
        "-j {jobs:?}: {max} tasks ran at once, expected {want}"
    );
    // Tasks running at the same time have distinct slots, all in 1..=want.
    for (i, a) in iv.iter().enumerate() {
        assert!(
            (1..=want).contains(&a.2),
            "-j {jobs:?}: slot {} out of range",
            a.2
        );
        for b in &iv[i + 1..] {
            let overlap = a.0 < b.1 && b.0 < a.1;
            assert!(
                !(overlap && a.2 == b.2),
                "-j {jobs:?}: two running tasks share slot {}",
                a.2
            );
        }
    }
}

#[test]
fn jobs_absolute_numbers() {
    check_jobs(Some("1"), 1);
    check_jobs(Some("3"), 3);
}

#[test]
fn jobs_default_is_the_cpu_count() {
    check_jobs(None, cpus());
}

#[test]
fn jobs_relative_to_cpus() {
    let c = cpus();
    check_jobs(Some("+1"), c + 1);
    check_jobs(Some("-1"), (c - 1).max(1));
}

#[test]
fn jobs_percentage_of_cpus() {
    let c = cpus();
    check_jobs(Some("200%"), 2 * c);
    check_jobs(Some("50%"), (c / 2).max(1));
}

#[test]
fn jobs_two_runs_four_one_second_tasks_in_about_two_seconds() {
    let start = Instant::now();
    run_ok(&["-j2", "sleep", ":::", "1", "1", "1", "1"], b"");
    let t = start.elapsed();
    assert!(
        t >= Duration::from_millis(1900) && t < Duration::from_millis(3800),
        "took {t:?}"
    );
}

// ---------------------------------------------------------------------------------------
// 4. Output
// ---------------------------------------------------------------------------------------

/// Checks that `out` is made of whole blocks, one per task: lines `TAG N` for N in 1..=n,
/// consecutive, each task once.
fn assert_whole_blocks(out: &[u8], prefix: &str, tasks: usize, n: usize) {
    let l = lines(out);
    assert_eq!(l.len(), tasks * n, "{prefix}: wrong line count in {l:?}");
    let mut seen = HashSet::new();
    for block in l.chunks(n) {
        let tag = block[0].rsplit_once(' ').unwrap().0.to_owned();
        for (i, line) in block.iter().enumerate() {
            assert_eq!(
                line,
                &format!("{tag} {}", i + 1),
                "{prefix}: output torn: {l:?}"
            );
        }
        assert!(seen.insert(tag), "{prefix}: a task printed twice: {l:?}");
    }
}

#[test]
fn grouped_output_never_interleaves() {
    let script = "for i in 1 2 3 4 5 6 7 8 9 10; do echo \"out {} $i\"; echo \"err {} $i\" >&2; sleep 0.02; done";
    let out = parx()
        .args([
            "-j4", "sh", "-c", script, ":::", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8",
        ])
        .assert()
        .success();
    let o = out.get_output();
    assert_whole_blocks(&o.stdout, "stdout", 8, 10);
    assert_whole_blocks(&o.stderr, "stderr", 8, 10);
    assert!(lines(&o.stdout).iter().all(|l| l.starts_with("out ")));
    assert!(lines(&o.stderr).iter().all(|l| l.starts_with("err ")));
}

#[test]
fn output_in_completion_order_without_keep_order() {
    let out = run_str(
        &[
            "-j2",
            "sh",
            "-c",
            "{}",
            ":::",
            "sleep 1; echo slow",
            "echo fast",
        ],
        b"",
    );
    assert_eq!(out, "fast\nslow\n");
}

#[test]
fn keep_order_prints_in_input_order() {
    let out = run_str(
        &[
            "-k",
            "-j2",
            "sh",
            "-c",
            "{}",
            ":::",
            "sleep 0.5; echo slow",
            "echo fast",
        ],
        b"",
    );
    assert_eq!(out, "slow\nfast\n");
    let out = run_str(
        &[
            "-k",
            "-j4",
            "sh",
            "-c",
            "sleep {}; echo {}",
            ":::",
            "0.4",
            "0.3",
            "0.2",
            "0.1",
            "0",
        ],
        b"",
    );
    assert_eq!(out, "0.4\n0.3\n0.2\n0.1\n0\n");
}

/// Reads `r` to its end and checks it equals the concatenation of `pieces` byte for byte,
/// without holding more than one piece in memory.
fn assert_stream_equals(r: impl Read, pieces: impl Iterator<Item = Vec<u8>>) {
    let mut r = BufReader::with_capacity(1 << 20, r);
    let mut buf = Vec::new();
    let mut offset = 0u64;
    for (i, want) in pieces.enumerate() {
        buf.resize(want.len(), 0);
        let mut got = 0;
        while got < want.len() {
            match r.read(&mut buf[got..]).unwrap() {
                0 => panic!("output ends at byte {offset}+{got}, inside piece {i}"),
                n => got += n,
            }
        }
        if buf != want {
            let at = buf.iter().zip(&want).position(|(a, b)| a != b).unwrap();
            panic!(
                "output differs at byte {} (piece {i}, +{at}): got {:?}, want {:?}",
                offset + at as u64,
                String::from_utf8_lossy(&buf[at..(at + 40).min(buf.len())]),
                String::from_utf8_lossy(&want[at..(at + 40).min(want.len())]),
            );
        }
        offset += want.len() as u64;
    }
    let mut extra = Vec::new();
    r.read_to_end(&mut extra).unwrap();
    assert!(
        extra.is_empty(),
        "{} bytes of extra output after byte {offset}",
        extra.len()
    );
}

#[test]
fn keep_order_behind_a_slow_task_is_exact_and_memory_bounded() {
    const TASKS: usize = 150;
    const SIZE: usize = 2_000_000;
    let dir = tempdir();
    let spill = tempdir();
    let rss_file = dir.path().join("rss");
    let time = std::path::Path::new("/usr/bin/time");
    let script = "if [ {} -eq 0 ]; then sleep 2; echo first; \
                  else head -c 2000000 /dev/zero | tr '\\0' X; printf ' %s\\n' {}; fi";
    let mut cmd = if time.exists() {
        let mut c = StdCommand::new(time);
        c.arg("-f").arg("%M").arg("-o").arg(&rss_file).arg(BIN);
        c
    } else {
        println!("note: /usr/bin/time is absent: peak RSS not measured");
        StdCommand::new(BIN)
    };
    cmd.args(["-k", "-j4", script, ":::"])
        .args((0..=TASKS).map(|i| i.to_string()))
        .env("TMPDIR", spill.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let err = drain(child.stderr.take().unwrap());
    let pieces = std::iter::once(b"first\n".to_vec()).chain((1..=TASKS).map(|i| {
        let mut v = vec![b'X'; SIZE];
        v.extend_from_slice(format!(" {i}\n").as_bytes());
        v
    }));
    assert_stream_equals(child.stdout.take().unwrap(), pieces);
    let st = wait_timeout(&mut child, Duration::from_secs(60)).expect("parx did not exit");
    let err = err.join().unwrap();
    assert!(
        st.success(),
        "status {st:?}, stderr {}",
        String::from_utf8_lossy(&err)
    );
    assert!(
        dir_names(spill.path()).is_empty(),
        "spill files left in $TMPDIR"
    );
    if time.exists() {
        let text = std::fs::read_to_string(&rss_file).unwrap();
        let kb: u64 = text.lines().last().unwrap().trim().parse().unwrap();
        assert!(kb < 64 * 1024, "peak RSS {kb} KB, limit 64 MB");
    }
}

// ---------------------------------------------------------------------------------------
// 5. Exit status, signals, closed stdout
// ---------------------------------------------------------------------------------------

#[test]
fn exit_zero_when_every_task_succeeds() {
    parx().args(["true", ":::", "a", "b", "c"]).assert().code(0);
}

#[test]
fn exit_status_counts_failed_tasks() {
    parx()
        .args(["sh", "-c", "exit {}", ":::", "0", "1", "1", "2"])
        .assert()
        .code(3);
    // Killed by a signal, or not startable, counts as failed too.
    parx()
        .args(["sh", "-c", "kill -9 $$", ":::", "a"])
        .assert()
        .code(1);
    parx()
        .args(["/nonexistent/parx-no-such-program", ":::", "a", "b"])
        .assert()
        .code(2);
}

fn falses(n: usize) -> (i32, Vec<u8>) {
    let input: String = (0..n).map(|i| format!("{i}\n")).collect();
    let (code, out, err) = run_status(&refs(&os(&["false"])), input.as_bytes());
    assert!(out.is_empty());
    (code, err)
}

#[test]
fn exit_status_caps_at_101_when_more_than_100_fail() {
    assert_eq!(falses(100).0, 100);
    assert_eq!(falses(101).0, 101);
    assert_eq!(falses(150).0, 101);
}

fn assert_usage_error(args: &[&OsStr], stdin: &[u8]) {
    let (code, out, err) = run_status(args, stdin);
    let err = String::from_utf8_lossy(&err);
    assert_ne!(
        code, 2,
        "{args:?}: clap's exit status 2 leaked; stderr {err}"
    );
    assert_eq!(code, 255, "{args:?}: stderr {err}");
    assert!(
        out.is_empty(),
        "{args:?}: stdout {:?}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(
        err.lines().count(),
        1,
        "{args:?}: want exactly one stderr line, got {err:?}"
    );
    assert!(err.starts_with("parx: "), "{args:?}: stderr {err:?}");
    assert!(err.ends_with('\n'), "{args:?}: stderr {err:?}");
}

#[test]
fn usage_errors_exit_255_with_one_line() {
    let cases: &[&[&str]] = &[
        &["--no-such-option", "echo"],
        &["-Q", "echo"],
        &["-j", "x", "echo"],
        &["-j", "2x", "echo"],
        &["-j", "", "echo"],
        &["--jobs=%", "echo"],
        &["-j"],
        &["-0", "-d", ",", "echo"],
        &["-d", ",", "--null", "echo"],
        &["-d", "", "echo"],
        &["-d", "\\q", "echo"],
        &["echo", "::::"],
        &["-a", "-", "echo", "::::", "-"],
        &["--pool", "bogus", "echo"],
    ];
    for args in cases {
        assert_usage_error(&refs(&os(args)), b"");
    }
}

#[test]
fn stdout_write_error_exits_255_with_one_line() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        println!("note: /dev/full is absent: test skipped");
        return;
    };
    for keep in [&["-k"][..], &[]] {
        let out = parx_std()
            .args(keep)
            .args(["seq", "{}", ":::", "100000", "3"])
            .stdout(full.try_clone().unwrap())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(255), "{keep:?}: stderr {err}");
        assert_eq!(err.lines().count(), 1, "{keep:?}: stderr {err:?}");
        assert!(err.starts_with("parx: "), "{keep:?}: stderr {err:?}");
    }
}

#[test]
fn missing_or_unreadable_input_file_exits_255_and_runs_nothing() {
    let dir = tempdir();
    let missing = dir.path().join("missing");
    let missing = missing.to_str().unwrap();
    let d = dir.path().to_str().unwrap();
    let cases: &[&[&str]] = &[
        &["touch", "ran", ":::", "a", "::::", missing],
        &["touch", "ran", "::::", missing],
        &["-a", missing, "touch", "ran"],
        &["--arg-file", missing, "touch", "ran"],
        &["-a", d, "touch", "ran"],
        &["touch", "ran", "::::", d],
    ];
    for args in cases {
        let out = parx().current_dir(dir.path()).args(*args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(255), "{args:?}: stderr {err}");
        assert_eq!(
            err.lines().count(),
            1,
            "{args:?}: want one stderr line, got {err:?}"
        );
        assert!(err.starts_with("parx: "), "{args:?}: stderr {err:?}");
        assert!(dir_names(dir.path()).is_empty(), "{args:?}: a task ran");
    }
}

/// Starts `parx -j2 sh -c SCRIPT ::: 1 2 3` where SCRIPT sleeps with a unique marker, waits
/// until both slots run, sends `sig`, and checks the exit status, the time taken and that
/// no task process survives.
fn check_signal(sig: i32, want: i32, script_head: &str, limit: Duration) {
    let marker = sleep_marker();
    let script = format!("{script_head} sleep {marker}; :");
    let mut child = parx_std()
        .args(["-j2", "sh", "-c", &script, ":::", "1", "2", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let parx_pid = child.id() as i32;
    // Both tasks (sh and its sleep each) are running.
    let started = wait_for(Duration::from_secs(10), || {
        pids_with(&marker)
            .iter()
            .filter(|&&p| p != parx_pid)
            .count()
            >= 4
    });
    assert!(started, "the tasks did not start");
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    // SAFETY: kill(2) on the child we spawned.
    unsafe {
        libc::kill(parx_pid, sig);
    }
    let st = wait_timeout(&mut child, limit);
    let took = t0.elapsed();
    let Some(st) = st else {
        assert_no_survivors(&marker, "after timeout");
        panic!("parx did not exit within {limit:?} of signal {sig}");
    };
    assert_eq!(
        st.code(),
        Some(want),
        "signal {sig}: status {st:?} after {took:?}"
    );
    assert_no_survivors(&marker, &format!("signal {sig}"));
}

#[test]
fn sigint_exits_130_and_kills_tasks() {
    check_signal(libc::SIGINT, 130, "", Duration::from_secs(3));
}

#[test]
fn sigterm_exits_143_and_kills_tasks() {
    check_signal(libc::SIGTERM, 143, "", Duration::from_secs(3));
}

#[test]
fn sigterm_exits_143_even_when_stdout_is_blocked() {
    // Nobody reads parx's stdout: the -k head of line fills the pipe and the writer blocks.
    // TERM must still end the tasks and parx promptly.
    let marker = sleep_marker();
    let script = format!("seq 1000000; sleep {marker}; :");
    let mut child = parx_std()
        .args(["-k", "-j2", "sh", "-c", &script, ":::", "1", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap(); // held open, never read
    let parx_pid = child.id() as i32;
    let started = wait_for(Duration::from_secs(10), || {
        pids_with(&marker)
            .iter()
            .filter(|&&p| p != parx_pid)
            .count()
            >= 2
    });
    assert!(started, "the tasks did not start");
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on the child we spawned.
    unsafe {
        libc::kill(parx_pid, libc::SIGTERM);
    }
    let st = wait_timeout(&mut child, Duration::from_secs(3));
    drop(stdout);
    assert_no_survivors(&marker, "SIGTERM with blocked stdout");
    let st = st.expect("parx did not exit within 3 s of SIGTERM while its stdout was blocked");
    assert_eq!(st.code(), Some(143), "status {st:?}");
}

#[test]
fn tasks_ignoring_sigterm_are_killed_after_grace() {
    // `trap "" TERM` is inherited by the sleep too: only KILL ends them.
    check_signal(
        libc::SIGTERM,
        143,
        "trap '' TERM;",
        Duration::from_millis(4500),
    );
}

/// Runs `parx ARGS... | head -n 1` through sh and checks parx stops quietly and soon, with
/// no task process left. `args` may use `MARK` for the sleep marker.
fn check_closed_stdout(args: &[&str]) {
    let marker = sleep_marker();
    let dir = tempdir();
    let err = dir.path().join("err");
    let rc = dir.path().join("rc");
    let args: Vec<String> = args.iter().map(|a| a.replace("MARK", &marker)).collect();
    let pipeline = format!(
        "{{ \"$0\" \"$@\" 2>{}; echo $? >{}; }} | head -n 1",
        sh_quote(err.to_str().unwrap()),
        sh_quote(rc.to_str().unwrap())
    );
    let mut c = StdCommand::new("sh");
    c.arg("-c")
        .arg(&pipeline)
        .arg(BIN)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    default_signals(&mut c);
    let t0 = Instant::now();
    let mut child = c.spawn().unwrap();
    let out = drain(child.stdout.take().unwrap());
    let st = wait_timeout(&mut child, Duration::from_secs(10));
    let took = t0.elapsed();
    if st.is_none() {
        assert_no_survivors(&marker, "after timeout");
        panic!("{args:?} | head -1 did not end within 10 s");
    }
    assert_eq!(String::from_utf8(out.join().unwrap()).unwrap(), "1\n");
    assert!(
        took < Duration::from_secs(5),
        "{args:?} | head -1 took {took:?}"
    );
    let errtext = std::fs::read_to_string(&err).unwrap();
    assert_eq!(errtext, "", "{args:?}: parx must stop quietly");
    let code = std::fs::read_to_string(&rc).unwrap();
    assert_ne!(
        code.trim(),
        "255",
        "{args:?}: a closed stdout is not an error"
    );
    assert_no_survivors(&marker, &format!("{args:?} | head -1"));
}

#[test]
fn closed_stdout_stops_quietly_keep_order() {
    // The head-of-line task streams 100000 lines, then sleeps: parx must not wait for it.
    check_closed_stdout(&[
        "-k",
        "-j2",
        "sh",
        "-c",
        "seq 100000; sleep MARK; :",
        ":::",
        "1",
        "2",
        "3",
        "4",
        "5",
    ]);
}

#[test]
fn closed_stdout_stops_quietly_completion_order() {
    check_closed_stdout(&[
        "-j3",
        "sh",
        "-c",
        "if [ \"$0\" = 1 ]; then seq 100000; else sleep MARK; fi",
        ":::",
        "1",
        "2",
        "3",
        "4",
        "5",
    ]);
}

// ---------------------------------------------------------------------------------------
// 6. --dry-run
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

// ---------------------------------------------------------------------------------------
// 7. Empty input
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

// ---------------------------------------------------------------------------------------
// 8. Integrity at scale
// ---------------------------------------------------------------------------------------

/// One generated task: output `#SEQ:SIZE\n` then SIZE bytes of `SEQ.` repeated, exit CODE
/// (fixtures/core/block.awk, one mawk per task, run without a shell).
struct Gen {
    seq: u64,
    size: usize,
    code: u8,
}

const INTEGRITY_TASKS: u64 = 10_000;

/// 10,000 tasks from a fixed seed. Sizes are skewed small to keep the run short: 90% of
/// tasks print 0–1 KB, 10% print 0–256 KB (about 130 MB in all). About 0.5% of the tasks
/// exit with a random non-zero code 1–255, so the expected status is an exact count < 101.
fn integrity_tasks() -> Vec<Gen> {
    let mut r = Rng(0x5eed_f00d);
    (1..=INTEGRITY_TASKS)
        .map(|seq| {
            let size = (if r.below(10) == 0 {
                r.below(256 * 1024 + 1)
            } else {
                r.below(1025)
            }) as usize;
            let code = if r.below(200) == 0 {
                1 + r.below(255) as u8
            } else {
                0
            };
            Gen { seq, size, code }
        })
        .collect()
}

fn block_body(seq: u64, size: usize) -> Vec<u8> {
    let unit = format!("{seq}.");
    unit.bytes().cycle().take(size).collect()
}

fn block(g: &Gen) -> Vec<u8> {
    let mut v = format!("#{}:{}\n", g.seq, g.size).into_bytes();
    v.extend(block_body(g.seq, g.size));
    v
}

/// Runs the integrity tasks through parx with `extra` options; `check` reads stdout.
/// Returns the exit code and the expected one.
fn run_integrity(extra: &[&str], check: impl FnOnce(&mut dyn Read, &[Gen])) -> (i32, i32) {
    let tasks = integrity_tasks();
    let failed = tasks.iter().filter(|g| g.code != 0).count();
    let input: Vec<u8> = tasks
        .iter()
        .flat_map(|g| format!("{} {} {}\n", g.seq, g.size, g.code).into_bytes())
        .collect();
    let mut child = parx_std()
        .args(extra)
        .args(["-j4", "mawk", "-f"])
        .arg(fixture("block.awk"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let err = drain(child.stderr.take().unwrap());
    check(&mut child.stdout.take().unwrap(), &tasks);
    writer.join().unwrap().unwrap();
    let st = wait_timeout(&mut child, Duration::from_secs(120)).expect("parx did not exit");
    let err = err.join().unwrap();
    assert!(err.is_empty(), "stderr: {}", String::from_utf8_lossy(&err));
    (st.code().expect("parx killed"), failed.min(101) as i32)
}

#[test]
fn ten_thousand_tasks_keep_order_byte_exact() {
    let (code, want) = run_integrity(&["-k"], |out, tasks| {
        assert_stream_equals(out, tasks.iter().map(block));
    });
    assert!(
        want > 0 && want < 101,
        "the seed should give a countable number of failures"
    );
    assert_eq!(code, want);
}

#[test]
fn ten_thousand_tasks_completion_order_blocks_intact_once() {
    let (code, want) = run_integrity(&[], |out, tasks| {
        let mut r = BufReader::with_capacity(1 << 20, out);
        let mut seen = vec![false; tasks.len() + 1];
        let mut header = Vec::new();
        let mut body = Vec::new();
        let mut n = 0;
        loop {
            header.clear();
            if r.read_until(b'\n', &mut header).unwrap() == 0 {
                break;
            }
            let h = String::from_utf8_lossy(&header).into_owned();
            let parsed = h
                .strip_prefix('#')
                .and_then(|h| h.trim_end().split_once(':'))
                .and_then(|(s, z)| Some((s.parse::<usize>().ok()?, z.parse::<usize>().ok()?)));
            let Some((seq, size)) = parsed else {
                panic!(
                    "after {n} blocks: not a block header: {:?}",
                    &h[..h.len().min(60)]
                );
            };
            let g = &tasks[seq - 1];
            assert_eq!(size, g.size, "block {seq}: header size");
            body.resize(size, 0);
            r.read_exact(&mut body).unwrap();
            assert!(
                body == block_body(g.seq, g.size),
                "block {seq}: body torn or mixed"
            );
            assert!(!seen[seq], "block {seq} printed twice");
            seen[seq] = true;
            n += 1;
        }
        assert_eq!(n, tasks.len(), "blocks missing");
    });
    assert_eq!(code, want);
}
