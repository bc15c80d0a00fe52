//! The process pool (`--pool process`): `-j` long-lived workers, each running the command
//! once, with tasks streamed to their stdin as records and results read back as records (the
//! map contract: one result per record, in the order the records were sent).
//!
//! Each slot has a thread that owns its worker's life ([`crate::pool::child`]: spawn, read,
//! reap) and a writer thread that feeds the worker's stdin. Records move in blocks: the writer
//! takes every task waiting (up to [`BATCH_BYTES`]) and sends them in one write; the reader
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
use std::process::ChildStdin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{select, unbounded, Receiver, Sender, TryRecvError};

use crate::config::Config;
use crate::output::{OutBuf, Spiller};
use crate::pool::child::{self, Child, Spawned, Stream, Tick, IDLE_CHECK, KILL_GRACE};
use crate::pool::feed::{Fed, Feeder};
use crate::pool::Control;
use crate::sys;
use crate::task::{Chunk, ChunkBody, Finished, Msg, Outcome, Record, RunInfo, Task, TaskInput};
use crate::template::Ctx;

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

/// Whether a task whose worker ended `failures` times on it may be sent once more. The one
/// place that reads `--retries` (today: extra runs; with GNU's meaning, N runs in all and 0
/// for "until it succeeds", only this line changes).
fn may_retry(cfg: &Config, failures: u32) -> bool {
    failures <= cfg.jobs_ctl.retries
}

/// A task as sent to a worker, kept until it is answered.
#[derive(Debug)]
struct Job {
    seq: u64,
    /// Records the worker must answer.
    nrec: u64,
    input: JobInput,
    /// Failed attempts so far (a worker ended while on this task).
    failures: u32,
    /// `--tag`/`--tagstring`: the prefix of each of its results, TAB included.
    tag: Option<Box<[u8]>>,
}

/// The records of a job: argument values (encoded when sent), or a chunk (sent as it is).
#[derive(Debug)]
enum JobInput {
    Records(Vec<Record>),
    Chunk(Arc<Chunk>),
}

impl Job {
    /// What the writer's load counts: records, or one per chunk.
    fn units(&self) -> u64 {
        match self.input {
            JobInput::Records(_) => self.nrec,
            JobInput::Chunk(_) => 1,
        }
    }

    /// Appends its records to `out`: columns joined by TAB, each record ended by `term`.
    fn encode(&self, term: u8, out: &mut Vec<u8>) {
        if let JobInput::Records(recs) = &self.input {
            for rec in recs {
                for (i, col) in rec.iter().enumerate() {
                    if i > 0 {
                        out.push(b'\t');
                    }
                    out.extend_from_slice(col.as_encoded_bytes());
                }
                out.push(term);
            }
        }
    }

    /// Bytes sent in all.
    fn len(&self) -> u64 {
        match &self.input {
            JobInput::Records(recs) => recs
                .iter()
                .map(|r| r.iter().map(|c| c.len() as u64 + 1).sum::<u64>().max(1))
                .sum(),
            JobInput::Chunk(c) => c.len(),
        }
    }

    /// The values the job's messages and `--results` index show.
    fn records(&self) -> &[Record] {
        match &self.input {
            JobInput::Records(r) => r,
            JobInput::Chunk(c) => &c.name,
        }
    }

    /// The job as a message names it: `task N (value)`.
    fn label(&self) -> String {
        format!("task {} ({})", self.seq, self.value())
    }

    /// Its value(s) as a message shows them (shortened).
    fn value(&self) -> String {
        let mut v = String::new();
        for (i, rec) in self.records().iter().enumerate() {
            if i > 0 {
                v.push(' ');
            }
            for (j, col) in rec.iter().enumerate() {
                if j > 0 {
                    v.push('\t');
                }
                v.push_str(&col.to_string_lossy());
            }
        }
        if let JobInput::Chunk(c) = &self.input {
            if v.is_empty() {
                v = format!("chunk of {} bytes", c.len());
            }
        }
        if v.chars().count() > 60 {
            v = v.chars().take(57).collect::<String>() + "...";
        }
        v.escape_debug().to_string()
    }
}

