//! Pools run tasks. [`Run`] is what the pool, the source, the merger and the signal thread
//! share, in three rooms: the run state ([`state::RunState`]: stop, halt, input progress, the
//! `-k` head of line), the slot table ([`slots::SlotTable`]: each slot's child, `{%}`, how
//! children are ended; what the watchdog and the gate see) and the lifecycle's shared values
//! ([`life::Lifecycle`], with the task's-life policy both pools follow).
//!
//! Both pools ([`thread`]: a child per task; [`process`]: long-lived workers) run their
//! processes as one supervised [`child::Child`] and pass what those write through one
//! [`sink::Sink`] per task or job; they only move bytes and report outcomes.

pub(crate) mod child;
pub(crate) mod feed;
pub(crate) mod life;
pub(crate) mod process;
pub(crate) mod queue;
pub(crate) mod sink;
pub(crate) mod slots;
pub(crate) mod state;
pub(crate) mod thread;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::config::Config;
use crate::template::Rendered;

/// Whether, in a run of `cfg`, the merger may be spared the tasks that print nothing
/// ([`silent`]): with no `-k` order to keep, no job-log row, no `--files` name and no
/// progress display, all it does for one is count it (and say that `--halt` stopped the run,
/// which [`Run::end_or_tally`] leaves to it). The pool counts them in the run state instead
/// ([`state::RunState::tally`]), and the merger adds them up when it ends: a task of `true`
/// then wakes no thread but its slot.
pub(crate) fn counts_only(cfg: &Config) -> bool {
    let jc = &cfg.jobs_ctl;
    !cfg.keep_order && jc.joblog.is_none() && !jc.files && !jc.bar && !jc.eta
}

/// Whether a finished task has nothing for the merger but its count: no output (not even a
/// line of parx's own), and not one that a failed spill may have cut short (the merger does
/// not print such a task: see [`crate::merge`]).
pub(crate) fn silent(f: &crate::task::Finished) -> bool {
    f.stdout.is_empty()
        && f.stderr.is_empty()
        && f.more == 0
        && (f.outcome.success() || !crate::output::spill_failed())
}

/// Who a process runs for: its task's `{#}` (none for a `--pool process` worker) and slot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spawn<'a> {
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
pub(crate) fn command(rendered: &Rendered, program: Option<&OsStr>, who: Spawn) -> Command {
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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::sys;
use life::Lifecycle;
use slots::SlotTable;
use state::RunState;

/// What a slot thread runs.
pub(crate) type SlotBody = Box<dyn FnOnce() + Send>;

/// A pool's slot threads, started as tasks arrive: when the n-th task is known, slot n starts
/// (up to `-j`), so a run of one task starts one thread whatever `-j` is, and a run of many
/// starts them at the pace tasks come. What starts a slot holds the pool's ends of the
/// channels; it is dropped once no more slot will start (every one started, the input read to
/// its end, or a slot ended: the pool is ending), so that the merger sees the pool done when
/// the started slots are.
pub(crate) struct Launcher {
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
    pub(crate) fn lazy(
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
    pub(crate) fn started(threads: Vec<JoinHandle<()>>) -> Arc<Launcher> {
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
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `tasks` tasks are known: starts slots until `min(tasks, -j)` run. Call it before the
    /// task is sent (a `--pipe` chunk waits on its channel until a slot takes it). When no
    /// thread can be started, the run goes on with the slots there are; when not even one
    /// can, it stops with an error.
    pub(crate) fn grow(self: &Arc<Self>, tasks: u64, ctl: &Run) {
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
    pub(crate) fn close(&self) {
        let body = self.lock().body.take();
        self.settled.store(usize::MAX, Ordering::Release);
        // Dropped outside the lock: it holds channel ends.
        drop(body);
    }

    /// Waits for the slots started (after [`Launcher::close`]).
    pub(crate) fn join(&self) {
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

/// What the pool, the source, the merger and the signal thread share of a run: its state
/// (flags, counters, `--halt`), its slot table (the children, ended from there) and the
/// lifecycle's shared values. Each part has its own room; this only ties them together where
/// a task's end touches more than one.
#[derive(Debug)]
pub(crate) struct Run {
    /// Stop, no-new, error, halt, input progress, head.
    pub state: Arc<RunState>,
    /// The slots' children and `{%}` numbers; what the watchdog and the gate see.
    pub slots: Arc<SlotTable>,
    /// Pacing, run times, `--results`.
    pub life: Lifecycle,
}

impl Run {
    /// A run with `jobs` idle slots, whose state starts as `state`, its tasks' lives as
    /// `life` says.
    pub(crate) fn new(jobs: usize, state: RunState, life: Lifecycle) -> Run {
        let state = Arc::new(state);
        Run {
            slots: Arc::new(SlotTable::new(jobs, state.clone())),
            state,
            life,
        }
    }

    /// The slot table, to set it up before the run starts (its watchdog, gate, `--termseq`).
    pub(crate) fn slots_mut(&mut self) -> &mut SlotTable {
        Arc::get_mut(&mut self.slots).expect("the slot table is set up before the run starts")
    }

    /// Stops the run: no new task starts, and every running task's group gets `sig`.
    pub(crate) fn stop(&self, sig: i32) {
        self.slots.stop(sig);
    }

    /// Reports one of parx's own errors; the run will exit 255.
    pub(crate) fn error(&self, msg: impl std::fmt::Display) {
        self.state.error(msg);
    }

    /// Whether a new task (or a retry) may start.
    pub(crate) fn may_start(&self) -> bool {
        self.state.may_start()
    }

    /// Called by a pool when a task has finished for good (after its last attempt), before its
    /// slot may start another task: applies `--halt` (no new tasks; with `now`, TERM to every
    /// running task — the merger's [`crate::observe::Observer`] sends the KILL after a grace).
    pub(crate) fn task_ended(&self, seq: u64, outcome: crate::task::Outcome) {
        use crate::halt::When;
        let Some(h) = &self.state.halt else { return };
        let total = self
            .state
            .total()
            .unwrap_or_else(|| self.state.tasks_read.load(Ordering::Acquire));
        let when = h
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .observe(seq, outcome, total);
        match when {
            None => {}
            Some(When::Soon) => self.state.no_new_tasks(),
            Some(When::Now) => {
                self.state.no_new_tasks();
                self.stop(libc::SIGTERM);
            }
        }
    }

    /// A task (or a block of `1 + more` tasks ending alike) has finished for good: `--halt`
    /// hears of each, then the merger gets it. `false`: the merger is gone.
    pub(crate) fn end(
        &self,
        fin: crate::task::Finished,
        to: &crossbeam_channel::Sender<crate::task::Msg>,
    ) -> bool {
        for seq in fin.seq..=fin.seq + fin.more {
            self.task_ended(seq, fin.outcome);
        }
        to.send(crate::task::Msg::Done(Box::new(fin))).is_ok()
    }

    /// [`Run::end`] in a run where the merger may only count some tasks ([`counts_only`]): a
    /// task it would only count ([`silent`])
    /// is counted in the run state, and the merger is not woken for it, unless `--halt` has
    /// decided to stop the run (the merger says so when it hears of a task).
    pub(crate) fn end_or_tally(
        &self,
        fin: crate::task::Finished,
        to: &crossbeam_channel::Sender<crate::task::Msg>,
    ) -> bool {
        if !silent(&fin) {
            return self.end(fin, to);
        }
        self.task_ended(fin.seq, fin.outcome);
        if self.state.halt_decided() {
            return to.send(crate::task::Msg::Done(Box::new(fin))).is_ok();
        }
        self.state.tally(!fin.outcome.success());
        true
    }
}
