//! The process pool (`--pool process`): `-j` long-lived workers, each running the command
//! once, with tasks streamed to their stdin as records and results read back as records (the
//! map contract: one result per record, in the order the records were sent).
//!
//! Each slot has a thread that owns its worker's life ([`crate::pool::child`]: spawn, read,
//! reap) and a writer thread that feeds the worker's stdin. Records move in blocks: values
//! may come as blocks of tasks already (`TaskInput::Lines`, sent as they are and answered
//! from their front), and the writer takes every task waiting and sends them in one write;
//! the reader splits large reads with memchr and credits results to the tasks in flight by
//! count ([`Ledger`]).
//!
//! Dispatch ([`Pace`]): a worker holds at most its window of records, as many as take about
//! [`BUDGET`] to answer by their measured cost (one at a time for records of 10 ms and
//! more); a worker seen blocked reading its stdin while holding records unanswered (it
//! buffers its answers, or reads everything first) is given twice as much, so nothing
//! deadlocks.
//!
//! A worker that ends in any way with records unanswered is replaced, and those records are
//! re-run in isolation ([`Suspects`]) until the one that ends a worker alone is found: only
//! it is a failed attempt (`--retries`). A command whose fresh workers end without answering
//! anything, on [`GIVE_UP_AFTER`] different tasks in a row, stops the run.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::process::{ChildStdin, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{select, unbounded, Receiver, Sender, TryRecvError};

use crate::config::Config;
use crate::output::OutBuf;
use crate::pool::child::{self, Child, Spawned, IDLE_CHECK, KILL_GRACE};
use crate::pool::feed::{Fed, Feeder};
use crate::pool::ledger::{InFlight, Job, JobInput};
use crate::pool::sink::Sink;
use crate::pool::Control;
use crate::sys;
use crate::task::{Chunk, ChunkBody, Finished, Msg, Outcome, RunInfo, Task, TaskInput};
use crate::template::Ctx;

mod framed;
mod reader;
use reader::Reader;

/// The most records the cost rule lets a worker hold unanswered (one seen waiting for input
/// while it holds them is given more: see [`Pace::grow`]).
const SOFT_CAP: u64 = 16 << 10;
/// The same for chunks (each may be megabytes, kept until answered).
const CHUNK_SOFT_CAP: u64 = 2;
/// Bytes of records sent in one write.
const BATCH_BYTES: usize = 64 << 10;
/// Records sent in one write at most (a batch is answered by one worker: smaller batches
/// spread a short input over all workers).
const BATCH_RECORDS: u64 = 4096;
/// How long a writer waits for more values to fill a block before it sends what it has.
const GATHER: Duration = Duration::from_millis(2);
/// The nap between two looks for more values while gathering a block.
const GATHER_NAP: Duration = Duration::from_micros(250);
/// Bytes read from a worker's stdout at a time.
const READ_BUF: usize = 256 << 10;
/// Pipe buffer asked for on a worker's stdin.
const PIPE_SIZE: usize = 1 << 20;
/// Bytes of a stderr line without newline held back before they are written as they are
/// (a `\r` progress bar never ends its line).
const ERR_HOLD_MAX: usize = 64 << 10;
/// Different tasks in a row on which a fresh worker ended without answering anything before
/// parx gives up, when no worker of the run has answered anything (a broken command).
const GIVE_UP_AFTER: usize = 3;
/// The same when workers did answer earlier (the command broke during the run).
const GIVE_UP_ANYWAY: usize = 10;

/// Whether a task whose worker ended `failures` times on it may be sent once more: the one
/// place the process pool reads `--retries` (N runs in all; 0: until it succeeds).
fn may_retry(cfg: &Config, failures: u32) -> bool {
    cfg.jobs_ctl.may_rerun(failures)
}

/// How much work in flight, in time, the window of a worker aims at: records go out in
/// blocks of about this much work (a write per block), and when the input ends no worker
/// holds more than about this much while another has nothing.
const BUDGET: Duration = Duration::from_millis(10);
/// How long a worker holding records and answering nothing waits before parx looks whether
/// it is blocked reading its stdin (it holds its answers until it reads more).
const PROBE_AFTER: Duration = Duration::from_micros(200);
/// How often at most parx looks at a worker that has not answered yet.
const START_LOOK: Duration = Duration::from_millis(1);
/// How soon parx looks again to confirm a worker it saw waiting for input.
const PROBE_AGAIN: Duration = Duration::from_micros(100);
/// How long without an answer counts as a stall when parx cannot see what a worker is doing
/// (a shell pipeline as the worker): its window grows all the same.
const STALL: Duration = Duration::from_millis(50);
/// The same before a worker has answered anything: it may still be starting (an
/// interpreter, a model to load).
const START_STALL: Duration = Duration::from_secs(1);
/// How much each new measurement of a record's cost counts against the old ones.
const DECAY: f64 = 0.8;

/// One slot's dispatch state: what its worker holds, what a record costs it, and so how
/// many records it may hold (its window).
#[derive(Clone, Debug)]
struct Pace {
    /// Records (chunks) outstanding; `None`: no live worker in that slot.
    held: Option<u64>,
    /// Seconds of answering and records answered, as decaying sums (the cost of a record
    /// is their ratio).
    secs: f64,
    recs: f64,
    /// Since when the worker has held records without answering (its last answer, or when
    /// it was sent records while holding none).
    since: Instant,
    /// When it was last sent records.
    last_sent: Instant,
    /// It has answered something since it started.
    answered: bool,
    /// The least window the worker proved it needs: it was seen waiting for input while
    /// holding this many records unanswered (a block-buffered or read-everything worker).
    floor: u64,
}

impl Pace {
    fn new(now: Instant) -> Pace {
        Pace {
            held: None,
            secs: 0.0,
            recs: 0.0,
            since: now,
            last_sent: now,
            answered: false,
            floor: 1,
        }
    }

    /// Seconds per record, once measured.
    fn cost(&self) -> Option<f64> {
        (self.recs > 0.0).then(|| self.secs / self.recs)
    }

    /// Records it may hold: as many as take about [`BUDGET`] to answer (one while a record
    /// costs more; at most `cap`), but never fewer than it proved it needs.
    fn window(&self, cap: u64) -> u64 {
        let by_cost = match self.cost() {
            None => 1,
            Some(c) if c <= 0.0 => cap,
            Some(c) => ((BUDGET.as_secs_f64() / c).ceil() as u64).clamp(1, cap),
        };
        by_cost.max(self.floor)
    }

