//! GNU parallel options native parx gained last (issue 24's leftovers), each checked against
//! what GNU parallel 20221122 does on this machine, natively and through the `parallel`
//! personality (`parx --as parallel`), which shares the Config.

use crate::common;

use std::fs;
use std::path::Path;

use common::{lines, parx, tempdir};

/// A job log's rows (without a header, which is asserted absent or skipped by the caller):
/// (Seq, Exitval, Signal, Command).
fn rows(text: &str) -> Vec<(u64, String, String, String)> {
    text.lines()
        .filter(|l| !l.starts_with("Seq\t"))
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (
                c[0].parse().unwrap(),
                c[6].to_owned(),
                c[7].to_owned(),
                c[8].to_owned(),
            )
        })
        .collect()
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap()
}

/// `--joblog +FILE` appends rows, never a header (GNU: also to a new file), and `--resume`
/// reads it; no file named `+FILE` is made. A plain `--joblog FILE` starts it over.
#[test]
fn joblog_plus_file_appends_without_a_header() {
    for personality in [&[][..], &["--as", "parallel"][..]] {
        let d = tempdir();
        let log = d.path().join("log");
        let run = |args: &[&str]| {
            parx()
                .current_dir(d.path())
                .args(personality)
                .args(args)
                .output()
                .unwrap()
        };
        let o = run(&["-k", "--joblog", "+log", "echo", ":::", "a", "b"]);
        assert!(o.status.success(), "{personality:?}");
        assert!(!d.path().join("+log").exists());
        assert!(!read(&log).contains("Seq\t"), "{}", read(&log));
        run(&["--joblog", "+log", "echo", ":::", "c"]);
        let cmds: Vec<String> = rows(&read(&log)).into_iter().map(|r| r.3).collect();
        assert_eq!(cmds, ["echo a", "echo b", "echo c"], "{personality:?}");
        assert!(!read(&log).contains("Seq\t"));
        // --resume reads the appended log: seq 1 and 2 (and the second run's 1) are done.
        let o = run(&[
            "-k", "--joblog", "+log", "--resume", "echo", ":::", "a", "b", "c",
        ]);
        assert_eq!(lines(&o.stdout), ["c"], "{personality:?}");
        assert_eq!(rows(&read(&log)).len(), 4);
        // Without the `+` the log starts over, with its header.
        run(&["--joblog", "log", "echo", ":::", "z"]);
        let text = read(&log);
        assert!(text.starts_with("Seq\tHost\t"), "{text}");
        assert_eq!(rows(&text).len(), 1);
    }
}

