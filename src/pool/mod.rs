//! Pools run tasks. [`Control`] is what the pool, the merger and the signal thread share:
//! the stop flag, the process group of the task in each slot, and the `-k` head of line.

pub mod feed;
pub mod process;
pub mod thread;

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::sys;

/// A slot's marker while it spawns a child whose pid is not known yet.
const SPAWNING: i32 = -1;

/// Shared run state.
#[derive(Debug)]
pub struct Control {
    stop: AtomicBool,
    /// Process group of the child running in each slot (index slot-1), 0 when idle.
    slots: Vec<AtomicI32>,
    /// With `-k`: the sequence number the merger prints next (its output may stream through).
    pub head: AtomicU64,
    /// parx itself failed somewhere (reported already): the run ends with status 255.
    error: AtomicBool,
}

impl Control {
    /// State for `jobs` slots.
    pub fn new(jobs: usize) -> Control {
        Control {
            stop: AtomicBool::new(false),
            slots: (0..jobs).map(|_| AtomicI32::new(0)).collect(),
            head: AtomicU64::new(1),
            error: AtomicBool::new(false),
        }
    }

    /// Reports one of parx's own errors (`parx: <msg>` on stderr); the run will exit 255.
    pub fn error(&self, msg: impl std::fmt::Display) {
        eprintln!("parx: {msg}");
        self.error.store(true, Ordering::SeqCst);
    }

    /// Whether [`Control::error`] was called.
    pub fn failed(&self) -> bool {
        self.error.load(Ordering::SeqCst)
    }

    /// Whether the run is stopping (no new task may start).
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Marks `slot` as about to spawn a child, so that [`Control::end_children`] waits for it
    /// (a child whose pid is not known yet could otherwise outlive parx). Returns `false`, and
    /// leaves the slot idle, when the run is already stopping.
    pub fn begin_spawn(&self, slot: usize) -> bool {
        self.slots[slot - 1].store(SPAWNING, Ordering::SeqCst);
        if self.stopping() {
            self.clear_child(slot);
            return false;
        }
        true
    }

    /// Records that `slot` runs a child whose process group is `pgid`. If the run is already
    /// stopping, the child is killed at once (the sweep in [`Control::stop`] may have missed it).
    pub fn set_child(&self, slot: usize, pgid: i32) {
        self.slots[slot - 1].store(pgid, Ordering::SeqCst);
        if self.stopping() {
            sys::kill_group(pgid, libc::SIGTERM);
        }
    }

    /// Records that `slot`'s child has been reaped.
    pub fn clear_child(&self, slot: usize) {
        self.slots[slot - 1].store(0, Ordering::SeqCst);
    }

    /// Stops the run: no new task starts, and every running task's group gets `sig`.
    pub fn stop(&self, sig: i32) {
        self.stop.store(true, Ordering::SeqCst);
        self.signal_all(sig);
    }

    fn signal_all(&self, sig: i32) {
        for s in &self.slots {
            sys::kill_group(s.load(Ordering::SeqCst), sig);
        }
    }

    fn any_child(&self) -> bool {
        self.slots.iter().any(|s| s.load(Ordering::SeqCst) != 0)
    }

    /// After [`Control::stop`]: waits up to `grace` for the children to be reaped, then
    /// KILLs their groups and waits a little more.
    pub fn end_children(&self, grace: Duration) {
        let wait = |d: Duration| {
            let end = Instant::now() + d;
            while self.any_child() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        wait(grace);
        if self.any_child() {
            self.signal_all(libc::SIGKILL);
            wait(Duration::from_millis(500));
        }
    }
}
