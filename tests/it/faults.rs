//! Faults without losses (issue 11): a crash of parx (kill -9, TERM, INT) then `--resume`
//! prints every output exactly once; a task that leaves a background child ends when its own
//! process exits; limits on threads, processes and file descriptors slow a run, never break it;
//! a spill to a full, missing or read-only `$TMPDIR` and a full `--results` disk never tear or
//! glue output.

use crate::common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Runs `parx ARGS` in `dir` with stdout into the file `out`; with `kill = Some(sig)`, sends
/// `sig` to parx after 1.5 s and waits for it to end.
fn run_to(dir: &Path, args: &[&str], out: &str, kill: Option<&str>) {
    let file = fs::File::create(dir.join(out)).unwrap();
    let mut c = parx_std();
    c.current_dir(dir)
        .args(args)
        .stdout(file)
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    if let Some(sig) = kill {
        std::thread::sleep(Duration::from_millis(1500));
        let st = Command::new("kill")
            .args(["-s", sig, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success(), "kill -s {sig}");
    }
    wait_timeout(&mut child, TIMEOUT).expect("parx ends");
}

/// Item 1: `-j2 --joblog log` with task 1 sleeping 3 s, parx killed at 1.5 s, then the same
/// command with `--resume`: the two runs' stdout together hold every output exactly once, in
/// every output mode and for every way of dying.
#[test]
fn crash_then_resume_prints_every_output_exactly_once() {
    if !slow("crash_then_resume_prints_every_output_exactly_once") {
        return;
    }
    let modes: &[&[&str]] = &[
        &["-k"],
        &[],
        &["--line-buffer"],
        &["-k", "--line-buffer"],
        &["-u"],
    ];
    for sig in ["KILL", "TERM", "INT"] {
        for mode in modes {
            let d = tempdir();
            script(
                d.path(),
                "t.sh",
                // Task 1 sleeps in the first run only, so that the resumed run is quick.
                "if [ \"$1\" = 1 ] && [ ! -e slept ]; then : > slept; sleep 3; fi\necho \"out $1\"\n",
            );
            let seq: Vec<String> = (1..=50).map(|i| i.to_string()).collect();
            let mut args: Vec<&str> = vec!["-j2"];
            args.extend_from_slice(mode);
            args.extend(["--joblog", "log", "./t.sh", ":::"]);
            args.extend(seq.iter().map(String::as_str));
            run_to(d.path(), &args, "out1", Some(sig));
            let mut resume = args.clone();
            resume.insert(1, "--resume");
            run_to(d.path(), &resume, "out2", None);
            let mut all = fs::read(d.path().join("out1")).unwrap();
            all.extend(fs::read(d.path().join("out2")).unwrap());
            let mut got = lines(&all);
            got.sort_by_key(|l| l[4..].parse::<u32>().unwrap_or(0));
            let want: Vec<String> = (1..=50).map(|i| format!("out {i}")).collect();
            assert_eq!(got, want, "kill -{sig}, mode {mode:?}");
        }
    }
}

/// Kills (by pid) the processes a test left running on purpose.
fn kill_marked(marker: &str) {
    for p in pids_with(marker) {
        // SAFETY: kill(2) on a pid we found running our unique marker.
        unsafe {
            libc::kill(p, libc::SIGKILL);
        }
    }
}

/// Item 5: a task that leaves a background child ends when its own process exits — at once,
/// not when the child closes the pipes — with what it wrote; the child's later output is
/// dropped, and the child itself is left running.
#[test]
fn background_child_does_not_hold_the_task() {
    for timeout in [None, Some("2")] {
        let mark = sleep_marker();
        let script = format!("sleep {mark} & (sleep 1; echo late $1) & echo hi $1");
        let mut c = parx_std();
        c.arg("-j2");
        if let Some(t) = timeout {
            c.args(["--timeout", t]);
        }
        c.args(["sh", "-c", &script, "sh", ":::", "1", "2"]);
        let t0 = Instant::now();
        let o = c.timed_output().unwrap();
        let took = t0.elapsed();
        let alive = !pids_with(&mark).is_empty();
        kill_marked(&mark);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "--timeout {timeout:?}: {err}");
        assert!(!err.contains("timed out"), "--timeout {timeout:?}: {err}");
        assert_eq!(sorted_lines(&o.stdout), ["hi 1", "hi 2"]);
        assert!(took < Duration::from_secs(10), "took {took:?}");
        assert!(alive, "the background child is left alone");
    }
}

