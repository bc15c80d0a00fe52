//! Resource-aware scheduling, on real processes and the real /proc: `--load`,
//! `--memfree`, `--memsuspend`, `-j FILE`, the default `-j` from the affinity mask, and
//! `--bar`'s `waiting: WHY`. Memory pressure is made only inside a memory cgroup the test
//! creates (those tests print why they skip where that is impossible: not root, no memory
//! controller). Holding back is proven by order (a task's start after the event that frees
//! the resource), never by how long something took.

use crate::common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{default_signals, parx, parx_std, sh_quote, tempdir, wait_for, wait_timeout, BIN};

/// Nanoseconds since the epoch (the tasks write `date +%s%N`).
fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Runs `args` (a program and its arguments) with this process's affinity set to CPU 0 only.
fn on_cpu0(args: &[&str]) -> std::process::Output {
    Command::new("python3")
        .arg("-c")
        .arg("import os, sys; os.sched_setaffinity(0, {0}); os.execv(sys.argv[1], sys.argv[1:])")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("python3")
}

/// A sh script for a task that waits (up to 20 s) until `n` tasks have checked in under
/// `dir`, proving that `n` ran at once; it prints its `{%}` and `FAIL` if the wait timed out.
fn barrier_task(dir: &Path, n: usize) -> String {
    format!(
        "touch {d}/$PARX_SEQ; i=0; while [ $(ls {d} | wc -l) -lt {n} ]; do \
         i=$((i+1)); [ $i -gt 400 ] && echo FAIL && break; sleep 0.05; done; echo slot $PARX_SLOT",
        d = sh_quote(dir.to_str().unwrap())
    )
}

/// A sh script for a task that prints how many tasks run at its middle (itself included),
/// keeping a marker under `dir` while it runs.
fn count_task(dir: &Path) -> String {
    let d = sh_quote(dir.to_str().unwrap());
    format!("touch {d}/{{#}}; sleep 0.3; n=$(ls {d} | wc -l); rm {d}/{{#}}; echo $n")
}

