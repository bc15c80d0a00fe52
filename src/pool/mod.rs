//! Pools run tasks. [`Control`] is what the pool, the merger and the signal thread share:
//! the stop flag, the process group of the task in each slot, and the `-k` head of line.
//!
//! Both pools ([`thread`]: a child per task; [`process`]: long-lived workers) run their
//! processes as one supervised [`child::Child`] and pass what those write through one
//! [`sink::Sink`] per task or job; they only move bytes and report outcomes.

pub mod child;
pub mod feed;
pub mod ledger;
pub mod process;
pub(crate) mod sink;
pub mod thread;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::config::Config;
use crate::template::Rendered;

/// Who a process runs for: its task's `{#}` (none for a `--pool process` worker) and slot.
#[derive(Clone, Copy, Debug)]
pub struct Spawn<'a> {
    /// The run's configuration (`--nice`, `--process-slot-var`, `--tmpdir`).
    pub cfg: &'a Config,
    /// The task's sequence number (`PARALLEL_SEQ`); `None` for a long-lived worker.
    pub seq: Option<u64>,
    /// The job slot (`PARALLEL_JOBSLOT`).
    pub slot: usize,
}

/// The process for a rendered command: the argv exec'd directly (`program`: where its first
/// word was found in PATH, if looked up), or the script run by `sh -c`. Its environment has
/// `PARALLEL_SEQ` and `PARALLEL_JOBSLOT` (as under GNU parallel), the `--process-slot-var`
/// variable (as under xargs) and `TMPDIR` from `--tmpdir`; it runs under `--nice`. A program
/// that is an executable file without `#!` and not a binary runs with `/bin/sh`, as execvp(3)
/// does on ENOEXEC (xargs and GNU parallel run such scripts).
pub fn command(rendered: &Rendered, program: Option<&OsStr>, who: Spawn) -> Command {
    let mut c = match rendered {
        Rendered::Argv(a) => {
            let prog = program.unwrap_or(&a[0]);
            if needs_sh(prog) {
                let mut c = Command::new("/bin/sh");
                c.arg(prog).args(&a[1..]);
                c
            } else {
                let mut c = Command::new(prog);
                // The program sees its name as given (`ls`, not the path found for it), as
                // execvp(3) and a shell pass it.
                c.arg0(&a[0]).args(&a[1..]);
                c
            }
        }
        Rendered::Shell(s) => {
            let mut c = Command::new(who.cfg.compat.shell.as_deref().unwrap_or("sh".as_ref()));
            c.arg("-c").arg(OsStr::from_bytes(s));
            c
        }
    };
    let compat = &who.cfg.compat;
    // GNU xargs sets no variables of its own (only --process-slot-var's).
    if compat.xargs.is_none() {
        if let Some(seq) = who.seq {
            c.env("PARALLEL_SEQ", seq.to_string());
        }
        c.env("PARALLEL_JOBSLOT", who.slot.to_string());
    }
    if let Some(var) = &compat.process_slot_var {
        // xargs counts slots from 0.
        c.env(var, (who.slot - 1).to_string());
    }
    if let Some(dir) = &compat.tmpdir {
        c.env("TMPDIR", dir);
    }
    if let Some(n) = compat.nice {
        sys::nice_in_child(&mut c, n);
    }
    c
}

/// The stdin of a task that is fed no chunk. A terminal that cannot be opened leaves the task
/// /dev/null.
pub(crate) fn task_stdin(what: crate::config::TaskStdin) -> std::process::Stdio {
    use crate::config::TaskStdin;
    use std::process::Stdio;
    match what {
        TaskStdin::Null => Stdio::null(),
        TaskStdin::Inherit => Stdio::inherit(),
        TaskStdin::Tty => {
            std::fs::File::open("/dev/tty").map_or_else(|_| Stdio::null(), Stdio::from)
        }
    }
}

/// Whether `prog` (a path, or a name exec will look up) is an executable file that execve(2)
/// would refuse with ENOEXEC: no `#!` and no ELF header. Looks only at paths (a name found in
/// PATH by the pool is a path by now). The answer for the last path a slot thread asked about
/// is kept (as the pool keeps its PATH lookup), sparing an open and a read per task.
fn needs_sh(prog: &OsStr) -> bool {
    use std::cell::RefCell;
    use std::ffi::OsString;
    thread_local! {
        static LAST: RefCell<Option<(OsString, bool)>> = const { RefCell::new(None) };
    }
    if !prog.as_bytes().contains(&b'/') {
        return false;
    }
    LAST.with_borrow_mut(|last| match last {
        Some((p, answer)) if p == prog => *answer,
        _ => {
            let answer = read_needs_sh(prog);
            *last = Some((prog.to_owned(), answer));
            answer
        }
    })
}