/// `parx ARGS` as the unprivileged user `nobody` with the soft limit `res` lowered to `lim`
/// (`None` when the test cannot drop privileges: it is then skipped).
fn as_nobody_with_limit(
    res: libc::__rlimit_resource_t,
    lim: u64,
    args: &[&str],
) -> Option<std::process::Output> {
    common::as_user_with_limit(65534, res, lim, args)
}

/// Item 4: low limits on open files and processes lower `-j` with one note and the run
/// finishes every task with status 0; a limit that leaves no room for one task is one
/// `parx:` line and 255.
#[test]
fn low_limits_lower_the_slots_and_the_run_finishes() {
    let seq: Vec<String> = (1..=200).map(|i| i.to_string()).collect();
    for (res, lim, what) in [
        (libc::RLIMIT_NOFILE, 64, "ulimit -n 64"),
        (libc::RLIMIT_NPROC, 16, "ulimit -u 16"),
    ] {
        let mut args = vec!["-j50", "sh", "-c", "sleep 0.01; echo $1", "sh", ":::"];
        args.extend(seq.iter().map(String::as_str));
        let Some(o) = as_nobody_with_limit(res, lim, &args) else {
            return;
        };
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{what}: {err}");
        assert_eq!(lines(&o.stdout).len(), 200, "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        assert!(err.contains("lowered to") && err.contains(what), "{err}");
    }
    let o = as_nobody_with_limit(libc::RLIMIT_NOFILE, 10, &["-j2", "echo", ":::", "a"]).unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(255), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("parx: ulimit -n 10"), "{err}");
}

/// Item 4: a huge `-j` is lowered to what the limits allow (or to the threads that could be
/// started), never an abort.
#[test]
fn huge_j_does_not_abort() {
    for j in ["40000", "18446744073709551615"] {
        let o = parx_std()
            .args(["-j", j, "echo", ":::", "a", "b", "c"])
            .timed_output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "-j {j}: {err}");
        assert_eq!(sorted_lines(&o.stdout), ["a", "b", "c"], "-j {j}");
        assert!(err.lines().count() <= 1, "-j {j}: {err}");
    }
}

/// Lines of each task's output in the spill tests: `N 1` to `N 110000`, about 0.8 MB, so that
/// 30 tasks behind a slow first one are more than the 16 MiB output budget.
const GEN_LINES: u32 = 110_000;

