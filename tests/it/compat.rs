//! GNU parallel compatibility (docs/CONTRACT.md "Compatibility"): the same spelling means
//! the same thing. Each test runs the real binary on the behaviour GNU parallel 20221122 shows
//! (its outputs were checked against GNU parallel on this machine).

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::{lines, ok, ok_in, parx, sorted_lines, tempdir};

/// Runs parx expecting a usage error: status 255 and one `parx:` line; returns it.
fn refused(args: &[&str]) -> String {
    let out = parx().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(255), "{args:?}: {err}");
    assert!(
        err.starts_with("parx: ") && err.lines().count() == 1,
        "{args:?}: {err}"
    );
    assert!(out.stdout.is_empty(), "{args:?}");
    err
}

// --- the causes of the GNU conformance failures ---------------------------------------------

#[test]
fn j0_runs_as_many_as_possible() {
    // Five sleepers at once: with -j 0 they overlap (GNU parallel and xargs -P 0).
    let t = std::time::Instant::now();
    let out = ok(&[
        "-j",
        "0",
        "-k",
        "sh",
        "-c",
        "sleep 1; echo $0",
        ":::",
        "1",
        "2",
        "3",
        "4",
        "5",
    ]);
    assert_eq!(out, "1\n2\n3\n4\n5\n");
    assert!(t.elapsed().as_secs_f64() < 4.0, "{:?}", t.elapsed());
    // -P is -j.
    assert_eq!(ok(&["-P", "0", "-k", "echo", ":::", "a", "b"]), "a\nb\n");
}

#[test]
fn j0_respects_a_small_open_file_limit() {
    // GNU's par_k: with `ulimit -n 50`, -j 0 must still run every task, in order.
    let bin = env!("CARGO_BIN_EXE_parx");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n 50; seq 30 | {bin} -k -j 0 echo"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: Vec<String> = (1..=30).map(|i| i.to_string()).collect();
    assert_eq!(lines(&out.stdout), want);
}

#[test]
fn seq_or_slot_alone_does_not_append_the_values() {
    assert_eq!(
        ok(&["-k", "echo", "job", "{#}", ":::", "a", "b"]),
        "job 1\njob 2\n"
    );
    assert_eq!(ok(&["-j1", "-k", "echo", "{%}", ":::", "a", "b"]), "1\n1\n");
    // Several sources: still one line per task, no values.
    assert_eq!(
        ok(&["-k", "echo", "{#}", ":::", "1", "2", ":::", "1", "2"]),
        "1\n2\n3\n4\n"
    );
}

#[test]
fn positional_placeholders_number_the_values_of_a_batch() {
    assert_eq!(
        ok(&["-k", "-n2", "echo", "{2}", "{1}", ":::", "a", "b", "c", "d", "e"]),
        "b a\nd c\ne\n"
    );
    assert_eq!(
        ok(&["-k", "-N2", "echo", "{2}", "{1}", ":::", "a", "b", "c", "d", "e"]),
        "b a\nd c\ne\n"
    );
    // Records of two sources: the batch's values in order.
    assert_eq!(
        ok(&["-k", "-n2", "echo", "{2}", "{1}", ":::", "a", "b", ":::", "1", "2"]),
        "1 a\n1 b\n"
    );
    // -X: a part with only positional placeholders is not repeated.
    assert_eq!(
        ok(&["-j2", "-k", "-X", "echo", "{1}-{}", ":::", "a", "b", "c"]),
        "a-a a-b\nc-c\n"
    );
}

#[test]
fn negative_positions_count_from_the_end() {
    assert_eq!(
        ok(&["-k", "echo", "{-1}", "{1}", ":::", "a", "b", ":::", "x"]),
        "x a\nx b\n"
    );
    assert_eq!(ok(&["-n3", "echo", "{-2}", ":::", "a", "b", "c"]), "b\n");
}

