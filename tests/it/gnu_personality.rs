//! parx as `parallel` (a link of that name, or `parx --as parallel`): GNU parallel 20221122's
//! command semantics. GNU's own tests and tutorial run through it elsewhere
//! (parallel_tutorial.rs; GNU's 53 in ../shared/gnu-conformance); these pin the rules one by
//! one.

use crate::common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{tempdir, Timed};

/// Runs `parallel ARGS` (parx by that name, first on PATH) with bash in `dir`.
fn parallel_in(dir: &Path, script: &str) -> Output {
    let bin = dir.join(".bin");
    fs::create_dir_all(&bin).unwrap();
    let link = bin.join("parallel");
    if !link.exists() {
        std::os::unix::fs::symlink(common::BIN, &link).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new("bash");
    c.args(["-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env("HOME", dir)
        .env_remove("PARALLEL")
        .env("SHELL", "/bin/bash")
        .stdin(Stdio::null());
    common::default_signals(&mut c);
    c.timed_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sorted(b: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = text(b).lines().map(String::from).collect();
    v.sort();
    v
}

#[test]
fn command_words_are_joined_and_run_as_shell_code() {
    let d = tempdir();
    let out = parallel_in(
        d.path(),
        "parallel echo {} '>' {}.out ::: a b && cat a.out b.out",
    );
    assert_eq!(text(&out.stdout), "a\nb\n");
    let out = parallel_in(d.path(), "parallel -k echo {}\\; exit 0 ::: 1 2");
    assert_eq!(text(&out.stdout), "1\n2\n");
}

#[test]
fn values_are_quoted_as_gnu_quotes_them() {
    let d = tempdir();
    let out = parallel_in(
        d.path(),
        "parallel -k --dry-run gzip -c {} '>' {}.gz ::: \"it's\" 'a b' x.c",
    );
    assert_eq!(
        text(&out.stdout),
        "gzip -c 'it'\"'\"'s' > 'it'\"'\"'s'.gz\ngzip -c 'a b' > 'a b'.gz\ngzip -c x.c > x.c.gz\n"
    );
    // The values reach the command whole, whatever they hold.
    let out = parallel_in(d.path(), "parallel -k echo ::: \"it's\" 'a  b' '$HOME'");
    assert_eq!(text(&out.stdout), "it's\na  b\n$HOME\n");
}

#[test]
fn exported_bash_functions_work() {
    let d = tempdir();
    let out = parallel_in(
        d.path(),
        "f() { echo \"f($1)\"; }; export -f f; parallel -k f ::: 1 2",
    );
    assert_eq!(text(&out.stdout), "f(1)\nf(2)\n", "{}", text(&out.stderr));
}

#[test]
fn a_plain_command_runs_without_the_shell_and_sees_its_name() {
    // `ls` prints its argv[0]: the name as typed, as through a shell.
    let d = tempdir();
    let out = parallel_in(d.path(), "parallel ls ::: no-such-file");
    assert!(
        text(&out.stderr).starts_with("ls: "),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn perl_expressions_are_refused() {
    let d = tempdir();
    let out = parallel_in(d.path(), "parallel echo '{= s/a/b/ =}' ::: a");
    assert_eq!(out.status.code(), Some(255));
    assert!(text(&out.stderr).contains("Perl expressions"));
}

#[test]
fn results_in_gnu_layout_and_not_printed() {
    let d = tempdir();
    let out = parallel_in(
        d.path(),
        "parallel --results out 'echo o{}; echo e{} >&2' ::: A B",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(text(&out.stderr), "");
    let read = |p: &str| fs::read_to_string(d.path().join(p)).unwrap();
    assert_eq!(read("out/1/A/stdout"), "oA\n");
    assert_eq!(read("out/1/B/stderr"), "eB\n");
    assert_eq!(read("out/1/B/seq"), "2\n");
    let out = parallel_in(
        d.path(),
        "parallel --header : --results h echo ::: x 1 ::: y 2",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(read("h/x/1/y/2/stdout"), "1 2\n");
}

#[test]
fn plus_strings_as_bash() {
    let d = tempdir();
    let out = parallel_in(
        d.path(),
        "parallel -k --plus echo {/def/ghi} {^a} '{,,A}' {:2:3} ::: abcAadef",
    );
    assert_eq!(text(&out.stdout), "abcAaghi AbcAadef abcaadef cAa\n");
    let out = parallel_in(
        d.path(),
        "parallel -k --plus echo {#} {choose_k} ::: A B C ::: A B C",
    );
    assert_eq!(text(&out.stdout), "2 A B\n3 A C\n6 B C\n");
}

#[test]
fn profiles_and_gnu_spellings() {
    let d = tempdir();
    fs::create_dir_all(d.path().join(".parallel")).unwrap();
    fs::write(d.path().join(".parallel/dr"), "--dry-run # a comment\n-k\n").unwrap();
    let out = parallel_in(d.path(), "parallel -J dr echo ::: b a");
    assert_eq!(text(&out.stdout), "echo b\necho a\n");
    let out = parallel_in(
        d.path(),
        "parallel --jl log --halt-on-error 1 --keeporder echo ::: x",
    );
    assert_eq!(text(&out.stdout), "x\n", "{}", text(&out.stderr));
    let out = parallel_in(d.path(), "parallel --shuf echo ::: 1 2 3");
    assert_eq!(sorted(&out.stdout), ["1", "2", "3"]);
    let out = parallel_in(d.path(), "parallel --minversion 20130722");
    assert_eq!(
        (text(&out.stdout), out.status.code()),
        ("20221122\n".into(), Some(0))
    );
}

#[test]
fn the_option_and_the_link_are_the_same() {
    let out = common::parx()
        .args([
            "--as", "parallel", "-k", "echo", "{}", "|", "cat", ":::", "a",
        ])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "a\n");
}