/// `gen.sh N LINES` prints `N 1` .. `N LINES`. Task 1 is slow (once per dir): it waits until
/// 15 other tasks have ended (about 13 MB waiting behind it, however loaded the machine), and
/// one more second, so that the output behind it passes the 16 MiB budget and spills.
fn gen_script(dir: &Path) {
    script(
        dir,
        "gen.sh",
        r#"if [ "$1" = 1 ] && [ ! -e slept ]; then
  : > slept; i=0
  while [ "$(ls | grep -c '^done\.')" -lt 15 ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
  sleep 1
fi
seq -f "$1 %g" 1 "$2" && : > "done.$1"
"#,
    );
}

/// What `gen.sh` prints for tasks `tasks`, each `n` lines.
fn gen_expected(tasks: impl Iterator<Item = u32>, n: u32) -> Vec<u8> {
    let mut v = Vec::new();
    for t in tasks {
        for i in 1..=n {
            v.extend_from_slice(format!("{t} {i}\n").as_bytes());
        }
    }
    v
}

/// Checks that `out` is whole outputs of `gen.sh` tasks, each complete (`n` lines) and none
/// torn or glued to another; returns the tasks in the order printed.
fn whole_tasks(out: &[u8], n: u32) -> Vec<u32> {
    assert!(out.is_empty() || out.ends_with(b"\n"), "a torn last line");
    let mut tasks: Vec<u32> = Vec::new();
    let mut next = 1;
    for line in String::from_utf8_lossy(out).lines() {
        let (t, i) = line
            .split_once(' ')
            .and_then(|(t, i)| Some((t.parse::<u32>().ok()?, i.parse::<u32>().ok()?)))
            .unwrap_or_else(|| panic!("a torn or glued line: {line:?}"));
        if i == 1 {
            assert_eq!(next, 1, "task {t} starts before the one before it ended");
            assert!(!tasks.contains(&t), "task {t} printed twice");
            tasks.push(t);
        }
        assert_eq!((t, i), (*tasks.last().unwrap(), next), "line {line:?}");
        next = if i == n { 1 } else { i + 1 };
    }
    assert_eq!(next, 1, "the last task printed is cut short");
    tasks
}

/// The task number in `... not printed: task H and every task after it (-k order)...`.
fn hole(err: &str) -> u32 {
    let rest = err
        .split("not printed: task ")
        .nth(1)
        .unwrap_or_else(|| panic!("no 'not printed' line: {err}"));
    rest.split(' ').next().unwrap().parse().unwrap()
}

/// Item 2: with `-k` behind a slow task, output that waits for its turn spills to `$TMPDIR`;
/// when that fails (missing, read-only, a full 2 MB tmpfs) parx says so in one line naming the
/// directory, starts no more tasks, prints only whole outputs in order — tasks 1..H-1 — and
/// logs exactly those, ends with 255, and `--resume` then prints the rest: byte-exact.
#[test]
fn failed_spill_with_keep_order_prints_whole_tasks_then_resume_completes() {
    let tmpfs = Tmpfs::mount("2m");
    let readonly = tempdir();
    let ro = readonly.path().join("ro");
    fs::create_dir(&ro).unwrap();
    fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    let mut places = vec![("missing", Path::new("/nonexistent/parx-spill").to_owned())];
    places.push(("read-only", ro.clone()));
    if let Some(t) = &tmpfs {
        places.push(("full", t.path().to_owned()));
    }
    let seq: Vec<String> = (1..=30).map(|i| i.to_string()).collect();
    let want = gen_expected(1..=30, GEN_LINES);
    for (what, spill) in places {
        let d = tempdir();
        // The read-only case runs as nobody when we are root (root writes anywhere).
        fs::set_permissions(
            d.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        gen_script(d.path());
        let lines = GEN_LINES.to_string();
        let mut args = vec![
            "-k", "-j2", "--joblog", "log", "./gen.sh", "{}", &lines, ":::",
        ];
        args.extend(seq.iter().map(String::as_str));
        let mut c = parx_std();
        c.current_dir(d.path()).args(&args).env("TMPDIR", &spill);
        if what == "read-only" && is_root() {
            std::os::unix::process::CommandExt::uid(&mut c, 65534);
        }
        let o = c.timed_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(255), "{what}: {err}");
        let first = format!(
            "parx: output is incomplete: cannot write to {}: ",
            spill.display()
        );
        assert!(err.starts_with(&first), "{what}: {err}");
        assert_eq!(err.lines().count(), 2, "{what}: {err}");
        let h = hole(&err);
        assert!(h > 1 && h <= 30, "{what}: {err}");
        assert_eq!(
            whole_tasks(&o.stdout, GEN_LINES),
            (1..h).collect::<Vec<_>>(),
            "{what}"
        );
        let log = fs::read_to_string(d.path().join("log")).unwrap();
        let mut logged: Vec<u32> = log
            .lines()
            .skip(1)
            .map(|l| l.split('\t').next().unwrap().parse().unwrap())
            .collect();
        logged.sort_unstable();
        assert_eq!(
            logged,
            (1..h).collect::<Vec<_>>(),
            "{what}: rows only for printed tasks"
        );
        // Resume with a working $TMPDIR: the rest, once.
        let mut resume = args.clone();
        resume.insert(0, "--resume");
        let o2 = parx_std()
            .current_dir(d.path())
            .args(&resume)
            .timed_output()
            .unwrap();
        assert_eq!(
            o2.status.code(),
            Some(0),
            "{what}: {}",
            String::from_utf8_lossy(&o2.stderr)
        );
        let mut all = o.stdout.clone();
        all.extend_from_slice(&o2.stdout);
        assert!(
            all == want,
            "{what}: the two runs' output is not byte-exact"
        );
    }
}

/// Item 2: the `-k` head of line, whose stdout is already half printed, is not cut short when
/// its own stderr (4.7 MB, more than a task keeps in memory) cannot spill: that stderr goes
/// out at once, whole, and the head's stdout is printed whole; the run still ends with 255.
#[test]
fn failed_spill_never_cuts_the_streaming_head_short() {
    let cmd = "if [ $1 = 1 ]; then seq -f '1 %g' 1 1000; seq 700000 >&2; seq -f '1 %g' 1001 2000; \
               else seq -f \"$1 %g\" 1 10; fi";
    let o = parx_std()
        .env("TMPDIR", "/nonexistent/parx-spill")
        .args(["-k", "-j2", "sh", "-c", cmd, "sh", ":::", "1", "2", "3"])
        .timed_output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(255), "{}", &err[..err.len().min(300)]);
    let parx_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("parx: ")).collect();
    assert!(
        parx_lines[0]
            .starts_with("parx: output is incomplete: cannot write to /nonexistent/parx-spill: "),
        "{parx_lines:?}"
    );
    let task_err: Vec<&str> = err.lines().filter(|l| !l.starts_with("parx: ")).collect();
    assert_eq!(task_err.len(), 700_000, "task 1's stderr is whole");
    assert!(task_err
        .iter()
        .enumerate()
        .all(|(i, l)| *l == (i + 1).to_string()));
    let out = lines(&o.stdout);
    let head: Vec<String> = (1..=2000).map(|i| format!("1 {i}")).collect();
    assert!(
        out.len() >= 2000 && out[..2000] == head[..],
        "task 1's stdout is whole"
    );
    for (k, chunk) in out[2000..].chunks(10).enumerate() {
        let t = k + 2;
        let want: Vec<String> = (1..=10).map(|i| format!("{t} {i}")).collect();
        assert_eq!(chunk, &want[..], "task {t}");
    }
}

