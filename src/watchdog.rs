//! Orphan guard: children of a `kill -9`ed parx must not run on. At start parx starts a tiny
//! watchdog process that shares its memory ([`crate::sys::spawn_sharing_memory`]: clone(2)
//! with `CLONE_VM`, in a process group of its own, with no stdin, stdout or stderr) and holds
//! the read end of a pipe whose only write end parx keeps. The watchdog reads the table of
//! live task process groups that the pool keeps anyway (one per slot: see
//! [`Watchdog::watch`]), straight from parx's memory, so a task's start or end costs it
//! nothing. It sleeps in read(2) until the pipe reaches EOF, which is when parx is gone (or
//! at parx's end when groups are still live, see [`Watchdog::finish`]); then it sends TERM,
//! then KILL, to every group still in the table (the whole group, so grandchildren too) and
//! exits. The memory outlives parx for as long as the watchdog runs. At its normal end, with
//! no group live, parx kills the watchdog and reaps it, so no process outlives parx.
//!
//! A process sharing the memory, not a fork: a fork copies parx's page tables and then every
//! page parx writes (it was a tenth of the time of `parx true ::: x`, and it had to be the
//! first thing parx did), and it had to be told of every group over the pipe (two writes per
//! task) and to wake up to read them while tasks ran.
//!
//! Chosen over PR_SET_PDEATHSIG because that needs a `pre_exec` hook, which makes std use
//! fork+exec instead of posix_spawn: measured 2.8–3.4 s instead of 1.8–2.1 s for 3000 tasks
//! of `true` at -j2 (README); and it would reach only the direct child, not its group.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

/// How long the groups get between TERM and KILL once parx is gone.
const GRACE: rustix::thread::Timespec = rustix::thread::Timespec {
    tv_sec: 0,
    tv_nsec: 200_000_000,
};

/// What parx and the watchdog share (leaked: the watchdog may read it after parx is gone):
/// the table of live process groups, published once ([`Watchdog::watch`]) before any task
/// starts. An entry > 0 is a live group.
type Shared = OnceLock<&'static [AtomicI32]>;

/// parx's side of the watchdog.
#[derive(Debug)]
pub struct Watchdog {
    /// The pipe's only write end: closing it (or parx ending) wakes the watchdog.
    pipe: Mutex<Option<File>>,
    /// The watchdog's pid, until it is reaped.
    child: Mutex<Option<i32>>,
    shared: &'static Shared,
}

impl Watchdog {
    /// Starts the watchdog process.
    pub fn spawn() -> io::Result<Watchdog> {
        let (rx, tx) = crate::sys::pipe()?;
        let shared: &'static Shared = Box::leak(Box::default());
        let pid = crate::sys::spawn_sharing_memory(serve, shared, rx.as_raw_fd(), tx.as_raw_fd())?;
        // parx's copy of the read end is not needed: the watchdog has its own, as its stdin.
        drop(rx);
        Ok(Watchdog {
            pipe: Mutex::new(Some(tx)),
            child: Mutex::new(Some(pid)),
            shared,
        })
    }

    /// Has the watchdog end the groups in `table` (entries > 0) if parx is gone. Called once,
    /// before any task starts.
    pub fn watch(&self, table: &'static [AtomicI32]) {
        let _ = self.shared.set(table);
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
    shared.get().copied().unwrap_or_default()
}

/// The watchdog's main (see [`crate::sys::spawn_sharing_memory`] for what it may do: atomics
/// and rustix calls only): waits for EOF on its stdin, the pipe, then ends the groups left
/// in the table. Returns the exit status.
fn serve(shared: &'static Shared) -> i32 {
    // Its own group: a terminal's ^C is for parx to handle.
    let _ = rustix::process::setpgid(None, None);
    let mut buf = [0u8; 16];
    loop {
        match rustix::io::read(rustix::stdio::stdin(), &mut buf) {
            Ok(0) => break,
            Ok(_) | Err(rustix::io::Errno::INTR) => continue,
            Err(_) => break,
        }
    }
    let live = || {
        table(shared)
            .iter()
            .map(|g| g.load(Ordering::SeqCst))
            .filter(|&g| g > 0)
            .filter_map(rustix::process::Pid::from_raw)
    };
    if live().next().is_none() {
        return 0;
    }
    for g in live() {
        let _ = rustix::process::kill_process_group(g, rustix::process::Signal::TERM);
    }
    let _ = rustix::thread::nanosleep(&GRACE);
    for g in live() {
        let _ = rustix::process::kill_process_group(g, rustix::process::Signal::KILL);
    }
    0
}
