//! The process pool (`--pool process`): `-j` long-lived workers, each running the command
//! once, with tasks streamed to their stdin as records and results read back as records (the
//! map contract: one result per record, in the order the records were sent).
//!
//! Each slot has a thread that owns its worker's life ([`crate::pool::child`]: spawn, read,
//! reap) and a writer thread that feeds the worker's stdin. Records move in blocks: values
//! may come as blocks of tasks already (`TaskInput::Lines`, sent as they are and answered
//! from their front), and the writer takes every task waiting and sends them in one write;
//! the reader splits large reads with memchr and credits results to the tasks in flight by
//! count ([`ledger::Ledger`]).
//!
//! Dispatch ([`dispatch::Pace`]): a worker holds at most its window of records, as many as take about
//! [`dispatch::BUDGET`] to answer by their measured cost (one at a time for records of 10 ms and
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
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{select, unbounded, Receiver, Sender, TryRecvError};

use crate::config::Config;
use crate::output::OutBuf;
use crate::pool::child::{self, Spawned, IDLE_CHECK, KILL_GRACE};
use crate::pool::feed::{Fed, Feeder};
use crate::pool::life::Launch;
use crate::pool::sink::Sink;
use crate::pool::Run;
use crate::sys;
use crate::task::{Chunk, ChunkBody, Finished, Msg, Outcome, RunInfo, Task, TaskInput};
use crate::template::Ctx;
use ledger::{InFlight, Job, JobInput};

mod dispatch;
mod ends;
mod framed;
mod isolate;
mod ledger;
mod reader;
use dispatch::{Probe, Shared};
use isolate::{tasks_in, Suspects};
use reader::Reader;

/// The most records the cost rule lets a worker hold unanswered (one seen waiting for input
/// while it holds them is given more: see [`dispatch::Pace::grow`]).
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

/// Starts the `-j` slots. They end when there is no more input and no task to redo.
pub(crate) fn start(
    cfg: &Arc<Config>,
    ctl: &Arc<Run>,
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
    /// It exited with input unread in its stdin pipe.
    left_input: bool,
}

/// What a writer thread works with besides the slot.
struct Writer<'a> {
    sent: &'a Mutex<VecDeque<InFlight>>,
    dead: &'a Receiver<()>,
    quit: &'a AtomicBool,
    probe: &'a Probe,
}

/// A worker's stdin: what the command gets (the read end), parx's write end, and the read
/// end parx keeps to see, at the worker's exit, whether it left input unread.
fn worker_stdin() -> io::Result<(Stdio, File, File)> {
    let (read, write) = sys::pipe()?;
    let kept = read.try_clone()?;
    Ok((Stdio::from(read), write, kept))
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
    ctl: &'a Run,
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
            } else if self.ctl.state.stopping() {
                self.halted(end);
                return;
            } else if self.give_up(&end) {
                return;
            } else {
                let clean = end.outcome == Outcome::Exited(0) && !end.timed_out;
                // It answered some records and stopped: before its input ended, or leaving
                // more than it answered (a quota; it may have read its input ahead).
                let left = tasks_in(end.left.iter().map(|p| &p.job));
                let quota = end.answered > 0
                    && clean
                    && (!end.closed || end.left_input || left >= end.answered);
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
                learned: &self.ctl.state.learned,
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
            learned: &self.ctl.state.learned,
        });
        let who = super::Spawn {
            cfg: self.cfg,
            seq: None,
            slot: self.slot,
        };
        let mut cmd = super::command(&rendered, None, who);
        // parx makes the worker's stdin pipe and keeps a read end of it: at the worker's
        // exit, input left unread there tells a worker that stopped early (a quota) from one
        // that read everything and left records unanswered.
        let (input, stdin, unread) = match worker_stdin() {
            Ok(p) => p,
            Err(e) => {
                self.ctl.error(format_args!("cannot start worker: {e}"));
                self.ctl.stop(libc::SIGTERM);
                return None;
            }
        };
        // Gate hook: a worker starts only when --load/--memfree/--memsuspend allow.
        let launched = super::life::launch(self.ctl, self.slot, &mut cmd, input, false);
        // The command's copy of the read end goes; only `unread` keeps one.
        cmd.stdin(Stdio::null());
        let mut child = match launched {
            Launch::Held | Launch::Tried(_, Spawned::Stopping) => return None,
            Launch::Tried(_, Spawned::Running(c)) => c,
            Launch::Tried(_, Spawned::Failed(e)) => {
                let (msg, _) = crate::messages::spawn_error(cmd.get_program(), &e);
                self.ctl.error(format_args!("cannot start worker: {msg}"));
                self.ctl.stop(libc::SIGTERM);
                return None;
            }
        };
        self.shared.set_load(self.slot, Some(0));
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
        let (closed, pumped, left_input) = std::thread::scope(|s| {
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
            // Looked at once it has exited, then closed: a writer blocked on a full pipe
            // gets EPIPE as from any dead worker.
            let left_input = sys::pipe_queued(unread.as_raw_fd()) > 0;
            drop(unread);
            quit.store(true, Ordering::SeqCst);
            self.shared.turn.notify_all();
            drop(dead_tx);
            (writer.join().expect("writer thread"), pumped, left_input)
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
            left_input,
        })
    }

    /// Feeds jobs to the worker's stdin, in blocks, until input ends, `--max-tasks` is
    /// reached, or the worker stops reading; an isolated batch is sent whole and stdin
    /// closed after it. Returns whether it closed stdin on purpose.
    fn write_loop(&self, mut stdin: File, feed: Feed, w: &Writer<'_>) -> bool {
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
                        if w.quit.load(Ordering::SeqCst) || self.ctl.state.stopping() {
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
            self.ctl.life.pace();
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
}

#[cfg(test)]
mod tests;
