//! Job control and observability, on the real binary with real processes:
//! --timeout, --retries, --halt, --joblog/--resume, --bar/--eta, --tag/--tagstring,
//! --line-buffer, --results, --delay, --shard, and a soak run of them together.

use crate::common;

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{parx_std, Timed, BIN};

/// Runs to the end; returns (status, stdout, stderr).
fn run(c: &mut Command) -> (i32, String, String) {
    let o = c.timed_output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Data rows of a job log: seq → fields.
fn log_rows(path: &Path) -> Vec<Vec<String>> {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand")
    );
    lines
        .map(|l| l.split('\t').map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

fn alive(pid: &str) -> bool {
    // A zombie waiting for a reaper that is not parx does not run on.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

#[test]
fn timeout_kills_the_whole_group_and_counts_as_failed() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("log");
    let t = Instant::now();
    let (code, out, err) = run(parx_std()
        .arg("--timeout")
        .arg("500ms")
        .arg("--joblog")
        .arg(&log)
        .arg("sh")
        .arg("-c")
        .arg("sleep 30 & echo $! > \"$0\"; echo started; sleep 30")
        .arg(":::")
        .arg(d.path().join("pid")));
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(code, 1, "one failed task; stderr: {err}");
    assert_eq!(out, "started\n");
    assert!(err.contains("timed out"), "{err}");
    let pid = fs::read_to_string(d.path().join("pid")).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !alive(pid.trim()),
        "the grandchild sleep {pid} survived the timeout"
    );
    let rows = log_rows(&log);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0][6].as_str(), rows[0][7].as_str()), ("-1", "15"));
    // Plain seconds and a task that finishes in time.
    let (code, out, _) = run(parx_std().args(["--timeout", "5", "echo", "ok", ":::", "x"]));
    assert_eq!((code, out.as_str()), (0, "ok x\n"));
    let (code, _, err) = run(parx_std().args(["--timeout", "soon", "true"]));
    assert_eq!(code, 255);
    assert!(
        err.starts_with("parx: --timeout: invalid duration"),
        "{err}"
    );
}

#[test]
fn retries_print_only_the_last_attempt() {
    let d = tempfile::tempdir().unwrap();
    // Each task fails on its first two attempts, printing the attempt number.
    let script = "n=$(cat \"$0.$1\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$0.$1\"; \
                  echo \"$1 attempt $n\"; [ $n -ge 3 ]";
    let base = d.path().join("count");
    let (code, out, _) = run(parx_std()
        .args(["-k", "-j2", "--retries", "3", "sh", "-c", script])
        .arg(&base)
        .args(["{}", ":::", "a", "b", "c"]));
    assert_eq!(code, 0);
    assert_eq!(out, "a attempt 3\nb attempt 3\nc attempt 3\n");
    // Two runs are not enough: printed once, the last attempt's output, and counted failed.
    let base2 = d.path().join("count2");
    let (code, out, _) = run(parx_std()
        .args(["-k", "--retries", "2", "sh", "-c", script])
        .arg(&base2)
        .args(["{}", ":::", "a", "b"]));
    assert_eq!(code, 2);
    assert_eq!(out, "a attempt 2\nb attempt 2\n");
}