/// [`needs_sh`] for a path, reading the file's first bytes.
fn read_needs_sh(prog: &OsStr) -> bool {
    use std::io::Read;
    let Ok(mut f) = std::fs::File::open(prog) else {
        return false;
    };
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let head = &head[..n];
    !(head.starts_with(b"#!") || head.starts_with(b"\x7fELF")) && is_executable_file(&f)
}

fn is_executable_file(f: &std::fs::File) -> bool {
    use std::os::unix::fs::PermissionsExt;
    f.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::gate::{self, Gate};
use crate::sys;

/// What a slot thread runs.
pub type SlotBody = Box<dyn FnOnce() + Send>;

/// A pool's slot threads, started as tasks arrive: when the n-th task is known, slot n starts
/// (up to `-j`), so a run of one task starts one thread whatever `-j` is, and a run of many
/// starts them at the pace tasks come. What starts a slot holds the pool's ends of the
/// channels; it is dropped once no more slot will start (every one started, the input read to
/// its end, or a slot ended: the pool is ending), so that the merger sees the pool done when
/// the started slots are.
pub struct Launcher {
    /// `-j`.
    jobs: usize,
    /// Slots started so far, or `usize::MAX` once no more will (read without the lock).
    settled: AtomicUsize,
    state: Mutex<Launch>,
}

struct Launch {
    /// Makes the body of slot n; `None` once no more slot will start.
    body: Option<Box<dyn FnMut(usize) -> SlotBody + Send>>,
    /// The thread name's prefix (`parx-slot`: the threads are `parx-slot-1`, ...).
    name: &'static str,
    stack: usize,
    started: usize,
    threads: Vec<JoinHandle<()>>,
}

impl Launcher {
    /// Slot threads named `name-N` with `stack` bytes of stack, running `body(N)`, started as
    /// [`Launcher::grow`] says.
    pub fn lazy(
        jobs: usize,
        name: &'static str,
        stack: usize,
        body: impl FnMut(usize) -> SlotBody + Send + 'static,
    ) -> Arc<Launcher> {
        Arc::new(Launcher {
            jobs,
            settled: AtomicUsize::new(0),
            state: Mutex::new(Launch {
                body: Some(Box::new(body)),
                name,
                stack,
                started: 0,
                threads: Vec::new(),
            }),
        })
    }

    /// A pool whose threads are all started already.
    pub fn started(threads: Vec<JoinHandle<()>>) -> Arc<Launcher> {
        Arc::new(Launcher {
            jobs: threads.len(),
            settled: AtomicUsize::new(usize::MAX),
            state: Mutex::new(Launch {
                body: None,
                name: "",
                stack: 0,
                started: threads.len(),
                threads,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Launch> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `tasks` tasks are known: starts slots until `min(tasks, -j)` run. Call it before the
    /// task is sent (a `--pipe` chunk waits on its channel until a slot takes it). When no
    /// thread can be started, the run goes on with the slots there are; when not even one
    /// can, it stops with an error.
    pub fn grow(self: &Arc<Self>, tasks: u64, ctl: &Control) {
        let want = usize::try_from(tasks).unwrap_or(usize::MAX).min(self.jobs);
        if self.settled.load(Ordering::Acquire) >= want {
            return;
        }
        let mut st = self.lock();
        while st.started < want {
            let slot = st.started + 1;
            let Some(make) = st.body.as_mut() else { break };
            let body = make(slot);
            let me = self.clone();
            let started = std::thread::Builder::new()
                .name(format!("{}-{slot}", st.name))
                .stack_size(st.stack)
                .spawn(move || {
                    // When the slot ends (even by a panic), the pool is ending.
                    let _ending = CloseOnDrop(&me);
                    body();
                });
            match started {
                Ok(t) => {
                    st.threads.push(t);
                    st.started = slot;
                    self.settled.store(slot, Ordering::Release);
                }
                // Out of threads (a process or memory limit): run with the slots there are.
                Err(e) if slot > 1 => {
                    crate::messages::note(format_args!(
                        "-j {}: running {} slots only, no more threads could be started ({e})",
                        self.jobs,
                        slot - 1
                    ));
                    st.body = None;
                }
                Err(e) => {
                    ctl.error(format_args!("cannot start a job slot (a thread): {e}"));
                    ctl.stop(libc::SIGTERM);
                    st.body = None;
                }
            }
        }
        if st.started == self.jobs || st.body.is_none() {
            st.body = None;
            self.settled.store(usize::MAX, Ordering::Release);
        }
    }

    /// No more slot will start (the input is read to its end, or the pool is ending).
    pub fn close(&self) {
        let body = self.lock().body.take();
        self.settled.store(usize::MAX, Ordering::Release);
        // Dropped outside the lock: it holds channel ends.
        drop(body);
    }

    /// Waits for the slots started (after [`Launcher::close`]).
    pub fn join(&self) {
        let threads = std::mem::take(&mut self.lock().threads);
        for t in threads {
            let _ = t.join();
        }
    }
}

/// Closes a [`Launcher`] when dropped.
struct CloseOnDrop<'a>(&'a Launcher);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A slot's marker while it spawns a child whose pid is not known yet.
const SPAWNING: i32 = -1;
/// After a stop, when a slot whose task's group outlives its leader KILLs that group itself,
/// if [`Control::end_children`] has not (with no `--termseq`): the longest grace that the
/// callers of `end_children` give, and a margin.
const STOP_KILL_FALLBACK: Duration = Duration::from_millis(2500);

/// Shared run state.
#[derive(Debug)]
pub struct Control {
    stop: AtomicBool,
    /// When the run began to stop.
    stopped_at: std::sync::OnceLock<Instant>,
    /// `--halt soon`: start no new task (running ones go on).
    no_new: AtomicBool,
    /// Tasks read from the input so far (those that run: not skipped ones).
    pub tasks_read: AtomicU64,
    /// The input has been read to its end (`tasks_read` is the total).
    pub input_done: AtomicBool,
    /// `--results`: where each task's outputs are stored (set before the run starts).
    pub results: Option<crate::results::Results>,
    /// `--halt`: the decision, taken by the pool as each task ends (before its slot can
    /// start another), via [`Control::task_ended`].
    pub halt: Option<Mutex<crate::halt::HaltState>>,
    /// The orphan guard (set before the run starts, watching the slots' process groups).
    watchdog: Option<crate::watchdog::Watchdog>,
    /// `--delay`: when the next task may start.
    next_start: Mutex<Option<Instant>>,
    /// Process group of the child running in each slot (index slot-1), 0 when idle. Leaked:
    /// the orphan watchdog reads it, even after parx is gone (see [`crate::watchdog`]).
    slots: &'static [AtomicI32],
    /// `{%}` numbers in use (index n-1): a task gets the lowest free one, as in GNU parallel,
    /// whichever slot thread runs it.
    jobslots: Mutex<Vec<bool>>,
    /// Held by the slot thread taking the next task and its `{%}` (see [`Control::next_task`]).
    receiving: Mutex<()>,
    /// `--termseq`: how parx ends running tasks when it stops them (halt, interrupt, closed
    /// stdout), each signal with the wait after it; `None`: TERM, then KILL after a grace.
    pub termseq: Option<Vec<(i32, Duration)>>,
    /// With `-k`: the sequence number the merger prints next (its output may stream through).
    pub head: AtomicU64,
    /// parx itself failed somewhere (reported already): the run ends with status 255.
    error: AtomicBool,
    /// `--timeout N%`: recent task run times.
    pub runtimes: Mutex<crate::units::Median>,
    /// `--load`, `--memfree`, `--memsuspend`, `-j FILE`: the scheduler gate (set before the
    /// run starts; see [`crate::gate`]).
    pub gate: Option<Arc<Gate>>,
}

impl Control {
    /// State for `jobs` slots.
    pub fn new(jobs: usize) -> Control {
        Control {
            stop: AtomicBool::new(false),
            stopped_at: std::sync::OnceLock::new(),
            no_new: AtomicBool::new(false),
            tasks_read: AtomicU64::new(0),
            input_done: AtomicBool::new(false),
            next_start: Mutex::new(None),
            results: None,
            halt: None,
            watchdog: None,
            slots: Vec::leak((0..jobs).map(|_| AtomicI32::new(0)).collect()),
            jobslots: Mutex::new(vec![false; jobs]),
            receiving: Mutex::new(()),
            termseq: None,
            head: AtomicU64::new(1),
            error: AtomicBool::new(false),
            runtimes: Mutex::new(crate::units::Median::default()),
            gate: None,
        }
    }

    /// Reports one of parx's own errors (`parx: <msg>` on stderr); the run will exit 255.
    pub fn error(&self, msg: impl std::fmt::Display) {
        crate::messages::error(msg);
        self.error.store(true, Ordering::SeqCst);
    }

    /// Waits up to `wait` for the next task and takes its `{%}` in the same step, so that
    /// tasks take `{%}` numbers in the order they leave the channel (input order), as GNU
    /// parallel numbers them in start order. Give the number back with
    /// [`Control::release_jobslot`] when the task has ended.
    pub fn next_task<T>(
        &self,
        tasks: &crossbeam_channel::Receiver<T>,
        wait: Duration,
    ) -> Result<(T, usize), crossbeam_channel::RecvTimeoutError> {
        let _turn = self.receiving.lock().unwrap_or_else(|e| e.into_inner());
        let task = tasks.recv_timeout(wait)?;
        Ok((task, self.take_jobslot()))
    }

    /// [`Control::next_task`] under `--delay`: the slot waits for its start time before it
    /// takes a task, in turn with the others, so tasks start in input order, `delay` apart
    /// (GNU parallel's one dispatcher does the same: `--delay 0.1 echo ::: a b c` prints a, b,
    /// c). Pacing after taking it let a later task win the first start.
    pub fn next_task_paced<T>(
        &self,
        tasks: &crossbeam_channel::Receiver<T>,
        wait: Duration,
        delay: Duration,
    ) -> Result<(T, usize), crossbeam_channel::RecvTimeoutError> {
        let _turn = self.receiving.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = self.next_start.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = *next {
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
        }
        let task = tasks.recv_timeout(wait)?;
        *next = Some(Instant::now() + delay);
        Ok((task, self.take_jobslot()))
    }

    /// Takes the lowest free `{%}` number (1-based).
    fn take_jobslot(&self) -> usize {
        let mut used = self.jobslots.lock().unwrap_or_else(|e| e.into_inner());
        match used.iter().position(|u| !u) {
            Some(i) => {
                used[i] = true;
                i + 1
            }
            None => {
                used.push(true);
                used.len()
            }
        }
    }

    /// Gives back a `{%}` number taken with [`Control::take_jobslot`].
    pub fn release_jobslot(&self, n: usize) {
        let mut used = self.jobslots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(u) = used.get_mut(n - 1) {
            *u = false;
        }
        drop(used);
        if let Some(g) = &self.gate {
            g.changed();
        }
    }

    /// How many `{%}` numbers are taken (tasks not over).
    fn jobslots_taken(&self) -> usize {
        let used = self.jobslots.lock().unwrap_or_else(|e| e.into_inner());
        used.iter().filter(|&&u| u).count()
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

    /// Called by a pool when a task has finished for good (after its last attempt), before its
    /// slot may start another task: applies `--halt` (no new tasks; with `now`, TERM to every
    /// running task — the merger's [`crate::observe::Observer`] sends the KILL after a grace).
    pub fn task_ended(&self, seq: u64, outcome: crate::task::Outcome) {
        use crate::halt::When;
        let Some(h) = &self.halt else { return };
        let total = self
            .total()
            .unwrap_or_else(|| self.tasks_read.load(Ordering::Acquire));
        let when = h
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(seq, outcome, total);
        match when {
            None => {}
            Some(When::Soon) => self.no_new_tasks(),
            Some(When::Now) => {
                self.no_new_tasks();
                self.stop(libc::SIGTERM);
            }
        }
    }

    /// Whether a new task (or a retry) may start: not stopping, no `--halt soon` (this run's,
    /// or a `--slurm` run's over all shards: [`crate::shard::stopped`]), no failed spill
    /// (output is incomplete: see [`crate::output::spill_failed`]).
    pub fn may_start(&self) -> bool {
        !self.stopping()
            && !self.no_new.load(Ordering::SeqCst)
            && !crate::output::spill_failed()
            && !crate::shard::stopped()
    }

    /// `--halt soon`: no new task starts; running ones finish.
    pub fn no_new_tasks(&self) {
        self.no_new.store(true, Ordering::SeqCst);
    }

    /// The number of tasks, once the input has been read to its end.
    pub fn total(&self) -> Option<u64> {
        self.input_done
            .load(Ordering::Acquire)
            .then(|| self.tasks_read.load(Ordering::Acquire))
    }

    /// `--delay`: waits until `delay` has passed since the previous task start (over all
    /// slots), and books this start.
    pub fn pace(&self, delay: Duration) {
        let mut next = self.next_start.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some(at) = *next {
            if at > now {
                std::thread::sleep(at - now);
            }
        }
        *next = Some(Instant::now() + delay);
    }

    /// Sets the orphan guard: it ends the slots' process groups if parx dies (the slots'
    /// table moves to where the watchdog reads it).
    pub fn set_watchdog(&mut self, w: crate::watchdog::Watchdog) -> std::io::Result<()> {
        self.slots = w.table(self.slots.len())?;
        self.watchdog = Some(w);
        Ok(())
    }

    /// parx is about to exit: the orphan guard ends whatever task group is still live, and
    /// is reaped.
    pub fn finish_watchdog(&self) {
        if let Some(w) = &self.watchdog {
            w.finish();
        }
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
        if let Some(g) = &self.gate {
            g.ended(slot);
        }
    }

    // ---- the scheduler gate (issue 13; see crate::gate) ----

    /// The process group of the child in `slot` (0 when idle, negative while spawning).
    pub fn child(&self, slot: usize) -> i32 {
        self.slots[slot - 1].load(Ordering::SeqCst)
    }

    /// Waits until the resources (`--load`, `--memfree`, `--memsuspend`, `-j FILE`) let a
    /// task start in `slot`, and books it. `false`: the run stopped meanwhile.
    pub fn admit(&self, slot: usize) -> bool {
        match &self.gate {
            Some(g) => g.admit(self, slot),
            None => true,
        }
    }

    /// Whether `slot` may take a new task (`-j FILE` may have narrowed the run below it);
    /// waits a little when it may not.
    pub fn slot_open(&self, slot: usize) -> bool {
        self.gate.as_ref().is_none_or(|g| g.slot_open(self, slot))
    }

    /// Whether the task that just ended in `slot` was killed by `--memfree` and must run
    /// again (not counted as an attempt).
    pub fn take_requeue(&self, slot: usize) -> bool {
        self.gate.as_ref().is_some_and(|g| g.take_requeue(slot))
    }

    /// Whether a task may be killed by `--memfree` and run again: its output is then held
    /// until it ends (never streamed early), so that none is printed twice.
    pub fn may_requeue(&self) -> bool {
        self.gate.as_ref().is_some_and(|g| g.may_requeue())
    }

    /// What a held-back task waits for (`--bar` shows it), if any.
    pub fn waiting(&self) -> Option<&'static str> {
        self.gate.as_ref().and_then(|g| g.waiting())
    }

    /// Starts the gate's monitor thread, if there is a gate (`--load`, `--memfree`,
    /// `--memsuspend`, `-j FILE`).
    pub fn start_gate_monitor(self: &Arc<Control>) -> std::io::Result<()> {
        match &self.gate {
            Some(g) => g.spawn_monitor(self.clone()),
            None => Ok(()),
        }
    }

    /// Stops the run: no new task starts, and every running task's group gets `sig` (with
    /// `--termseq`, a TERM is its first signal instead).
    pub fn stop(&self, sig: i32) {
        self.stopped_at.get_or_init(Instant::now);
        self.stop.store(true, Ordering::SeqCst);
        let sig = match &self.termseq {
            Some(seq) if sig == libc::SIGTERM => seq[0].0,
            _ => sig,
        };
        self.signal_all(sig);
    }

    fn signal_all(&self, sig: i32) {
        for s in self.slots {
            sys::kill_group(s.load(Ordering::SeqCst), sig);
        }
        if let Some(g) = &self.gate {
            // A group stopped by --memsuspend acts on the signal only once continued.
            g.resume_all(|slot| self.child(slot));
        }
    }

    /// The run is stopping and the leader of the group `pgid` has been reaped (its slot still
    /// holds the group): waits while the group holds a live process, which the stop's signals
    /// reach through the slot ([`Control::end_children`]). Should no KILL have come when the
    /// stop's sequence is over, the slot sends it; after the KILL's grace it waits no more.
    pub fn linger(&self, pgid: i32) {
        let Some(&since) = self.stopped_at.get() else {
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
    pub fn any_child(&self) -> bool {
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
impl gate::Slots for Control {
    fn pgid(&self, slot: usize) -> i32 {
        self.child(slot)
    }

    fn may_start(&self) -> bool {
        Control::may_start(self)
    }

    fn busy(&self) -> usize {
        self.jobslots_taken()
    }
}