/// Item 2, grouped mode (no `-k`): tasks of 4.6 MB spill while they run; with `$TMPDIR`
/// missing nothing is printed torn, the lost tasks are named, and the status is 255.
#[test]
fn failed_spill_in_grouped_mode_never_tears() {
    let d = tempdir();
    gen_script(d.path());
    let o = parx_std()
        .current_dir(d.path())
        .env("TMPDIR", "/nonexistent/parx-spill")
        .args(["-j2", "./gen.sh", "{}", "600000", ":::", "2", "3", "4", "5"])
        .timed_output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(255), "{err}");
    let l: Vec<&str> = err.lines().collect();
    assert_eq!(l.len(), 2, "{err}");
    assert!(
        l[0].starts_with("parx: output is incomplete: cannot write to /nonexistent/parx-spill: "),
        "{err}"
    );
    assert!(l[0].contains("does the directory exist?"), "{err}");
    assert!(
        l[1].starts_with("parx: output is incomplete: not printed: task"),
        "{err}"
    );
    for t in whole_tasks(&o.stdout, 600_000) {
        assert!(
            !l[1].contains(&format!(" {t},")),
            "task {t} printed and reported lost: {err}"
        );
    }
}

/// Item 2, the process pool: behind a slow first record the other worker's results wait
/// (then spill); with `$TMPDIR` missing, the results printed are exactly records 1..H-1, in
/// order, each whole, and the status is 255.
#[test]
fn failed_spill_in_the_process_pool_prints_a_whole_prefix() {
    // Record 1 waits until the other worker has answered record 100000 (10 MB waiting behind
    // it), and a second more, however loaded the machine.
    let worker = r#"$1 == 1 { system("i=0; while [ ! -e go ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; sleep 1") }
$1 >= 100000 && !go { system(": > go"); go = 1 }
{ printf "%s %0100d\n", $1, 0 }"#;
    let mut input = String::new();
    for i in 1..=300_000 {
        input.push_str(&format!("{i}\n"));
    }
    let d = tempdir();
    let o = parx()
        .current_dir(d.path())
        .env("TMPDIR", "/nonexistent/parx-spill")
        .args(["--pool", "process", "-k", "-j2", "mawk", worker])
        .write_stdin(input)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(255), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
    let h = hole(&err);
    let zeros = "0".repeat(100);
    let mut n = 0;
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        n += 1;
        assert_eq!(line, format!("{n} {zeros}"), "result {n}");
    }
    assert_eq!(n + 1, h, "{err}");
    assert!(o.stdout.is_empty() || o.stdout.ends_with(b"\n"));
}