#[test]
fn halt_soon_starts_nothing_new_and_exits_with_the_tasks_status() {
    let d = tempfile::tempdir().unwrap();
    let (code, out, err) = run(parx_std()
        .current_dir(d.path())
        .args([
            "-j1",
            "--halt",
            "soon,fail=1",
            "sh",
            "-c",
            "touch ran.$1; exit $0",
            "{}",
            "{#}",
        ])
        .args([":::", "0", "3", "0", "0"]));
    assert_eq!(code, 3, "{err}");
    assert_eq!(out, "");
    assert!(err.contains("--halt"), "{err}");
    let ran = |i: u32| d.path().join(format!("ran.{i}")).exists();
    assert_eq!((ran(1), ran(2), ran(3), ran(4)), (true, true, false, false));
    // success=N: stops after that many successes, status 0.
    let (code, out, _) = run(parx_std().args([
        "-j1",
        "-k",
        "--halt",
        "soon,success=2",
        "sh",
        "-c",
        "echo $0; exit $0",
        ":::",
        "1",
        "0",
        "0",
        "0",
        "1",
    ]));
    assert_eq!((code, out.as_str()), (0, "1\n0\n0\n"));
    // fail=N%: of all tasks (GNU parallel): 2 of 4 failed = 50% → status 50.
    let (code, out, _) = run(parx_std().args([
        "-j1",
        "-k",
        "--halt",
        "soon,fail=50%",
        "sh",
        "-c",
        "echo $0; exit $0",
        ":::",
        "1",
        "0",
        "2",
        "0",
        "0",
    ]));
    assert_eq!((code, out.as_str()), (2, "1\n0\n2\n0\n0\n")); // 3 of 5 needed: never met
    let (code, out, _) = run(parx_std().args([
        "-j1",
        "-k",
        "--halt",
        "soon,fail=40%",
        "sh",
        "-c",
        "echo $0; exit $0",
        ":::",
        "1",
        "0",
        "2",
        "0",
        "0",
    ]));
    assert_eq!((code, out.as_str()), (40, "1\n0\n2\n"));
}

#[test]
fn halt_now_kills_running_tasks() {
    let t = Instant::now();
    let (code, out, err) = run(parx_std().args([
        "-j3",
        "-k",
        "--halt",
        "now,fail=1",
        "sh",
        "-c",
        "echo start $0; sleep $0; exit 4",
        ":::",
        "0.2",
        "30",
        "30",
        "30",
    ]));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(code, 4, "{err}");
    assert!(out.starts_with("start 0.2\n"), "{out}");
    assert!(
        !out.contains("start 30\nstart 30\nstart 30"),
        "a 4th task started"
    );
    // A killed task's status is 128+signal.
    let (code, _, _) =
        run(parx_std().args(["--halt", "now,fail=1", "sh", "-c", "kill -9 $$", ":::", "x"]));
    assert_eq!(code, 137);
    let (code, _, _) = run(parx_std().args(["--halt", "never", "false", ":::", "x"]));
    assert_eq!(code, 1);
    let (code, _, err) = run(parx_std().args(["--halt", "later,fail=1", "true"]));
    assert_eq!(code, 255);
    assert!(err.starts_with("parx: invalid --halt"), "{err}");
}

#[test]
fn joblog_has_gnu_columns_one_row_per_task() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("log");
    let (code, _, _) = run(parx_std().arg("--joblog").arg(&log).args([
        "sh",
        "-c",
        "printf 1234; exit $0",
        ":::",
        "0",
        "2",
        "0",
    ]));
    assert_eq!(code, 1);
    let rows = log_rows(&log);
    assert_eq!(rows.len(), 3);
    let mut seqs: Vec<u64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    seqs.sort();
    assert_eq!(seqs, vec![1, 2, 3]);
    for r in &rows {
        assert_eq!(r.len(), 9, "{r:?}");
        assert_eq!(r[1], ":");
        let (secs, ms) = r[2].split_once('.').unwrap();
        assert!(
            secs.parse::<u64>().unwrap() > 1_600_000_000 && ms.len() == 3,
            "{r:?}"
        );
        assert_eq!(r[3].len(), 10, "%10.3f: {r:?}");
        assert!(r[3].trim().parse::<f64>().unwrap() >= 0.0);
        assert_eq!(
            (r[4].as_str(), r[5].as_str(), r[7].as_str()),
            ("0", "4", "0")
        );
        let want = if r[0] == "2" { "2" } else { "0" };
        assert_eq!(r[6], want);
        assert!(r[8].starts_with("sh -c 'printf 1234; exit $0' "), "{r:?}");
    }
}