#[test]
fn linked_file_sources_may_come_first() {
    let d = tempdir();
    let f = |name: &str, n: usize| {
        let p = d.path().join(name);
        let body: String = (1..=n).map(|i| format!("{i}\n")).collect();
        fs::write(&p, body).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let (a, b, c) = (f("a", 10), f("b", 3), f("c", 4));
    assert_eq!(
        ok(&["-k", "echo", "::::+", &a, &b, &c]),
        "1 1 1\n2 2 2\n3 3 3\n"
    );
}

#[test]
fn delimiter_splits_triple_colon_values_too() {
    assert_eq!(ok(&["-k", "-d", " ", "echo", ":::", "1 done"]), "1\ndone\n");
    assert_eq!(
        ok(&["-k", "-d", ",", "echo", ":::", "x,y", "z"]),
        "x\ny\nz\n"
    );
    // An empty value stays one value.
    assert_eq!(ok(&["-k", "echo", "<{}>", ":::", ""]), "<>\n");
}

#[test]
fn pipe_part_ignores_triple_colon_values_beside_files_and_takes_them_alone() {
    let d = tempdir();
    let p = d.path().join("three");
    fs::write(&p, "1\n2\n3\n").unwrap();
    let p = p.to_str().unwrap();
    // GNU parallel: `::: a` beside -a is not used; the small file is split for every slot.
    let out = parx()
        .args(["--pipe-part", "-k", "-a", p, "wc", "-l", ":::", "a"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(lines(&out.stdout), ["1", "1", "1"]);
    // Alone, ::: values name the data files.
    assert_eq!(
        ok(&["--pipe-part", "-j1", "--block", "1M", "wc", "-l", ":::", p]),
        "3\n"
    );
}

#[test]
fn pipe_part_splits_a_small_file_for_every_slot() {
    let d = tempdir();
    let p = d.path().join("seq");
    let body: String = (1..=1000).map(|i| format!("{i}\n")).collect();
    fs::write(&p, &body).unwrap();
    let p = p.to_str().unwrap();
    // No --block: ten chunks per slot (GNU parallel's default).
    let out = ok(&["--pipe-part", "-j2", "-k", "echo", "{#}", "::::", p]);
    assert_eq!(lines(out.as_bytes()).len(), 20);
    let out = ok(&["--pipe-part", "-j2", "-k", "wc", "-l", "::::", p]);
    let total: usize = lines(out.as_bytes())
        .iter()
        .map(|l| l.trim().parse::<usize>().unwrap())
        .sum();
    assert_eq!(total, 1000);
}

#[test]
fn x_fills_a_shell_line_as_gnu_parallel_does() {
    // GNU's par__10000_5_rpl_X: how many command lines -X makes for 10,000 values, in the
    // `parallel` personality (GNU's 63,664-character line).
    let input: String = (1..=10_000).map(|i| format!("{i}.gif\n")).collect();
    let count = |tpl: &str| {
        let out = ok_in(
            &["--as", "parallel", "-j1", "-k", "-X", "echo", tpl],
            &input,
        );
        lines(out.as_bytes()).len()
    };
    assert_eq!(count("a{}b{.}c{.}{.}{}"), 5);
    assert_eq!(count("a{}b{.}c{.}"), 4);
    assert_eq!(count("a{}b"), 2);
    // Each line stays under GNU's usable line length.
    let out = ok_in(&["--as", "parallel", "-X", "echo"], &input);
    assert!(lines(out.as_bytes()).iter().all(|l| l.len() < 63_664));
}

#[test]
fn x_fills_gnu_parallels_line_natively_and_s_sets_it() {
    // Native parx fills GNU parallel's 63,664-character line (GNU's own tests, run through
    // native parx, count its commands): 40,000 words of 7 bytes (+ NUL) and `echo` make 5
    // lines; `-s 131072` (xargs' buffer) makes 3, its first line full.
    let input: String = (1..=40_000).map(|i| format!("{:06}\n", i)).collect();
    let out = ok_in(&["-j1", "-k", "-X", "echo"], &input);
    let got = lines(out.as_bytes());
    assert_eq!(got.len(), 5);
    assert!(got.iter().all(|l| l.len() + 1 < 63_664));
    assert_eq!(
        got.iter().map(|l| l.split(' ').count()).sum::<usize>(),
        40_000
    );
    let out = ok_in(&["-j1", "-k", "-X", "-s", "131072", "echo"], &input);
    let got = lines(out.as_bytes());
    assert_eq!(got.len(), 3);
    // The first line is full: one word more would reach 128 KiB ("echo" and NUL: 5 bytes).
    assert_eq!(got[0].split(' ').count(), (131_072 - 5 - 1) / 7);
}

#[test]
fn x_and_m_spread_a_short_input_over_the_slots() {
    let input: String = (1..=10).map(|i| format!("{i}\n")).collect();
    let out = ok_in(&["-j3", "-k", "-X", "echo"], &input);
    assert_eq!(lines(out.as_bytes()), ["1 2 3 4", "5 6 7 8", "9 10"]);
    let out = ok_in(&["-j3", "-k", "-m", "echo"], &input);
    assert_eq!(lines(out.as_bytes()), ["1 2 3 4", "5 6 7 8", "9 10"]);
    // --xargs does not spread.
    let out = ok_in(&["-j3", "-k", "--xargs", "echo"], &input);
    assert_eq!(lines(out.as_bytes()), ["1 2 3 4 5 6 7 8 9 10"]);
}

#[test]
fn m_replaces_without_context() {
    assert_eq!(
        ok(&["-j1", "-m", "echo", "x{}y", ":::", "a", "b"]),
        "xa by\n"
    );
    assert_eq!(ok(&["-j1", "-m", "echo x{}y", ":::", "a", "b"]), "xa by\n");
    assert_eq!(
        ok(&["-j1", "-X", "echo", "x{}y", ":::", "a", "b"]),
        "xay xby\n"
    );
}

#[test]
fn keep_order_line_buffer_passes_stderr_as_it_comes() {
    let out = parx()
        .args([
            "--line-buffer",
            "-k",
            ": {}; echo stdout top; sleep 0.5; echo middle >&2; sleep 0.5; echo stdout end >&2",
            ":::",
            "x",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    // stderr streamed, not held to the end: both lines are there, in order.
    assert_eq!(lines(&out.stderr), ["middle", "stdout end"]);
    // And interleaved in time with stdout when both go to one pipe.
    let bin = env!("CARGO_BIN_EXE_parx");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{bin} --line-buffer -k ': {{}}; echo top; sleep 0.5; echo middle >&2; sleep 0.5; echo end' ::: x 2>&1"
        ))
        .output()
        .unwrap();
    assert_eq!(lines(&out.stdout), ["top", "middle", "end"]);
}

#[test]
fn blanks_after_a_position_inside_braces() {
    assert_eq!(
        ok(&["\n  echo {1\n  } {2 }\n", ":::", "O", ":::", "K"]),
        "O K\n"
    );
}

// --- options with GNU's meaning ----------------------------------------------------------------

#[test]
fn max_chars_limits_each_command_line() {
    let out = ok(&[
        "-j1", "-k", "-s", "10", "-X", "echo", ":::", "a", "b", "c", "d", "e",
    ]);
    // "echo a b" is 8 characters (argv words and their NULs: 5+2+2 = 9 < 10).
    assert_eq!(lines(out.as_bytes()), ["a b", "c d", "e"]);
    assert_eq!(
        ok(&[
            "--max-chars",
            "10",
            "-j1",
            "-X",
            "echo",
            ":::",
            "a",
            "b",
            "c"
        ]),
        "a b\nc\n"
    );
    assert!(refused(&["-s", "0", "echo"]).contains("-s"));
}

#[test]
fn shell_has_only_its_long_form() {
    assert_eq!(
        ok(&["--shell", "echo", "a", "{}", "|", "tr", "a", "b", ":::", "x"]),
        "b x\n"
    );
    // -s is --max-chars: it needs a number.
    let err = refused(&["-s", "echo", "x"]);
    assert!(err.contains("-s") || err.contains("max-chars"), "{err}");
}

#[test]
fn v_prints_each_command_before_its_output() {
    assert_eq!(
        ok(&["-k", "-v", "echo", ":::", "a", "b"]),
        "echo a\na\necho b\nb\n"
    );
}

#[test]
fn t_prints_each_command_on_stderr() {
    let out = parx()
        .args(["-k", "-t", "echo", ":::", "a", "b"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"a\nb\n");
    assert_eq!(sorted_lines(&out.stderr), ["echo a", "echo b"]);
    let out = parx()
        .args(["--verbose", "echo", ":::", "a"])
        .output()
        .unwrap();
    assert_eq!(out.stderr, b"echo a\n");
}

#[test]
fn r_skips_empty_and_blank_values() {
    assert_eq!(
        ok_in(&["-k", "-r", "echo", "x"], "a\n\n \t\nb\n"),
        "x a\nx b\n"
    );
    assert_eq!(ok_in(&["-k", "--no-run-if-empty", "echo"], "\n\n"), "");
}

#[test]
fn capital_i_sets_the_value_placeholder() {
    assert_eq!(
        ok(&["-k", "-I", "%%", "echo", "<%%>", "{}", ":::", "a"]),
        "<a> {}\n"
    );
    assert!(refused(&["-I", "", "echo"]).contains("-I"));
}

#[test]
fn capital_n_zero_runs_once_per_value_without_it() {
    assert_eq!(ok(&["-k", "-N0", "echo", "x", ":::", "a", "b"]), "x\nx\n");
}

#[test]
fn l_in_argument_mode_is_lines_per_command() {
    assert_eq!(ok_in(&["-k", "-L", "2", "echo"], "a\nb\nc\n"), "a b\nc\n");
}

#[test]
fn l_in_chunk_modes_makes_records_of_n_lines() {
    let input: String = (1..=10).map(|i| format!("{i}\n")).collect();
    // GNU parallel: 9 and 1 (three 3-line records, then the incomplete one).
    assert_eq!(
        ok_in(&["--pipe", "-L", "3", "-k", "wc", "-l"], &input),
        "9\n1\n"
    );
    // -N with -L: N records of L lines per chunk.
    assert_eq!(
        ok_in(&["--pipe", "-L", "3", "-N", "2", "-k", "wc", "-l"], &input),
        "6\n4\n"
    );
    // -N alone: N records per chunk.
    assert_eq!(
        ok_in(&["--pipe", "-N", "4", "-k", "wc", "-l"], &input),
        "4\n4\n2\n"
    );
    // FASTQ: 4-line records never split across chunks.
    let fq: String = (0..50).map(|i| format!("@r{i}\nACGT\n+\nIIII\n")).collect();
    let out = ok_in(
        &["--pipe", "-L", "4", "--block", "100", "-k", "wc", "-l"],
        &fq,
    );
    assert!(
        lines(out.as_bytes())
            .iter()
            .all(|l| l.trim().parse::<usize>().unwrap() % 4 == 0),
        "{out}"
    );
}

#[test]
fn capital_e_ends_the_input() {
    assert_eq!(ok_in(&["-k", "-E", "STOP", "echo"], "a\nSTOP\nb\n"), "a\n");
    assert_eq!(
        ok(&["-k", "--eof", "b", "echo", ":::", "a", "b", "c"]),
        "a\n"
    );
}

#[test]
fn trim_removes_blanks() {
    assert_eq!(ok(&["--trim", "lr", "echo", "[{}]", ":::", " a "]), "[a]\n");
    assert_eq!(ok(&["--trim", "l", "echo", "[{}]", ":::", " a "]), "[a ]\n");
    assert_eq!(ok(&["--trim", "r", "echo", "[{}]", ":::", " a "]), "[ a]\n");
    assert_eq!(
        ok(&["--trim", "n", "echo", "[{}]", ":::", " a "]),
        "[ a ]\n"
    );
    assert!(refused(&["--trim", "x", "echo"]).contains("--trim"));
}

#[test]
fn plus_replacement_strings() {
    let v = "dir/sub/file.tar.gz";
    let t = |p: &str| ok(&["--plus", "echo", p, ":::", v]).trim_end().to_owned();
    assert_eq!(t("{+/}"), "dir/sub");
    assert_eq!(t("{+.}"), "gz");
    assert_eq!(t("{+..}"), "tar.gz");
    assert_eq!(t("{..}"), "dir/sub/file");
    assert_eq!(t("{/..}"), "file");
    assert_eq!(t("{:4}"), "sub/file.tar.gz");
    assert_eq!(t("{:4:3}"), "sub");
    assert_eq!(t("{#.*/}"), "sub/file.tar.gz");
    assert_eq!(t("{##.*/}"), "file.tar.gz");
    assert_eq!(t("{%\\..*}"), "dir/sub/file.tar");
    assert_eq!(t("{%%\\..*}"), "dir/sub/file");
    assert_eq!(ok(&["--plus", "echo", "{:-none}", ":::", ""]), "none\n");
    assert_eq!(
        ok(&[
            "--plus", "-k", "echo", "{##}", "{0#}", ":::", "a", "b", "c", "d", "e", "f", "g", "h",
            "i", "j"
        ])
        .lines()
        .next(),
        Some("10 01")
    );
    assert_eq!(ok(&["--plus", "-j1", "echo", "{0%}", ":::", "a"]), "1\n");
    // Without --plus they are literal.
    assert_eq!(ok(&["echo", "{..}", ":::", "a.b.c"]), "{..} a.b.c\n");
}

#[test]
fn header_names_columns() {
    let out = ok_in(
        &["-k", "--header", ":", "--colsep", ",", "echo", "{b}-{a}"],
        "a,b\n1,2\n3,4\n",
    );
    assert_eq!(out, "2-1\n4-3\n");
    assert_eq!(
        ok(&["-k", "--header", ":", "echo", "{x}{y}", ":::", "x", "1", "2", ":::", "y", "A"]),
        "1A\n2A\n"
    );
    let out = parx()
        .args(["--header", ":", "echo", "{nope}", ":::", "x", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
}

#[test]
fn skip_first_line() {
    assert_eq!(
        ok_in(&["-k", "--skip-first-line", "echo"], "head\na\nb\n"),
        "a\nb\n"
    );
}

#[test]
fn arg_sep_and_arg_file_sep() {
    let d = tempdir();
    let f = d.path().join("f");
    fs::write(&f, "1\n2\n").unwrap();
    let f = f.to_str().unwrap();
    assert_eq!(
        ok(&["-k", "--arg-sep", ",,", "echo", ",,", "a", "b"]),
        "a\nb\n"
    );
    assert_eq!(
        ok(&["-k", "--arg-file-sep", "//", "echo", "//", f]),
        "1\n2\n"
    );
    assert_eq!(
        ok(&[
            "-k",
            "--arg-sep",
            ",,",
            "echo",
            ",,",
            "a",
            "b",
            ",,+",
            "x",
            "y"
        ]),
        "a x\nb y\n"
    );
    // ::: is a plain word then.
    assert_eq!(
        ok(&["--arg-sep", ",,", "echo", ":::", ",,", "a"]),
        "::: a\n"
    );
}

#[test]
fn ungroup_and_lb_are_accepted_and_print_everything() {
    let out = ok(&["-u", "-j2", "echo", ":::", "a", "b"]);
    assert_eq!(sorted_lines(out.as_bytes()), ["a", "b"]);
    let out = ok(&["--lb", "-j2", "echo", ":::", "a", "b"]);
    assert_eq!(sorted_lines(out.as_bytes()), ["a", "b"]);
}

#[test]
fn termseq_sends_its_signals_on_timeout() {
    let out = parx()
        .args([
            "--termseq",
            "INT,300,KILL,25",
            "--timeout",
            "0.3",
            "sh",
            "-c",
            "trap 'echo got INT; exit 3' INT; sleep 5 & wait",
            ":::",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got INT\n");
    assert!(refused(&["--termseq", "FOO,10", "true"]).contains("--termseq"));
}

/// `--termseq` also ends the tasks a `--halt now` stops (and, by the same path, those of an
/// interrupted or stopped run): a task trapping INT gets INT, not TERM.
#[test]
fn termseq_sends_its_signals_on_halt() {
    let dir = tempdir();
    let mark = dir.path().join("mark");
    let out = parx()
        .args([
            "-j2",
            "--halt",
            "now,fail=1",
            "--termseq",
            "INT,300,KILL,25",
            "sh",
            "-c",
            "if [ \"$1\" = fail ]; then sleep 0.3; exit 1; fi; \
             trap 'echo INT > \"$0\"; exit 0' INT; sleep 5 & wait",
        ])
        .arg(&mark)
        .args(["{}", ":::", "fail", "trap"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(fs::read_to_string(&mark).unwrap_or_default(), "INT\n");
}

#[test]
fn timeout_percent_of_the_median() {
    let out = parx()
        .args([
            "-j1",
            "-k",
            "--timeout",
            "300%",
            "sh",
            "-c",
            "sleep $0; echo $0",
            ":::",
            "0.2",
            "0.2",
            "0.2",
            "3",
            "0.2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(lines(&out.stdout), ["0.2", "0.2", "0.2", "0.2"]);
    assert!(refused(&["--timeout", "x%", "true"]).contains("--timeout"));
}

#[test]
fn joblog_dash_is_stdout() {
    let out = ok(&["--joblog", "-", "-j1", "true", ":::", "a"]);
    let l = lines(out.as_bytes());
    assert!(l[0].starts_with("Seq\tHost\tStarttime"), "{out}");
    assert_eq!(l.len(), 2, "{out}");
}

#[test]
fn tmpdir_is_the_tasks_tmpdir_and_must_exist() {
    let d = tempdir();
    let dir = d.path().to_str().unwrap();
    assert_eq!(
        ok(&["--tmpdir", dir, "sh", "-c", "echo $TMPDIR", ":::", "x"]).trim_end(),
        dir
    );
    assert!(refused(&["--tmpdir", "/no/such/dir", "true"]).contains("--tmpdir"));
}

#[test]
fn nice_runs_tasks_niced() {
    assert_eq!(ok(&["--nice", "7", "sh", "-c", "nice", ":::", "x"]), "7\n");
}

#[test]
fn accepted_no_op_options() {
    for opt in ["-q", "--will-cite", "--no-notice", "--group"] {
        assert_eq!(ok(&[opt, "echo", ":::", "a"]), "a\n", "{opt}");
    }
}

#[test]
fn old_halt_forms() {
    // --halt 1: stop starting tasks after a failure; 2: kill running ones too.
    let out = parx()
        .args([
            "-j1",
            "-k",
            "--halt",
            "1",
            "sh",
            "-c",
            "echo $0; exit $0",
            ":::",
            "0",
            "3",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(lines(&out.stdout), ["0", "3"]);
    assert_eq!(out.status.code(), Some(3));
    let out = parx()
        .args([
            "-j1",
            "--halt",
            "-1",
            "sh",
            "-c",
            "echo $0; exit $0",
            ":::",
            "3",
            "0",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(lines(&out.stdout), ["3", "0"]);
    let out = parx()
        .args(["--halt", "0", "false", ":::", "a", "b"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn retries_counts_runs_in_all() {
    let d = tempdir();
    let count = d.path().join("n");
    let script = "echo x >> \"$0\"; false";
    for (retries, runs) in [("1", 1), ("3", 3)] {
        let _ = fs::remove_file(&count);
        let out = parx()
            .args(["--retries", retries, "sh", "-c", script])
            .arg(&count)
            .args([":::", "x"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            fs::read_to_string(&count).unwrap().lines().count(),
            runs,
            "--retries {retries}"
        );
    }
    // 0: until it succeeds (here: on the fourth run).
    let _ = fs::remove_file(&count);
    let script = "echo x >> \"$0\"; [ $(wc -l < \"$0\") -ge 4 ]";
    let out = parx()
        .args(["--retries", "0", "sh", "-c", script])
        .arg(&count)
        .args([":::", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(fs::read_to_string(&count).unwrap().lines().count(), 4);
}

#[test]
fn every_task_sees_parallel_seq_and_jobslot() {
    let out = ok(&[
        "-j1",
        "-k",
        "sh",
        "-c",
        "echo $PARALLEL_SEQ $PARALLEL_JOBSLOT",
        ":::",
        "a",
        "b",
    ]);
    assert_eq!(out, "1 1\n2 1\n");
    let out = ok(&["--shell", "-k", "--pipe", "-N1", "echo $PARALLEL_SEQ"]);
    assert_eq!(out, "");
}

#[test]
fn script_without_shebang_runs_with_sh() {
    let d = tempdir();
    let s = d.path().join("noshebang");
    fs::write(&s, "echo ran \"$@\"\n").unwrap();
    fs::set_permissions(&s, fs::Permissions::from_mode(0o755)).unwrap();
    let s = s.to_str().unwrap();
    assert_eq!(ok(&["-k", s, ":::", "a", "b"]), "ran a\nran b\n");
}

#[test]
fn remote_options_are_refused_with_the_alternative() {
    for args in [
        &["--sshlogin", "host", "echo"][..],
        &["-S", "host", "echo"],
        &["--slf", "file", "echo"],
        &["--transfer", "echo"],
        &["--onall", "echo"],
    ] {
        let err = refused(args);
        assert!(
            err.contains("--shard") && err.contains("one machine"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn conflicting_packing_options_are_refused() {
    for args in [
        &["-n", "2", "-N", "2", "echo"][..],
        &["-m", "-X", "echo"],
        &["-X", "--xargs", "echo"],
    ] {
        refused(args);
    }
    assert!(refused(&["--pipe", "-N", "2", "--block", "1k", "wc"]).contains("-N"));
    assert!(refused(&["--header", "x", "echo"]).contains("--header"));
    assert!(refused(&["--process-slot-var", "A=B", "true"]).contains("--process-slot-var"));
}

/// `{%}`: each of the first `-j` tasks gets a slot number of its own, in start order (GNU
/// parallel's first round: `--pipe -N1000 --tagstring {%}` over three chunks tags them 1, 2, 3,
/// however fast the first ends), whichever slot thread runs the task; then a slot freed by an
/// ended task is taken again, the lowest first.
#[test]
fn slot_number_is_the_lowest_free_in_start_order() {
    // Tasks far shorter than parx's dispatch: the lowest free number tagged the third chunk
    // 1 (or 2) in about a quarter of the runs.
    for _ in 0..30 {
        let out = ok_in(
            &[
                "-j4",
                "--pipe",
                "-N1000",
                "-k",
                "--tagstring",
                "{%}",
                "wc",
                "-l",
            ],
            (1..=3000).map(|i| format!("{i}\n")).collect::<String>(),
        );
        assert_eq!(out, "1\t1000\n2\t1000\n3\t1000\n");
    }
    for _ in 0..5 {
        let out = ok_in(
            &[
                "-j4",
                "--pipe",
                "-N2",
                "-k",
                "--tagstring",
                "{%}",
                "sh",
                "-c",
                "sleep 0.5; wc -l",
            ],
            "1\n2\n3\n4\n5\n6\n",
        );
        assert_eq!(out, "1\t2\n2\t2\n3\t2\n");
    }
    // Two slots, four overlapping tasks: the third and fourth reuse the slots 1 and 2.
    let out = ok(&[
        "-j2",
        "-k",
        "sh",
        "-c",
        "sleep 0.3; echo {%}",
        ":::",
        "a",
        "b",
        "c",
        "d",
    ]);
    let slots = lines(out.as_bytes());
    assert_eq!(&slots[..2], ["1", "2"], "{out}");
    assert!(slots[2..].iter().all(|s| s == "1" || s == "2"), "{out}");
}