    /// `n` records were sent.
    fn sent(&mut self, n: u64, now: Instant) {
        self.last_sent = now;
        if let Some(h) = &mut self.held {
            if *h == 0 {
                self.since = now;
            }
            *h += n;
        }
    }

    /// `n` records were answered: measures their cost (the time since the worker last
    /// answered or was given work, spread over them).
    fn answered(&mut self, n: u64, now: Instant) {
        if let Some(h) = &mut self.held {
            *h = h.saturating_sub(n);
        }
        let dt = now.duration_since(self.since).as_secs_f64();
        self.secs = self.secs * DECAY + dt;
        self.recs = self.recs * DECAY + n as f64;
        self.since = now;
        self.answered = true;
    }

    /// How long it may hold records without answering before its window grows though parx
    /// cannot see it waiting for input.
    fn stall(&self) -> Duration {
        match self.cost() {
            Some(c) if self.answered => {
                let held = self.held.unwrap_or(0) as f64;
                STALL.max(Duration::from_secs_f64((4.0 * c * held).min(3600.0)))
            }
            _ => START_STALL,
        }
    }

    /// The worker waits for input while holding what it has: give it twice as much.
    fn grow(&mut self) {
        // Before its first answer it is filling an output buffer of unknown size: grow
        // fast (a block-buffered Python answers after about 8 KiB of results).
        let by = if self.answered { 2 } else { 8 };
        self.floor = self
            .floor
            .max(self.held.unwrap_or(0).saturating_mul(by))
            .max(2);
    }
}

/// What the slots share: each one's [`Pace`], the re-dispatch queue, the no-answer streak.
struct Shared {
    load: Mutex<Vec<Pace>>,
    turn: Condvar,
    /// Writers waiting in [`Shared::wait_turn`] (others need no wake-up).
    waiting: AtomicUsize,
    redo_tx: Sender<Job>,
    redo_rx: Receiver<Job>,
    /// The tasks on which workers ended in a row without answering anything.
    silent: Mutex<Vec<u64>>,
    /// Some worker of the run has answered something.
    ever_answered: AtomicBool,
    /// Some worker of the run answered records and exited 0 before its input ended.
    quota_seen: AtomicBool,
    /// Records (or chunks) the cost rule may let a worker hold at most.
    cap: u64,
}

/// Where a writer held back at its window resumes: half of it.
fn low_water(window: u64) -> u64 {
    window / 2
}

/// What a writer looks at to see its worker waiting for input: its pid, the pipes to it
/// and from it, and the thread reading its answers.
pub(super) struct Probe {
    pid: i32,
    stdin: i32,
    stdout: i32,
    /// `self/task/TID` of the slot thread that reads and credits its answers.
    reader: String,
}

impl Probe {
    /// What the worker is doing: `ReadingStdin` only when it is blocked reading its stdin
    /// with nothing left in it, none of its answers is unread, and parx's reader is not in
    /// the middle of crediting some (then it wants more input before it answers).
    fn look(&self) -> Option<sys::Doing> {
        let d = sys::doing(&self.pid.to_string())?;
        if d != sys::Doing::ReadingStdin {
            return Some(d);
        }
        let settled = sys::pipe_queued(self.stdin) == 0
            && sys::pipe_queued(self.stdout) == 0
            && sys::doing(&self.reader) != Some(sys::Doing::Running);
        Some(if settled {
            sys::Doing::ReadingStdin
        } else {
            sys::Doing::Blocked
        })
    }
}

impl Shared {
    fn new(jobs: usize, cap: u64) -> Shared {
        let (redo_tx, redo_rx) = unbounded();
        let now = Instant::now();
        Shared {
            load: Mutex::new(vec![Pace::new(now); jobs]),
            turn: Condvar::new(),
            waiting: AtomicUsize::new(0),
            redo_tx,
            redo_rx,
            silent: Mutex::new(Vec::new()),
            ever_answered: AtomicBool::new(false),
            quota_seen: AtomicBool::new(false),
            cap,
        }
    }

    /// A worker started in `slot` (`Some(0)`) or ended (`None`). A new worker keeps what
    /// the slot measured: it runs the same command on the same kind of records.
    fn set_load(&self, slot: usize, v: Option<u64>) {
        let mut g = self.load.lock().expect("load lock");
        let p = &mut g[slot - 1];
        p.held = v;
        p.since = Instant::now();
        p.answered = false;
        drop(g);
        self.wake();
    }

    /// `n` records were sent to the worker in `slot`.
    fn sent(&self, slot: usize, n: u64) {
        let mut g = self.load.lock().expect("load lock");
        g[slot - 1].sent(n, Instant::now());
    }

    /// `n` records were answered by the worker in `slot`.
    fn answered(&self, slot: usize, n: u64) {
        self.ever_answered.store(true, Ordering::Relaxed);
        let mut g = self.load.lock().expect("load lock");
        let p = &mut g[slot - 1];
        let window = p.window(self.cap);
        let was = p.held.unwrap_or(0);
        p.answered(n, Instant::now());
        let now = p.held.unwrap_or(0);
        drop(g);
        // A writer held back resumes when its worker is down to half its window, not at
        // every answer (a wake-up each way per read of the worker's output).
        let low = low_water(window);
        if was > low && now <= low {
            self.wake();
        }
    }