#[test]
fn default_jobs_is_the_cpus_this_process_may_use() {
    // Under one CPU of affinity: one slot, whatever the machine has.
    let dir = tempdir();
    let script = count_task(dir.path());
    let out = on_cpu0(&[BIN, "-k", "sh", "-c", &script, ":::", "a", "b", "c"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1\n1\n1\n",
        "one at a time"
    );
    // +1 and 200% are relative to that CPU: two slots, and both are used at once.
    for j in ["+1", "200%"] {
        let dir = tempdir();
        let script = barrier_task(dir.path(), 2);
        let out = on_cpu0(&[
            BIN,
            "-j",
            j,
            "sh",
            "-c",
            &format!("PARX_SEQ={{#}} PARX_SLOT={{%}}; {script}"),
            ":::",
            "1",
            "2",
        ]);
        assert!(out.status.success(), "{out:?}");
        let mut got: Vec<String> = common::lines(&out.stdout);
        got.sort();
        assert_eq!(got, ["slot 1", "slot 2"], "-j {j}");
    }
}

#[test]
fn default_jobs_follows_the_cgroup_cpu_quota() {
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: not root: cannot create a CPU cgroup");
        return;
    }
    let (root, v2) = if Path::new("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").exists()
        || Path::new("/sys/fs/cgroup/cpu/cpu.cfs_period_us").exists()
    {
        (PathBuf::from("/sys/fs/cgroup/cpu"), false)
    } else if std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
        .is_ok_and(|c| c.split_whitespace().any(|c| c == "cpu"))
    {
        let _ = std::fs::write("/sys/fs/cgroup/cgroup.subtree_control", "+cpu");
        (PathBuf::from("/sys/fs/cgroup"), true)
    } else {
        eprintln!("skipped: no cpu cgroup controller mounted");
        return;
    };
    let dir = root.join(format!("parx-test-cpu-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    struct Rm(PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _rm = Rm(dir.clone());
    // Half a CPU's worth of time: rounded up, one slot.
    if v2 {
        std::fs::write(dir.join("cpu.max"), "50000 100000").unwrap();
    } else {
        std::fs::write(dir.join("cpu.cfs_period_us"), "100000").unwrap();
        std::fs::write(dir.join("cpu.cfs_quota_us"), "50000").unwrap();
    }
    let marks = tempdir();
    let script = count_task(marks.path());
    let out = Command::new("sh")
        .arg("-c")
        .arg("echo $$ > \"$0/cgroup.procs\" && exec \"$@\"")
        .arg(&dir)
        .args([BIN, "-k", "sh", "-c", &script, ":::", "a", "b", "c"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1\n1\n1\n",
        "one at a time"
    );
}

#[test]
fn jobs_file_widens_and_narrows_a_running_job() {
    let dir = tempdir();
    let jobs = dir.path().join("jobs");
    std::fs::write(&jobs, "1\n").unwrap();
    let (wide, running, log) = (
        dir.path().join("wide"),
        dir.path().join("running"),
        dir.path().join("log"),
    );
    std::fs::create_dir(&wide).unwrap();
    std::fs::create_dir(&running).unwrap();
    let q = |p: &Path| sh_quote(p.to_str().unwrap());
    // Each task logs its start with the tasks running at that moment (itself included) and its
    // slot. Task 1 widens the file to 3; tasks 2-4 meet at a barrier of 3 (so they must run at
    // once), and before leaving narrow the file to 1; tasks 5-10 must then run one at a time
    // in slot 1. The file is replaced whole (mv), so that no read sees it half-written.
    let script = format!(
        "seq={{#}}; slot={{%}}; touch {run}/$seq; \
         echo start $seq $slot $(ls {run} | wc -l) >> {log}; \
         if [ $seq = 1 ]; then sleep 0.2; echo 3 > {jobs}.$seq; mv {jobs}.$seq {jobs}; \
         elif [ $seq -le 4 ]; then PARX_SEQ=$seq PARX_SLOT=$slot; {barrier}; \
         echo 1 > {jobs}.$seq; mv {jobs}.$seq {jobs}; \
         else sleep 0.05; fi; \
         echo end $seq >> {log}; rm {run}/$seq",
        run = q(&running),
        log = q(&log),
        jobs = q(&jobs),
        barrier = barrier_task(&wide, 3),
    );
    let values: Vec<String> = (1..=10).map(|i| i.to_string()).collect();
    let mut cmd = parx();
    cmd.arg("-j").arg(&jobs).args(["sh", "-c", &script, ":::"]);
    cmd.args(&values);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("FAIL"));
    let log = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Vec<&str>> = log.lines().map(|l| l.split(' ').collect()).collect();
    let starts: Vec<(u32, u32, u32)> = lines
        .iter()
        .filter(|l| l[0] == "start")
        .map(|l| {
            (
                l[1].parse().unwrap(),
                l[2].parse().unwrap(),
                l[3].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(starts.len(), 10, "{log}");
    for &(seq, slot, conc) in &starts {
        match seq {
            1 => assert_eq!((slot, conc), (1, 1), "{log}"),
            2..=4 => assert!(slot <= 3 && conc <= 3, "{log}"),
            _ => assert_eq!((slot, conc), (1, 1), "task {seq} after narrowing\n{log}"),
        }
    }
    // Narrowing let the running tasks finish: tasks 5.. start only after 2, 3 and 4 ended.
    let pos = |what: &str| {
        log.lines()
            .position(|l| l == what)
            .unwrap_or_else(|| panic!("{what} missing\n{log}"))
    };
    let last_wide_end = ["end 2", "end 3", "end 4"]
        .map(pos)
        .into_iter()
        .max()
        .unwrap();
    for seq in 5..=10 {
        let start = log
            .lines()
            .position(|l| l.starts_with(&format!("start {seq} ")))
            .unwrap();
        assert!(start > last_wide_end, "task {seq}\n{log}");
    }
}

#[test]
fn jobs_file_errors_are_one_line() {
    let dir = tempdir();
    let f = dir.path().join("jobs");
    std::fs::write(&f, "lots\n").unwrap();
    for (args, want) in [
        (vec!["-j", f.to_str().unwrap()], "holds 'lots'"),
        (vec!["-j", "no-such-file"], "or the name of a file"),
        (vec!["--load", "x"], "invalid --load 'x'"),
        (vec!["--memfree", "5X"], "invalid --memfree '5X'"),
        (vec!["--memsuspend", "0"], "invalid --memsuspend '0'"),
    ] {
        let out = parx()
            .args(&args)
            .args(["echo", ":::", "a"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(255), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("parx: ") && err.contains(want), "{err}");
    }
    std::fs::write(&f, "2\n").unwrap();
    let out = parx()
        .args([
            "--pool",
            "process",
            "-j",
            f.to_str().unwrap(),
            "cat",
            ":::",
            "a",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-j FILE needs --pool thread"));
}

#[test]
fn generous_limits_let_everything_run_in_both_pools() {
    let out = parx()
        .args([
            "-k",
            "--load",
            "100000",
            "--memfree",
            "1K",
            "--memsuspend",
            "1K",
        ])
        .args(["echo", ":::", "a", "b", "c"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\nb\nc\n");
    let out = parx()
        .args([
            "-k",
            "--pool",
            "process",
            "--load",
            "100000",
            "--memfree",
            "1K",
        ])
        .args(["cat", ":::", "a", "b", "c"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\nb\nc\n");
}

/// The runnable + blocked task count of the machine (as `--load` measures it).
fn procs_running() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let field = |k: &str| -> u64 {
        stat.lines()
            .find_map(|l| l.strip_prefix(k))
            .map_or(0, |v| v.trim().parse().unwrap())
    };
    field("procs_running ") + field("procs_blocked ")
}

#[test]
fn load_holds_tasks_back_until_the_load_drops() {
    // The machine's own load, averaged over a second.
    let base = (0..20)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(50));
            procs_running()
        })
        .max()
        .unwrap();
    // More busy processes than MAX, so the load is above MAX for as long as they run, whatever
    // else the machine does; once they end it is back near `base`, below MAX.
    let max = base + 24;
    let spinners: Vec<Child> = (0..max + 6)
        .map(|_| {
            let mut c = Command::new("nice");
            c.args(["-n", "19", "sh", "-c", "while :; do :; done"])
                .stdin(Stdio::null());
            default_signals(&mut c);
            c.spawn().unwrap()
        })
        .collect();
    let mut spinners = scopeguard(spinners);
    assert!(
        wait_for(Duration::from_secs(20), || procs_running() > max),
        "the spinners never showed in /proc/stat"
    );
    let dir = tempdir();
    let marks = dir.path().join("starts");
    let mut child = parx_std()
        .args(["--load", &max.to_string(), "sh", "-c"])
        .arg(format!(
            "date +%s%N >> {}",
            sh_quote(marks.to_str().unwrap())
        ))
        .args([":::", "1", "2", "3"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let ended = now_ns();
    for c in spinners.0.iter_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
    let st = wait_timeout(&mut child, Duration::from_secs(60)).expect("parx ends");
    assert!(st.success());
    let starts = std::fs::read_to_string(&marks).unwrap();
    let starts: Vec<u128> = starts.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(starts.len(), 3);
    for s in starts {
        assert!(s >= ended, "a task started while the load was above --load");
    }
}

/// Kills the children when dropped (a failing test leaves no spinner behind).
struct Guard(Vec<Child>);
fn scopeguard(v: Vec<Child>) -> Guard {
    Guard(v)
}
impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs parx on a pseudo-terminal (so `--bar` draws) through a small python3 relay, whose
/// stdout collects everything drawn; SIGTERM to the relay is passed on to parx, and the relay
/// prints `STATUS <n>` with parx's exit status at the end.
struct OnPty {
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
}

impl OnPty {
    fn spawn(args: &[&str]) -> OnPty {
        const RELAY: &str = "import os, pty, signal, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
signal.signal(signal.SIGTERM, lambda *a: os.kill(pid, signal.SIGTERM))
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
_, st = os.waitpid(pid, 0)
print('STATUS', os.waitstatus_to_exitcode(st) % 256 if os.WIFEXITED(st) else 128 + os.WTERMSIG(st), flush=True)
";
        let mut c = Command::new("python3");
        c.arg("-c").arg(RELAY).arg(BIN).args(args);
        c.stdin(Stdio::null()).stdout(Stdio::piped());
        default_signals(&mut c);
        let mut child = c.spawn().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let mut stdout = child.stdout.take().unwrap();
        let sink = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        OnPty { child, out }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    fn wait_for_text(&self, what: &str) -> bool {
        wait_for(Duration::from_secs(30), || self.text().contains(what))
    }
}

impl Drop for OnPty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mem_available() -> u64 {
    let m = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kb: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

#[test]
fn memfree_above_available_memory_holds_tasks_and_the_bar_says_why() {
    let dir = tempdir();
    let marks = dir.path().join("starts");
    let size = format!("{}K", mem_available() / 1024 * 2);
    let script = format!("echo started >> {}", sh_quote(marks.to_str().unwrap()));
    let run = OnPty::spawn(&[
        "--bar",
        "--memfree",
        &size,
        "sh",
        "-c",
        &script,
        ":::",
        "1",
        "2",
    ]);
    assert!(
        run.wait_for_text("waiting: memfree"),
        "no 'waiting: memfree' on the bar: {:?}",
        run.text()
    );
    assert!(
        !marks.exists(),
        "a task started without the memory --memfree asks for"
    );
    // SAFETY-free: a plain signal to our own child.
    unsafe_kill(run.child.id() as i32, libc::SIGTERM);
    assert!(run.wait_for_text("STATUS"), "{:?}", run.text());
    assert!(run.text().contains("STATUS 143"), "{:?}", run.text());
    assert!(!marks.exists());
}

fn unsafe_kill(pid: i32, sig: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// A memory cgroup made for one test (v1 memory controller, else v2), removed when dropped
/// (after killing what is left in it).
struct Cgroup {
    dir: PathBuf,
    v2: bool,
}

impl Cgroup {
    /// A cgroup limited to `limit` bytes, or the reason there cannot be one here.
    fn new(name: &str, limit: u64) -> Result<Cgroup, String> {
        // SAFETY: geteuid(2) has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root: cannot create a memory cgroup".into());
        }
        let v1 = Path::new("/sys/fs/cgroup/memory");
        let (root, v2) = if v1.join("memory.limit_in_bytes").exists() {
            (v1.to_path_buf(), false)
        } else if std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"))
        {
            let _ = std::fs::write("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
            (PathBuf::from("/sys/fs/cgroup"), true)
        } else {
            return Err("no memory cgroup controller mounted".into());
        };
        let dir = root.join(format!("parx-test-{name}-{}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let cg = Cgroup { dir, v2 };
        let (file, swap) = if v2 {
            ("memory.max", "memory.swap.max")
        } else {
            ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")
        };
        std::fs::write(cg.dir.join(file), limit.to_string())
            .map_err(|e| format!("cannot set the limit: {e}"))?;
        let _ = std::fs::write(
            cg.dir.join(swap),
            if v2 { "0".into() } else { limit.to_string() },
        );
        Ok(cg)
    }

    /// `args` run inside the cgroup (a shell enters it, then execs them).
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg("echo $$ > \"$0/cgroup.procs\" && exec \"$@\"")
            .arg(&self.dir)
            .args(args)
            .stdin(Stdio::null());
        default_signals(&mut c);
        c
    }

    /// The processes in the cgroup.
    fn procs(&self) -> Vec<i32> {
        std::fs::read_to_string(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// The OOM kills in the cgroup so far.
    fn oom_kills(&self) -> u64 {
        let f = if self.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        std::fs::read_to_string(self.dir.join(f))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .map_or(0, |v| v.trim().parse().unwrap())
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            let procs = std::fs::read_to_string(self.dir.join("cgroup.procs")).unwrap_or_default();
            if procs.trim().is_empty() {
                break;
            }
            for p in procs.lines() {
                unsafe_kill(p.trim().parse().unwrap_or(0), libc::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

macro_rules! cgroup_or_skip {
    ($name:expr, $limit:expr) => {
        match Cgroup::new($name, $limit) {
            Ok(c) => c,
            Err(why) => {
                eprintln!("skipped: {why}");
                return;
            }
        }
    };
}

const MIB: u64 = 1 << 20;

/// python3 code that holds `mib` MiB (touched) and then runs `then`.
fn hold(mib: u64, then: &str) -> String {
    format!("import os, sys, time\nb = b'x' * ({mib} << 20)\n{then}")
}

#[test]
fn memfree_waits_for_memory_in_its_cgroup() {
    let cg = cgroup_or_skip!("memfree-wait", 256 * MIB);
    let dir = tempdir();
    let (ready, marks) = (dir.path().join("ready"), dir.path().join("starts"));
    // A hog in the same cgroup leaves ~100 MiB of the 256: less than --memfree 150M.
    let hog_code = hold(
        150,
        &format!("open({:?}, 'w').close()\ntime.sleep(600)", ready),
    );
    let mut hog = cg.command(&["python3", "-c", &hog_code]).spawn().unwrap();
    assert!(wait_for(Duration::from_secs(60), || ready.exists()));
    let script = format!("date +%s%N >> {}", sh_quote(marks.to_str().unwrap()));
    let joblog = dir.path().join("joblog");
    let mut run = cg
        .command(&[
            BIN,
            "--memfree",
            "150M",
            "--joblog",
            joblog.to_str().unwrap(),
            "sh",
            "-c",
            &script,
            ":::",
            "1",
            "2",
            "3",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let freed = now_ns();
    hog.kill().unwrap();
    hog.wait().unwrap();
    let st = wait_timeout(&mut run, Duration::from_secs(60)).expect("parx ends");
    assert!(st.success());
    let starts: Vec<u128> = std::fs::read_to_string(&marks)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(starts.len(), 3);
    assert!(
        starts.iter().all(|&s| s >= freed),
        "a task started while the cgroup had less than --memfree"
    );
    // The job log times the task, not its wait at the gate: every start is after the wait.
    let rows = std::fs::read_to_string(&joblog).unwrap();
    for row in rows.lines().skip(1) {
        let start: f64 = row.split('\t').nth(2).unwrap().parse().unwrap();
        assert!(start >= freed as f64 / 1e9 - 0.001, "{rows}");
    }
    assert_eq!(cg.oom_kills(), 0);
}

#[test]
fn memfree_kills_the_youngest_and_runs_it_again_without_losing_or_repeating_output() {
    let cg = cgroup_or_skip!("memfree-kill", 400 * MIB);
    let dir = tempdir();
    let (attempts, log) = (dir.path().join("attempts"), dir.path().join("joblog"));
    // Each task prints a line at once (which a killed attempt must not leave behind), counts
    // its attempts, then grows to 200 MiB slowly (4 MiB per 60 ms): two of them cannot fit
    // under 400 MiB with --memfree 160M, so the youngest is killed (below 80M available) and
    // run again once the other has ended.
    let task = format!(
        "import sys, time\nprint('begin', sys.argv[1], flush=True)\n\
         open({:?}, 'a').write(sys.argv[1] + '\\n')\nhold = []\n\
         for _ in range(50):\n    hold.append(b'x' * (4 << 20))\n    time.sleep(0.06)\n\
         time.sleep(0.3)\nprint('end', sys.argv[1], flush=True)",
        attempts
    );
    let out = cg
        .command(&[
            BIN,
            "-k",
            "-j",
            "2",
            "--memfree",
            "160M",
            "--joblog",
            log.to_str().unwrap(),
            "python3",
            "-c",
            &task,
            ":::",
            "A",
            "B",
        ])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "begin A\nend A\nbegin B\nend B\n"
    );
    let tries = std::fs::read_to_string(&attempts).unwrap();
    assert!(
        tries.lines().count() >= 3,
        "no task was killed and run again: {tries:?}"
    );
    // One row per task, both succeeded: the killed attempt is not a failure.
    let rows: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter().all(|r| r.split('\t').nth(6) == Some("0")),
        "{rows:?}"
    );
    assert_eq!(cg.oom_kills(), 0, "the kernel's OOM killer had to act");
}

#[test]
fn memsuspend_stops_the_youngest_task_and_continues_it_when_memory_is_back() {
    let cg = cgroup_or_skip!("memsuspend", 450 * MIB);
    let dir = tempdir();
    let ticks = dir.path().join("ticks");
    // Each task takes 150 MiB, then ticks (a line every 20 ms) 60 times. Two of them leave
    // ~150 MiB of 450: below 2×100M, so the youngest is stopped until the other ends.
    let code = hold(
        150,
        &format!(
            "for i in range(60):\n    open({:?}, 'a').write(sys.argv[1] + '\\n')\n    time.sleep(0.02)",
            ticks
        ),
    );
    let mut run = cg
        .command(&[
            BIN,
            "-j",
            "2",
            "--memsuspend",
            "100M",
            "python3",
            "-c",
            &code,
            ":::",
            "A",
            "B",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Watch the cgroup's processes for one in state T (stopped) while the run goes on.
    let mut seen_stopped = false;
    let status = loop {
        if let Some(st) = run.try_wait().unwrap() {
            break st;
        }
        seen_stopped |= cg.procs().iter().any(|&p| proc_state(p) == Some('T'));
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status:?}");
    assert!(seen_stopped, "no task was ever stopped");
    let t = std::fs::read_to_string(&ticks).unwrap();
    let seq: Vec<&str> = t.lines().collect();
    // Both ended (the stopped one was continued) and did all their work.
    assert_eq!(seq.iter().filter(|&&x| x == "A").count(), 60);
    assert_eq!(seq.iter().filter(|&&x| x == "B").count(), 60);
    // While one was stopped, the other ticked on alone.
    let mut longest = 0;
    let mut run_len = 0;
    for w in seq.windows(2) {
        run_len = if w[0] == w[1] { run_len + 1 } else { 0 };
        longest = longest.max(run_len);
    }
    assert!(longest >= 30, "the tasks ran side by side: {seq:?}");
    assert_eq!(cg.oom_kills(), 0);
}

/// The state letter of process `pid` (`R`, `S`, `T`, ...).
fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}
