//! The slot table: the process group of the task (or worker) each job slot runs, which the
//! orphan watchdog reads (even after parx is gone, so it is leaked) and the scheduler gate
//! acts on; the `{%}` numbers in use; and how running tasks are ended when the run stops
//! (`--termseq`, or TERM then KILL). Both pools record their children here
//! ([`super::child::Child`] does), and the gate sees the slots through it ([`gate::Slots`]).

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::child;
use super::state::RunState;
use crate::gate::{self, Gate};
use crate::sys;

/// A slot's marker while it spawns a child whose pid is not known yet.
const SPAWNING: i32 = -1;
/// After a stop, when a slot whose task's group outlives its leader KILLs that group itself,
/// if [`SlotTable::end_children`] has not (with no `--termseq`): the longest grace that the
/// callers of `end_children` give, and a margin.
const STOP_KILL_FALLBACK: Duration = Duration::from_millis(2500);

/// One `{%}` number's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Number {
    /// No task has had it yet.
    Unused,
    /// A task that is not over has it.
    Taken,
    /// Given back by the task that had it.
    Free,
}

/// The `{%}` numbers: each of the first `-j` tasks gets a number of its own, 1 to `-j` in
/// the order they start, then a task gets the lowest number given back. GNU parallel starts
/// every job it has input and a free slot for in one round before it looks at those that
/// ended (and numbers a job with the first number given back, a new one only when none is):
/// for a run's first jobs that is one number each, however fast the first of them ends. `seq
/// 3000 | parx -j4 --pipe -N1000 --tagstring {%} wc` tags its chunks 1, 2, 3, as GNU parallel
/// does, where the lowest free number tagged the third chunk 1 whenever the first `wc` had
/// ended before the third chunk was taken. (An input that trickles in, one value after the
/// other has ended, is where the two differ: GNU parallel gives the second value the first's
/// number, parx a number of its own.)
#[derive(Debug)]
struct Numbers(Vec<Number>);

impl Numbers {
    /// A number for the next task; `fresh_first`: a number no task has had, while there is
    /// one, before one given back.
    fn take(&mut self, fresh_first: bool) -> usize {
        let unused = self.0.iter().position(|&n| n == Number::Unused);
        let given_back = || self.0.iter().position(|&n| n != Number::Taken);
        let i = match unused.filter(|_| fresh_first).or_else(given_back) {
            Some(i) => i,
            None => {
                self.0.push(Number::Unused);
                self.0.len() - 1
            }
        };
        self.0[i] = Number::Taken;
        i + 1
    }

    /// Gives `n` back.
    fn give_back(&mut self, n: usize) {
        if let Some(u) = self.0.get_mut(n - 1) {
            *u = Number::Free;
        }
    }

    fn taken(&self) -> usize {
        self.0.iter().filter(|&&u| u == Number::Taken).count()
    }
}

/// The job slots' children, their `{%}` numbers, and how they are ended.
#[derive(Debug)]
pub(crate) struct SlotTable {
    /// Whether the run stops (the table ends its children then).
    state: Arc<RunState>,
    /// Process group of the child running in each slot (index slot-1), 0 when idle. Leaked:
    /// the orphan watchdog reads it, even after parx is gone (see [`crate::watchdog`]).
    groups: &'static [AtomicI32],
    /// The orphan guard (set before the run starts, watching the slots' process groups).
    watchdog: Option<crate::watchdog::Watchdog>,
    /// `{%}` numbers (index n-1), whichever slot thread runs the task (see [`Numbers`]).
    jobslots: Mutex<Numbers>,
    /// Held by the slot thread taking the next task and its `{%}` (see
    /// [`SlotTable::next_task`]).
    receiving: Mutex<()>,
    /// `--termseq`: how parx ends running tasks when it stops them (halt, interrupt, closed
    /// stdout), each signal with the wait after it; `None`: TERM, then KILL after a grace.
    pub termseq: Option<Vec<(i32, Duration)>>,
    /// `--load`, `--memfree`, `--memsuspend`, `-j FILE`: the scheduler gate (set before the
    /// run starts; see [`crate::gate`]), told as slots start and end children.
    pub gate: Option<Arc<Gate>>,
    /// The task channel's low-water mark, which [`SlotTable::next_task`] keeps the source to
    /// (the thread pool's; set before the run starts).
    pub refill: Option<super::queue::Refill>,
}

impl SlotTable {
    /// `jobs` idle slots of a run whose state is `state`.
    pub(crate) fn new(jobs: usize, state: Arc<RunState>) -> SlotTable {
        SlotTable {
            state,
            groups: Vec::leak((0..jobs).map(|_| AtomicI32::new(0)).collect()),
            watchdog: None,
            jobslots: Mutex::new(Numbers(vec![Number::Unused; jobs])),
            receiving: Mutex::new(()),
            termseq: None,
            gate: None,
            refill: None,
        }
    }