    /// Wakes the writers waiting for their turn, if any.
    fn wake(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.turn.notify_all();
        }
    }

    /// Records the worker in `slot` may be sent now (0: none).
    fn room(&self, slot: usize) -> u64 {
        let g = self.load.lock().expect("load lock");
        let p = &g[slot - 1];
        p.window(self.cap).saturating_sub(p.held.unwrap_or(0))
    }

    /// Waits until the worker in `slot` may take more work, or `quit` is set: until it
    /// holds less than its window (half of it, once held back), or it is seen waiting for
    /// input while holding what it has (then its window grows; see [`Pace::grow`]).
    fn wait_turn(&self, slot: usize, quit: &AtomicBool, probe: &Probe) {
        let mut g = self.load.lock().expect("load lock");
        let mut waited = false;
        // When the worker was first seen waiting for input, and what `since` was then: seen
        // twice in a row, with no answer between, it is really waiting (not an answer
        // being read by parx at that moment).
        let mut seen: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let p = &mut g[slot - 1];
            let held = p.held.unwrap_or(0);
            let window = p.window(self.cap);
            let limit = if waited {
                low_water(window) + 1
            } else {
                window
            };
            if held < limit || quit.load(Ordering::SeqCst) {
                return;
            }
            let silent = now.duration_since(p.since);
            let mut running = false;
            if silent >= PROBE_AFTER {
                match probe.look() {
                    Some(sys::Doing::ReadingStdin) => match seen {
                        Some(at) if at == p.since => {
                            p.grow();
                            return;
                        }
                        _ => seen = Some(p.since),
                    },
                    // Working on what it holds: it needs nothing more.
                    Some(sys::Doing::Running) => {
                        running = true;
                        seen = None;
                    }
                    Some(sys::Doing::Blocked) | None => seen = None,
                }
            }
            // Running all along may still be a worker spinning for input: it too is given
            // more in the end.
            if silent >= p.stall() * if running { 8 } else { 1 } {
                // parx cannot see why it does not answer: it may need more input all the
                // same (a shell pipeline as the worker), so it is given more, not starved.
                p.grow();
                p.since = now;
                return;
            }
            waited = true;
            // Look again soon while it is fresh (and to confirm it waits for input), then
            // less often (a worker on a slow record).
            let quiet = now.duration_since(p.since.max(p.last_sent));
            // Before its first answer a worker is looked at at least every START_LOOK: it
            // may be an interpreter about to block on its output buffer, waiting for more.
            let most = if p.answered { STALL } else { START_LOOK };
            let nap = match seen {
                Some(_) => PROBE_AGAIN,
                None => (quiet / 4).clamp(PROBE_AFTER, most),
            };
            self.waiting.fetch_add(1, Ordering::SeqCst);
            g = self.turn.wait_timeout(g, nap).expect("load lock").0;
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// A worker ended having answered something (`None`) or nothing while on task `seq`.
    /// Returns the tasks of the streak.
    fn silent_end(&self, seq: Option<u64>) -> Vec<u64> {
        let mut g = self.silent.lock().expect("silent lock");
        match seq {
            None => g.clear(),
            Some(s) if !g.contains(&s) => g.push(s),
            Some(_) => {}
        }
        g.clone()
    }
}

/// Starts the `-j` slots. They end when there is no more input and no task to redo.
pub fn start(
    cfg: &Arc<Config>,
    ctl: &Arc<Control>,
    tasks: Receiver<Task>,
    out: Sender<Msg>,
) -> Vec<JoinHandle<()>> {
    let cap = if cfg.chunks.is_some() {
        CHUNK_SOFT_CAP
    } else {
        SOFT_CAP
    };
    let shared = Arc::new(Shared::new(cfg.jobs, cap));
    (1..=cfg.jobs)
        .map(|slot| {
            let (cfg, ctl, tasks, out, shared) = (
                cfg.clone(),
                ctl.clone(),
                tasks.clone(),
                out.clone(),
                shared.clone(),
            );
            std::thread::Builder::new()
                .name(format!("parx-worker-{slot}"))
                .spawn(move || {
                    let s = Slot {
                        slot,
                        cfg: &cfg,
                        ctl: &ctl,
                        out: &out,
                        shared: &shared,
                        tasks: &tasks,
                    };
                    s.run();
                })
                .expect("cannot start a pool thread")
        })
        .collect()
}

/// What a worker is given.
enum Feed {
    /// Its first job, then whatever comes, as its window allows.
    Open(Job),
    /// Exactly these jobs, then the end of its input: records a dead worker left
    /// unanswered, re-run in isolation (see [`Suspects`]).
    Isolated(VecDeque<Job>),
}

/// How a worker ended.
struct Ended {
    /// The jobs it left unanswered, in the order they were sent.
    left: VecDeque<InFlight>,
    outcome: Outcome,
    /// Tasks it answered.
    answered: u64,
    timed_out: bool,
    /// Since when it was on its oldest unanswered job.
    since: Option<(Instant, SystemTime)>,
    /// parx had closed its stdin (the end of its input) on purpose.
    closed: bool,
}

/// What a writer thread works with besides the slot.
struct Writer<'a> {
    sent: &'a Mutex<VecDeque<InFlight>>,
    dead: &'a Receiver<()>,
    quit: &'a AtomicBool,
    probe: &'a Probe,
}

/// The search for the record that ends workers, among the records a dead worker left
/// unanswered. They are re-run in batches on fresh workers, each batch followed by the end
/// of input (so a worker that does not flush still hands over every answer): a batch
/// answered in full is done; one that ends its worker leaves its unanswered records in
/// front, the record among them. A batch of one task that ends its worker has found it.
/// Bisection, because a worker that does not flush dies with hundreds of answers in its
/// buffer: one record at a time would start a worker per record, halving starts a few per
/// record found. After a worker that flushed dies, the first record it left is tried alone
/// first: it is the one, and it is found at once.
#[derive(Debug)]
struct Suspects {
    queue: VecDeque<Job>,
    /// A record that ends workers is among the first `bound` tasks of the queue (`None`:
    /// perhaps none is; the rest goes as one batch).
    bound: Option<u64>,
    /// Try the first task alone next.
    front_first: bool,
    /// A worker exited 0 at the end of its input with records unanswered (the slot, the
    /// first of them, how many): unless one of them is found to end workers, it skipped
    /// records or split a result, and what it answered may be on the wrong records.
    skipped: Option<(usize, String, usize)>,
}

/// Tasks in a row of jobs.
fn tasks_in<'a>(jobs: impl Iterator<Item = &'a Job>) -> u64 {
    jobs.map(Job::tasks).sum()
}

impl Suspects {
    /// The records a worker left; `quota`: it answered some and exited 0 before its input
    /// ended (a worker that recycles itself), so they all go to the next one as they are.
    fn new(left: VecDeque<InFlight>, quota: bool) -> Suspects {
        let mut s = Suspects {
            queue: VecDeque::new(),
            bound: None,
            front_first: false,
            skipped: None,
        };
        s.failed(left, true, quota);
        s
    }

