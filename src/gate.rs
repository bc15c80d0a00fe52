//! The scheduler gate: whether a task may start now, given `--load`, `--memfree`,
//! `--memsuspend` and `-j FILE`, and what to do under memory pressure (kill the youngest task
//! and put it back, or suspend the youngest tasks and resume them later).
//!
//! The pools ask [`Gate::admit`] before each start ([`crate::pool::slots::SlotTable::admit`]) and tell
//! it when a task's process ends (via `SlotTable::clear_child`). A monitor thread
//! ([`Gate::spawn_monitor`]) samples the machine every [`TICK`] and acts on the running tasks'
//! process groups. All state sits behind one mutex; admission is decided under it, so two
//! slots never both take the last room.
//!
//! The gate knows the pool only through [`Slots`] (which process group runs in a slot, and
//! whether the run still starts tasks), so the dependency points one way: the pool's
//! The slot table (`crate::pool::slots::SlotTable`) holds the gate and implements [`Slots`].
//!
//! Memory: a task just started has not allocated yet, so the memory it will take is reserved
//! for it until it uses it: the largest resident size any task has reached so far (before the
//! first task has ended, at least half of `--memfree`, the size below which tasks are killed).
//! A task starts when the available memory minus these reservations is at least `--memfree`.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::Sched;
use crate::resources::{self, MemProbe};
use crate::sys;

/// What the gate needs to know of the pool's slots (slots are numbered from 1).
pub(crate) trait Slots: Send + Sync {
    /// The process group of the task in `slot`: 0 when idle, negative while it spawns.
    fn pgid(&self, slot: usize) -> i32;
    /// Whether a task may still start (the run is not stopping, no `--halt soon`).
    fn may_start(&self) -> bool;
    /// How many tasks hold a `{%}` number (taken with the task, given back once it is over).
    fn busy(&self) -> usize;
}

/// How often the monitor samples memory and load.
pub(crate) const TICK: Duration = Duration::from_millis(50);
/// The window `--load` averages the running-process count over.
const LOAD_WINDOW: usize = 20;
/// The monitor measures the tasks' resident sizes every this many ticks (a pass over /proc
/// costs a few ms of CPU; a stale size only over-reserves, and kills act on fresh samples).
const RSS_EVERY: u64 = 4;
/// How long a waiting slot sleeps before it looks again (it is woken sooner by changes).
const RECHECK: Duration = Duration::from_millis(100);
/// How often a `-j FILE` is re-read when no task ends.
const FILE_POLL: Duration = Duration::from_millis(500);
/// The least time between two suspensions or two resumptions (`--memsuspend`): the memory
/// freed or taken by the last one must show before the next is decided.
const SUSPEND_GAP: Duration = Duration::from_millis(200);

/// What a waiting task waits for (shown by `--bar`).
pub(crate) type Reason = &'static str;

/// Per-slot state.
#[derive(Debug, Default, Clone)]
struct SlotState {
    /// When its current task started (admitted), if one runs.
    started: Option<Instant>,
    /// Its process group is stopped (`--memsuspend`).
    suspended: bool,
    /// Its task was killed for memory and must run again (`--memfree`).
    requeue: bool,
    /// Resident size of its process group at the last sample.
    rss: u64,
}

#[derive(Debug)]
struct State {
    /// The slot count in force (`-j FILE`; else the pool's).
    jobs: usize,
    jobs_read: Option<Instant>,
    /// Available memory at the last sample.
    avail: Option<u64>,
    /// Recent running-process counts (`--load`).
    load: VecDeque<u64>,
    /// `--noswap`: pages swapped at the last sample, and whether any were since the one
    /// before.
    swap: (Option<u64>, bool),
    /// The largest resident size any task has reached.
    learned: u64,
    /// Some task has ended (so `learned` is a real task's size).
    ended_any: bool,
    /// A slot whose task was killed for memory and is not reaped yet.
    killing: Option<usize>,
    last_suspend: Option<Instant>,
    slots: Vec<SlotState>,
    /// The last reason a start was held back, and when.
    waiting: Option<(Reason, Instant)>,
}

