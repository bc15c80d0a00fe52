//! What parx says when something is wrong: a command that cannot run (in a shell's words and
//! with a shell's status), a hint when it would wait for values typed at the terminal, and the
//! usage errors, each naming the bad value and the fix.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::*;

/// The `Exitval` column of a job log's rows.
fn exitvals(log: &std::path::Path) -> Vec<String> {
    fs::read_to_string(log)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split('\t').nth(6).unwrap().to_owned())
        .collect()
}

/// A program that is not found, named without a placeholder: every task would fail the same
/// way, so it is said once and the run stops with 127, as xargs does (`seq 500 | parx
/// nosuchcmd`: one line, not 500). The task that tried has its row, status 127.
#[test]
fn command_not_found_is_said_once_and_stops_with_127() {
    let values: String = (1..=500).map(|i| format!("{i}\n")).collect();
    let (code, out, err) = run_status(&refs(&os(&["parx-no-such-command"])), values.as_bytes());
    assert_eq!(String::from_utf8_lossy(&out), "");
    assert_eq!(
        String::from_utf8_lossy(&err),
        "parx: parx-no-such-command: command not found\n"
    );
    assert_eq!(code, 127);

    let d = tempdir();
    let log = d.path().join("log");
    let log_arg = log.to_str().unwrap();
    let args = [
        "-j1",
        "--joblog",
        log_arg,
        "parx-no-such-command",
        ":::",
        "a",
        "b",
    ];
    let (code, _, err) = run_status(&refs(&os(&args)), b"");
    assert_eq!(code, 127);
    assert_eq!(
        String::from_utf8_lossy(&err),
        "parx: parx-no-such-command: command not found\n"
    );
    assert_eq!(exitvals(&log), ["127"], "the task's status, as a shell's");
}

/// With a placeholder in the command word each task may name another program: each task that
/// cannot start is said and counted, and the run goes on.
#[test]
fn command_not_found_per_task_when_the_program_is_a_value() {
    let args = [
        "-k",
        "{}",
        ":::",
        "parx-no-such-1",
        "true",
        "parx-no-such-2",
    ];
    let (code, out, err) = run_status(&refs(&os(&args)), b"");
    assert_eq!(String::from_utf8_lossy(&out), "");
    assert_eq!(
        sorted_lines(&err),
        [
            "parx: parx-no-such-1: command not found",
            "parx: parx-no-such-2: command not found"
        ]
    );
    assert_eq!(code, 2, "two failed tasks, as for any failing command");
}