    /// Tasks in the next batch.
    fn size(&self) -> u64 {
        match self.bound {
            Some(_) if self.front_first => 1,
            Some(b) => b.div_ceil(2),
            None => tasks_in(self.queue.iter()),
        }
    }

    /// Takes the next batch off the front; returns it and its tasks.
    fn next_batch(&mut self) -> (VecDeque<Job>, u64) {
        let want = self.size().max(1);
        let (mut got, mut batch) = (0, VecDeque::new());
        while got < want {
            let Some(mut j) = self.queue.pop_front() else {
                break;
            };
            if let Some(rest) = j.split_after(want - got) {
                self.queue.push_front(rest);
            }
            got += j.tasks();
            batch.push_back(j);
        }
        (batch, got)
    }

    /// The batch of `n` tasks was answered in full.
    fn passed(&mut self, n: u64) {
        self.front_first = false;
        self.bound = match self.bound {
            Some(b) if b > n => Some(b - n),
            _ => None,
        };
    }

    /// A batch of several tasks ended its worker with `left` unanswered: the record is
    /// among them. After answers (a worker that flushes), the first of them goes alone;
    /// after a `quota` (see [`Suspects::new`]) they all go on as one batch.
    fn failed(&mut self, left: VecDeque<InFlight>, answered: bool, quota: bool) {
        self.bound = (!quota).then(|| tasks_in(left.iter().map(|p| &p.job)));
        for p in left.into_iter().rev() {
            self.queue.push_front(p.job);
        }
        self.front_first = answered && !quota;
    }
}

/// How the failure of a task a worker ended on is counted: a worker that exits with status
/// 0 but leaves a record unanswered failed it too.
fn failed(outcome: Outcome) -> Outcome {
    if outcome.success() {
        Outcome::IoError
    } else {
        outcome
    }
}

/// The next piece of work for a writer.
enum Next {
    Job(Job),
    /// No input is left (the writer closes the worker's stdin).
    End,
    /// The worker is gone; stop writing.
    Dead,
}

struct Slot<'a> {
    slot: usize,
    cfg: &'a Config,
    ctl: &'a Control,
    out: &'a Sender<Msg>,
    shared: &'a Shared,
    tasks: &'a Receiver<Task>,
}

