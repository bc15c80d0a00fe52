//! The process pool (`--pool process`): `-j` long-lived workers, each running the command
//! once, with tasks streamed to their stdin as records and results read back as records (the
//! map contract: one result per record, in the order the records were sent).
//!
//! Each slot has a thread that owns its worker's life ([`crate::pool::child`]: spawn, read,
//! reap) and a writer thread that feeds the worker's stdin. Records move in blocks: values
//! may come as blocks of tasks already (`TaskInput::Lines`, sent as they are and answered
//! from their front), and the writer takes every task waiting (up to [`BATCH_BYTES`]) and
//! sends them in one write; the reader
//! splits large reads with memchr and credits results to the tasks in flight by count
//! ([`Ledger`]). A writer holds back only while its worker has [`SOFT_CAP`] records
//! outstanding *and* another worker has fewer, so block-buffering workers (mawk, `sort`)
//! cannot deadlock.
//!
//! A worker that ends in any way with records unanswered is replaced: its first unanswered
//! record is a failed attempt of that task (`--retries`), the tasks behind it go to a fresh
//! worker as they were (not attempts). Workers that end without answering anything, on
//! [`GIVE_UP_AFTER`] different tasks in a row, stop the run.

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

mod reader;
use reader::Reader;

/// Records a worker may have outstanding before its writer lets a less loaded worker go first.
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
/// Different tasks in a row on which a worker ended without answering anything before parx
/// gives up.
const GIVE_UP_AFTER: usize = 3;

/// Whether a task whose worker ended `failures` times on it may be sent once more: the one
/// place the process pool reads `--retries` (N runs in all; 0: until it succeeds).
fn may_retry(cfg: &Config, failures: u32) -> bool {
    cfg.jobs_ctl.may_rerun(failures)
}

/// How long no worker may answer anything before the least loaded writer may go past
/// [`SOFT_CAP`] (every worker may be holding its answers until it reads more).
const STALL: Duration = Duration::from_millis(50);
/// The same before any worker has answered anything: workers may still be starting (an
/// interpreter, a model to load), and meanwhile the input would pile up in parx.
const START_STALL: Duration = Duration::from_secs(1);

/// Records outstanding per slot, and when a worker last answered.
struct Loads {
    /// Per slot (`None`: no live worker in that slot).
    per: Vec<Option<u64>>,
    /// When a worker last answered something (or one started).
    progress: Instant,
    /// Some worker has answered something.
    answered: bool,
}

impl Loads {
    /// Whether `slot` may take more work now: while under `cap`, or, when no worker has
    /// answered for [`STALL`], while no other worker has less (so workers that answer only
    /// after reading more — block buffers, `sort` — cannot deadlock, and a worker stuck on a
    /// slow record is not sent more than `cap` while the others answer).
    fn may_take(&self, slot: usize, cap: u64, now: Instant) -> bool {
        let mine = self.per[slot - 1].unwrap_or(0);
        let least = self.per.iter().flatten().min().copied().unwrap_or(0);
        mine < cap || (mine <= least && now.duration_since(self.progress) >= self.stall())
    }

    /// How long without answers counts as a stall.
    fn stall(&self) -> Duration {
        if self.answered {
            STALL
        } else {
            START_STALL
        }
    }
}

/// What the slots share: load per slot, the re-dispatch queue, the no-answer streak.
struct Shared {
    load: Mutex<Loads>,
    turn: Condvar,
    /// Writers waiting in [`Shared::wait_turn`] (others need no wake-up).
    waiting: AtomicUsize,
    redo_tx: Sender<Job>,
    redo_rx: Receiver<Job>,
    /// The tasks on which workers ended in a row without answering anything.
    silent: Mutex<Vec<u64>>,
    /// Records (or chunks) a worker may have outstanding before its writer holds back.
    cap: u64,
}

/// Where a writer held back at `cap` resumes: half of it.
fn low_water(cap: u64) -> u64 {
    (cap / 2).max(1)
}

impl Shared {
    fn new(jobs: usize, cap: u64) -> Shared {
        let (redo_tx, redo_rx) = unbounded();
        Shared {
            load: Mutex::new(Loads {
                per: vec![None; jobs],
                progress: Instant::now(),
                answered: false,
            }),
            turn: Condvar::new(),
            waiting: AtomicUsize::new(0),
            redo_tx,
            redo_rx,
            silent: Mutex::new(Vec::new()),
            cap,
        }
    }