#[test]
fn missing_path_and_permission_denied() {
    let d = tempdir();
    let script = d.path().join("script.sh");
    fs::write(&script, "#!/bin/sh\necho ran\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
    let log = d.path().join("log");
    let (s, l) = (script.to_str().unwrap(), log.to_str().unwrap());
    let (code, out, err) = run_status(&refs(&os(&["--joblog", l, s, ":::", "a"])), b"");
    assert_eq!((code, out.as_slice()), (1, &b""[..]));
    assert_eq!(
        String::from_utf8_lossy(&err),
        format!("parx: {s}: permission denied\n")
    );
    assert_eq!(exitvals(&log), ["126"]);

    let missing = d.path().join("missing");
    let m = missing.to_str().unwrap();
    let (code, _, err) = run_status(&refs(&os(&["--joblog", l, m, ":::", "a"])), b"");
    assert_eq!(code, 127, "not found: said once, the run stops");
    assert_eq!(
        String::from_utf8_lossy(&err),
        format!("parx: {m}: no such file\n")
    );
    assert_eq!(exitvals(&log), ["127"]);
}

#[test]
fn a_worker_that_cannot_start_is_named() {
    let (code, _, err) = run_status(
        &refs(&os(&[
            "--pool",
            "process",
            "parx-no-such-worker",
            ":::",
            "a",
        ])),
        b"",
    );
    assert_eq!(code, 255);
    assert_eq!(
        String::from_utf8_lossy(&err),
        "parx: cannot start worker: parx-no-such-worker: command not found\n"
    );
}

/// Runs `parx ARGS` under `script`, so that its stdin (and stdout, stderr) is a terminal;
/// `typed` is what the user types. Returns the terminal's text, or `None` without `script`.
fn in_terminal(args: &str, typed: &[u8]) -> Option<String> {
    if Command::new("script").arg("-V").timed_output().is_err() {
        eprintln!("skipped: script (util-linux) is not installed");
        return None;
    }
    let mut child = Command::new("script")
        .args(["-qec", &format!("{} {args}", sh_quote(BIN)), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(typed).unwrap();
    let out = drain(child.stdout.take().unwrap());
    let status = wait_timeout(&mut child, TIMEOUT).expect("script ends");
    drop(stdin);
    let text = String::from_utf8_lossy(&out.join().unwrap()).replace('\r', "");
    assert!(status.success(), "{text}");
    Some(text)
}

const HINT: &str = "parx: reading values from the terminal (end with Ctrl-D); give ::: VALUES, \
                    -a FILE or pipe them in\n";

#[test]
fn hints_when_values_would_be_read_from_the_terminal() {
    // The values typed, then Ctrl-D: they are read as usual.
    let Some(screen) = in_terminal("echo got", b"x\n\x04") else {
        return;
    };
    assert!(screen.contains(HINT), "{screen}");
    assert!(screen.contains("got x\n"), "{screen}");
    let Some(screen) = in_terminal("--pipe wc -l", b"x\ny\n\x04") else {
        return;
    };
    assert!(
        screen.contains(
            "parx: reading --pipe input from the terminal (end with Ctrl-D); give -a FILE or \
             pipe it in\n"
        ),
        "{screen}"
    );
    // Values given: no hint, though stdin is still the terminal.
    let Some(screen) = in_terminal("echo got ::: v", b"") else {
        return;
    };
    assert_eq!(screen, "got v\n");
}

#[test]
fn no_hint_when_stdin_is_not_a_terminal() {
    let (code, out, err) = run_status(&refs(&os(&["echo"])), b"a\n");
    assert_eq!((code, out, err), (0, b"a\n".to_vec(), Vec::new()));
}

/// Every usage error is one line naming the bad value (or option) and what to do instead.
#[test]
fn usage_errors_name_the_value_and_the_fix() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["-j", "abc", "echo"],
            "invalid -j 'abc': use N, N%, +N, -N or 0 (as many as possible), or the name of a \
             file holding one",
        ),
        (
            &["-d", "", "echo"],
            "-d: the delimiter must not be empty (e.g. -d , or -0 for NUL)",
        ),
        (
            &["-d", "\\q", "echo"],
            "-d: invalid delimiter '\\q': unknown escape \\q (use \\n \\t \\r \\0 \\\\ or \\xHH)",
        ),
        (
            &["-d", "a\\", "echo"],
            "-d: invalid delimiter 'a\\': trailing backslash (write \\\\ for a backslash)",
        ),
        (
            &["--pipe", "--block", "abc", "cat"],
            "--block: invalid block size 'abc' (use bytes with an optional suffix: 64k, 1M, 1.5G)",
        ),
        (
            &["--pipe", "--block", "0", "cat"],
            "--block: block size must be positive: '0' (e.g. 1M)",
        ),
        (
            &["--pipe", "--block", "-2", "cat"],
            "--block -2 (chunks per job slot) needs --pipe-part; give --pipe a size (e.g. 1M)",
        ),
        (
            &["--halt", "now,fail=0", "echo"],
            "invalid --halt 'now,fail=0': N must be at least 1 (e.g. now,fail=1)",
        ),
        (
            &["--halt", "now,fail=120%", "echo"],
            "invalid --halt 'now,fail=120%': the percentage must be in (0, 100] (e.g. soon,fail=10%)",
        ),
        (
            &["--delay", "abc", "echo"],
            "--delay: invalid duration 'abc' (use e.g. 500ms, 30s, 2m, 1.5)",
        ),
        (
            &["--timeout", "5x", "echo"],
            "--timeout: invalid duration unit in '5x' (use ms, s, m, h or d)",
        ),
        (
            &["--shard", "3/2", "echo"],
            "invalid --shard '3/2': use K/N with 1 <= K <= N, auto, or auto/N",
        ),
        (&["--colsep", "(", "echo"], "invalid --colsep '(': unclosed group"),
        (
            &["echo", "{= s/a/b/ =}", ":::", "a"],
            "Perl expressions ({= s/a/b/ =}) are not supported: use --plus's replacement \
             strings, or compute the value in the command (e.g. $(...) in a shell command)",
        ),
        (
            &["--pool", "process", "--max-tasks", "0", "cat"],
            "invalid --max-tasks 0: a worker runs at least 1 task (use --max-tasks N, N >= 1)",
        ),
        (
            &["--max-tasks", "2", "cat"],
            "--max-tasks goes with --pool process (add --pool process, or drop --max-tasks)",
        ),
        (
            &["--pool", "process"],
            "--pool process needs a worker command that reads values on its stdin \
             (e.g. parx --pool process ./worker.py ::: a b)",
        ),
        (
            &["--pipe"],
            "--pipe and --pipe-part need a command to run on each chunk (e.g. parx --pipe wc -l)",
        ),
        (
            &["--pipe", "cat", ":::", "a"],
            "--pipe reads stdin, or one file given with -a FILE or :::: FILE, not ::: values \
             (pipe the data in)",
        ),
        (
            &["--pipe", "cat", "::::", "x", "y"],
            "--pipe reads stdin, or one file given with -a FILE or :::: FILE, not 2 input \
             sources (use --pipe-part for several files)",
        ),
        (
            &["echo", "::::"],
            ":::: needs at least one file after it (:::: FILE, or :::: - for stdin)",
        ),
        (
            &["--retries", "-1", "echo"],
            "invalid value '-1' for '--retries <N>': N is the number of runs in all, 0 or more \
             (0: until it succeeds) (see 'parx --help')",
        ),
        (
            &["--pool", "proc", "echo"],
            "invalid value 'proc' for '--pool <KIND>': one of thread, process (did you mean \
             'process'?) (see 'parx --help')",
        ),
        (
            &["-s", "echo", "a", ":::", "b"],
            "invalid value 'echo' for '--max-chars <N>': not a number of characters (-s is \
             --max-chars, as in xargs and GNU parallel; did you mean --shell?) (see 'parx --help')",
        ),
        (
            &["echo", "::::", "-", "::::", "-"],
            "stdin (-) is given as an input source twice, but it can be read only once (save \
             it to a file and give the file)",
        ),
    ];
    for (args, want) in cases {
        let (code, out, err) = run_status(&refs(&os(args)), b"");
        assert_eq!(
            (code, String::from_utf8_lossy(&err).into_owned(), out),
            (255, format!("parx: {want}\n"), Vec::new()),
            "parx {args:?}"
        );
    }
}