impl Slot<'_> {
    fn run(&self) {
        let mut sus: Option<Suspects> = None;
        loop {
            if !self.ctl.may_start() {
                // --halt soon, or a stop: records not re-run yet never started again; they
                // get no job-log row (--resume runs them).
                return;
            }
            // Start a worker only when there is work for it.
            let (feed, tasks) = match &mut sus {
                Some(s) => {
                    let (batch, n) = s.next_batch();
                    (Feed::Isolated(batch), n)
                }
                None => match self.next_job(None) {
                    Next::Job(j) => (Feed::Open(j), 0),
                    Next::End | Next::Dead => return,
                },
            };
            let Some(end) = self.run_worker(feed) else {
                return;
            };
            if end.left.is_empty() {
                if end.answered > 0 {
                    self.shared.silent_end(None);
                }
                if let Some(s) = &mut sus {
                    s.passed(tasks);
                }
            } else if self.ctl.stopping() {
                self.halted(end);
                return;
            } else if self.give_up(&end) {
                return;
            } else {
                let clean = end.outcome == Outcome::Exited(0) && !end.timed_out;
                // It answered some records and stopped: before its input ended, or leaving
                // more than it answered (a quota; it may have read its input ahead).
                let left = tasks_in(end.left.iter().map(|p| &p.job));
                let quota = end.answered > 0 && clean && (!end.closed || left >= end.answered);
                if quota {
                    self.shared.quota_seen.store(true, Ordering::Relaxed);
                }
                // A worker that answers a quota and exits may have read all its input first:
                // once one is seen, an early end at the end of input is no sign of a skip.
                let quotas = self.shared.quota_seen.load(Ordering::Relaxed);
                let skipped = (clean && end.closed && !quota && !quotas).then(|| {
                    let first = end.left.front().expect("records unanswered").job.label();
                    (self.slot, first, end.left.len())
                });
                match &mut sus {
                    None => {
                        let s = sus.insert(Suspects::new(end.left, quota));
                        s.skipped = skipped;
                    }
                    Some(s) if tasks == 1 => {
                        // Found: it explains what the worker left.
                        self.poison(s, end);
                        s.skipped = None;
                    }
                    Some(s) => {
                        s.failed(end.left, end.answered > 0, quota);
                        s.skipped = s.skipped.take().or(skipped);
                    }
                }
            }
            if let Some(s) = sus.take_if(|s| s.queue.is_empty()) {
                self.unexplained(s);
            }
        }
    }

    /// The byte that ends a result, and whether it is stripped (never).
    /// Results are printed as the worker wrote them, their terminator included (never
    /// stripped), so they stay separable: `--result-end '\0'` gives NUL-ended results.
    fn result_end(&self) -> (u8, bool) {
        (self.cfg.result_end.unwrap_or(self.cfg.record_end()), false)
    }

    /// Takes the next job, waiting for one: tasks to redo first, then new tasks.
    fn next_job(&self, dead: Option<&Receiver<()>>) -> Next {
        let never = crossbeam_channel::never();
        let dead = dead.unwrap_or(&never);
        loop {
            if let Ok(j) = self.shared.redo_rx.try_recv() {
                return Next::Job(j);
            }
            // Look up now and then: after --halt or a stop no task may come for long.
            let idle = crossbeam_channel::after(IDLE_CHECK);
            return select! {
                recv(idle) -> _ => if self.ctl.may_start() {
                    continue;
                } else {
                    Next::End
                },
                recv(self.shared.redo_rx) -> j => match j {
                    Ok(j) => Next::Job(j),
                    Err(_) => Next::End,
                },
                recv(self.tasks) -> t => match t {
                    Ok(t) => match self.job_or_stop(t) {
                        Some(n) => n,
                        None => continue,
                    },
                    Err(_) => match self.shared.redo_rx.try_recv() {
                        Ok(j) => Next::Job(j),
                        Err(_) => Next::End,
                    },
                },
                recv(dead) -> _ => Next::Dead,
            };
        }
    }

    /// A job that arrives before `until`, if any (`End` when the input is over). Naps
    /// rather than waits on the channels: a wake-up per value is what blocks avoid.
    fn next_job_until(&self, until: Instant) -> Option<Next> {
        loop {
            if let Ok(j) = self.shared.redo_rx.try_recv() {
                return Some(Next::Job(j));
            }
            match self.tasks.try_recv() {
                Ok(t) => match self.job_or_stop(t) {
                    Some(n) => return Some(n),
                    None => continue,
                },
                Err(TryRecvError::Disconnected) => return Some(Next::End),
                Err(TryRecvError::Empty) => {}
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            std::thread::sleep(left.min(GATHER_NAP));
        }
    }

    /// The job of a task (`None`: the task failed on its own, take another).
    fn job_or_stop(&self, t: Task) -> Option<Next> {
        let seq = t.seq;
        let term = self.cfg.record_end();
        let split = match &t.input {
            // A frame holds any bytes (but no more than 4 GiB).
            TaskInput::Args(recs) if self.cfg.framed.is_some() => recs
                .iter()
                .any(|r| !framed::fits(r.iter().map(|c| c.len() + 1).sum())),
            TaskInput::Args(recs) => recs
                .iter()
                .flatten()
                .any(|c| c.as_encoded_bytes().contains(&term)),
            TaskInput::Chunk(_) | TaskInput::Lines(_) => false,
        };
        match self.job(t) {
            Ok(j) if split && self.cfg.framed.is_some() => {
                crate::messages::note(format_args!(
                    "{}: its value is larger than one frame holds (4 GiB): not sent, failed",
                    j.label()
                ));
                self.fail(InFlight::new(j), Outcome::IoError, RunInfo::default());
                None
            }
            Ok(j) if split => {
                // A worker would read it as two records and every later result would go to
                // the wrong task: it fails alone, named; the run goes on.
                crate::messages::note(format_args!(
                    "{}: its value holds the record separator ({:?}), which a worker reading one record per {} cannot tell from two records: not sent, failed",
                    j.label(),
                    char::from(term),
                    if term == b'\n' { "line" } else { "terminator" },
                ));
                self.fail(InFlight::new(j), Outcome::IoError, RunInfo::default());
                None
            }
            Ok(j) => Some(Next::Job(j)),
            Err(e) => {
                self.ctl.error(format_args!("task {seq}: {e}"));
                self.ctl.stop(libc::SIGTERM);
                Some(Next::End)
            }
        }
    }

    /// Turns a task into a job: its values, or its chunk (whose records are counted).
    fn job(&self, task: Task) -> io::Result<Job> {
        let seq = task.seq;
        let tag = self.cfg.jobs_ctl.tag.as_ref().map(|t| {
            t.expand_text(&Ctx {
                seq,
                slot: self.slot,
                records: task.template_records(),
            })
            .into_boxed_slice()
        });
        let (input, nrec) = match task.input {
            TaskInput::Chunk(c) => {
                let nrec = self.count_records(&c)?;
                (JobInput::Chunk(Arc::new(c)), nrec)
            }
            TaskInput::Args(records) => {
                let n = records.len() as u64;
                (JobInput::Records(records), n)
            }
            TaskInput::Lines(l) => {
                let n = l.count;
                (JobInput::Lines(l), n)
            }
        };
        Ok(Job {
            seq,
            nrec,
            input,
            failures: 0,
            tag,
        })
    }

    /// The records of a chunk (header included), by the chunk modes' own rules: the worker
    /// must answer each with one result.
    fn count_records(&self, c: &Chunk) -> io::Result<u64> {
        let rec = &self
            .cfg
            .chunks
            .as_ref()
            .expect("chunk tasks come from chunk modes")
            .rec;
        let head = crate::source::chunk::count_records(rec, &c.header);
        let body = match &c.body {
            ChunkBody::Bytes(b) => crate::source::chunk::count_records(rec, b),
            ChunkBody::File { file, offset, len } => {
                let mut buf = vec![0u8; *len as usize];
                file.file.read_exact_at(&mut buf, *offset)?;
                crate::source::chunk::count_records(rec, &buf)
            }
            // perf (issue 14): never made for the process pool (source::splice::usable).
            ChunkBody::Pipe(_) => unreachable!("spliced chunks go to the thread pool only"),
        };
        Ok(head + body)
    }

    /// Runs one worker until it ends (`None`: it could not start, the slot stops).
    fn run_worker(&self, feed: Feed) -> Option<Ended> {
        let rendered = self.cfg.template.render(&Ctx {
            seq: 0,
            slot: self.slot,
            records: &[],
        });
        // Gate hook: a worker starts only when --load/--memfree/--memsuspend allow.
        if !self.ctl.admit(self.slot) {
            return None;
        }
        let who = super::Spawn {
            cfg: self.cfg,
            seq: None,
            slot: self.slot,
        };
        let mut cmd = super::command(&rendered, None, who);
        let mut child = match Child::spawn(self.ctl, self.slot, &mut cmd, Stdio::piped()) {
            Spawned::Running(c) => c,
            Spawned::Stopping => return None,
            Spawned::Failed(e) => {
                let (msg, _) = crate::messages::spawn_error(cmd.get_program(), &e);
                self.ctl.error(format_args!("cannot start worker: {msg}"));
                self.ctl.stop(libc::SIGTERM);
                return None;
            }
        };
        self.shared.set_load(self.slot, Some(0));
        let stdin = child.take_stdin().expect("piped");
        let (mut stdout, mut stderr) = child.take_outputs();
        // Room for what a worker writes while the reader naps between small reads (a
        // block-buffered worker's flushes): with the default 64 KiB it would stall writing.
        sys::set_pipe_size(stdout.as_raw_fd(), PIPE_SIZE);
        let probe = Probe {
            pid: child.pgid,
            stdin: stdin.as_raw_fd(),
            stdout: stdout.as_raw_fd(),
            reader: format!("self/task/{}", sys::gettid()),
        };
        let sent = Mutex::new(VecDeque::new());
        let quit = AtomicBool::new(false);
        let (dead_tx, dead_rx) = crossbeam_channel::bounded::<()>(0);
        let reader = RefCell::new(Reader::new(self, &sent));
        let (closed, pumped) = std::thread::scope(|s| {
            let writer = s.spawn(|| {
                let w = Writer {
                    sent: &sent,
                    dead: &dead_rx,
                    quit: &quit,
                    probe: &probe,
                };
                self.write_loop(stdin, feed, &w)
            });
            let mut buf = vec![0u8; READ_BUF];
            let pumped = child::pump(
                child.pgid,
                (&mut stdout, &mut stderr),
                None,
                &mut buf,
                self.cfg
                    .compat
                    .termseq
                    .as_deref()
                    .unwrap_or(&child::END_SEQUENCE),
                || reader.borrow_mut().tick(),
                |stream, data| reader.borrow_mut().on(stream, data),
            );
            // Its stdout and stderr are closed: it can answer nothing more. One that goes on
            // running (perhaps not reading, with the writer stuck) is ended after a grace.
            child.end_within(KILL_GRACE);
            quit.store(true, Ordering::SeqCst);
            self.shared.turn.notify_all();
            drop(dead_tx);
            (writer.join().expect("writer thread"), pumped)
        });
        drop((stdout, stderr));
        if pumped.is_err() {
            child.signal(libc::SIGKILL);
        }
        let status = child.reap(pumped.as_ref().ok().and_then(|p| p.ending.clone()));
        self.shared.set_load(self.slot, None);
        let mut reader = reader.into_inner();
        reader.pull();
        let (outcome, timed_out) = match (pumped, status) {
            (Ok(p), Ok(st)) => (child::outcome(st), p.timed_out),
            // A failed spill (reported already): output is incomplete, the run stops and
            // the tasks in flight end as lost (see crate::merge).
            (Err(e), _) if crate::output::is_spill_error(&e) => {
                self.ctl.stop(libc::SIGTERM);
                (Outcome::IoError, false)
            }
            (Err(e), _) | (_, Err(e)) => {
                self.ctl.error(format_args!("worker {}: {e}", self.slot));
                (Outcome::IoError, false)
            }
        };
        if closed && outcome == Outcome::Exited(0) && !timed_out {
            // It ended by itself after its input: an unterminated last result is a result.
            // After a crash or a timeout it is a torn one, and its task is redone.
            let _ = reader.close_result();
        }
        let _ = reader.flush();
        Some(Ended {
            left: std::mem::take(&mut reader.ledger.jobs),
            outcome,
            answered: reader.answered,
            timed_out,
            since: reader.front_since,
            closed,
        })
    }

    /// Feeds jobs to the worker's stdin, in blocks, until input ends, `--max-tasks` is
    /// reached, or the worker stops reading; an isolated batch is sent whole and stdin
    /// closed after it. Returns whether it closed stdin on purpose.
    fn write_loop(&self, mut stdin: ChildStdin, feed: Feed, w: &Writer<'_>) -> bool {
        sys::set_pipe_size(stdin.as_raw_fd(), PIPE_SIZE);
        let max_tasks = self.cfg.max_tasks.unwrap_or(u64::MAX);
        let paced = self.cfg.jobs_ctl.delay;
        let (mut next, mut isolated) = match feed {
            Feed::Open(j) => (Some(j), None),
            Feed::Isolated(batch) => (None, Some(batch)),
        };
        let mut tasks_sent = 0u64;
        // The framed protocol's record ids: this worker's count of records.
        let mut ids = 0u64;
        let mut buf = Vec::with_capacity(BATCH_BYTES + (4 << 10));
        let mut batch = Vec::new();
        loop {
            let job = if let Some(jobs) = &mut isolated {
                match jobs.pop_front() {
                    Some(j) => j,
                    None => return true,
                }
            } else {
                match next.take() {
                    Some(j) => j,
                    None => {
                        if tasks_sent >= max_tasks {
                            return true;
                        }
                        self.shared.wait_turn(self.slot, w.quit, w.probe);
                        if w.quit.load(Ordering::SeqCst) || self.ctl.stopping() {
                            return false;
                        }
                        if !self.ctl.may_start() {
                            // --halt soon: what was sent is answered, nothing new goes out.
                            return true;
                        }
                        match self.next_job(Some(w.dead)) {
                            Next::Job(j) => j,
                            Next::End => return true,
                            Next::Dead => return false,
                        }
                    }
                }
            };
            if let Some(d) = paced {
                self.ctl.pace(d);
            }
            // A chunk goes alone; records gather into one block while tasks are waiting, as
            // many as the worker's window has room for (a block of values is split to fit:
            // the rest goes first in line for any worker).
            let chunk = match &job.input {
                JobInput::Chunk(c) => Some(c.clone()),
                JobInput::Records(_) | JobInput::Lines(_) => None,
            };
            let room = match isolated {
                Some(_) => u64::MAX,
                None => self.shared.room(self.slot).max(1),
            };
            let job = self.fit(job, room);
            buf.clear();
            self.encode(&job, &mut ids, &mut buf);
            let mut units = job.units();
            batch.push(InFlight::new(job));
            tasks_sent += 1;
            // An isolated batch goes in blocks too.
            if let (None, Some(jobs)) = (&chunk, &mut isolated) {
                while buf.len() < BATCH_BYTES
                    && jobs
                        .front()
                        .is_some_and(|j| !matches!(j.input, JobInput::Chunk(_)))
                {
                    let j = jobs.pop_front().expect("a front");
                    self.encode(&j, &mut ids, &mut buf);
                    units += j.units();
                    batch.push(InFlight::new(j));
                }
            }
            // Values trickle in one by one: wait a little for more, rather than pay a write
            // (and the worker a read, and a wake-up each side) per value.
            let until = Instant::now() + GATHER;
            while chunk.is_none()
                && isolated.is_none()
                && paced.is_none()
                && buf.len() < BATCH_BYTES
                && units < BATCH_RECORDS.min(room)
                && tasks_sent < max_tasks
                && self.ctl.may_start()
            {
                match self.next_job_until(until) {
                    Some(Next::Job(j)) if !matches!(j.input, JobInput::Chunk(_)) => {
                        let j = self.fit(j, room - units);
                        self.encode(&j, &mut ids, &mut buf);
                        units += j.units();
                        batch.push(InFlight::new(j));
                        tasks_sent += 1;
                    }
                    Some(Next::Job(j)) => {
                        next = Some(j);
                        break;
                    }
                    Some(Next::End | Next::Dead) | None => break,
                }
            }
            self.shared.sent(self.slot, units);
            // The reader must know of the jobs before the worker can answer them.
            w.sent.lock().expect("sent lock").extend(batch.drain(..));
            let res = match &chunk {
                Some(c) => match Feeder::new(c).feed(&mut stdin) {
                    Ok(Fed::Done) => Ok(()),
                    Ok(_) => Err(io::ErrorKind::BrokenPipe.into()),
                    Err(e) => Err(e),
                },
                None => stdin.write_all(&buf),
            };
            if res.is_err() {
                // The worker closed its stdin or died: the reader settles what is in flight.
                return false;
            }
        }
    }

    /// Appends `job`'s records to `buf` as the worker reads them: ended by the record
    /// terminator, or as frames (`--framed`, numbered by `ids`).
    fn encode(&self, job: &Job, ids: &mut u64, buf: &mut Vec<u8>) {
        match self.cfg.framed {
            Some(_) => framed::encode_job(job, ids, buf),
            None => job.encode(self.cfg.record_end(), buf),
        }
    }

    /// `job` cut to at most `room` tasks (a block of values; any other job is one task):
    /// the rest goes first in line for any worker.
    fn fit(&self, mut job: Job, room: u64) -> Job {
        if let Some(rest) = job.split_after(room.max(1)) {
            let _ = self.shared.redo_tx.send(rest);
        }
        job
    }

    /// Isolation is over: a worker that exited 0 at the end of its input without answering
    /// records none of which ends a worker alone skipped records or split a result, and the
    /// line protocol cannot tell which of its results belong to which records: said, and the
    /// run does not end with status 0.
    fn unexplained(&self, s: Suspects) {
        if let Some((slot, first, n)) = s.skipped {
            self.ctl.error(format_args!(
                "worker {slot} exited (status 0) at the end of its input without answering {n} record{} (from {first}); re-run alone they were answered, so it skipped a record or split a result over two lines: results it gave before may be on the wrong records (the line protocol cannot tell)",
                if n == 1 { "" } else { "s" }
            ));
        }
    }

    /// `--halt now` or an interrupt ended the worker: the record it was on ended with it (its
    /// job-log row says so); the records behind it never started, so they get no row and
    /// `--resume` runs them.
    fn halted(&self, end: Ended) {
        let mut left = end.left;
        let Some(mut front) = left.pop_front() else {
            return;
        };
        // Of a block of values, only the first was started.
        drop(front.job.split_after(1));
        let info = self.run_info(&front.job, end.since, 0);
        self.fail(front, failed(end.outcome), info);
    }

    /// After a worker ended with records unanswered and answering nothing: whether parx
    /// gives up (the command cannot answer any record from a fresh start), reported.
    fn give_up(&self, end: &Ended) -> bool {
        let front = end.left.front().expect("records unanswered").job.seq;
        let silent = (end.answered == 0 && !end.timed_out).then_some(front);
        let streak = self.shared.silent_end(silent);
        let ever = self.shared.ever_answered.load(Ordering::Relaxed);
        if streak.len() < GIVE_UP_AFTER || (ever && streak.len() < GIVE_UP_ANYWAY) {
            return false;
        }
        let tasks: Vec<String> = streak.iter().map(u64::to_string).collect();
        self.ctl.error(format_args!(
            "the worker command cannot answer any record from a fresh start: fresh workers ended ({}) before answering anything, on tasks {} in a row; giving up (a worker must answer each record it reads with one result)",
            describe(end.outcome),
            tasks.join(", ")
        ));
        self.ctl.stop(libc::SIGTERM);
        for p in end.left.iter() {
            self.ended(&p.job, failed(end.outcome));
        }
        true
    }

    /// A worker given one task alone ended without answering it: that task is the one that
    /// ends workers. It is a failed attempt: run alone again under `--retries`, else a
    /// failed task, named in one line.
    fn poison(&self, s: &mut Suspects, end: Ended) {
        let mut left = end.left;
        let mut on = left.pop_front().expect("one task unanswered").job;
        on.failures += 1;
        let retry = may_retry(self.cfg, on.failures);
        let then = if retry { "; retrying it" } else { "" };
        if end.timed_out {
            crate::messages::note(format_args!(
                "task {} timed out after {:?} ({}): worker {} replaced{then}",
                on.seq,
                self.cfg.jobs_ctl.timeout.unwrap_or_default(),
                on.value(),
                self.slot
            ));
        } else if end.closed && end.outcome == Outcome::Exited(0) {
            // It read the record and the end of its input, and exited cleanly: it skips
            // this record, and what it answered before may sit on the wrong records.
            crate::messages::note(format_args!(
                "worker {} exited (status 0) without answering {}, the only record it was sent: it skips that record, so results it gave before may be on the wrong records{then}",
                self.slot,
                on.label()
            ));
        } else {
            let how = match end.outcome {
                Outcome::Signaled(s) => format!("was killed by signal {s}"),
                o => format!("exited ({})", describe(o)),
            };
            crate::messages::note(format_args!(
                "worker {} {how} on {}, run alone{then}",
                self.slot,
                on.label()
            ));
        }
        if retry {
            s.queue.push_front(on);
            s.bound = Some(1);
            s.front_first = true;
            return;
        }
        // What it answered of the record is dropped (the partial result). Its job-log row
        // says when the worker got to it and what it was sent.
        let mut info = self.run_info(&on, end.since, 0);
        info.killed |= end.timed_out;
        self.fail(InFlight::new(on), failed(end.outcome), info);
        s.bound = None;
        s.front_first = false;
    }

    /// Hands a finished task (or a block's tasks, all ending alike) to the merger.
    fn finish(&self, job: &Job, stdout: OutBuf, outcome: Outcome, info: RunInfo) {
        self.ended(job, outcome);
        let _ = self.out.send(Msg::Done(Box::new(Finished {
            seq: job.seq,
            stdout,
            stderr: OutBuf::new(),
            outcome,
            info,
            more: job.tasks() - 1,
        })));
    }

    /// Tells the run's control (`--halt`) that the job's tasks ended.
    fn ended(&self, job: &Job, outcome: Outcome) {
        for seq in job.seq..job.seq + job.tasks() {
            self.ctl.task_ended(seq, outcome);
        }
    }

    /// A job's output sink (see [`Sink::job`]). If its `--results` files cannot be made, that
    /// is said once per job and the results are printed all the same.
    fn sink(&self, job: &Job) -> Sink {
        let (end, strip) = self.result_end();
        let tag = job.tag.as_deref();
        let results = self.ctl.results.as_ref();
        Sink::job(results, job.seq, tag, end, strip).unwrap_or_else(|e| {
            self.ctl.error(format_args!(
                "task {}: --results: {e} (its results are incomplete)",
                job.seq
            ));
            Sink::job(None, job.seq, tag, end, strip).expect("nothing to open")
        })
    }

    /// A job ended with `outcome`: completes its sink's `--results` files and index row;
    /// returns its shaped results.
    fn store(&self, job: &Job, sink: Sink, outcome: Outcome) -> OutBuf {
        let index = self.ctl.results.as_ref().map(|r| (r, job.records()));
        let (out, _, stored) = sink.finish(outcome, index);
        if let Err(e) = stored {
            // stdout is not touched; the run ends with 255.
            self.ctl.error(format_args!(
                "task {}: --results: {e} (its results are incomplete)",
                job.seq
            ));
        }
        out
    }

    /// A job failed for good: stored as such under `--results`, handed to the merger with no
    /// output (a partial result is never printed).
    fn fail(&self, p: InFlight, outcome: Outcome, info: RunInfo) {
        self.fail_with(p, outcome, info, OutBuf::new());
    }

    /// The same, printing `out` (a failure frame with `--framed-out`).
    fn fail_with(&self, p: InFlight, outcome: Outcome, info: RunInfo, out: OutBuf) {
        if self.ctl.results.is_some() {
            let sink = p.sink.map_or_else(|| self.sink(&p.job), |s| *s);
            self.store(&p.job, sink, outcome);
        }
        self.finish(&p.job, out, outcome, info);
    }

    /// What a job's job-log row says: when its worker got to it (`since`), how long until
    /// now, the bytes sent and `receive`d, and the worker command (with a job log only).
    fn run_info(&self, job: &Job, since: Option<(Instant, SystemTime)>, receive: u64) -> RunInfo {
        let mut info = RunInfo {
            start: since.map(|(_, t)| t),
            runtime: since.map_or(Duration::ZERO, |(t, _)| t.elapsed()),
            send: job.len(),
            receive,
            command: Vec::new(),
            // A worker parx stopped (a stop of the run) was killed by parx.
            killed: self.ctl.stopping(),
        };
        if self.cfg.jobs_ctl.joblog.is_some() {
            let ctx = Ctx {
                seq: job.seq,
                slot: self.slot,
                records: &[],
            };
            info.command = self.cfg.template.render(&ctx).display();
        }
        info
    }
}