/// A task killed by a signal parx did not send is logged as GNU parallel logs it (`parallel
/// --joblog - 'kill -TERM $$' ::: 1` -> Exitval 0, Signal 15); one parx killed (`--timeout`)
/// keeps Exitval -1. Either is a failure: `--resume-failed` runs it again.
#[test]
fn a_signal_from_elsewhere_is_logged_with_exitval_0_and_still_failed() {
    let d = tempdir();
    let log = d.path().join("log");
    let log_s = log.to_str().unwrap();
    let script = "if [ $1 = b ]; then kill -TERM $$; fi; if [ $1 = c ]; then sleep 5; fi; echo $1";
    let o = parx()
        .args([
            "--joblog",
            log_s,
            "--timeout",
            "0.5",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .args([":::", "a", "b", "c"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let got: Vec<(u64, String, String)> = {
        let mut r: Vec<_> = rows(&read(&log))
            .into_iter()
            .map(|(s, e, g, _)| (s, e, g))
            .collect();
        r.sort();
        r
    };
    let want = [(1, "0", "0"), (2, "0", "15"), (3, "-1", "15")];
    let want: Vec<(u64, String, String)> = want
        .iter()
        .map(|&(s, e, g)| (s, e.to_owned(), g.to_owned()))
        .collect();
    assert_eq!(got, want);
    let o = parx()
        .args(["-k", "--joblog", log_s, "--resume-failed", "echo", "again"])
        .args([":::", "a", "b", "c"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(lines(&o.stdout), ["again b", "again c"]);
    // The same row through the `parallel` personality.
    let o = parx()
        .args([
            "--as",
            "parallel",
            "--joblog",
            "-",
            "kill -TERM $$",
            ":::",
            "1",
        ])
        .output()
        .unwrap();
    let r = rows(&String::from_utf8_lossy(&o.stdout));
    assert_eq!((r[0].1.as_str(), r[0].2.as_str()), ("0", "15"), "{r:?}");
}

/// `--joblog -` into a regular file (stdout redirected): the rows go after the tasks' output
/// in the same file, none of it overwritten (they share stdout's file offset).
#[test]
fn joblog_to_stdout_redirected_to_a_file_keeps_the_output() {
    let d = tempdir();
    let out = d.path().join("out");
    let o = std::process::Command::new(common::BIN)
        .args(["-k", "-j1", "--joblog", "-", "echo", ":::", "a", "b"])
        .stdin(std::process::Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .status()
        .unwrap();
    assert!(o.success());
    let text = read(&out);
    let first: Vec<&str> = text
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(first, ["Seq", "a", "1", "b", "2"], "{text}");
}

/// `-m`, `-X` and `--xargs` with `-n N` (or `-N`/`-L`): each command filled with at most N
/// values, plain (`-m`, `--xargs`) or context (`-X`) replace, nothing spread over the slots
/// (GNU: `parallel -m -n2 -k echo x{}y ::: a b c d e` -> `xa by`, `xc dy`, `xey`).
#[test]
fn fill_options_take_a_count_of_values() {
    let abcde = [":::", "a", "b", "c", "d", "e"];
    let cases: [(&[&str], &[&str]); 6] = [
        (&["-m", "-n2"], &["xa by", "xc dy", "xey"]),
        (&["-X", "-n2"], &["xay xby", "xcy xdy", "xey"]),
        (&["--xargs", "-n2"], &["xa by", "xc dy", "xey"]),
        (&["-m", "-N2"], &["xa by", "xc dy", "xey"]),
        (&["-m", "-n1"], &["xay", "xby", "xcy", "xdy", "xey"]),
        (&["-X", "-n3", "-j4"], &["xay xby xcy", "xdy xey"]),
    ];
    for personality in [&[][..], &["--as", "parallel"][..]] {
        for (opts, want) in cases {
            let o = parx()
                .args(personality)
                .arg("-k")
                .args(opts)
                .args(["echo", "x{}y"])
                .args(abcde)
                .output()
                .unwrap();
            assert!(o.status.success(), "{opts:?}");
            assert_eq!(lines(&o.stdout), want, "{personality:?} {opts:?}");
        }
    }
}

/// `-L`: a value ending in a blank continues with the next value of its source, joined as
/// they are, as GNU parallel reads them (and xargs): after `-E`, before `-r` and `--trim`;
/// `:::` values too. Each case calibrated with GNU parallel 20221122.
#[test]
fn max_lines_continues_a_value_ending_in_a_blank() {
    let input = "a \nb\nc \n\nd\n \n  \ne\nEND\nf \n";
    // Each command prints its values as `v|`, then a newline.
    let cases: [(&[&str], &[&str]); 5] = [
        (&["-L1"], &["a b|", "c d|", "   e|", "END|", "f |"]),
        (&["-L2"], &["a b|c d|", "   e|END|", "f |"]),
        (&["-L1", "-E", "END"], &["a b|", "c d|", "   e|"]),
        (&["-L1", "-r"], &["a b|", "c d|", "e|", "END|", "f |"]),
        (
            &["-L1", "--trim", "lr"],
            &["a b|", "c d|", "e|", "END|", "f|"],
        ),
    ];
    for (opts, want) in cases {
        let o = parx()
            .arg("-k")
            .args(opts)
            .args(["sh", "-c", "printf '%s|' \"$@\"; echo", "sh"])
            .write_stdin(input)
            .output()
            .unwrap();
        assert!(o.status.success(), "{opts:?}");
        assert_eq!(lines(&o.stdout), want, "{opts:?}");
        if opts.contains(&"-L2") {
            continue;
        }
        // The `parallel` personality: its command is shell code, `{}` the value quoted.
        let o = parx()
            .args(["--as", "parallel", "-k"])
            .args(opts)
            .arg("printf '%s|' {}; echo")
            .write_stdin(input)
            .output()
            .unwrap();
        assert_eq!(lines(&o.stdout), want, "parallel {opts:?}");
    }
    let o = parx()
        .args(["-k", "-L1", "echo", ":::", "a ", "b", "c"])
        .output()
        .unwrap();
    assert_eq!(lines(&o.stdout), ["a b", "c"]);
    // Not in chunk modes: there -L counts lines, and a chunk is passed as it is.
    let o = parx()
        .args(["--pipe", "-L1", "-k", "cat"])
        .write_stdin("a \nb\n")
        .output()
        .unwrap();
    assert_eq!(o.stdout, b"a \nb\n");
}

/// `--retry-failed` (GNU): the job log's failed tasks run again, each its logged command with
/// its own number, the command line's command and inputs ignored; their rows are appended.
/// A task that succeeded, or that has no row, does not run.
#[test]
fn retry_failed_reruns_the_logged_commands_that_failed() {
    for personality in [&[][..], &["--as", "parallel"][..]] {
        let d = tempdir();
        let log = d.path().join("log");
        let log_s = log.to_str().unwrap();
        let first: &[&str] = if personality.is_empty() {
            &["sh", "-c", "echo $1; exit $1", "sh"]
        } else {
            &["echo {}; exit {}"]
        };
        let o = parx()
            .args(personality)
            .args(["-k", "--joblog", log_s])
            .args(first)
            .args([":::", "0", "1", "2", "0"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        let o = parx()
            .args(personality)
            .args(["-k", "--retry-failed", "--joblog", log_s, "echo", "ignored"])
            .args([":::", "x"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{personality:?}");
        assert_eq!(lines(&o.stdout), ["1", "2"], "{personality:?}");
        let r = rows(&read(&log));
        assert_eq!(r.len(), 6);
        // The new rows: the same numbers and commands as the failed ones.
        assert_eq!((r[4].0, &r[4].3), (2, &r[1].3));
        assert_eq!((r[5].0, &r[5].3), (3, &r[2].3));
    }
    // A task the log has no row for (a gap) does not run; a missing log holds none.
    let d = tempdir();
    let log = d.path().join("log");
    fs::write(
        &log,
        "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n\
         3\t:\t1.0\t0.1\t0\t0\t1\t0\techo three\n",
    )
    .unwrap();
    let o = parx()
        .args(["--retry-failed", "--joblog", log.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(lines(&o.stdout), ["three"]);
    let none = d.path().join("none");
    let o = parx()
        .args(["--retry-failed", "--joblog", none.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success() && o.stdout.is_empty());
}

/// `--recend ''` without `--recstart` (GNU parallel): every byte ends a record, so each chunk
/// is exactly `--block` bytes (or `-N` bytes), from a pipe, a file and with `--pipe-part`.
#[test]
fn empty_recend_cuts_chunks_at_their_exact_size() {
    let d = tempdir();
    let f = d.path().join("data");
    let data: String = (1..=3000).map(|i| format!("{i}\n")).collect();
    fs::write(&f, &data).unwrap();
    let f_s = f.to_str().unwrap();
    let runs: [&[&str]; 3] = [
        &["--pipe", "--block", "1000"],
        &["--pipe", "--block", "1000", "-a", f_s],
        &["--pipe-part", "--block", "1000", "-a", f_s],
    ];
    for run in runs {
        let o = parx()
            .args(["-k", "--recend", ""])
            .args(run)
            .args(["wc", "-c"])
            .write_stdin(data.clone())
            .output()
            .unwrap();
        assert!(o.status.success(), "{run:?}");
        let sizes: Vec<usize> = lines(&o.stdout)
            .iter()
            .map(|l| l.trim().parse().unwrap())
            .collect();
        assert_eq!(sizes.iter().sum::<usize>(), data.len(), "{run:?}");
        let (last, whole) = sizes.split_last().unwrap();
        assert!(
            whole.iter().all(|&s| s == 1000) && *last <= 1000,
            "{run:?}: {sizes:?}"
        );
    }
    // GNU: `printf abcdefg | parallel -k --pipe -N2 --recend '' 'cat; echo'`.
    let o = parx()
        .args([
            "-k",
            "--pipe",
            "-N2",
            "--recend",
            "",
            "sh",
            "-c",
            "cat; echo",
        ])
        .write_stdin("abcdefg")
        .output()
        .unwrap();
    assert_eq!(lines(&o.stdout), ["ab", "cd", "ef", "g"]);
}

/// `--header REGEX` in chunk modes: the header is what REGEX matches at the start of the
/// input (tried on the first block, then on more), sent before every chunk — GNU parallel's
/// tutorial examples, natively and as `parallel`.
#[test]
fn header_regex_in_chunk_modes() {
    let fasta = "%head1\n%head2\n>a\n1\n>b\n2\n";
    let cases: [(&[&str], &str, &[&str]); 2] = [
        (
            &["--header", ".{4}", "--block", "3", "--recend", ""],
            "HHHHabcdefghij",
            &["HHHHabc", "HHHHdef", "HHHHghi", "HHHHj"],
        ),
        (
            &["--header", "(%.*\\n)*", "--recstart", ">", "-N1"],
            fasta,
            &["%head1", "%head2", ">a", "1", "%head1", "%head2", ">b", "2"],
        ),
    ];
    for (opts, input, want) in cases {
        let o = parx()
            .args(["-k", "--pipe"])
            .args(opts)
            .args(["sh", "-c", "cat; echo"])
            .write_stdin(input)
            .output()
            .unwrap();
        assert!(o.status.success(), "{opts:?}");
        let got: Vec<String> = lines(&o.stdout)
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(got, want, "{opts:?}");
        let o = parx()
            .args(["--as", "parallel", "-k", "--pipe"])
            .args(opts)
            .arg("cat; echo")
            .write_stdin(input)
            .output()
            .unwrap();
        let got: Vec<String> = lines(&o.stdout)
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(got, want, "parallel {opts:?}");
    }
    // No match: no header. A bad expression is a usage error.
    let o = parx()
        .args(["-k", "--pipe", "--header", "x+", "-N1", "cat"])
        .write_stdin("a\nb\n")
        .output()
        .unwrap();
    assert_eq!(lines(&o.stdout), ["a", "b"]);
    let o = parx()
        .args(["--pipe", "--header", "a(", "cat"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("parx: invalid --header 'a('"));
}

/// `--files` (GNU parallel): each task's stdout is stored in a file of its own in `$TMPDIR`
/// (`--tmpdir`), kept, and its name printed instead (in input order with `-k`, even for
/// output that would stream or come line by line); the tasks' stderr is printed as usual.
#[test]
fn files_prints_the_names_of_files_holding_the_outputs() {
    for extra in [&[][..], &["--line-buffer"][..], &["--as", "parallel"][..]] {
        let d = tempdir();
        let cmd: &[&str] = if extra.contains(&"parallel") {
            &["seq {}; echo err{} >&2"]
        } else {
            &["sh", "-c", "seq $1; echo err$1 >&2", "sh"]
        };
        let o = parx()
            .args(extra)
            .args([
                "-k",
                "-j3",
                "--files",
                "--tmpdir",
                d.path().to_str().unwrap(),
            ])
            .args(cmd)
            .args([":::", "100000", "1", "3"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{extra:?}");
        let names = lines(&o.stdout);
        assert_eq!(names.len(), 3, "{extra:?}: {names:?}");
        for (name, n) in names.iter().zip([100000, 1, 3]) {
            let p = Path::new(name);
            assert_eq!(p.parent(), Some(d.path()), "{name}");
            let f = p.file_name().unwrap().to_str().unwrap();
            assert!(f.starts_with("par") && f.ends_with(".par"), "{f}");
            let want: String = (1..=n).map(|i| format!("{i}\n")).collect();
            assert_eq!(read(p), want, "{extra:?}");
        }
        let mut err = lines(&o.stderr);
        err.sort();
        assert_eq!(err, ["err1", "err100000", "err3"], "{extra:?}");
    }
    let o = parx()
        .args(["--files", "--tag", "echo", ":::", "a"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(255));
}

/// `--compress` (GNU: compress the temporary files that hold output) is accepted and changes
/// nothing: parx's output, in memory or spilled, is the same.
#[test]
fn compress_is_accepted() {
    for extra in [&[][..], &["--as", "parallel"][..]] {
        let o = parx()
            .args(extra)
            .args(["-k", "--compress", "echo", ":::", "a", "b"])
            .output()
            .unwrap();
        assert!(o.status.success());
        assert_eq!(lines(&o.stdout), ["a", "b"]);
    }
}

/// `--cat` (GNU parallel): each chunk, header first, is in a temp file that `{}` names, with
/// nothing on the command's stdin; the file is gone once its task is done. `--pipe` and
/// `--pipe-part` (where `{}` is then the temp file, not the data file), natively and as
/// `parallel`.
#[test]
fn cat_gives_each_chunk_in_a_temp_file() {
    let d = tempdir();
    let tmp = d.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    let data = d.path().join("data");
    let ten: String = (1..=10).map(|i| format!("{i}\n")).collect();
    fs::write(&data, &ten).unwrap();
    let script = "printf '%s:' \"$(dirname \"$1\")\"; cat \"$1\" | tr '\\n' ,; wc -c | tr -d ' '";
    let runs: [&[&str]; 3] = [
        &["--pipe", "-N3"],
        &["--pipe", "-N3", "--header", "1"],
        &["--pipe-part", "--block", "6", "-a", data.to_str().unwrap()],
    ];
    for run in runs {
        let o = parx()
            .env("TMPDIR", &tmp)
            .args(["-k", "--cat"])
            .args(run)
            .args(["sh", "-c", script, "sh", "{}"])
            .write_stdin(ten.clone())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{run:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let got = lines(&o.stdout);
        let dir = tmp.to_str().unwrap();
        let mut all = String::new();
        for l in &got {
            // dir:chunk,lines,0 (stdin had nothing)
            let rest = l
                .strip_prefix(&format!("{dir}:"))
                .unwrap_or_else(|| panic!("{l}"));
            let chunk = rest
                .strip_suffix(",0")
                .unwrap_or_else(|| panic!("{run:?}: {l}"));
            all.push_str(chunk);
            all.push(',');
        }
        let want = match run.contains(&"--header") {
            true => "1,2,3,4,1,5,6,7,1,8,9,10,",
            false => "1,2,3,4,5,6,7,8,9,10,",
        };
        assert_eq!(all, want, "{run:?}");
        assert_eq!(
            fs::read_dir(&tmp).unwrap().count(),
            0,
            "{run:?}: temp files left"
        );
    }
    let o = parx()
        .env("TMPDIR", &tmp)
        .args([
            "--as",
            "parallel",
            "-k",
            "--pipe",
            "-N5",
            "--cat",
            "wc -l < {}",
        ])
        .write_stdin(ten)
        .output()
        .unwrap();
    assert_eq!(lines(&o.stdout), ["5", "5"]);
    // Not outside chunk modes.
    assert_eq!(
        parx()
            .args(["--cat", "echo", ":::", "a"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(255)
    );
}

/// `--round-robin` (GNU parallel, `--pipe`): one command per job slot at most, each fed many
/// chunks in turn on its stdin, the header once before its first; a short input starts only
/// as many commands as it has chunks; a command that stops reading takes no more. Counts
/// calibrated with GNU parallel 20221122 (`seq 100000 | parallel --pipe --block 10k
/// --round-robin -j3 -k wc -l`).
#[test]
fn round_robin_feeds_one_command_per_slot() {
    let d = tempdir();
    let f = d.path().join("seq");
    let data: String = (1..=100000).map(|i| format!("{i}\n")).collect();
    fs::write(&f, &data).unwrap();
    for extra in [
        &[][..],
        &["-a", f.to_str().unwrap()][..],
        &["--as", "parallel"][..],
    ] {
        let o = parx()
            .args(extra)
            .args([
                "--pipe",
                "--block",
                "10k",
                "--round-robin",
                "-j3",
                "-k",
                "wc",
                "-l",
            ])
            .write_stdin(data.clone())
            .output()
            .unwrap();
        assert!(o.status.success(), "{extra:?}");
        assert_eq!(lines(&o.stdout), ["34209", "33803", "31988"], "{extra:?}");
    }
    let o = parx()
        .args(["--pipe", "--round-robin", "-j4", "wc", "-l"])
        .write_stdin("1\n2\n3\n")
        .output()
        .unwrap();
    assert_eq!(lines(&o.stdout), ["3"]);
    let o = parx()
        .args([
            "--pipe",
            "-N1",
            "--header",
            "1",
            "--round-robin",
            "-j2",
            "-k",
            "cat",
        ])
        .write_stdin("h\n1\n2\n3\n4\n")
        .output()
        .unwrap();
    assert_eq!(lines(&o.stdout), ["h", "1", "3", "h", "2", "4"]);
    // The first command reads one line and exits: the others take every later chunk.
    let o = parx()
        .args(["--pipe", "--block", "10k", "--round-robin", "-j3", "-k"])
        .args(["sh", "-c", "if [ {#} = 1 ]; then head -1; else wc -l; fi"])
        .write_stdin(data)
        .output()
        .unwrap();
    assert!(o.status.success());
    let got: Vec<u64> = lines(&o.stdout)
        .iter()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(got[0], 1);
    assert!(got[1] + got[2] >= 100000 - 34209, "{got:?}");
}

/// `--rrs` (GNU parallel's `--remove-rec-sep`): each chunk without its record separators —
/// every `recend recstart` between records, a `recstart` at its start, a `recend` at its
/// end. Outputs calibrated with GNU parallel 20221122.
#[test]
fn rrs_removes_the_record_separators() {
    let cases: [(&[&str], &str, &[&str]); 4] = [
        (&["-N1"], "a\nb\nc\n", &["aEND", "bEND", "cEND"]),
        (&["-N2"], "a\nb\nc\nd\n", &["abEND", "cdEND"]),
        (
            &["-N1", "--recstart", ">"],
            ">a\n1\n>b\n2\n",
            &["a", "1", "END", "b", "2", "END"],
        ),
        (
            &["-N2", "--round-robin", "-j2"],
            "a\nb\nc\nd\n",
            &["abEND", "cdEND"],
        ),
    ];
    for (opts, input, want) in cases {
        for personality in [&[][..], &["--as", "parallel"][..]] {
            let cmd: &[&str] = match personality.is_empty() {
                true => &["sh", "-c", "cat; echo END"],
                false => &["cat; echo END"],
            };
            let o = parx()
                .args(personality)
                .args(["-k", "--pipe", "--rrs"])
                .args(opts)
                .args(cmd)
                .write_stdin(input)
                .output()
                .unwrap();
            assert!(o.status.success(), "{opts:?}");
            assert_eq!(lines(&o.stdout), want, "{personality:?} {opts:?}");
        }
    }
}

/// `--regexp` (GNU parallel, `--pipe`): `--recend` and `--recstart` are regular
/// expressions; with `--rrs` their matches are removed. GNU's tutorial examples and a block
/// split, calibrated with GNU parallel 20221122, from a pipe and from a file.
#[test]
fn regexp_splits_at_regular_expressions() {
    let d = tempdir();
    let cases: [(&[&str], &str, &[&str]); 4] = [
        (
            &["-N1", "--recend", ",_+"],
            "foo,bar,_baz,__qux,\n",
            &["foo,bar,_END", "baz,__END", "qux,", "END"],
        ),
        (
            &["-N1", "--rrs", "--recend", ",_+"],
            "foo,bar,_baz,__qux,\n",
            &["foo,barEND", "bazEND", "qux,", "END"],
        ),
        (
            &["--block", "3", "--recend", "[AB]", "--recstart", "[yw]"],
            "xAy\nzBw\n",
            &["xAEND", "y", "zBEND", "w", "END"],
        ),
        (
            &["-N1", "--header", "1", "--recstart", ">[ab]"],
            "h\n>a\n1\n>c\n>b\n2\n",
            &["h", ">a", "1", ">c", "END", "h", ">b", "2", "END"],
        ),
    ];
    for (opts, input, want) in cases {
        let f = d.path().join("in");
        fs::write(&f, input).unwrap();
        for from_file in [false, true] {
            let mut c = parx();
            c.args(["-k", "--pipe", "--regexp"]).args(opts);
            if from_file {
                c.args(["-a", f.to_str().unwrap()]);
            }
            let o = c
                .args(["sh", "-c", "cat; echo END"])
                .write_stdin(input)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{opts:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert_eq!(lines(&o.stdout), want, "{opts:?} from a file: {from_file}");
        }
        let o = parx()
            .args(["--as", "parallel", "-k", "--pipe", "--regexp"])
            .args(opts)
            .arg("cat; echo END")
            .write_stdin(input)
            .output()
            .unwrap();
        assert_eq!(lines(&o.stdout), want, "parallel {opts:?}");
    }
    let o = parx()
        .args(["--pipe", "--regexp", "--recend", "a(", "cat"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(255));
}