/// Item 3: `--results DIR` on a full 2 MB tmpfs: stdout still holds every task's output whole
/// (in order with `-k`), each failed store is one line naming its file, and the status is 255;
/// the same with the process pool.
#[test]
fn full_results_disk_never_tears_stdout() {
    let Some(t) = Tmpfs::mount("2m") else {
        return;
    };
    let d = tempdir();
    gen_script(d.path());
    let seq: Vec<String> = (2..=31).map(|i| i.to_string()).collect();
    for keep in [false, true] {
        let res = t.path().join(format!("r{keep}"));
        let res = res.to_str().unwrap();
        let mut args = vec!["-j2", "--results", res, "./gen.sh", "{}", "30000", ":::"];
        if keep {
            args.insert(0, "-k");
        }
        args.extend(seq.iter().map(String::as_str));
        let o = parx_std()
            .current_dir(d.path())
            .args(&args)
            .timed_output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(255), "-k {keep}: {err}");
        let mut got = whole_tasks(&o.stdout, 30_000);
        if !keep {
            got.sort_unstable();
        }
        assert_eq!(got, (2..=31).collect::<Vec<_>>(), "-k {keep}");
        assert!(err.lines().count() >= 1, "{err}");
        for l in err.lines() {
            assert!(
                l.starts_with("parx: task ")
                    && l.contains(&format!("--results: {res}/"))
                    && l.contains("No space left on device"),
                "-k {keep}: {l}"
            );
        }
    }
    let res = t.path().join("rp");
    let o = parx()
        .args([
            "--pool",
            "process",
            "-k",
            "-j2",
            "--results",
            res.to_str().unwrap(),
        ])
        .args(["mawk", r#"{ printf "%s %0100000d\n", $1, 0 }"#])
        .write_stdin((1..=60).map(|i| format!("{i}\n")).collect::<String>())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(255), "{err}");
    let zeros = "0".repeat(100_000);
    let want: Vec<String> = (1..=60).map(|i| format!("{i} {zeros}")).collect();
    assert!(lines(&o.stdout) == want, "process pool: stdout torn");
    assert!(
        err.lines().all(|l| l.contains("No space left on device")),
        "{err}"
    );
}