    fn set_load(&self, slot: usize, v: Option<u64>) {
        let mut g = self.load.lock().expect("load lock");
        g.per[slot - 1] = v;
        g.progress = Instant::now();
        drop(g);
        self.wake();
    }

    fn add_load(&self, slot: usize, delta: i64) {
        let low = low_water(self.cap);
        let mut g = self.load.lock().expect("load lock");
        let mut crossed = false;
        if let Some(n) = &mut g.per[slot - 1] {
            let was = *n;
            *n = n.saturating_add_signed(delta);
            crossed = was >= low && *n < low;
        }
        if delta < 0 {
            g.progress = Instant::now();
            g.answered = true;
        }
        drop(g);
        // A writer held back resumes when its worker is down to the low-water mark, not at
        // every answer (a wake-up each way per read of the worker's output); it also looks
        // again on its own within STALL.
        if crossed {
            self.wake();
        }
    }

    /// Wakes the writers waiting for their turn, if any.
    fn wake(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.turn.notify_all();
        }
    }

    /// Whether `slot` may take more work now (see [`Loads::may_take`]).
    fn may_take(&self, slot: usize, cap: u64) -> bool {
        let g = self.load.lock().expect("load lock");
        // Under the cap (the common case) needs no clock.
        g.per[slot - 1].unwrap_or(0) < cap || g.may_take(slot, cap, Instant::now())
    }

    /// Waits until `slot` may take more work, or `quit` is set.
    fn wait_turn(&self, slot: usize, quit: &AtomicBool, cap: u64) {
        let mut g = self.load.lock().expect("load lock");
        let mut waited = false;
        loop {
            let now = Instant::now();
            // Once held back, it waits for the low-water mark (or a stall).
            let limit = if waited { low_water(cap) } else { cap };
            if g.may_take(slot, limit, now) || quit.load(Ordering::SeqCst) {
                return;
            }
            waited = true;
            // Until a stall would let it go, at the latest.
            let nap = (g.progress + g.stall())
                .saturating_duration_since(now)
                .clamp(Duration::from_millis(1), STALL);
            self.waiting.fetch_add(1, Ordering::SeqCst);
            g = self.turn.wait_timeout(g, nap).expect("load lock").0;
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// A worker ended having answered something (`None`) or nothing while on task `seq`.
    /// Returns the tasks of the streak when it is long enough to give up.
    fn silent_end(&self, seq: Option<u64>) -> Option<Vec<u64>> {
        let mut g = self.silent.lock().expect("silent lock");
        match seq {
            None => g.clear(),
            Some(s) if !g.contains(&s) => g.push(s),
            Some(_) => {}
        }
        (g.len() >= GIVE_UP_AFTER).then(|| g.clone())
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
        let mut retry = None;
        loop {
            if !self.ctl.may_start() {
                return;
            }
            // Start a worker only when there is work for it. A task being retried goes first
            // to a fresh worker: no earlier record of that worker can be the one it ends on.
            let first = match retry.take() {
                Some(j) => j,
                None => match self.next_job(None) {
                    Next::Job(j) => j,
                    Next::End | Next::Dead => return,
                },
            };
            match self.run_worker(first) {
                Some(r) => retry = r,
                None => return,
            }
        }
    }

    /// The byte that ends a result, and whether it is printed.
    fn result_end(&self) -> (u8, bool) {
        match self.cfg.result_end {
            Some(b) => (b, true),
            None => (self.cfg.record_end(), false),
        }
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
                    Ok(t) => self.job_or_stop(t),
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
                Ok(t) => return Some(self.job_or_stop(t)),
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

    fn job_or_stop(&self, t: Task) -> Next {
        let seq = t.seq;
        match self.job(t) {
            Ok(j) => Next::Job(j),
            Err(e) => {
                self.ctl.error(format_args!("task {seq}: {e}"));
                self.ctl.stop(libc::SIGTERM);
                Next::End
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

    /// Runs one worker until it ends; returns whether the slot should go on (`None`: no),
    /// and with which task to retry first.
    fn run_worker(&self, first: Job) -> Option<Option<Job>> {
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
        let sent = Mutex::new(VecDeque::new());
        let quit = AtomicBool::new(false);
        let (dead_tx, dead_rx) = crossbeam_channel::bounded::<()>(0);
        let reader = RefCell::new(Reader::new(self, &sent));
        let (closed, pumped) = std::thread::scope(|s| {
            let writer = s.spawn(|| self.write_loop(stdin, first, &sent, &dead_rx, &quit));
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
            // the tasks in flight end as lost (see crate::merge), none left unaccounted.
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
        let answered = reader.answered;
        let _ = reader.flush();
        let since = reader.front_since;
        self.settle(reader.ledger.jobs, outcome, answered, timed_out, since)
    }

    /// Feeds jobs to the worker's stdin, in blocks, until input ends, `--max-tasks` is
    /// reached, or the worker stops reading. Returns whether it closed stdin on purpose.
    fn write_loop(
        &self,
        mut stdin: ChildStdin,
        first: Job,
        sent: &Mutex<VecDeque<InFlight>>,
        dead: &Receiver<()>,
        quit: &AtomicBool,
    ) -> bool {
        sys::set_pipe_size(stdin.as_raw_fd(), PIPE_SIZE);
        let term = self.cfg.record_end();
        let cap = self.shared.cap;
        let max_tasks = self.cfg.max_tasks.unwrap_or(u64::MAX);
        let paced = self.cfg.jobs_ctl.delay;
        let mut tasks_sent = 0u64;
        let mut next = Some(first);
        let mut buf = Vec::with_capacity(BATCH_BYTES + (4 << 10));
        let mut batch = Vec::new();
        loop {
            let job = match next.take() {
                Some(j) => j,
                None => {
                    if tasks_sent >= max_tasks {
                        return true;
                    }
                    self.shared.wait_turn(self.slot, quit, cap);
                    if quit.load(Ordering::SeqCst) || self.ctl.stopping() {
                        return false;
                    }
                    if !self.ctl.may_start() {
                        // --halt soon: what was sent is answered, nothing new goes out.
                        return true;
                    }
                    match self.next_job(Some(dead)) {
                        Next::Job(j) => j,
                        Next::End => return true,
                        Next::Dead => return false,
                    }
                }
            };
            if let Some(d) = paced {
                self.ctl.pace(d);
            }
            // A chunk goes alone; records gather into one block while tasks are waiting.
            let chunk = match &job.input {
                JobInput::Chunk(c) => Some(c.clone()),
                JobInput::Records(_) | JobInput::Lines(_) => None,
            };
            buf.clear();
            job.encode(term, &mut buf);
            let mut units = job.units();
            batch.push(InFlight::new(job));
            tasks_sent += 1;
            // Values trickle in one by one: wait a little for more, rather than pay a write
            // (and the worker a read, and a wake-up each side) per value.
            let until = Instant::now() + GATHER;
            while chunk.is_none()
                && paced.is_none()
                && buf.len() < BATCH_BYTES
                && units < BATCH_RECORDS
                && tasks_sent < max_tasks
                && self.ctl.may_start()
                && self.shared.may_take(self.slot, cap)
            {
                match self.next_job_until(until) {
                    Some(Next::Job(j)) if !matches!(j.input, JobInput::Chunk(_)) => {
                        j.encode(term, &mut buf);
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
            self.shared.add_load(self.slot, units as i64);
            // The reader must know of the jobs before the worker can answer them.
            sent.lock().expect("sent lock").extend(batch.drain(..));
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

    /// After a worker ended: fails or re-sends the jobs it left unanswered. Returns whether
    /// the slot should go on (`None`: no), and the task it retries first.
    fn settle(
        &self,
        left: VecDeque<InFlight>,
        outcome: Outcome,
        answered: u64,
        timed_out: bool,
        since: Option<(Instant, SystemTime)>,
    ) -> Option<Option<Job>> {
        // A worker that ends with status 0 but leaves a record unanswered failed it too.
        let failed = if outcome.success() {
            Outcome::IoError
        } else {
            outcome
        };
        let Some(front) = left.front() else {
            if answered > 0 {
                self.shared.silent_end(None);
            }
            return Some(None);
        };
        if self.ctl.stopping() {
            for p in left {
                self.fail(p, failed, RunInfo::default());
            }
            return None;
        }
        let silent = (answered == 0 && !timed_out).then_some(front.job.seq);
        if let Some(tasks) = self.shared.silent_end(silent) {
            let tasks: Vec<String> = tasks.iter().map(u64::to_string).collect();
            self.ctl.error(format_args!(
                "the worker command ended ({}) without answering a single record, on tasks {} in a row; giving up (a worker must answer each record it reads with one result)",
                describe(outcome),
                tasks.join(", ")
            ));
            self.ctl.stop(libc::SIGTERM);
            for p in left {
                self.fail(p, failed, RunInfo::default());
            }
            return None;
        }
        let mut left = left.into_iter();
        let mut on = left.next().expect("non-empty").job;
        // Of a block, the first value is the one the worker ended on; the others go again.
        let rest = match &mut on.input {
            JobInput::Lines(l) => l.split_after_first().map(|l| Job {
                seq: on.seq + 1,
                nrec: l.count,
                input: JobInput::Lines(l),
                failures: 0,
                tag: None,
            }),
            _ => None,
        };
        if rest.is_some() {
            on.nrec = 1;
        }
        on.failures += 1;
        let retry = may_retry(self.cfg, on.failures);
        let then = if retry { "; retrying it" } else { "" };
        if timed_out {
            eprintln!(
                "parx: task {} timed out after {:?} ({}): worker {} replaced{then}",
                on.seq,
                self.cfg.jobs_ctl.timeout.unwrap_or_default(),
                on.value(),
                self.slot
            );
        } else {
            let how = match outcome {
                Outcome::Signaled(s) => format!("was killed by signal {s}"),
                o => format!("exited ({})", describe(o)),
            };
            eprintln!("parx: worker {} {how} on {}{then}", self.slot, on.label());
        }
        for job in rest.into_iter().chain(left.map(|p| p.job)) {
            let _ = self.shared.redo_tx.send(job);
        }
        if retry {
            return Some(Some(on));
        }
        // What it answered of the record is dropped (the partial result). Its job-log row
        // says when the worker got to it and what it was sent.
        let info = self.run_info(&on, since, 0);
        self.fail(InFlight::new(on), failed, info);
        Some(None)
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
        if self.ctl.results.is_some() {
            let sink = p.sink.map_or_else(|| self.sink(&p.job), |s| *s);
            self.store(&p.job, sink, outcome);
        }
        self.finish(&p.job, OutBuf::new(), outcome, info);
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

    fn shared(jobs: usize) -> Shared {
        Shared::new(jobs, SOFT_CAP)
    }

    #[test]
    fn silent_workers_on_three_different_tasks_give_up() {
        let s = shared(2);
        assert!(s.silent_end(Some(5)).is_none());
        assert!(
            s.silent_end(Some(5)).is_none(),
            "a retried task counts once"
        );
        assert!(s.silent_end(Some(6)).is_none());
        assert_eq!(s.silent_end(Some(9)), Some(vec![5, 6, 9]));
        let s = shared(2);
        s.silent_end(Some(1));
        s.silent_end(Some(2));
        s.silent_end(None);
        assert!(s.silent_end(Some(3)).is_none(), "an answer ends the streak");
    }

    #[test]
    fn a_writer_past_its_cap_waits_while_another_worker_answers() {
        let t0 = Instant::now();
        let mut l = Loads {
            per: vec![Some(100), Some(5)],
            progress: t0,
            answered: true,
        };
        assert!(!l.may_take(1, 64, t0), "over the cap while others answer");
        assert!(l.may_take(2, 64, t0));
        l.per[1] = Some(205);
        assert!(
            !l.may_take(1, 64, t0 + STALL / 2),
            "a worker stuck on a slow record is not sent more while the other answers"
        );
        assert!(
            l.may_take(1, 64, t0 + STALL),
            "when no one answers, the least loaded may go"
        );
        assert!(!l.may_take(2, 64, t0 + STALL), "but not the most loaded");
        l.per[1] = None;
        assert!(
            l.may_take(1, 64, t0 + STALL),
            "a slot without a worker does not count"
        );
        l.answered = false;
        assert!(
            !l.may_take(1, 64, t0 + STALL),
            "workers that have not answered yet may still be starting"
        );
        assert!(l.may_take(1, 64, t0 + START_STALL));
    }
}
