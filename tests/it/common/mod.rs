//! Helpers shared by the integration tests: the `parx` binary (always with an explicit stdin,
//! never the terminal), temp dirs, fixtures, waiting with a deadline, and finding processes
//! of a run through `/proc` by a unique marker argument.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The `parx` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_parx");

/// `parx` as an assert_cmd command with an empty stdin (override with `write_stdin`) and a
/// 60 s timeout, so that a hang fails the test instead of blocking CI.
pub fn parx() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(BIN);
    c.write_stdin(Vec::<u8>::new()).timeout(TIMEOUT);
    c
}

/// `parx` as a plain std command (for tests that watch it while it runs, or give it a real
/// pipe): stdin null, SIGINT/SIGTERM at their default disposition (a CI runner may start us
/// with them ignored, which children would inherit). Run it with [`Timed::timed_output`] or
/// watch it with [`wait_timeout`], so that a hang fails the test.
pub fn parx_std() -> StdCommand {
    let mut c = StdCommand::new(BIN);
    c.stdin(Stdio::null());
    default_signals(&mut c);
    c
}

/// How long a test waits for a run of parx before it fails.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// `output()` with [`TIMEOUT`] for std commands: a run that hangs is killed and the test
/// fails.
pub trait Timed {
    /// Runs to the end, collecting stdout and stderr; panics after [`TIMEOUT`].
    fn timed_output(&mut self) -> std::io::Result<Output>;
}

impl Timed for StdCommand {
    fn timed_output(&mut self) -> std::io::Result<Output> {
        let mut child = self.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        let out = drain(child.stdout.take().expect("piped stdout"));
        let err = drain(child.stderr.take().expect("piped stderr"));
        let status = wait_timeout(&mut child, TIMEOUT)
            .unwrap_or_else(|| panic!("{self:?} did not end within {TIMEOUT:?}"));
        Ok(Output {
            status,
            stdout: out.join().expect("stdout reader"),
            stderr: err.join().expect("stderr reader"),
        })
    }
}

/// Resets SIGINT and SIGTERM to their default disposition in the child before exec.
pub fn default_signals(c: &mut StdCommand) {
    // SAFETY: signal(2) is async-signal-safe, and nothing else runs between fork and exec.
    unsafe {
        c.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        });
    }
}

/// Runs `parx ARGS` with `stdin`, expects success, returns stdout.
pub fn run_ok(args: &[&str], stdin: &[u8]) -> Vec<u8> {
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
pub fn run_str(args: &[&str], stdin: &[u8]) -> String {
    String::from_utf8(run_ok(args, stdin)).expect("utf-8 output")
}

/// Runs `parx ARGS` (stdin empty), expects success, returns stdout as a string.
pub fn ok(args: &[&str]) -> String {
    run_str(args, b"")
}

/// Runs `parx ARGS` with `stdin`, expects success, returns stdout as a string.
pub fn ok_in(args: &[&str], stdin: impl AsRef<[u8]>) -> String {
    run_str(args, stdin.as_ref())
}

/// The number of CPUs parx sees (its default -j).
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `parx ARGS` and returns (exit code, stdout, stderr).
pub fn run_status(args: &[&OsStr], stdin: &[u8]) -> (i32, Vec<u8>, Vec<u8>) {
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

/// Owned arguments.
pub fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// Borrowed arguments.
pub fn refs(args: &[OsString]) -> Vec<&OsStr> {
    args.iter().map(OsString::as_os_str).collect()
}

/// A fresh temp dir (removed when dropped).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("parx-core-")
        .tempdir()
        .expect("cannot create a temp dir")
}

/// A file under `fixtures/core/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/core")
        .join(name)
}

/// The names in `dir`, sorted.
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Single-quotes `s` for `sh`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Splits output into lines (without their `\n`), lossily as UTF-8.
pub fn lines(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Like [`lines`], sorted.
pub fn sorted_lines(out: &[u8]) -> Vec<String> {
    let mut v = lines(out);
    v.sort();
    v
}

/// The switch of the slow tests (soaks, a real Slurm cluster): `PARX_SLOW_TESTS=1`, which
/// `.ci/run` sets. Without it `slow(name)` says on stderr that `name` is skipped and returns
/// `false` (the test then returns and passes), so that a plain `cargo test` takes minutes.
pub fn slow(name: &str) -> bool {
    if slow_on() {
        return true;
    }
    // Straight to stderr: the test harness would swallow eprintln! of a passing test.
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("{name}: skipped, a slow test: PARX_SLOW_TESTS=1 runs it (.ci/run sets it)\n")
            .as_bytes(),
    );
    false
}