/// The job log's rows as (seq, Exitval, Signal), sorted by seq.
fn log_rows(path: &Path) -> Vec<(u64, String, String)> {
    let text = fs::read_to_string(path).unwrap();
    let mut rows: Vec<(u64, String, String)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[0].parse().unwrap(), c[6].to_owned(), c[7].to_owned())
        })
        .collect();
    rows.sort();
    rows
}

/// Item 6a: a task ended by SIGTERM has its job-log row with Signal 15, in grouped and `-k`
/// mode: Exitval -1 where parx sent it — `--halt now`, `--timeout` with `--termseq`, a
/// process-pool timeout —, 0 where it came from elsewhere (`kill -TERM $$`), as GNU parallel
/// logs them (issue 24).
#[test]
fn tasks_ended_by_term_are_logged_with_exitval_minus_1() {
    let d = tempdir();
    let log = d.path().join("log");
    let log_s = log.to_str().unwrap();
    let term = ("-1".to_owned(), "15".to_owned());
    for keep in [&[][..], &["-k"][..]] {
        let o = parx_std()
            .args(keep)
            .args(["-j3", "--joblog", log_s, "--halt", "now,fail=1", "sh", "-c"])
            .args([
                "if [ $1 = 1 ]; then sleep 0.3; exit 1; fi; sleep 5",
                "sh",
                ":::",
            ])
            .args(["1", "2", "3"])
            .timed_output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{keep:?}");
        let rows = log_rows(&log);
        assert_eq!(rows.len(), 3, "{keep:?}: {rows:?}");
        for (seq, exitval, signal) in &rows[1..] {
            assert_eq!(
                (exitval, signal),
                (&term.0, &term.1),
                "{keep:?}: task {seq}"
            );
        }
    }
    let runs: [(&[&str], &str); 2] = [
        (
            &[
                "--termseq",
                "TERM,200,KILL,100",
                "--timeout",
                "0.3",
                "sh",
                "-c",
                "sleep 5",
                ":::",
                "x",
            ],
            "-1",
        ),
        (&["sh", "-c", "kill -TERM $$", ":::", "x"], "0"),
    ];
    for (args, exitval) in runs {
        let o = parx_std()
            .args(["--joblog", log_s])
            .args(args)
            .timed_output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let rows = log_rows(&log);
        assert_eq!(rows, [(1, exitval.to_owned(), term.1.clone())], "{args:?}");
    }
    let o = parx()
        .args([
            "--pool",
            "process",
            "-j1",
            "--timeout",
            "0.5",
            "--joblog",
            log_s,
        ])
        .args(["sh", "-c", "while read x; do sleep $x; echo $x; done"])
        .write_stdin("0\n5\n0\n")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let rows = log_rows(&log);
    assert_eq!(rows[1], (2, term.0.clone(), term.1.clone()), "{rows:?}");
}

/// Item 6b: the same pipe given twice as an input source (`:::: /dev/stdin :::: /dev/stdin`,
/// or `-` and `/dev/stdin`) would make the second source empty and the run silently do
/// nothing: it is one `parx:` line and 255. From a regular file it is a product.
#[test]
fn the_same_pipe_twice_as_a_source_is_refused() {
    for args in [
        ["echo", "::::", "/dev/stdin", "::::", "/dev/stdin"],
        ["echo", "::::", "-", "::::", "/dev/stdin"],
        ["-a", "/dev/stdin", "-a", "/dev/stdin", "echo"],
    ] {
        let o = parx().args(args).write_stdin("a\nb\n").output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(255), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("parx: ") && err.contains("can be read only once"),
            "{err}"
        );
    }
    let d = tempdir();
    let f = d.path().join("v");
    fs::write(&f, "a\nb\n").unwrap();
    let o = parx_std()
        .args(["-k", "echo", "::::", "/dev/stdin", "::::", "/dev/stdin"])
        .stdin(fs::File::open(&f).unwrap())
        .timed_output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(lines(&o.stdout), ["a a", "a b", "b a", "b b"]);
}

