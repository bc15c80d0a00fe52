//! Orphan guard: children of a `kill -9`ed or OOM-killed parx must not run on. At start parx
//! starts a tiny watchdog process ([`crate::sys::spawn_sharing_memory`]: clone(2) with
//! `CLONE_VM`, in a process group of its own) whose stdin is the read end of a pipe whose
//! only write end parx keeps, and whose stdout is a memory file (memfd) that parx maps shared
//! and keeps the table of live task process groups in (one entry per slot: see
//! [`Watchdog::table`]); the pool writes that table anyway, so a task's start or end costs the
//! watchdog nothing. If parx is still running [`serve::SEPARATE_AFTER`] later, the watchdog makes
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
//! (`posix_spawn`, parx waiting for the exec, then its start-up on the other core) made `parx
//! true ::: x` about a fifth slower; a run shorter than [`serve::SEPARATE_AFTER`] never pays for the
//! exec, and is too young to have grown big enough to be OOM-killed. Where the exec fails (no
//! `/proc`, no memfd) the watchdog stays in parx's memory and reads the table from there.
//!
//! Not a fork of parx: a fork copies parx's page tables and then every page parx writes (it
//! was a tenth of the time of `parx true ::: x`). Chosen over `PR_SET_PDEATHSIG` because that
//! needs a `pre_exec` hook, which makes std use fork+exec instead of `posix_spawn`: measured
//! 2.8–3.4 s instead of 1.8–2.1 s for 3000 tasks of `true` at -j2 (README); and it would
//! reach only the direct child, not its group.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

use serve::{end_groups, serve, table, wait_for_eof, Shared};

mod serve;

/// The watchdog process's name (`argv[0]`).
const NAME: &str = "parx-watchdog";
/// Its one argument: what makes parx's binary a watchdog (no user types it).
const ARG: &str = "--orphan-watchdog-of-a-parx-run";

/// parx's side of the watchdog.
#[derive(Debug)]
pub(crate) struct Watchdog {
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
    pub(crate) fn spawn() -> io::Result<Watchdog> {
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
            file.as_ref().map_or(-1, rustix::fd::AsRawFd::as_raw_fd),
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
    pub(crate) fn table(&self, n: usize) -> io::Result<&'static [AtomicI32]> {
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
    pub(crate) fn finish(&self) {
        let child = self
            .child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(pid) = child {
            // A slot still spawning (-1) may hold a group by the time the watchdog looks.
            let idle = table(self.shared)
                .iter()
                .all(|g| g.load(Ordering::SeqCst) == 0);
            if idle {
                crate::sys::kill_process(pid, libc::SIGKILL);
            } else {
                // EOF: the watchdog does what it would do had parx died.
                drop(
                    self.pipe
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .take(),
                );
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