#[test]
fn resume_after_kill_9_runs_every_task_once_more_at_most() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("log");
    let ran = d.path().join("ran");
    let cmd = |resume: bool| {
        let mut c = parx_std();
        c.current_dir(d.path()).arg("-j4").arg("--joblog").arg(&log);
        if resume {
            c.arg("--resume");
        }
        c.args(["sh", "-c", "sleep 0.05; echo $0 >> ran; touch done.$0"])
            .arg(":::")
            .args((1..=200).map(|i| i.to_string()));
        c
    };
    let mut child = cmd(false).stdout(Stdio::null()).spawn().unwrap();
    // Wait until some tasks are logged, then kill -9 midway.
    let t = Instant::now();
    while fs::read_to_string(&log).map_or(0, |s| s.lines().count()) < 40 {
        assert!(t.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Orphans would go on appending to `ran`: it must stay as it is.
    std::thread::sleep(Duration::from_millis(400));
    let ran_at_kill = fs::read_to_string(&ran).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        fs::read_to_string(&ran).unwrap(),
        ran_at_kill,
        "tasks ran on after kill -9"
    );
    let logged: HashSet<String> = log_rows(&log).into_iter().map(|r| r[0].clone()).collect();
    assert!(logged.len() >= 30 && logged.len() < 200, "{}", logged.len());

    let (code, _, err) = run(&mut cmd(true));
    assert_eq!(code, 0, "{err}");
    let mut runs: BTreeMap<String, usize> = BTreeMap::new();
    for l in fs::read_to_string(&ran).unwrap().lines() {
        *runs.entry(l.to_owned()).or_default() += 1;
    }
    let before: HashSet<&str> = ran_at_kill.lines().collect();
    for i in 1..=200 {
        let s = i.to_string();
        assert!(
            d.path().join(format!("done.{i}")).exists(),
            "task {i} never completed"
        );
        let n = runs.get(&s).copied().unwrap_or(0);
        if logged.contains(&s) {
            assert_eq!(n, 1, "task {i} was logged as done, yet ran again");
        } else {
            // In flight at the kill: may have run twice, never more.
            assert!(
                n == 1 || (n == 2 && before.contains(s.as_str())),
                "task {i} ran {n} times"
            );
        }
    }
    let rows = log_rows(&log);
    let seqs: Vec<u64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    let uniq: HashSet<u64> = seqs.iter().copied().collect();
    assert_eq!((seqs.len(), uniq.len()), (200, 200), "one row per task");
    assert_eq!(uniq, (1..=200).collect());
}

#[test]
fn resume_failed_reruns_only_failed_tasks() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("log");
    let go = |extra: &[&str]| {
        run(parx_std()
            .current_dir(d.path())
            .arg("-k")
            .arg("--joblog")
            .arg(&log)
            .args(extra)
            .args([
                "sh",
                "-c",
                "echo $0; [ -e ok.$0 ] || { touch ok.$0; exit $(($0 % 2)); }",
            ])
            .args([":::", "1", "2", "3", "4"]))
    };
    assert_eq!(go(&[]), (2, "1\n2\n3\n4\n".into(), String::new()));
    // --resume: all four are logged, nothing runs.
    assert_eq!(go(&["--resume"]), (0, String::new(), String::new()));
    // --resume-failed: 1 and 3 run again (and now succeed).
    assert_eq!(
        go(&["--resume-failed"]),
        (0, "1\n3\n".into(), String::new())
    );
    assert_eq!(log_rows(&log).len(), 6);
}

#[test]
fn progress_is_hidden_when_stderr_is_not_a_terminal() {
    let (code, out, err) = run(parx_std().args(["-k", "--bar", "--eta", "echo", ":::", "a", "b"]));
    assert_eq!((code, out.as_str(), err.as_str()), (0, "a\nb\n", ""));
}

/// Draws `--bar` in a real terminal (tmux) and reads the screen back.
#[test]
fn progress_bar_renders_in_a_terminal() {
    if Command::new("tmux").arg("-V").timed_output().is_err() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let bin = std::path::Path::new(BIN);
    let sock = d.path().join("tmux.sock");
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .arg("-S")
            .arg(&sock)
            .args(args)
            .stdin(Stdio::null())
            .timed_output()
            .unwrap()
    };
    let script = format!(
        "{} -j2 --bar sh -c 'sleep 0.5' ::: 1 2 3 4 5 6 > {}; sleep 30",
        bin.display(),
        d.path().join("out").display()
    );
    let o = tmux(&["new-session", "-d", "-x", "100", "-y", "10", &script]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let screen = || String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).into_owned();
    let mut seen = String::new();
    let drawn = common::wait_for(Duration::from_secs(15), || {
        seen = screen();
        seen.contains("parx:") && seen.contains("/6 ") && seen.contains('%')
    });
    assert!(drawn, "screen:\n{seen}");
    // Cleared at the end (as cargo's).
    let cleared = common::wait_for(Duration::from_secs(15), || {
        seen = screen();
        !seen.contains("parx:")
    });
    tmux(&["kill-server"]);
    assert!(cleared, "screen:\n{seen}");
    assert_eq!(
        fs::read_to_string(d.path().join("out")).unwrap(),
        "",
        "nothing on stdout"
    );
}