/// The scheduler gate.
#[derive(Debug)]
pub(crate) struct Gate {
    spec: Sched,
    /// `--memfree` may kill the youngest task (the thread pool; a process-pool worker is not
    /// killed: its records in flight would be charged as failures).
    may_kill: bool,
    mem: MemProbe,
    st: Mutex<State>,
    cv: Condvar,
}

impl Gate {
    /// The gate for `slots` pool slots, or `None` when no resource option is given.
    /// `may_kill`: the pool can put a killed task back (`--memfree`'s kill).
    pub(crate) fn new(spec: &Sched, slots: usize, may_kill: bool) -> Option<Gate> {
        if !spec.active() {
            return None;
        }
        let mem = if spec.memfree.is_some() || spec.memsuspend.is_some() {
            MemProbe::new()
        } else {
            MemProbe::default()
        };
        let gate = Gate {
            spec: spec.clone(),
            may_kill,
            mem,
            st: Mutex::new(State {
                jobs: slots,
                jobs_read: None,
                avail: None,
                load: VecDeque::new(),
                swap: (None, false),
                learned: 0,
                ended_any: false,
                killing: None,
                last_suspend: None,
                slots: vec![SlotState::default(); slots],
                waiting: None,
            }),
            cv: Condvar::new(),
        };
        {
            let mut st = gate.lock();
            gate.sample(&mut st);
            gate.refresh_jobs(&mut st, true);
        }
        Some(gate)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Re-reads `-j FILE` (when `force`, or when it was last read [`FILE_POLL`] ago). An empty
    /// or unreadable file (being rewritten) or a bad value keeps the count in force.
    fn refresh_jobs(&self, st: &mut State, force: bool) {
        let Some(path) = &self.spec.jobs_file else {
            return;
        };
        if !force && st.jobs_read.is_some_and(|t| t.elapsed() < FILE_POLL) {
            return;
        }
        st.jobs_read = Some(Instant::now());
        if let Ok(n) = crate::config::sched::read_jobs_file(path, self.spec.cpus) {
            let n = n.min(st.slots.len());
            if n != st.jobs {
                st.jobs = n;
                self.cv.notify_all();
            }
        }
    }

    /// Takes one sample of memory and load.
    fn sample(&self, st: &mut State) {
        if self.spec.memfree.is_some() || self.spec.memsuspend.is_some() {
            st.avail = self.mem.available();
        }
        if self.spec.noswap {
            let now = resources::swapped_pages();
            st.swap = (now, matches!((st.swap.0, now), (Some(a), Some(b)) if b > a));
        }
        if self.spec.load.is_some() {
            if let Some(n) = resources::running_processes() {
                if st.load.len() == LOAD_WINDOW {
                    st.load.pop_front();
                }
                st.load.push_back(n);
            }
        }
    }

    /// The memory a task may still take: the largest size seen (at least `--memfree`/2 until
    /// a task has ended).
    fn expected(&self, st: &State) -> u64 {
        match (st.ended_any, self.spec.memfree) {
            (false, Some(m)) => st.learned.max(m / 2),
            _ => st.learned,
        }
    }

    /// Why a task may not start now, if it may not.
    fn held_by(&self, st: &mut State, slot: usize) -> Option<Reason> {
        let running = |st: &State| {
            st.slots
                .iter()
                .enumerate()
                .filter(|(i, s)| *i != slot - 1 && s.started.is_some())
                .count()
        };
        if self.spec.jobs_file.is_some() {
            self.refresh_jobs(st, false);
            if running(st) >= st.jobs {
                return Some("-j FILE");
            }
        }
        if let Some(max) = self.spec.load {
            let n = st.load.len().max(1) as f64;
            let load = st.load.iter().sum::<u64>() as f64 / n;
            if load >= max {
                return Some("load");
            }
        }
        if self.spec.noswap && st.swap.1 {
            return Some("noswap");
        }
        if let Some(s) = self.spec.memsuspend {
            let suspended = st.slots.iter().any(|s| s.suspended);
            if suspended || st.avail.is_some_and(|a| a < s.saturating_mul(2)) {
                return Some("memsuspend");
            }
        }
        if let Some(m) = self.spec.memfree {
            if st.killing.is_some() {
                return Some("memfree");
            }
            let e = self.expected(st);
            let reserved: u64 = st
                .slots
                .iter()
                .filter(|s| s.started.is_some())
                .map(|s| e.saturating_sub(s.rss))
                .sum();
            if st.avail.is_some_and(|a| a.saturating_sub(reserved) < m) {
                return Some("memfree");
            }
        }
        None
    }

    /// Waits until a task may start in `slot` and books the start. Returns `false`, booking
    /// nothing, when the run stops (or `--halt` says no new task) meanwhile.
    pub(crate) fn admit(&self, ctl: &dyn Slots, slot: usize) -> bool {
        let mut st = self.lock();
        loop {
            if !ctl.may_start() {
                return false;
            }
            match self.held_by(&mut st, slot) {
                None => break,
                Some(why) => {
                    st.waiting = Some((why, Instant::now()));
                    st = self
                        .cv
                        .wait_timeout(st, RECHECK)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
            }
        }
        st.waiting = None;
        st.slots[slot - 1] = SlotState {
            started: Some(Instant::now()),
            ..SlotState::default()
        };
        true
    }

    /// Whether `slot`, between two tasks, may take a new one: it is within the slot count in
    /// force (`-j FILE`), and fewer tasks than that count are not over yet (`slots`); when
    /// not, waits a little (for a change) first. Slots above the count take no new task, and a
    /// slot of a narrowed run takes one (and its `{%}`, the lowest free then) only once the
    /// tasks over the count are over.
    pub(crate) fn slot_open(&self, slots: &dyn Slots, slot: usize) -> bool {
        let open = |st: &State| slot <= st.jobs && slots.busy() < st.jobs;
        let mut st = self.lock();
        self.refresh_jobs(&mut st, false);
        if open(&st) {
            return true;
        }
        let st = self
            .cv
            .wait_timeout(st, RECHECK)
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0;
        open(&st)
    }

    /// A task gave back its `{%}` number: a slot waiting in [`Gate::slot_open`] looks again.
    pub(crate) fn changed(&self) {
        self.cv.notify_all();
    }

    /// The task in `slot` has ended (its process reaped, or it never started): frees its
    /// room, and re-reads `-j FILE`.
    pub(crate) fn ended(&self, slot: usize) {
        let mut st = self.lock();
        let s = &mut st.slots[slot - 1];
        if s.started.take().is_some() {
            st.ended_any = true;
        }
        let s = &mut st.slots[slot - 1];
        s.suspended = false;
        if st.killing == Some(slot) {
            st.killing = None;
        }
        self.refresh_jobs(&mut st, true);
        self.cv.notify_all();
    }

    /// Whether the task that just ended in `slot` was killed for memory and must run again
    /// (clears the mark).
    pub(crate) fn take_requeue(&self, slot: usize) -> bool {
        std::mem::take(&mut self.lock().slots[slot - 1].requeue)
    }

    /// Whether a task may be killed and run again (`--memfree` in a pool that can): its
    /// output must then not leave before it ends.
    pub(crate) fn may_requeue(&self) -> bool {
        self.may_kill && self.spec.memfree.is_some()
    }

    /// What a held-back start waits for, if one did lately.
    pub(crate) fn waiting(&self) -> Option<Reason> {
        let st = self.lock();
        st.waiting
            .filter(|(_, at)| at.elapsed() < RECHECK * 3)
            .map(|(w, _)| w)
    }

    /// Continues every suspended task (before parx signals them to end: a stopped group acts
    /// on a signal only once continued).
    pub(crate) fn resume_all(&self, pgid_of: impl Fn(usize) -> i32) {
        let mut st = self.lock();
        for (i, s) in st.slots.iter_mut().enumerate() {
            if std::mem::take(&mut s.suspended) {
                sys::kill_group(pgid_of(i + 1), libc::SIGCONT);
            }
        }
    }

    /// One monitor step: samples, then kills, suspends or resumes as memory says. `scan`: also
    /// measure the tasks' resident sizes (a pass over /proc, so not every step).
    fn step(&self, ctl: &dyn Slots, scan: bool) {
        let mut st = self.lock();
        if self.spec.memfree.is_some() && scan {
            let pgids: Vec<i32> = (1..=st.slots.len())
                .map(|s| match st.slots[s - 1].started {
                    Some(_) => ctl.pgid(s),
                    None => 0,
                })
                .collect();
            // Reading /proc is slow: not under the lock.
            drop(st);
            let rss = resources::group_rss(&pgids);
            st = self.lock();
            for (s, r) in st.slots.iter_mut().zip(rss) {
                if s.started.is_some() {
                    s.rss = r;
                }
            }
            let max = st.slots.iter().map(|s| s.rss).max().unwrap_or(0);
            st.learned = st.learned.max(max);
        }
        // Memory is sampled last, so that what is decided below acts on a fresh value.
        self.sample(&mut st);
        if let (Some(m), Some(avail), true) = (self.spec.memfree, st.avail, self.may_kill) {
            if avail < m / 2 && st.killing.is_none() {
                self.kill_youngest(&mut st, ctl);
            }
        }
        if let (Some(s), Some(avail)) = (self.spec.memsuspend, st.avail) {
            self.suspend_or_resume(&mut st, ctl, s, avail);
        }
        drop(st);
        self.cv.notify_all();
    }

    /// `--memfree`: memory is below half of SIZE: the youngest task is killed and will run
    /// again. The only running task is never killed (running it again could not help).
    fn kill_youngest(&self, st: &mut State, ctl: &dyn Slots) {
        let running: Vec<(usize, Instant)> = st
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i + 1, s.started?)))
            .filter(|&(slot, _)| ctl.pgid(slot) > 0)
            .collect();
        if running.len() < 2 {
            return;
        }
        let (slot, _) = *running.iter().max_by_key(|(_, t)| *t).expect("two tasks");
        st.slots[slot - 1].requeue = true;
        st.killing = Some(slot);
        let pgid = ctl.pgid(slot);
        sys::kill_group(pgid, libc::SIGKILL);
        if st.slots[slot - 1].suspended {
            sys::kill_group(pgid, libc::SIGCONT);
        }
    }

    /// `--memsuspend SIZE`: below 2×SIZE the youngest running task is stopped (one at a time);
    /// below SIZE all but the oldest are; at 2×SIZE or more again, the oldest stopped one is
    /// continued (one at a time). One task always runs.
    fn suspend_or_resume(&self, st: &mut State, ctl: &dyn Slots, size: u64, avail: u64) {
        let gap_over = st.last_suspend.is_none_or(|t| t.elapsed() >= SUSPEND_GAP);
        let mut active: Vec<(usize, Instant)> = Vec::new();
        let mut stopped: Vec<(usize, Instant)> = Vec::new();
        for (i, s) in st.slots.iter().enumerate() {
            let Some(t) = s.started else { continue };
            if ctl.pgid(i + 1) <= 0 {
                continue;
            }
            if s.suspended {
                stopped.push((i + 1, t));
            } else {
                active.push((i + 1, t));
            }
        }
        active.sort_by_key(|&(_, t)| t);
        stopped.sort_by_key(|&(_, t)| t);
        let stop = |st: &mut State, slot: usize| {
            st.slots[slot - 1].suspended = true;
            sys::kill_group(ctl.pgid(slot), libc::SIGSTOP);
            st.last_suspend = Some(Instant::now());
        };
        if active.is_empty() {
            // Nothing runs: the oldest stopped task goes on, whatever memory says.
            if let Some(&(slot, _)) = stopped.first() {
                st.slots[slot - 1].suspended = false;
                sys::kill_group(ctl.pgid(slot), libc::SIGCONT);
                st.last_suspend = Some(Instant::now());
            }
        } else if avail < size {
            for &(slot, _) in &active[1..] {
                stop(st, slot);
            }
        } else if avail < size.saturating_mul(2) {
            if active.len() > 1 && gap_over {
                let &(slot, _) = active.last().expect("two tasks");
                stop(st, slot);
            }
        } else if let (Some(&(slot, _)), true) = (stopped.first(), gap_over) {
            st.slots[slot - 1].suspended = false;
            sys::kill_group(ctl.pgid(slot), libc::SIGCONT);
            st.last_suspend = Some(Instant::now());
        }
    }
}