    /// Waits up to `wait` for the next task and takes its `{%}` in the same step, so that
    /// tasks take `{%}` numbers in the order they leave the channel (input order), as GNU
    /// parallel numbers them in start order; under `--delay` in turn with the other slots
    /// ([`super::life::Lifecycle::in_turn`]). Give the number back with
    /// [`SlotTable::release_jobslot`] when the task has ended.
    pub(crate) fn next_task<T>(
        &self,
        tasks: &crossbeam_channel::Receiver<T>,
        wait: Duration,
        life: &super::life::Lifecycle,
    ) -> Result<(T, usize), crossbeam_channel::RecvTimeoutError> {
        let _turn = self
            .receiving
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let task = life.in_turn(|| tasks.recv_timeout(wait))?;
        if let Some(r) = &self.refill {
            r.taken(tasks);
        }
        Ok((task, self.take_jobslot()))
    }

    /// Takes a `{%}` number (1-based; see [`Numbers`]). Under the scheduler gate (`-j FILE`,
    /// `--load`, `--memfree`) the lowest free one, so that `{%}` stays within the slot count in
    /// force.
    fn take_jobslot(&self) -> usize {
        self.jobslots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take(self.gate.is_none())
    }

    /// Gives back a `{%}` number taken with [`SlotTable::next_task`].
    pub(crate) fn release_jobslot(&self, n: usize) {
        self.jobslots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .give_back(n);
        if let Some(g) = &self.gate {
            g.changed();
        }
    }

    /// How many `{%}` numbers are taken (tasks not over).
    fn jobslots_taken(&self) -> usize {
        self.jobslots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .taken()
    }

    /// Marks `slot` as about to spawn a child, so that [`SlotTable::end_children`] waits for
    /// it (a child whose pid is not known yet could otherwise outlive parx). Returns `false`,
    /// and leaves the slot idle, when the run is already stopping.
    pub(crate) fn begin_spawn(&self, slot: usize) -> bool {
        self.groups[slot - 1].store(SPAWNING, Ordering::SeqCst);
        if self.state.stopping() {
            self.clear_child(slot);
            return false;
        }
        true
    }

    /// Records that `slot` runs a child whose process group is `pgid`. If the run is already
    /// stopping, the child is killed at once (the sweep in [`SlotTable::stop`] may have
    /// missed it).
    pub(crate) fn set_child(&self, slot: usize, pgid: i32) {
        self.groups[slot - 1].store(pgid, Ordering::SeqCst);
        if self.state.stopping() {
            sys::kill_group(pgid, libc::SIGTERM);
        }
    }

    /// Records that `slot`'s child has been reaped.
    pub(crate) fn clear_child(&self, slot: usize) {
        self.groups[slot - 1].store(0, Ordering::SeqCst);
        if let Some(g) = &self.gate {
            g.ended(slot);
        }
    }

    /// The process group of the child in `slot` (0 when idle, negative while spawning).
    pub(crate) fn child(&self, slot: usize) -> i32 {
        self.groups[slot - 1].load(Ordering::SeqCst)
    }

    /// Whether a slot other than `slot` has a child that is not reaped yet.
    pub(crate) fn others_running(&self, slot: usize) -> bool {
        self.groups
            .iter()
            .enumerate()
            .any(|(i, g)| i + 1 != slot && g.load(Ordering::SeqCst) != 0)
    }

    /// Sets the orphan guard: it ends the slots' process groups if parx dies (the slots'
    /// table moves to where the watchdog reads it).
    pub(crate) fn set_watchdog(&mut self, w: crate::watchdog::Watchdog) -> std::io::Result<()> {
        self.groups = w.table(self.groups.len())?;
        self.watchdog = Some(w);
        Ok(())
    }

    /// parx is about to exit: the orphan guard ends whatever task group is still live, and
    /// is reaped.
    pub(crate) fn finish_watchdog(&self) {
        if let Some(w) = &self.watchdog {
            w.finish();
        }
    }

    // ---- the scheduler gate (issue 13; see crate::gate) ----

    /// Waits until the resources (`--load`, `--memfree`, `--memsuspend`, `-j FILE`) let a
    /// task start in `slot`, and books it. `false`: the run stopped meanwhile.
    pub(crate) fn admit(&self, slot: usize) -> bool {
        match &self.gate {
            Some(g) => g.admit(self, slot),
            None => true,
        }
    }

    /// Whether `slot` may take a new task (`-j FILE` may have narrowed the run below it);
    /// waits a little when it may not.
    pub(crate) fn slot_open(&self, slot: usize) -> bool {
        self.gate.as_ref().is_none_or(|g| g.slot_open(self, slot))
    }

    /// Whether the task that just ended in `slot` was killed by `--memfree` and must run
    /// again (not counted as an attempt).
    pub(crate) fn take_requeue(&self, slot: usize) -> bool {
        self.gate.as_ref().is_some_and(|g| g.take_requeue(slot))
    }