#[test]
fn tag_and_tagstring_prefix_every_line() {
    let (code, out, err) = run(parx_std().args([
        "-k",
        "--tag",
        "sh",
        "-c",
        "echo 1; echo 2; echo e >&2",
        ":::",
        "a",
        "b",
    ]));
    assert_eq!(code, 0);
    assert_eq!(out, "a\t1\na\t2\nb\t1\nb\t2\n");
    assert_eq!(err, "a\te\nb\te\n");
    let (_, out, _) = run(parx_std().args([
        "-k",
        "--tagstring",
        "{#}-{.}",
        "sh",
        "-c",
        "printf 'x\\ny'",
        ":::",
        "f.txt",
        "g.c",
    ]));
    assert_eq!(out, "1-f\tx\n1-f\ty2-g\tx\n2-g\ty");
}

#[test]
fn line_buffer_passes_whole_lines_as_they_come() {
    // Many tasks write each line in two pieces; every line must arrive whole.
    let script =
        "i=0; while [ $i -lt 20 ]; do printf \"task$0-\"; printf \"line$i\\n\"; i=$((i+1)); done";
    let (code, out, _) = run(parx_std()
        .args(["-j8", "--line-buffer", "--tag", "sh", "-c", script, ":::"])
        .args((1..=40).map(|i| i.to_string())));
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 800);
    for l in &lines {
        let (tag, rest) = l.split_once('\t').unwrap();
        let (t, n) = rest.split_once('-').unwrap();
        assert_eq!(t, format!("task{tag}"), "torn line {l:?}");
        assert!(n.starts_with("line"), "torn line {l:?}");
    }
    // Lines come as they are written: the first line of a slow task arrives long before it
    // ends.
    let mut child = parx_std()
        .args([
            "--line-buffer",
            "sh",
            "-c",
            "echo first; sleep 3; echo last",
            ":::",
            "x",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let mut r = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    r.read_line(&mut first).unwrap();
    assert_eq!(first, "first\n");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn results_dir_holds_outputs_named_by_seq_only() {
    let d = tempfile::tempdir().unwrap();
    let res = d.path().join("res");
    let (code, out, _) = run(parx_std()
        .arg("-k")
        .arg("--results")
        .arg(&res)
        .args([
            "sh",
            "-c",
            "echo \"out $0\"; echo \"err $0\" >&2; exit $1",
            "{}",
            "{#}",
        ])
        .args([":::", "../../evil", "a\tb"]));
    assert_eq!(code, 2);
    assert_eq!(out, "out ../../evil\nout a\tb\n");
    let read = |p: &str| fs::read_to_string(res.join(p)).unwrap();
    assert_eq!(read("1/stdout"), "out ../../evil\n");
    assert_eq!(read("1/stderr"), "err ../../evil\n");
    assert_eq!(read("1/exitval"), "1\n");
    assert_eq!(read("2/stdout"), "out a\tb\n");
    assert_eq!(read("2/exitval"), "2\n");
    let mut idx: Vec<String> = read("index.tsv").lines().map(str::to_owned).collect();
    idx.sort();
    assert_eq!(idx, vec!["1\t../../evil", "2\ta\\tb"]);
    let mut names: Vec<String> = fs::read_dir(&res)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["1", "2", "index.tsv"]);
    assert_eq!(
        fs::read_dir(d.path()).unwrap().count(),
        1,
        "nothing outside DIR"
    );
}

#[test]
fn delay_spaces_task_starts() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("log");
    let t = Instant::now();
    let (code, _, _) = run(parx_std()
        .args(["-j3", "--delay", "300ms", "--joblog"])
        .arg(&log)
        .args(["true", ":::", "1", "2", "3"]));
    assert_eq!(code, 0);
    assert!(
        t.elapsed() >= Duration::from_millis(600),
        "{:?}",
        t.elapsed()
    );
    let mut starts: Vec<(f64, u64)> = log_rows(&log)
        .iter()
        .map(|r| (r[2].parse().unwrap(), r[0].parse().unwrap()))
        .collect();
    starts.sort_by(|a, b| a.0.total_cmp(&b.0));
    for w in starts.windows(2) {
        assert!(w[1].0 - w[0].0 >= 0.29, "starts {starts:?}");
    }
    // In input order, as GNU parallel's one dispatcher starts them (the slots used to race
    // for the first start: `--delay 0.1s echo ::: a b c` could print b first).
    let order: Vec<u64> = starts.iter().map(|s| s.1).collect();
    assert_eq!(order, [1, 2, 3], "starts {starts:?}");
}