impl Gate {
    /// Starts the monitor thread: it samples and acts on `slots` every [`TICK`] for as long
    /// as the process runs (it holds no channel, so it keeps nothing alive).
    pub(crate) fn spawn_monitor(self: &Arc<Gate>, slots: Arc<dyn Slots>) -> std::io::Result<()> {
        let gate = self.clone();
        std::thread::Builder::new()
            .name("parx-gate".into())
            .stack_size(256 << 10)
            .spawn(move || {
                for n in 0u64.. {
                    std::thread::sleep(TICK);
                    gate.step(slots.as_ref(), n % RSS_EVERY == 0);
                }
            })
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slots of which `.0` tasks are not over.
    struct Busy(usize);

    impl Slots for Busy {
        fn pgid(&self, _: usize) -> i32 {
            0
        }
        fn may_start(&self) -> bool {
            true
        }
        fn busy(&self) -> usize {
            self.0
        }
    }

    fn spec() -> Sched {
        Sched {
            cpus: 2,
            ..Sched::default()
        }
    }

    #[test]
    fn memfree_reserves_for_young_tasks() {
        let g = Gate::new(
            &Sched {
                memfree: Some(600),
                ..spec()
            },
            8,
            true,
        )
        .expect("active");
        let mut st = g.lock();
        st.avail = Some(2000);
        // Nothing runs: 2000 ≥ 600.
        assert_eq!(g.held_by(&mut st, 1), None);
        // Each young task is expected to take 300 (half of --memfree) until one has ended.
        for s in 0..4 {
            st.slots[s].started = Some(Instant::now());
        }
        // 2000 - 4×300 = 800 ≥ 600.
        assert_eq!(g.held_by(&mut st, 5), None);
        st.slots[4].started = Some(Instant::now());
        // 2000 - 5×300 = 500 < 600.
        assert_eq!(g.held_by(&mut st, 6), Some("memfree"));
        // The tasks have taken their memory: what is available says it all.
        for s in 0..5 {
            st.slots[s].rss = 300;
        }
        st.learned = 300;
        st.avail = Some(700);
        assert_eq!(g.held_by(&mut st, 6), None);
        st.avail = Some(599);
        assert_eq!(g.held_by(&mut st, 6), Some("memfree"));
    }

    #[test]
    fn jobs_file_caps_running_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("jobs");
        std::fs::write(&f, "2\n").unwrap();
        let g = Gate::new(
            &Sched {
                jobs_file: Some(f.clone()),
                ..spec()
            },
            8,
            true,
        )
        .expect("active");
        let idle = Busy(0);
        assert!(g.slot_open(&idle, 2));
        assert!(!g.slot_open(&idle, 3));
        let mut st = g.lock();
        st.slots[4].started = Some(Instant::now());
        st.slots[5].started = Some(Instant::now());
        // Slot 1 may not start while two others run (a narrowed run lets them finish), nor
        // take a task while two are not over.
        assert_eq!(g.held_by(&mut st, 1), Some("-j FILE"));
        drop(st);
        assert!(!g.slot_open(&Busy(2), 1));
        let mut st = g.lock();
        st.slots[5].started = None;
        assert_eq!(g.held_by(&mut st, 1), None);
        drop(st);
        assert!(g.slot_open(&Busy(1), 1));
        // An empty file (being rewritten) keeps the count; a new value takes over at once
        // when a task ends.
        std::fs::write(&f, "").unwrap();
        g.ended(5);
        assert_eq!(g.lock().jobs, 2);
        std::fs::write(&f, "100\n").unwrap();
        g.ended(5);
        assert_eq!(g.lock().jobs, 8, "capped at the pool's slots");
    }
}