fn describe(o: Outcome) -> String {
    match o {
        Outcome::Signaled(s) => format!("signal {s}"),
        Outcome::IoError => "status 0, with records unanswered".into(),
        o => format!("status {}", o.exit_code()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Lines;

    fn shared(jobs: usize) -> Shared {
        Shared::new(jobs, SOFT_CAP)
    }

    #[test]
    fn silent_workers_on_different_tasks_make_a_streak() {
        let s = shared(2);
        assert_eq!(s.silent_end(Some(5)), [5]);
        assert_eq!(s.silent_end(Some(5)), [5], "a retried task counts once");
        s.silent_end(Some(6));
        assert_eq!(s.silent_end(Some(9)), [5, 6, 9]);
        s.silent_end(None);
        assert_eq!(s.silent_end(Some(3)), [3], "an answer ends the streak");
    }

    #[test]
    fn the_window_follows_the_measured_cost_of_a_record() {
        let t0 = Instant::now();
        let mut p = Pace::new(t0);
        p.held = Some(0);
        assert_eq!(p.window(SOFT_CAP), 1, "one record until a cost is known");
        p.sent(1, t0);
        p.answered(1, t0 + Duration::from_millis(200));
        assert_eq!(p.window(SOFT_CAP), 1, "a record of 0.2 s: one at a time");
        let mut q = Pace::new(t0);
        q.held = Some(0);
        q.sent(1000, t0);
        q.answered(1000, t0 + Duration::from_millis(2));
        assert_eq!(q.window(SOFT_CAP), 5000, "2 us a record: 10 ms of them");
        assert_eq!(q.window(2), 2, "never past the cap by cost");
        q.held = Some(40_000);
        q.grow();
        assert_eq!(
            q.window(SOFT_CAP),
            80_000,
            "a worker seen waiting for input with what it holds gets twice as much"
        );
    }

    fn block(seq: u64, n: u64) -> Job {
        let bytes: Vec<u8> = (seq..seq + n)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        Job {
            seq,
            nrec: n,
            input: JobInput::Lines(Lines {
                bytes,
                at: 0,
                count: n,
                end: b'\n',
            }),
            failures: 0,
            tag: None,
        }
    }

    /// Runs the search over tasks 1..=n where `poison` end every worker they reach (a
    /// worker that does not flush: it answers nothing of a batch it dies in). Returns the
    /// poison tasks found, in order, and the batches run.
    fn search(n: u64, poison: &[u64]) -> (Vec<u64>, usize) {
        let mut s = Suspects::new(VecDeque::from([InFlight::new(block(1, n))]), false);
        let (mut found, mut runs) = (Vec::new(), 0);
        while !s.queue.is_empty() {
            let (batch, tasks) = s.next_batch();
            runs += 1;
            let first = batch[0].seq;
            if !poison.iter().any(|p| (first..first + tasks).contains(p)) {
                s.passed(tasks);
                continue;
            }
            if tasks == 1 {
                found.push(first);
                s.bound = None;
                s.front_first = false;
                continue;
            }
            s.failed(batch.into_iter().map(InFlight::new).collect(), false, false);
        }
        (found, runs)
    }

    #[test]
    fn bisection_finds_every_poison_record_in_few_runs() {
        assert_eq!(search(1000, &[500]).0, [500]);
        let (found, runs) = search(10_000, &[4321, 4322]);
        assert_eq!(found, [4321, 4322], "two poison records in one block");
        assert!(runs < 60, "{runs} runs");
        let (found, runs) = search(100, &[]);
        assert!(
            found.is_empty() && runs <= 8,
            "a crash that does not come back"
        );
        assert_eq!(search(1, &[1]).0, [1]);
    }
}