/// A directory given as a file of values is named, with the option that walks it; no
/// "(os error N)" after the OS's words.
#[test]
fn a_directory_of_values_is_named() {
    let d = tempdir();
    let dir = d.path().join("some-dir");
    fs::create_dir(&dir).unwrap();
    let name = dir.to_str().unwrap();
    for args in [
        vec!["-a", name, "echo"],
        vec!["echo", "::::", name],
        vec!["--pool", "process", "-a", name, "cat"],
    ] {
        let (code, out, err) = run_status(&refs(&os(&args)), b"");
        assert_eq!(
            (code, String::from_utf8_lossy(&err).into_owned(), out),
            (
                255,
                format!(
                    "parx: {name}: is a directory, not a file of values (--walk {name} runs over \
                     the files under it)\n"
                ),
                Vec::new()
            ),
            "{args:?}"
        );
    }
    let (code, _, err) = run_status(&refs(&os(&["--pipe", "-a", name, "cat"])), b"");
    assert_eq!(
        (code, String::from_utf8_lossy(&err).into_owned()),
        (255, format!("parx: {name}: Is a directory\n"))
    );
}

/// A name that is not UTF-8 is shown with its bytes escaped (`\xff`), not as U+FFFD, and
/// without Rust's "(os error 2)".
#[test]
fn non_utf8_names_are_escaped() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let d = tempdir();
    let missing = d.path().join(OsStr::from_bytes(b"caf\xe9-\xff.txt"));
    let shown = format!("{}/caf\\xe9-\\xff.txt", d.path().display());
    let args = [OsStr::new("-a"), missing.as_os_str(), OsStr::new("echo")];
    let (code, _, err) = run_status(&args, b"");
    assert_eq!(
        (code, String::from_utf8_lossy(&err).into_owned()),
        (255, format!("parx: {shown}: No such file or directory\n"))
    );
    let args = [
        OsStr::new("--walk"),
        missing.as_os_str(),
        OsStr::new("echo"),
    ];
    let (code, _, err) = run_status(&args, b"");
    assert_eq!(
        (code, String::from_utf8_lossy(&err).into_owned()),
        (1, format!("parx: {shown}: No such file or directory\n"))
    );
}

/// `--timeout N%` says how long the task ran and what that was N% of, in seconds.
#[test]
fn timeout_percent_says_what_it_was_a_percentage_of() {
    let args = [
        "-j1",
        "--timeout",
        "300%",
        "sh",
        "-c",
        "sleep {}",
        ":::",
        "0.2",
        "0.2",
        "0.2",
        "5",
    ];
    let (code, _, err) = run_status(&refs(&os(&args)), b"");
    assert_eq!(code, 1);
    let err = String::from_utf8_lossy(&err);
    let line = err.trim_end();
    let rest = line
        .strip_prefix("parx: task 4 timed out after ")
        .unwrap_or_else(|| panic!("{err}"));
    let (after, of) = rest
        .split_once("s (300% of the median run time so far, ")
        .expect(line);
    let (after, median): (f64, f64) = (
        after.parse().expect(line),
        of.strip_suffix("s)").expect(line).parse().expect(line),
    );
    assert!(
        median >= 0.2 && (after - 3.0 * median).abs() < 0.05,
        "{line}"
    );
}