/// Whether `PARX_SLOW_TESTS=1` is set (see [`slow`]).
pub fn slow_on() -> bool {
    std::env::var("PARX_SLOW_TESTS").as_deref() == Ok("1")
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for `child` at most `timeout`. On timeout the child is killed and reaped, and
/// `None` is returned.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let mut status = None;
    wait_for(timeout, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    status
}

/// Reads all of a child's pipe in a thread (so that the child never blocks on it).
pub fn drain<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

static MARKERS: AtomicU32 = AtomicU32::new(0);

/// A duration argument for GNU `sleep`, about 30 s, unique to this test process and call:
/// `30.PPPPPPPNNN` (fixed width, so no marker is a prefix of another). `sleep MARKER` runs
/// long enough to outlive any correct test, and the marker finds the processes of one run.
pub fn sleep_marker() -> String {
    let n = MARKERS.fetch_add(1, Ordering::Relaxed);
    format!("30.{:07}{:03}", std::process::id() % 10_000_000, n % 1000)
}

/// Live processes (not zombies) with `marker` inside one of their arguments.
pub fn pids_with(marker: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let hit = cmdline
            .split(|&b| b == 0)
            .any(|arg| arg.windows(marker.len()).any(|w| w == marker.as_bytes()));
        if hit {
            pids.push(pid);
        }
    }
    pids
}

/// Live `sleep` processes with `marker` in their arguments (tasks or workers of `sleep MARK`,
/// not the parx whose command line also holds the marker).
pub fn sleeps_with(marker: &str) -> usize {
    pids_with(marker)
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep")
        })
        .count()
}

/// Asserts that no process with `marker` is left (waiting up to 1 s for killed ones to go).
/// Survivors are killed by pid, so that a failing test does not leave them behind.
pub fn assert_no_survivors(marker: &str, what: &str) {
    if wait_for(Duration::from_secs(1), || pids_with(marker).is_empty()) {
        return;
    }
    let left = pids_with(marker);
    let desc: Vec<String> = left
        .iter()
        .map(|p| {
            let c = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            format!("{p}: {}", String::from_utf8_lossy(&c).replace('\0', " "))
        })
        .collect();
    for &p in &left {
        // SAFETY: kill(2) on a pid we found running our unique marker.
        unsafe {
            libc::kill(p, libc::SIGKILL);
        }
    }
    panic!("{what}: processes survived: {desc:?}");
}

/// SplitMix64: a tiny deterministic PRNG for generated test inputs.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Writes an executable `#!/bin/sh` script `name` with `body` into `dir`.
pub fn script(dir: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Whether the tests run as root (mounting a tmpfs, switching to `nobody`).
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A small tmpfs mounted on a fresh directory, unmounted when dropped: a real full disk.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `2m`), or says why not (not root, mount refused) and
    /// returns `None`, so that the test can skip with a printed reason.
    pub fn mount(size: &str) -> Option<Tmpfs> {
        if !is_root() {
            println!("skipped: mounting a small tmpfs needs root");
            return None;
        }
        let dir = tempdir();
        let st = StdCommand::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=1777"),
                "tmpfs",
            ])
            .arg(dir.path())
            .stderr(Stdio::piped())
            .output();
        match st {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                println!(
                    "skipped: mount -t tmpfs failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                println!("skipped: cannot run mount: {e}");
                None
            }
        }
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = StdCommand::new("umount").arg(self.dir.path()).status();
    }
}

/// `parx ARGS` as the unprivileged user `uid` (and group of the same number) with the soft and
/// hard limit `res` lowered to `lim`. `None` when the test cannot switch users: it is not root
/// (it then says so on stderr and the caller skips).
pub fn as_user_with_limit(
    uid: u32,
    res: libc::__rlimit_resource_t,
    lim: u64,
    args: &[&str],
) -> Option<Output> {
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run parx as another user with a lowered ulimit");
        return None;
    }
    let mut c = parx_std();
    c.current_dir("/").args(args).uid(uid).gid(uid);
    // SAFETY: setrlimit(2) is async-signal-safe and touches only the child's own limits; it
    // runs between fork and exec (after the switch of user) with nothing else in between.
    unsafe {
        c.pre_exec(move || {
            let r = libc::rlimit {
                rlim_cur: lim,
                rlim_max: lim,
            };
            if libc::setrlimit(res, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Some(c.timed_output().unwrap())
}