/// Item 6c: `parx … &` in a non-interactive script runs with SIGINT ignored (the shell sets
/// it so): parx keeps it ignored, as a shell would, so a Ctrl-C meant for the foreground
/// does not end it; SIGTERM still does its job.
#[test]
fn inherited_ignored_sigint_stays_ignored() {
    let d = tempdir();
    let script = format!(
        "{} -j1 sh -c 'sleep 1; echo done $1' sh ::: 1 2 > out & echo $! > pid; wait $!; echo $? > status",
        sh_quote(BIN)
    );
    let mut c = Command::new("sh");
    c.current_dir(d.path())
        .args(["-c", &script])
        .stdin(Stdio::null());
    default_signals(&mut c);
    let mut sh = c.spawn().unwrap();
    let pid_file = d.path().join("pid");
    assert!(wait_for(Duration::from_secs(10), || fs::read_to_string(
        &pid_file
    )
    .is_ok_and(|s| s.ends_with('\n'))));
    let pid: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on the parx our shell started.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    wait_timeout(&mut sh, TIMEOUT).expect("the script ends");
    let status = fs::read_to_string(d.path().join("status")).unwrap();
    assert_eq!(status.trim(), "0", "parx died of an ignored SIGINT");
    assert_eq!(
        fs::read_to_string(d.path().join("out")).unwrap(),
        "done 1\ndone 2\n"
    );
}

/// Item 6d: when stdout is closed (`| head -1`) or parx gets SIGTERM, its running tasks —
/// even one that ignores TERM — are ended and reaped before parx exits: none is alive once
/// parx is gone, in every output mode and in the process pool.
#[test]
fn running_tasks_are_gone_when_parx_exits() {
    use std::io::Read;
    let modes: &[(&[&str], bool)] = &[
        (&["-k"], false),
        (&[], false),
        (&["--line-buffer"], false),
        (&["-k"], true),
        (&["--pool", "process", "-k"], false),
    ];
    for &(mode, ignore_term) in modes {
        for close in [true, false] {
            let mark = sleep_marker();
            let trap = if ignore_term { "trap '' TERM; " } else { "" };
            let pool = mode.contains(&"process");
            let body = if pool {
                format!("{trap}cat; sleep {mark}")
            } else {
                format!("{trap}if [ $1 = 1 ]; then exec seq 200000; fi; sleep {mark}")
            };
            let mut c = parx_std();
            c.args(mode).args(["-j3", "sh", "-c", &body, "sh"]);
            if pool {
                c.stdin(Stdio::piped());
            } else {
                c.args([":::", "1", "2", "3"]);
            }
            let mut child = c
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            if let Some(mut i) = child.stdin.take() {
                std::thread::spawn(move || {
                    let vals: String = (1..=200_000).map(|i| format!("{i}\n")).collect();
                    let _ = std::io::Write::write_all(&mut i, vals.as_bytes());
                });
            }
            let mut out = child.stdout.take().unwrap();
            let what = format!("{mode:?} trap TERM {ignore_term} close {close}");
            let running = wait_for(Duration::from_secs(10), || pids_with(&mark).len() >= 2);
            assert!(running, "{what}: the tasks did not start");
            let mut first = [0u8; 16];
            out.read_exact(&mut first).unwrap();
            if close {
                drop(out);
            } else {
                drain(out);
                // SAFETY: kill(2) on the parx we spawned.
                unsafe {
                    libc::kill(child.id() as i32, libc::SIGTERM);
                }
            }
            let st = wait_timeout(&mut child, TIMEOUT).expect("parx ends");
            let left = pids_with(&mark);
            kill_marked(&mark);
            assert_eq!(st.code(), Some(if close { 0 } else { 143 }), "{what}");
            assert!(left.is_empty(), "{what}: alive after parx exited: {left:?}");
        }
    }
}