/// A job sent to the current worker and not yet answered in full.
#[derive(Debug)]
struct InFlight {
    job: Job,
    /// Results credited so far.
    got: u64,
    /// Its results so far (shaped as printed).
    out: OutBuf,
    /// Its results as the worker wrote them (with `--results`).
    raw: OutBuf,
}

impl InFlight {
    fn new(job: Job) -> Self {
        InFlight {
            job,
            got: 0,
            out: OutBuf::new(),
            raw: OutBuf::new(),
        }
    }
}

/// One step of crediting a worker's output.
enum Step<'a, 'd> {
    /// More results (and perhaps the start of one) for a job still unanswered.
    Part(&'a mut InFlight, &'d [u8]),
    /// The last bytes of a job's results: it is answered.
    Done(InFlight, &'d [u8]),
}

/// The jobs in flight on one worker, in the order they were sent: results are credited to
/// the oldest, by count of terminators.
#[derive(Debug, Default)]
struct Ledger {
    jobs: VecDeque<InFlight>,
    /// The last byte credited was not a terminator (a result is under way).
    mid: bool,
}

impl Ledger {
    /// Credits the results in `data` to the jobs in order, handing each job's span to `on`.
    /// Returns the bytes left over when no job is in flight (more results than records).
    fn credit<'d>(
        &mut self,
        mut data: &'d [u8],
        term: u8,
        mut on: impl FnMut(Step<'_, 'd>) -> io::Result<()>,
    ) -> io::Result<&'d [u8]> {
        while !data.is_empty() {
            let Some(front) = self.jobs.front_mut() else {
                return Ok(data);
            };
            let need = front.job.nrec - front.got;
            let mut seen = 0u64;
            let mut end = data.len();
            for pos in memchr::memchr_iter(term, data) {
                seen += 1;
                if seen == need {
                    end = pos + 1;
                    break;
                }
            }
            let span = &data[..end];
            data = &data[end..];
            self.mid = span[span.len() - 1] != term;
            front.got += seen;
            if front.got >= front.job.nrec {
                let done = self.jobs.pop_front().expect("front exists");
                on(Step::Done(done, span))?;
            } else {
                on(Step::Part(front, span))?;
            }
        }
        Ok(data)
    }

    /// An unterminated last result counts as one (the worker ended cleanly after it).
    fn close_result(&mut self, on: impl FnMut(Step<'_, '_>) -> io::Result<()>) -> io::Result<()> {
        if !self.mid || self.jobs.is_empty() {
            return Ok(());
        }
        self.mid = false;
        let Some(front) = self.jobs.front_mut() else {
            return Ok(());
        };
        front.got += 1;
        if front.got >= front.job.nrec {
            let done = self.jobs.pop_front().expect("front exists");
            let mut on = on;
            on(Step::Done(done, &[]))?;
        }
        Ok(())
    }
}

/// Passes `span` (results, the first one starting a result when `at_start`) to `out`, each
/// result prefixed with `tag` if there is one and without its terminator if `strip`.
fn shape(
    span: &[u8],
    tag: Option<&[u8]>,
    term: u8,
    strip: bool,
    mut at_start: bool,
    out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    if tag.is_none() && !strip {
        return out(span);
    }
    let mut rest = span;
    while !rest.is_empty() {
        if at_start {
            if let Some(t) = tag {
                out(t)?;
            }
        }
        match memchr::memchr(term, rest) {
            Some(i) => {
                out(&rest[..i + usize::from(!strip)])?;
                rest = &rest[i + 1..];
                at_start = true;
            }
            None => {
                out(rest)?;
                rest = &[];
            }
        }
    }
    Ok(())
}

