//! Orphan guard: children of a `kill -9`ed or OOM-killed parx must not run on. At start parx
//! starts a tiny watchdog process ([`crate::sys::spawn_sharing_memory`]: clone(2) with
//! `CLONE_VM`, in a process group of its own) whose stdin is the read end of a pipe whose
//! only write end parx keeps, and whose stdout is a memory file (memfd) that parx maps shared
//! and keeps the table of live task process groups in (one entry per slot: see
//! [`Watchdog::table`]); the pool writes that table anyway, so a task's start or end costs the
//! watchdog nothing. If parx is still running [`SEPARATE_AFTER`] later, the watchdog makes
//! itself a separate process: it execs parx's own binary (`/proc/self/exe`, argv
//! `parx-watchdog` [`ARG`], no environment; a raw execve parx does not wait for), which
//! closes every descriptor but the pipe and the table ([`serve_if_asked`]). Either way it
//! sleeps until the pipe reaches EOF, which is when parx is gone (or at parx's end when groups
//! are still live, see [`Watchdog::finish`]); then it reads the table, sends TERM, then KILL,
//! to every group still in it (the whole group, so grandchildren too) and exits. At its normal
//! end, with no group live, parx kills the watchdog and reaps it, so no process outlives parx.
//!
//! Why a separate process in the end: the kernel's out-of-memory killer kills every process
//! that shares the memory of the one it picks, so a watchdog sharing parx's memory died with
//! an OOM-killed parx and left its tasks running. Why not at once: spawning it separately
//! (posix_spawn, parx waiting for the exec, then its start-up on the other core) made `parx
//! true ::: x` about a fifth slower; a run shorter than [`SEPARATE_AFTER`] never pays for the
//! exec, and is too young to have grown big enough to be OOM-killed. Where the exec fails (no
//! `/proc`, no memfd) the watchdog stays in parx's memory and reads the table from there.
//!
//! Not a fork of parx: a fork copies parx's page tables and then every page parx writes (it
//! was a tenth of the time of `parx true ::: x`). Chosen over PR_SET_PDEATHSIG because that
//! needs a `pre_exec` hook, which makes std use fork+exec instead of posix_spawn: measured
//! 2.8–3.4 s instead of 1.8–2.1 s for 3000 tasks of `true` at -j2 (README); and it would
//! reach only the direct child, not its group.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

/// How long the groups get between TERM and KILL once parx is gone.
const GRACE: rustix::thread::Timespec = rustix::thread::Timespec {
    tv_sec: 0,
    tv_nsec: 200_000_000,
};

/// How long the watchdog shares parx's memory before it makes itself a separate process: a
/// run shorter than this (most of `parx true ::: x`'s start-up cost would be that exec)
/// never pays for it; an OOM kill of parx within it takes the watchdog too.
const SEPARATE_AFTER: rustix::thread::Timespec = rustix::thread::Timespec {
    tv_sec: 0,
    tv_nsec: 50_000_000,
};

/// What parx and the watchdog share while it shares parx's memory (leaked: the watchdog may
/// read it after parx is gone).
#[derive(Debug)]
struct Shared {
    /// The table of live process groups, published once ([`Watchdog::table`]) before any
    /// task starts. An entry > 0 is a live group.
    table: OnceLock<&'static [AtomicI32]>,
    /// The table is in a memory file, the watchdog's stdout: it may make itself a separate
    /// process (exec parx's binary as [`NAME`] [`ARG`]).
    separate: bool,
}

/// The watchdog process's name (argv[0]).
const NAME: &str = "parx-watchdog";
/// Its one argument: what makes parx's binary a watchdog (no user types it).
const ARG: &str = "--orphan-watchdog-of-a-parx-run";
/// [`ARG`] for exec.
const ARG_C: &std::ffi::CStr = c"--orphan-watchdog-of-a-parx-run";

/// parx's side of the watchdog.
#[derive(Debug)]
pub struct Watchdog {
    /// The pipe's only write end: closing it (or parx ending) wakes the watchdog.
    pipe: Mutex<Option<File>>,
    /// The watchdog's pid, until it is reaped.
    child: Mutex<Option<i32>>,
    /// The memory file a separate watchdog reads the table from (`None`: the watchdog shares
    /// parx's memory and reads `shared`).
    file: Option<File>,
    shared: &'static Shared,
}