    /// Whether a task may be killed by `--memfree` and run again: its output is then held
    /// until it ends (never streamed early), so that none is printed twice.
    pub(crate) fn may_requeue(&self) -> bool {
        self.gate.as_ref().is_some_and(|g| g.may_requeue())
    }

    /// What a held-back task waits for (`--bar` shows it), if any.
    pub(crate) fn waiting(&self) -> Option<&'static str> {
        self.gate.as_ref().and_then(|g| g.waiting())
    }

    /// Starts the gate's monitor thread, if there is a gate (`--load`, `--memfree`,
    /// `--memsuspend`, `-j FILE`).
    pub(crate) fn start_gate_monitor(self: &Arc<SlotTable>) -> std::io::Result<()> {
        match &self.gate {
            Some(g) => g.spawn_monitor(self.clone()),
            None => Ok(()),
        }
    }

    // ---- ending the children ----

    /// Stops the run: no new task starts, and every running task's group gets `sig` (with
    /// `--termseq`, a TERM is its first signal instead).
    pub(crate) fn stop(&self, sig: i32) {
        self.state.set_stopping();
        let sig = match &self.termseq {
            Some(seq) if sig == libc::SIGTERM => seq[0].0,
            _ => sig,
        };
        self.signal_all(sig);
    }

    fn signal_all(&self, sig: i32) {
        for s in self.groups {
            sys::kill_group(s.load(Ordering::SeqCst), sig);
        }
        if let Some(g) = &self.gate {
            // A group stopped by --memsuspend acts on the signal only once continued.
            g.resume_all(|slot| self.child(slot));
        }
    }

    /// The run is stopping and the leader of the group `pgid` has been reaped (its slot still
    /// holds the group): waits while the group holds a live process, which the stop's signals
    /// reach through the slot ([`SlotTable::end_children`]). Should no KILL have come when
    /// the stop's sequence is over, the slot sends it; after the KILL's grace it waits no more.
    pub(crate) fn linger(&self, pgid: i32) {
        let Some(since) = self.state.stopped_at() else {
            return;
        };
        let sequence = match &self.termseq {
            Some(seq) => seq.iter().map(|s| s.1).sum(),
            None => STOP_KILL_FALLBACK,
        };
        let kill_at = since + sequence;
        let mut killed = false;
        while child::group_live(pgid) {
            let now = Instant::now();
            if now >= kill_at && !killed {
                sys::kill_group(pgid, libc::SIGKILL);
                killed = true;
            } else if now >= kill_at + child::KILL_GRACE {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether some slot has a child that is not reaped yet.
    pub(crate) fn any_child(&self) -> bool {
        self.groups.iter().any(|s| s.load(Ordering::SeqCst) != 0)
    }

    /// After [`SlotTable::stop`]: waits up to `grace` for the children to be reaped, then
    /// KILLs their groups and waits a little more.
    pub(crate) fn end_children(&self, grace: Duration) {
        let wait = |d: Duration| {
            let end = Instant::now() + d;
            while self.any_child() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        if let Some(seq) = &self.termseq {
            // --termseq: its first signal went with the stop; then each further one, if a
            // task still runs, after the wait that follows the one before.
            wait(seq[0].1);
            for pair in seq.windows(2) {
                if !self.any_child() {
                    break;
                }
                self.signal_all(pair[1].0);
                wait(pair[1].1);
            }
            return;
        }
        wait(grace);
        if self.any_child() {
            self.signal_all(libc::SIGKILL);
            wait(Duration::from_millis(500));
        }
    }
}

/// The gate sees the slots' process groups and whether tasks may still start.
impl gate::Slots for SlotTable {
    fn pgid(&self, slot: usize) -> i32 {
        self.child(slot)
    }

    fn may_start(&self) -> bool {
        self.state.may_start()
    }

    fn busy(&self) -> usize {
        self.jobslots_taken()
    }
}

#[cfg(test)]
mod tests {
    use super::{Number, Numbers};

    #[test]
    fn the_first_tasks_get_a_number_each_then_the_lowest_given_back() {
        let mut n = Numbers(vec![Number::Unused; 4]);
        assert_eq!(n.take(true), 1);
        n.give_back(1);
        // The first task ended before the second started: still a number of its own.
        assert_eq!(n.take(true), 2);
        assert_eq!(n.take(true), 3);
        assert_eq!(n.take(true), 4);
        // Every number has been had: the lowest given back.
        assert_eq!(n.take(true), 1);
        n.give_back(3);
        n.give_back(2);
        assert_eq!(n.take(true), 2);
        assert_eq!(n.take(true), 3);
        // More tasks than numbers (a widened slot count): a new one.
        assert_eq!(n.take(true), 5);
        assert_eq!(n.taken(), 5);
    }

    #[test]
    fn under_the_gate_the_lowest_free_number() {
        let mut n = Numbers(vec![Number::Unused; 4]);
        assert_eq!(n.take(false), 1);
        n.give_back(1);
        assert_eq!(n.take(false), 1);
        assert_eq!(n.take(false), 2);
        assert_eq!(n.taken(), 2);
    }
}