/// What the slots share: load per slot, the re-dispatch queue, the no-answer streak.
struct Shared {
    /// Records outstanding per slot (`None`: no live worker in that slot).
    load: Mutex<Vec<Option<u64>>>,
    turn: Condvar,
    /// Writers waiting in [`Shared::wait_turn`] (others need no wake-up).
    waiting: AtomicUsize,
    redo_tx: Sender<Job>,
    redo_rx: Receiver<Job>,
    /// The tasks on which workers ended in a row without answering anything.
    silent: Mutex<Vec<u64>>,
}

impl Shared {
    fn set_load(&self, slot: usize, v: Option<u64>) {
        self.load.lock().expect("load lock")[slot - 1] = v;
        self.wake();
    }

    fn add_load(&self, slot: usize, delta: i64) {
        let mut g = self.load.lock().expect("load lock");
        if let Some(n) = &mut g[slot - 1] {
            *n = n.saturating_add_signed(delta);
        }
        drop(g);
        self.wake();
    }

    /// Wakes the writers waiting for their turn, if any.
    fn wake(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.turn.notify_all();
        }
    }

    /// Whether `slot` may take more work now (see the module docs).
    fn may_take(&self, slot: usize, cap: u64) -> bool {
        let g = self.load.lock().expect("load lock");
        let mine = g[slot - 1].unwrap_or(0);
        let least = g.iter().flatten().min().copied().unwrap_or(0);
        mine < cap || mine <= least
    }

    /// Waits until `slot` may take more work, or `quit` is set.
    fn wait_turn(&self, slot: usize, quit: &AtomicBool, cap: u64) {
        let mut g = self.load.lock().expect("load lock");
        loop {
            let mine = g[slot - 1].unwrap_or(0);
            let least = g.iter().flatten().min().copied().unwrap_or(0);
            if mine < cap || mine <= least || quit.load(Ordering::SeqCst) {
                return;
            }
            self.waiting.fetch_add(1, Ordering::SeqCst);
            g = self
                .turn
                .wait_timeout(g, Duration::from_millis(50))
                .expect("load lock")
                .0;
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
    let (redo_tx, redo_rx) = unbounded();
    let shared = Arc::new(Shared {
        load: Mutex::new(vec![None; cfg.jobs]),
        turn: Condvar::new(),
        waiting: AtomicUsize::new(0),
        redo_tx,
        redo_rx,
        silent: Mutex::new(Vec::new()),
    });
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
            let mut tag = t.expand_text(&Ctx {
                seq,
                slot: self.slot,
                records: task.template_records(),
            });
            tag.push(b'\t');
            tag.into_boxed_slice()
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
        let head = rec.count_records(&c.header);
        let body = match &c.body {
            ChunkBody::Bytes(b) => rec.count_records(b),
            ChunkBody::File { file, offset, len } => {
                let mut buf = vec![0u8; *len as usize];
                file.file.read_exact_at(&mut buf, *offset)?;
                rec.count_records(&buf)
            }
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
        let mut cmd = super::command(&rendered, None);
        let mut child = match Child::spawn(self.ctl, self.slot, &mut cmd, true) {
            Spawned::Running(c) => c,
            Spawned::Stopping => return None,
            Spawned::Failed(e) => {
                self.ctl.error(format_args!("cannot start worker: {e}"));
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
        let status = child.reap();
        self.shared.set_load(self.slot, None);
        let mut reader = reader.into_inner();
        reader.pull();
        let (outcome, timed_out) = match (pumped, status) {
            (Ok(p), Ok(st)) => (child::outcome(st), p.timed_out),
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
        self.settle(reader.ledger.jobs, outcome, answered, timed_out)
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
        let cap = if self.cfg.chunks.is_some() {
            CHUNK_SOFT_CAP
        } else {
            SOFT_CAP
        };
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
                JobInput::Records(_) => None,
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
                    Some(Next::Job(j)) if matches!(j.input, JobInput::Records(_)) => {
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
                self.store(&p.job, &p.raw, failed);
                self.finish(&p.job, OutBuf::new(), failed, RunInfo::default());
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
                self.store(&p.job, &p.raw, failed);
                self.finish(&p.job, OutBuf::new(), failed, RunInfo::default());
            }
            return None;
        }
        let mut left = left.into_iter();
        let mut on = left.next().expect("non-empty").job;
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
        for p in left {
            let _ = self.shared.redo_tx.send(p.job);
        }
        if retry {
            return Some(Some(on));
        }
        self.store(&on, &OutBuf::new(), failed);
        self.finish(&on, OutBuf::new(), failed, RunInfo::default());
        Some(None)
    }

    /// Hands a finished task to the merger.
    fn finish(&self, job: &Job, stdout: OutBuf, outcome: Outcome, info: RunInfo) {
        crate::halt::task_ended(self.ctl, job.seq, outcome);
        let _ = self.out.send(Msg::Done(Box::new(Finished {
            seq: job.seq,
            stdout,
            stderr: OutBuf::new(),
            outcome,
            info,
            more: 0,
        })));
    }

    /// `--results`: the job's results as the worker wrote them, its status and its index row.
    fn store(&self, job: &Job, raw: &OutBuf, outcome: Outcome) {
        let Some(r) = &self.ctl.results else {
            return;
        };
        let res = r.task(job.seq).and_then(|mut files| {
            raw.write_to(&mut WriteFn(|b: &[u8]| files.out(b)))?;
            files.finish(outcome)?;
            r.index(job.seq, job.records())
        });
        if let Err(e) = res {
            eprintln!("parx: task {}: --results: {e}", job.seq);
        }
    }
}

fn describe(o: Outcome) -> String {
    match o {
        Outcome::Signaled(s) => format!("signal {s}"),
        Outcome::IoError => "status 0, with records unanswered".into(),
        o => format!("status {}", o.exit_code()),
    }
}

/// Consecutive answered tasks sent to the merger as one entry.
struct Run {
    first: u64,
    count: u64,
    /// Their results (at most one read's worth: sent at the end of each read).
    out: Vec<u8>,
}

/// The reading side of one worker: credits its results to the jobs in flight and hands
/// answered tasks to the merger.
struct Reader<'a> {
    slot: &'a Slot<'a>,
    ledger: Ledger,
    sent: &'a Mutex<VecDeque<InFlight>>,
    term: u8,
    strip: bool,
    /// One merger entry may stand for many tasks (no job log or progress display).
    coalesce: bool,
    run: Option<Run>,
    /// Without -k: results to print now.
    print: Vec<u8>,
    spill: Spiller,
    spill_raw: Spiller,
    /// An unfinished line of the worker's stderr.
    err_hold: Vec<u8>,
    /// Since when the oldest job in flight has been the one the worker is on.
    front_since: Option<(Instant, SystemTime)>,
    /// Tasks answered by this worker.
    answered: u64,
    /// The worker broke the map contract (reported).
    broke: bool,
    /// Records answered since the load was last updated.
    unload: u64,
    /// Jobs are timed (`--timeout` or a job log).
    timed: bool,
}

impl<'a> Reader<'a> {
    fn new(slot: &'a Slot<'a>, sent: &'a Mutex<VecDeque<InFlight>>) -> Self {
        let (term, strip) = slot.result_end();
        let jc = &slot.cfg.jobs_ctl;
        Reader {
            slot,
            ledger: Ledger::default(),
            sent,
            term,
            strip,
            coalesce: jc.joblog.is_none() && !jc.bar && !jc.eta,
            run: None,
            print: Vec::new(),
            spill: Spiller::default(),
            spill_raw: Spiller::default(),
            err_hold: Vec::new(),
            front_since: None,
            answered: 0,
            broke: false,
            unload: 0,
            timed: jc.timeout.is_some() || jc.joblog.is_some(),
        }
    }

    /// Takes the jobs the writer has sent since.
    fn pull(&mut self) {
        self.ledger
            .jobs
            .append(&mut self.sent.lock().expect("sent lock"));
        self.watch_front();
    }

    /// Between reads: the clock of `--timeout` runs on the oldest job in flight.
    fn tick(&mut self) -> Tick {
        let Some(limit) = self.slot.cfg.jobs_ctl.timeout else {
            return Tick {
                deadline: None,
                recheck: None,
            };
        };
        if self.ledger.jobs.is_empty() {
            self.pull();
        }
        self.watch_front();
        Tick {
            deadline: self.front_since.map(|(t, _)| t + limit),
            // The oldest job changes as results come, and the writer may send a first one.
            recheck: Some(Duration::from_millis(100)),
        }
    }

    /// Starts the clock of the oldest job in flight when it becomes the one the worker is on.
    fn watch_front(&mut self) {
        if self.timed && self.front_since.is_none() && !self.ledger.jobs.is_empty() {
            self.front_since = Some((Instant::now(), SystemTime::now()));
        }
    }

    fn on(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        match stream {
            Stream::Err => {
                self.on_stderr(data);
                Ok(())
            }
            Stream::Out => {
                self.on_stdout(data)?;
                self.flush()
            }
        }
    }

    /// Passes the worker's stderr through, whole lines at a time (a line longer than
    /// [`ERR_HOLD_MAX`] goes as it is); an empty piece is its end.
    fn on_stderr(&mut self, data: &[u8]) {
        let mut e = io::stderr().lock();
        if data.is_empty() {
            if !self.err_hold.is_empty() {
                self.err_hold.push(b'\n');
                let _ = e.write_all(&self.err_hold);
                self.err_hold.clear();
            }
            return;
        }
        match memchr::memrchr(b'\n', data) {
            Some(i) => {
                let _ = e
                    .write_all(&self.err_hold)
                    .and_then(|()| e.write_all(&data[..=i]));
                self.err_hold.clear();
                self.err_hold.extend_from_slice(&data[i + 1..]);
            }
            None => self.err_hold.extend_from_slice(data),
        }
        if self.err_hold.len() > ERR_HOLD_MAX {
            let _ = e.write_all(&self.err_hold);
            self.err_hold.clear();
        }
    }

    fn on_stdout(&mut self, data: &[u8]) -> io::Result<()> {
        self.pull();
        let mut ledger = std::mem::take(&mut self.ledger);
        // Only the first span of a piece may continue a result; the others start one.
        let mut at_start = !ledger.mid;
        let res = ledger.credit(data, self.term, |step| {
            let start = std::mem::replace(&mut at_start, true);
            self.step(step, start)
        });
        self.ledger = ledger;
        let extra = res?;
        if !extra.is_empty() && !self.broke {
            self.broke = true;
            self.slot.ctl.error(format_args!(
                "worker {} broke the map contract: it printed more results than it was sent records (one result per record: no banner, no extra lines); stopping",
                self.slot.slot
            ));
            self.slot.ctl.stop(libc::SIGTERM);
        }
        Ok(())
    }

    /// An unterminated last result counts as one.
    fn close_result(&mut self) -> io::Result<()> {
        let mut ledger = std::mem::take(&mut self.ledger);
        let res = ledger.close_result(|step| self.step(step, false));
        self.ledger = ledger;
        res
    }

    fn step(&mut self, step: Step<'_, '_>, start: bool) -> io::Result<()> {
        let (term, strip) = (self.term, self.strip);
        let results = self.slot.ctl.results.is_some();
        match step {
            Step::Part(inf, span) => {
                let (out, spill) = (&mut inf.out, &mut self.spill);
                shape(span, inf.job.tag.as_deref(), term, strip, start, &mut |b| {
                    out.push(b, spill)
                })?;
                if results {
                    inf.raw.push(span, &mut self.spill_raw)?;
                }
                Ok(())
            }
            Step::Done(mut inf, span) => {
                if results {
                    inf.raw.push(span, &mut self.spill_raw)?;
                    self.slot.store(&inf.job, &inf.raw, Outcome::Exited(0));
                }
                self.done(inf, span, start)
            }
        }
    }

    /// A job is answered: its results go to the merger (or out at once without -k).
    fn done(&mut self, inf: InFlight, span: &[u8], start: bool) -> io::Result<()> {
        let (term, strip) = (self.term, self.strip);
        let InFlight { job, mut out, .. } = inf;
        self.answered += 1;
        self.unload += job.units();
        crate::halt::task_ended(self.slot.ctl, job.seq, Outcome::Exited(0));
        let since = if !self.timed {
            None
        } else if self.ledger.jobs.is_empty() {
            self.front_since.take()
        } else {
            self.front_since
                .replace((Instant::now(), SystemTime::now()))
        };
        let tag = job.tag.as_deref();
        let keep = self.slot.cfg.keep_order;
        if !keep {
            out.write_to(&mut self.print)?;
            out = OutBuf::new();
            let print = &mut self.print;
            shape(span, tag, term, strip, start, &mut |b| {
                print.extend_from_slice(b);
                Ok(())
            })?;
        }
        if self.coalesce && out.is_empty() {
            if self
                .run
                .as_ref()
                .is_some_and(|r| r.first + r.count != job.seq)
            {
                self.flush_run();
            }
            let run = self.run.get_or_insert_with(|| Run {
                first: job.seq,
                count: 0,
                out: Vec::new(),
            });
            run.count += 1;
            if keep {
                let buf = &mut run.out;
                shape(span, tag, term, strip, start, &mut |b| {
                    buf.extend_from_slice(b);
                    Ok(())
                })?;
            }
            return Ok(());
        }
        if keep {
            let spill = &mut self.spill;
            shape(span, tag, term, strip, start, &mut |b| out.push(b, spill))?;
        }
        self.flush_run();
        let mut info = RunInfo {
            start: since.map(|(_, t)| t),
            runtime: since.map_or(Duration::ZERO, |(t, _)| t.elapsed()),
            send: job.len(),
            receive: out.len(),
            command: Vec::new(),
        };
        if self.slot.cfg.jobs_ctl.joblog.is_some() {
            info.command = self
                .slot
                .cfg
                .template
                .render(&Ctx {
                    seq: job.seq,
                    slot: self.slot.slot,
                    records: &[],
                })
                .display();
        }
        self.slot.finish(&job, out, Outcome::Exited(0), info);
        Ok(())
    }

    /// Sends what is ready: results to print (without -k), then the run of answered tasks.
    fn flush(&mut self) -> io::Result<()> {
        if self.unload > 0 {
            self.slot
                .shared
                .add_load(self.slot.slot, -(std::mem::take(&mut self.unload) as i64));
        }
        if !self.print.is_empty() {
            let data = std::mem::take(&mut self.print);
            let _ = self.slot.out.send(Msg::Output(OutBuf::from_vec(data)));
        }
        self.flush_run();
        Ok(())
    }

    fn flush_run(&mut self) {
        if let Some(r) = self.run.take() {
            let mut stdout = OutBuf::new();
            if let Err(e) = stdout.push(&r.out, &mut self.spill) {
                self.slot
                    .ctl
                    .error(format_args!("worker {}: {e}", self.slot.slot));
            }
            let _ = self.slot.out.send(Msg::Done(Box::new(Finished {
                seq: r.first,
                stdout,
                stderr: OutBuf::new(),
                outcome: Outcome::Exited(0),
                info: RunInfo::default(),
                more: r.count - 1,
            })));
        }
    }
}

/// A `Write` that hands every buffer to a closure.
struct WriteFn<F>(F);

impl<F: FnMut(&[u8]) -> io::Result<()>> Write for WriteFn<F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (self.0)(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn job(seq: u64, nrec: u64) -> InFlight {
        InFlight::new(Job {
            seq,
            nrec,
            input: JobInput::Records(
                (0..nrec)
                    .map(|i| vec![OsString::from(format!("v{seq}.{i}"))])
                    .collect(),
            ),
            failures: 0,
            tag: None,
        })
    }

    /// Credits `pieces` in turn; returns (seq, bytes) per answered job, and the leftovers.
    fn credit_all(l: &mut Ledger, pieces: &[&[u8]]) -> (Vec<(u64, Vec<u8>)>, Vec<u8>) {
        let mut done = Vec::new();
        let mut extra = Vec::new();
        for p in pieces {
            let rest = l
                .credit(p, b'\n', |s| {
                    match s {
                        Step::Part(inf, span) => inf.raw.push(span, &mut Spiller::default())?,
                        Step::Done(inf, span) => {
                            let mut v = inf.raw.to_vec()?;
                            v.extend_from_slice(span);
                            done.push((inf.job.seq, v));
                        }
                    }
                    Ok(())
                })
                .unwrap();
            extra.extend_from_slice(rest);
        }
        (done, extra)
    }

    #[test]
    fn ledger_credits_results_by_count_across_pieces() {
        let mut l = Ledger::default();
        l.jobs.extend([job(1, 1), job(2, 3), job(3, 1)]);
        let (done, extra) = credit_all(&mut l, &[b"a\nb", b"\nc\n", b"d\ne"]);
        assert_eq!(
            done,
            vec![(1, b"a\n".to_vec()), (2, b"b\nc\nd\n".to_vec())],
            "a job of 3 records is answered by 3 results, whatever the pieces"
        );
        assert!(extra.is_empty());
        assert!(l.mid, "'e' is a result under way");
        assert_eq!(l.jobs.front().unwrap().job.seq, 3);
        // The worker ends cleanly: its unterminated last result counts.
        let mut closed = Vec::new();
        l.close_result(|s| {
            if let Step::Done(inf, _) = s {
                closed.push(inf.job.seq);
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(closed, [3]);
        assert!(l.jobs.is_empty());
    }

    #[test]
    fn ledger_returns_results_beyond_every_record() {
        let mut l = Ledger::default();
        l.jobs.push_back(job(7, 2));
        let (done, extra) = credit_all(&mut l, &[b"x\ny\nbanner\n"]);
        assert_eq!(done, vec![(7, b"x\ny\n".to_vec())]);
        assert_eq!(extra, b"banner\n");
    }

    #[test]
    fn ledger_keeps_unanswered_jobs_in_order() {
        let mut l = Ledger::default();
        l.jobs.extend([job(1, 1), job(2, 2), job(3, 1)]);
        let (done, _) = credit_all(&mut l, &[b"1\n2a\n"]);
        assert_eq!(done.len(), 1);
        let left: Vec<(u64, u64)> = l.jobs.iter().map(|j| (j.job.seq, j.got)).collect();
        assert_eq!(left, [(2, 1), (3, 0)], "task 2 is half answered");
    }

    #[test]
    fn shape_tags_each_result_and_strips_the_terminator() {
        let mut out = Vec::new();
        let mut push = |b: &[u8]| {
            out.extend_from_slice(b);
            Ok(())
        };
        shape(b"a\nb\0c\n\0", Some(b"T\t"), 0, true, true, &mut push).unwrap();
        assert_eq!(out, b"T\ta\nbT\tc\n");
        let mut out = Vec::new();
        shape(b"x\ny", Some(b"t\t"), b'\n', false, false, &mut |b| {
            out.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        assert_eq!(out, b"x\nt\ty", "a result under way gets no second tag");
    }

    #[test]
    fn job_labels_name_the_task_and_its_value() {
        let j = job(5, 1).job;
        assert_eq!(j.label(), "task 5 (v5.0)");
        let mut buf = Vec::new();
        j.encode(b'\n', &mut buf);
        assert_eq!(buf, b"v5.0\n");
        assert_eq!(j.len(), 5);
    }
}