impl Watchdog {
    /// Starts the watchdog process (which makes itself a separate one if it can).
    pub fn spawn() -> io::Result<Watchdog> {
        let file = crate::sys::memfd(c"parx-slots").ok();
        let shared: &'static Shared = Box::leak(Box::new(Shared {
            table: OnceLock::new(),
            separate: file.is_some(),
        }));
        let (rx, tx) = crate::sys::pipe()?;
        let pid = crate::sys::spawn_sharing_memory(
            serve,
            shared,
            rx.as_raw_fd(),
            file.as_ref().map_or(-1, |f| f.as_raw_fd()),
            tx.as_raw_fd(),
        )?;
        // parx's copy of the read end is not needed: the watchdog has its own, as its stdin.
        drop(rx);
        Ok(Watchdog {
            pipe: Mutex::new(Some(tx)),
            child: Mutex::new(Some(pid)),
            file,
            shared,
        })
    }

    /// The table of live process groups for `n` slots (an entry > 0 is a live group), which
    /// the watchdog ends if parx is gone: in the memory file a separate watchdog reads, else
    /// in memory the watchdog shares. Made once, before any task starts.
    pub fn table(&self, n: usize) -> io::Result<&'static [AtomicI32]> {
        let table = match &self.file {
            Some(f) => crate::sys::shared_table(f, n)?,
            None => Vec::leak((0..n).map(|_| AtomicI32::new(0)).collect()),
        };
        let _ = self.shared.table.set(table);
        Ok(table)
    }

    /// parx is about to exit (or a run ended early): the watchdog ends any group still in the
    /// table, exits, and is reaped. With every slot idle (the normal end) it is simply killed:
    /// it has nothing to do. Once done, a second call does nothing.
    pub fn finish(&self) {
        let child = self.child.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(pid) = child {
            // A slot still spawning (-1) may hold a group by the time the watchdog looks.
            let idle = table(self.shared)
                .iter()
                .all(|g| g.load(Ordering::SeqCst) == 0);
            if idle {
                crate::sys::kill_process(pid, libc::SIGKILL);
            } else {
                // EOF: the watchdog does what it would do had parx died.
                drop(self.pipe.lock().unwrap_or_else(|e| e.into_inner()).take());
            }
            crate::sys::reap(pid);
        }
    }
}

impl Drop for Watchdog {
    /// A run that ends early (an error after the watchdog started) reaps it too.
    fn drop(&mut self) {
        self.finish();
    }
}

/// The table of process groups (empty until [`Watchdog::watch`]).
fn table(shared: &'static Shared) -> &'static [AtomicI32] {
    shared.table.get().copied().unwrap_or_default()
}

/// If this process was started as a separate watchdog ([`Watchdog::spawn`]), serves as one
/// and returns its exit status.
pub(crate) fn serve_if_asked() -> Option<i32> {
    let mut args = std::env::args_os();
    if args.next()? != NAME || args.next()? != ARG || args.next().is_some() {
        return None;
    }
    // `parx-watchdog` in ps and pgrep, rather than `exe`.
    let _ = rustix::thread::set_name(c"parx-watchdog");
    // Only its pipe (stdin), the table (stdout) and /dev/null (stderr) stay open: a
    // descriptor parx inherited must not outlive parx here.
    crate::sys::close_from(3);
    wait_for_eof();
    let stdout = crate::sys::stdout_file();
    let mut bytes = vec![0u8; stdout.metadata().map_or(0, |m| m.len()) as usize];
    if stdout.read_exact_at(&mut bytes, 0).is_err() {
        return Some(1);
    }
    let entry = |c: &[u8]| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
    end_groups(|| bytes.chunks_exact(4).map(entry));
    Some(0)
}

/// The watchdog's main when it shares parx's memory (see
/// [`crate::sys::spawn_sharing_memory`] for what it may do: atomics and rustix calls only):
/// waits for EOF on its stdin, the pipe, then ends the groups left in the table. Returns the
/// exit status.
fn serve(shared: &'static Shared) -> i32 {
    // Its own group: a terminal's ^C is for parx to handle.
    let _ = rustix::process::setpgid(None, None);
    if shared.separate && !eof_within(&SEPARATE_AFTER) {
        // A separate process from here on (see [`serve_if_asked`]); parx does not wait for
        // this exec, which runs beside it.
        let argv = [c"parx-watchdog".as_ptr(), ARG_C.as_ptr(), std::ptr::null()];
        crate::sys::exec_raw(c"/proc/self/exe", &argv, &[std::ptr::null()]);
        // It failed (no /proc?): serve from parx's memory.
    }
    wait_for_eof();
    end_groups(|| table(shared).iter().map(|g| g.load(Ordering::SeqCst)));
    0
}

/// Whether stdin (the pipe) reaches EOF (or is readable) within `limit`.
fn eof_within(limit: &rustix::thread::Timespec) -> bool {
    let stdin = rustix::stdio::stdin();
    let mut fds = [rustix::event::PollFd::new(
        &stdin,
        rustix::event::PollFlags::IN,
    )];
    matches!(rustix::event::poll(&mut fds, Some(limit)), Ok(n) if n > 0)
}

/// Reads stdin (the pipe) until EOF: parx is gone, or asks for the groups to be ended.
fn wait_for_eof() {
    let mut buf = [0u8; 16];
    loop {
        match rustix::io::read(rustix::stdio::stdin(), &mut buf) {
            Ok(0) => break,
            Ok(_) | Err(rustix::io::Errno::INTR) => continue,
            Err(_) => break,
        }
    }
}

/// TERM, then after [`GRACE`] KILL, to every live group (entry > 0) of the table `entries`
/// yields (each time it is called). Allocates nothing.
fn end_groups<I: Iterator<Item = i32>>(entries: impl Fn() -> I) {
    let live = || {
        entries()
            .filter(|&g| g > 0)
            .filter_map(rustix::process::Pid::from_raw)
    };
    if live().next().is_none() {
        return;
    }
    for g in live() {
        let _ = rustix::process::kill_process_group(g, rustix::process::Signal::TERM);
    }
    let _ = rustix::thread::nanosleep(&GRACE);
    for g in live() {
        let _ = rustix::process::kill_process_group(g, rustix::process::Signal::KILL);
    }
}