#[test]
fn shard_runs_this_machines_share() {
    let (code, out, _) = run(parx_std().args([
        "-k", "--shard", "2/3", "echo", ":::", "1", "2", "3", "4", "5", "6", "7",
    ]));
    assert_eq!((code, out.as_str()), (0, "2\n5\n"));
    let (_, out, _) = run(parx_std()
        .env("SLURM_ARRAY_TASK_ID", "0")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .env("SLURM_ARRAY_TASK_MIN", "0")
        .env("SLURM_ARRAY_TASK_MAX", "1")
        .args([
            "-k", "--shard", "auto", "echo", "{#}", "{}", ":::", "a", "b", "c",
        ]));
    assert_eq!(out, "1 a\n3 c\n");
    let (code, _, err) = run(parx_std().args(["--shard", "4/3", "true"]));
    assert_eq!(code, 255);
    assert!(err.starts_with("parx: invalid --shard"), "{err}");
}

/// 20,000 tasks with PARX_SLOW_TESTS=1, else 2,000 (PARX_SOAK_TASKS to change) under -k
/// with random failures, timeouts and retries: stdout is exactly the expected bytes and the
/// job log has one row per task.
#[test]
fn soak_failures_timeouts_retries_keep_order() {
    let n: u64 = std::env::var("PARX_SOAK_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if common::slow_on() { 20_000 } else { 2_000 });
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("log");
    // A deterministic pseudo-random class per task: 1 in 7 fails (exit 3), 1 in 1000 hangs
    // past the timeout (1 s: generous, so that a loaded machine does not time out a normal
    // task), the rest succeed. Output: the value, and for failing ones a second
    // line; with --retries 2 every failing task runs twice and prints its last attempt.
    let class = |i: u64| {
        let h = i.wrapping_mul(2654435761) % 7000;
        if h < 7 {
            "hang"
        } else if h % 7 == 0 {
            "fail"
        } else {
            "ok"
        }
    };
    let mut input = String::new();
    let mut want = String::new();
    for i in 1..=n {
        let c = class(i);
        input.push_str(&format!("{c} {i}\n"));
        match c {
            "ok" => want.push_str(&format!("{i}\n")),
            "fail" => want.push_str(&format!("{i}\nfailed {i}\n")),
            _ => want.push_str(&format!("{i}\n")),
        }
    }
    let inp = d.path().join("in");
    fs::write(&inp, input).unwrap();
    let script = "set -- $0; case $1 in ok) echo $2;; fail) echo $2; echo failed $2; exit 3;; \
                  hang) echo $2; exec sleep 5;; esac";
    let t = Instant::now();
    let o = parx_std()
        .args(["-k", "-j8", "--timeout", "1s", "--retries", "2", "--joblog"])
        .arg(&log)
        .args(["sh", "-c", script, "::::"])
        .arg(&inp)
        .timed_output()
        .unwrap();
    let failing = (1..=n).filter(|&i| class(i) != "ok").count();
    eprintln!("soak: {n} tasks in {:?}", t.elapsed());
    assert_eq!(o.status.code(), Some(failing.min(101) as i32));
    assert!(
        o.stdout == want.as_bytes(),
        "stdout differs from the expected bytes"
    );
    let rows = log_rows(&log);
    let seqs: HashSet<u64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!((rows.len(), seqs.len()), (n as usize, n as usize));
    let hung = rows.iter().filter(|r| r[7] == "15").count();
    assert_eq!(hung, (1..=n).filter(|&i| class(i) == "hang").count());
}

#[test]
fn halt_and_closed_stdout_do_not_wait_for_input_when_tasks_are_skipped() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    // stdin stays open with no more input: with -k and --shard (tasks skipped), parx must
    // still end as soon as --halt now decides, not when the input ends.
    let mut c = Command::new(env!("CARGO_BIN_EXE_parx"))
        .args([
            "-j2",
            "-k",
            "--shard",
            "1/2",
            "--halt",
            "now,fail=1",
            "sh",
            "-c",
            "exit 3",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = c.stdin.take().unwrap();
    stdin.write_all(b"1\n2\n3\n4\n").unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = c.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(5) {
            let _ = c.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    let status = status.expect("parx waited for input after --halt now");
    assert_eq!(status.code(), Some(3));
}

/// Slot threads start as tasks arrive (issue 14, start-up): one task at `-j8` runs on one slot
/// thread, four tasks on four (with the input still open, so that idle slots would wait for
/// more rather than end). And `kill -9` of parx still ends the running tasks (the watchdog
/// reads their groups from parx's memory).
#[test]
fn slot_threads_start_as_tasks_arrive_and_kill_9_still_ends_tasks() {
    use common::{assert_no_survivors, sleep_marker, sleeps_with, wait_for};
    use std::io::Write;
    for tasks in [1usize, 4] {
        let mark = sleep_marker();
        let mut child = parx_std()
            .args(["-j8", "sleep", &mark])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        for i in 1..=tasks {
            writeln!(input, "{i}").unwrap();
        }
        input.flush().unwrap();
        let pid = child.id();
        let slot_threads = || {
            fs::read_dir(format!("/proc/{pid}/task"))
                .map(|rd| {
                    rd.flatten()
                        .filter(|t| {
                            fs::read_to_string(t.path().join("comm"))
                                .is_ok_and(|c| c.starts_with("parx-slot"))
                        })
                        .count()
                })
                .unwrap_or(0)
        };
        let started = wait_for(Duration::from_secs(20), || sleeps_with(&mark) == tasks);
        let threads = slot_threads();
        // Past the instant between a task's exec and parx recording its group in the slots'
        // table (a kill -9 right then leaves that one task running: README, Watchdog).
        std::thread::sleep(Duration::from_millis(200));
        child.kill().unwrap();
        child.wait().unwrap();
        drop(input);
        assert!(started, "{tasks} tasks did not start");
        assert_eq!(threads, tasks, "slot threads for {tasks} tasks at -j8");
        assert_no_survivors(&mark, "tasks of a parx killed with -9");
    }
}

/// A parx started with its stdin, stdout or stderr closed still runs, and its orphan guard
/// still works (Rust's runtime opens /dev/null on the closed ones; the watchdog moves its pipe
/// to fd 0 and closes 1 and 2 in its own copy of the descriptor table): a `kill -9` of such a
/// parx ends its tasks.
#[test]
fn closed_stdio_at_start_keeps_runs_and_the_orphan_guard_working() {
    use common::{assert_no_survivors, sleep_marker, sleeps_with, wait_for};
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"exec 0<&- 2>&-; "$0" -k echo ::: a b"#)
        .arg(BIN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\nb\n");

    let mark = sleep_marker();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"exec 0<&- 1>&- 2>&-; exec "$0" -j2 sleep "$1" ::: 1 2"#)
        .arg(BIN)
        .arg(&mark)
        .spawn()
        .unwrap();
    let started = wait_for(Duration::from_secs(20), || sleeps_with(&mark) == 2);
    // Past the instant between a task's exec and parx recording its group.
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(started, "the two tasks did not start");
    assert_no_survivors(
        &mark,
        "tasks of a parx started with closed stdio, killed with -9",
    );
}
