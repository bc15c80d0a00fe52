//! parx as `xargs` (a link of that name, or `parx --as xargs`): GNU xargs 4.9's command line,
//! input rules and exit statuses on parx's engine. findutils' own suite is in xargs_suite.rs;
//! these pin what it does not cover: the statuses that stop a run, parallel runs, what the
//! commands' stdin is, and that input is never executed.

use crate::common;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::{tempdir, Timed};

/// A directory holding `xargs`, a link to parx, and the dir's guard.
fn xargs_link() -> (tempfile::TempDir, PathBuf) {
    let d = tempdir();
    let link = d.path().join("xargs");
    std::os::unix::fs::symlink(common::BIN, &link).unwrap();
    (d, link)
}

/// Runs `xargs ARGS` (parx by that name) with `stdin` in `dir`.
fn xargs_in(dir: &std::path::Path, args: &[&str], stdin: &[u8]) -> Output {
    let (_d, link) = xargs_link();
    let input = dir.join(".stdin");
    fs::write(&input, stdin).unwrap();
    let mut c = Command::new(&link);
    c.args(args)
        .current_dir(dir)
        .stdin(Stdio::from(fs::File::open(&input).unwrap()));
    common::default_signals(&mut c);
    c.timed_output().unwrap()
}

fn xargs(args: &[&str], stdin: &[u8]) -> Output {
    let d = tempdir();
    xargs_in(d.path(), args, stdin)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn no_command_means_echo_and_input_is_never_run() {
    let d = tempdir();
    let out = xargs_in(d.path(), &[], b"touch PWNED\n");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "touch PWNED\n");
    assert!(!d.path().join("PWNED").exists());
}

#[test]
fn blanks_and_quotes_split_the_input_and_commands_are_packed() {
    // Inside double quotes a backslash is itself (as GNU xargs reads it).
    let out = xargs(&["printf", "<%s>"], b"a 'b c'\n\"d\\\" e\\ f\n");
    assert_eq!(text(&out.stdout), "<a><b c><d\\><e f>");
    let out = xargs(&["-n", "2"], b"1 2 3 4 5\n");
    assert_eq!(text(&out.stdout), "1 2\n3 4\n5\n");
}

#[test]
fn statuses_are_xargs() {
    let run = |script: &str| xargs(&["-n1", "sh", "-c", script, "sh"], b"1\n2\n3\n");
    assert_eq!(run("exit 0").status.code(), Some(0));
    assert_eq!(run("[ $1 = 2 ] && exit 3; exit 0").status.code(), Some(123));
    // 255 stops the run: 3 never starts.
    let out = run("echo $1; [ $1 = 2 ] && exit 255; exit 0");
    assert_eq!(out.status.code(), Some(124));
    assert_eq!(text(&out.stdout), "1\n2\n");
    assert_eq!(
        text(&out.stderr),
        "xargs: sh: exited with status 255; aborting\n"
    );
    let out = run("echo $1; [ $1 = 1 ] && kill -TERM $$; exit 0");
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(text(&out.stderr), "xargs: sh: terminated by signal 15\n");
    let out = xargs(&["./no-such-program"], b"x\n");
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(
        text(&out.stderr),
        "xargs: ./no-such-program: No such file or directory\n"
    );
    assert_eq!(xargs(&["/"], b"x\n").status.code(), Some(126));
}

#[test]
fn usage_errors_are_status_1_in_xargs_words() {
    let out = xargs(&["-z"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "xargs: invalid option -- 'z'\nTry 'xargs --help' for more information.\n"
    );
    let out = xargs(&[], b"'unmatched\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("xargs: unmatched single quote;"));
    let out = xargs(&["--help"], b"");
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("Usage: xargs [OPTION]... COMMAND"));
}

#[test]
fn parallel_runs_use_every_slot() {
    // Two commands that each wait for the other's file: only a -P2 run finishes.
    let d = tempdir();
    let script = "touch $1.up; while [ ! -e $(( 3 - $1 )).up ]; do sleep 0.01; done; echo $1";
    let out = xargs_in(
        d.path(),
        &["-P", "2", "-n", "1", "sh", "-c", script, "sh"],
        b"1 2\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut lines: Vec<_> = text(&out.stdout).lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, ["1", "2"]);
}

#[test]
fn process_slot_var_counts_from_zero() {
    let out = xargs(
        &[
            "-P",
            "1",
            "-n",
            "1",
            "--process-slot-var=SLOT",
            "sh",
            "-c",
            "echo $SLOT",
        ],
        b"a b\n",
    );
    assert_eq!(text(&out.stdout), "0\n0\n");
}

#[test]
fn commands_read_dev_null_unless_a_file_gives_the_items() {
    // From stdin: the command's stdin is /dev/null (it must not eat xargs' input).
    let out = xargs(&["-n1", "sh", "-c", "cat; echo $0"], b"a b\n");
    assert_eq!(text(&out.stdout), "a\nb\n");
    // -a FILE: the command keeps xargs' stdin.
    let d = tempdir();
    fs::write(d.path().join("items"), "x\n").unwrap();
    let out = xargs_in(
        d.path(),
        &["-a", "items", "sh", "-c", "cat; echo $0"],
        b"from stdin\n",
    );
    assert_eq!(text(&out.stdout), "from stdin\nx\n");
}

#[test]
fn verbose_quotes_as_gnu() {
    let out = xargs(&["-0", "-t", "true"], b"a b\0it's\0plain\0");
    assert_eq!(text(&out.stderr), "true 'a b' \"it's\" plain\n");
}

#[test]
fn as_option_and_link_are_the_same() {
    let mut c = Command::new(common::BIN);
    c.args(["--as", "xargs", "-n2"]).stdin(Stdio::piped());
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"1 2 3\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(text(&out.stdout), "1 2\n3\n");
    let out = common::parx()
        .args(["-k", "--as", "xargs"])
        .assert()
        .code(255);
    assert!(text(&out.get_output().stderr).contains("must be the first argument"));
}

#[test]
fn eof_string_leaves_the_rest_of_a_file_to_the_next_reader() {
    let d = tempdir();
    let (_l, link) = xargs_link();
    fs::write(d.path().join("in"), "1\n2\nEND\n3\n4\n").unwrap();
    let script = format!("{} -E END; cat", link.display());
    let out = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::from(fs::File::open(d.path().join("in")).unwrap()))
        .timed_output()
        .unwrap();
    assert_eq!(text(&out.stdout), "1 2\n3\n4\n");
}
