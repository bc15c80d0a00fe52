//! The process pool (`--pool process`): `-j` long-lived workers, each running the command
//! once, with tasks streamed to their stdin as records and results read back as records.
//!
//! Each slot has a thread that owns its worker's life (spawn, read, reap, replace) and a
//! writer thread that feeds the worker's stdin. Writers never wait for a worker's output
//! before sending it more input; a writer only holds back while its worker has at least
//! [`SOFT_CAP`] tasks outstanding *and* another worker has fewer, so the least loaded
//! worker always gets the next task and block-buffering workers (mawk, `sort`) cannot
//! deadlock. The input of every task in flight is kept (in memory within the output budget,
//! spilled beyond) so that a worker that dies has its unfinished tasks re-sent to a fresh one.
//!
//! Output records are counted against the tasks in flight, in the order they were sent (the
//! map contract: one output record per input record). With `-k` each task's records go to
//! the merger as that task's output; without it, whole records are written as they arrive.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ChildStderr, ChildStdin, ChildStdout, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{select, unbounded, Receiver, Sender};

use crate::config::Config;
use crate::output::{OutBuf, Spiller};
use crate::pool::feed::{Fed, Feeder};
use crate::pool::thread::{IDLE_CHECK, KILL_GRACE};
use crate::pool::Control;
use crate::source::chunk::RecordSpec;
use crate::sys;
use crate::task::{Chunk, ChunkBody, Finished, Msg, Outcome, Record, RunInfo, Task, TaskInput};
use crate::template::Ctx;

/// Tasks a worker may have outstanding before its writer lets a less loaded worker go first.
const SOFT_CAP: u64 = 64;
/// The same for chunks (each may be megabytes, kept until answered).
const CHUNK_SOFT_CAP: u64 = 2;
/// Workers in a row that die without completing a task before parx gives up.
const MAX_STARTUP_FAILURES: u32 = 3;

/// A task as sent to a worker: its encoded records, kept until the task completes.
#[derive(Debug)]
struct Job {
    seq: u64,
    /// Records the worker must answer with.
    nrec: u64,
    /// What is sent to the worker's stdin.
    input: Arc<JobInput>,
    /// Failed attempts so far (deaths of the worker while on this task).
    failures: u32,
    /// What `--tag`/`--tagstring` and `--results` need to know of the task.
    meta: Option<Arc<JobMeta>>,
}

/// A job's `--tag` prefix and values (for `--results`' index).
#[derive(Debug)]
struct JobMeta {
    /// The prefix of each of its output records, TAB included.
    tag: Option<Vec<u8>>,
    /// Its values.
    records: Vec<Record>,
}

/// The bytes of a job: encoded argument records, or a chunk (sent as it is).
#[derive(Debug)]
enum JobInput {
    Records(OutBuf),
    Chunk(Chunk),
}

impl JobInput {
    /// Bytes sent in all.
    fn len(&self) -> u64 {
        match self {
            JobInput::Records(b) => b.len(),
            JobInput::Chunk(c) => c.len(),
        }
    }

    /// Writes the job to a worker's (blocking) stdin.
    fn send(&self, stdin: &mut ChildStdin) -> io::Result<()> {
        match self {
            JobInput::Records(b) => b.write_to(stdin).and_then(|()| stdin.flush()),
            JobInput::Chunk(c) => match Feeder::new(c).feed(stdin)? {
                Fed::Done => Ok(()),
                Fed::Closed | Fed::Pending => Err(io::ErrorKind::BrokenPipe.into()),
            },
        }
    }
}

/// A job sent to the current worker and not yet answered in full.
#[derive(Debug)]
struct Pending {
    job: Job,
    got: u64,
    /// Its output as printed (with `-k`).
    out: OutBuf,
    /// Its output as the worker wrote it (with `--results`).
    raw: OutBuf,
}

/// What the slots share: load per slot, the re-dispatch queue, failure counting.
struct Shared {
    /// Tasks outstanding per slot (`None`: no live worker in that slot).
    load: Mutex<Vec<Option<u64>>>,
    turn: Condvar,
    redo_tx: Sender<Job>,
    redo_rx: Receiver<Job>,
    startup_failures: AtomicU32,
}

impl Shared {
    fn set_load(&self, slot: usize, v: Option<u64>) {
        self.load.lock().expect("load lock")[slot - 1] = v;
        self.turn.notify_all();
    }

    fn add_load(&self, slot: usize, delta: i64) {
        let mut g = self.load.lock().expect("load lock");
        if let Some(n) = &mut g[slot - 1] {
            *n = n.saturating_add_signed(delta);
        }
        drop(g);
        self.turn.notify_all();
    }

    /// Waits until `slot` may take another task (see the module docs), or `quit` is set.
    fn wait_turn(&self, slot: usize, quit: &AtomicBool, cap: u64) {
        let mut g = self.load.lock().expect("load lock");
        loop {
            let mine = g[slot - 1].unwrap_or(0);
            let least = g.iter().flatten().min().copied().unwrap_or(0);
            if mine < cap || mine <= least || quit.load(Ordering::SeqCst) {
                return;
            }
            g = self
                .turn
                .wait_timeout(g, Duration::from_millis(50))
                .expect("load lock")
                .0;
        }
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
        redo_tx,
        redo_rx,
        startup_failures: AtomicU32::new(0),
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

/// How a writer ended.
struct WriterEnd {
    /// It closed the worker's stdin on purpose (end of input, or `--max-tasks` reached).
    closed: bool,
}

impl Slot<'_> {
    fn run(&self) {
        let mut spill = Spiller::default();
        loop {
            if !self.ctl.may_start() {
                return;
            }
            // Start a worker only when there is work for it.
            let first = match self.next_job(None, &mut spill) {
                Next::Job(j) => j,
                Next::End | Next::Dead => return,
            };
            if !self.run_worker(first) {
                return;
            }
        }
    }

    /// Takes the next job: tasks to redo first, then new tasks.
    fn next_job(&self, dead: Option<&Receiver<()>>, spill: &mut Spiller) -> Next {
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
                    Ok(t) => match (t.seq, self.encode(t, spill)) {
                        (_, Ok(j)) => Next::Job(j),
                        (seq, Err(e)) => {
                            self.ctl.error(format_args!("task {seq}: {e}"));
                            self.ctl.stop(libc::SIGTERM);
                            Next::End
                        }
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

    /// Turns a task into a job: argument values become records (columns joined by TAB, each
    /// ending with the record terminator); a chunk is sent as it is, and its records counted.
    fn encode(&self, task: Task, spill: &mut Spiller) -> io::Result<Job> {
        let seq = task.seq;
        let jc = &self.cfg.jobs_ctl;
        let meta = (jc.tag.is_some() || jc.results.is_some()).then(|| {
            let records = task.template_records().to_vec();
            let tag = jc.tag.as_ref().map(|t| {
                let mut tag = t.expand_text(&Ctx {
                    seq,
                    slot: self.slot,
                    records: &records,
                });
                tag.push(b'\t');
                tag
            });
            Arc::new(JobMeta { tag, records })
        });
        let (input, nrec) = match task.input {
            TaskInput::Chunk(c) => {
                let nrec = self.count_records(&c)?;
                (JobInput::Chunk(c), nrec)
            }
            TaskInput::Args(records) => {
                let term = [self.cfg.record_end()];
                let mut buf = OutBuf::new();
                for rec in &records {
                    for (i, col) in rec.iter().enumerate() {
                        if i > 0 {
                            buf.push(b"\t", spill)?;
                        }
                        buf.push(col.as_bytes(), spill)?;
                    }
                    buf.push(&term, spill)?;
                }
                (JobInput::Records(buf), records.len() as u64)
            }
        };
        Ok(Job {
            seq,
            nrec,
            input: Arc::new(input),
            failures: 0,
            meta,
        })
    }

    /// The records of a chunk (header included): the worker must answer each with one.
    fn count_records(&self, c: &Chunk) -> io::Result<u64> {
        let chunks = self
            .cfg
            .chunks
            .as_ref()
            .expect("chunk tasks come from chunk modes");
        let mut counter = RecordCounter::new(&chunks.rec);
        counter.feed(&c.header);
        match &c.body {
            ChunkBody::Bytes(b) => counter.feed(b),
            ChunkBody::File { file, offset, len } => {
                let mut buf = vec![0u8; (*len as usize).min(1 << 20)];
                let mut done = 0u64;
                while done < *len {
                    let n = ((*len - done) as usize).min(buf.len());
                    file.file.read_exact_at(&mut buf[..n], offset + done)?;
                    counter.feed(&buf[..n]);
                    done += n as u64;
                }
            }
            // perf (issue 14): never made for the process pool (source::splice::usable).
            ChunkBody::Pipe(_) => unreachable!("spliced chunks go to the thread pool only"),
        }
        Ok(counter.records())
    }

    fn spawn(&self) -> io::Result<std::process::Child> {
        let rendered = self.cfg.template.render(&Ctx {
            seq: 0,
            slot: self.slot,
            records: &[],
        });
        let mut cmd = super::command(&rendered, None);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
    }

    /// Runs one worker until it ends; returns whether the slot should go on.
    fn run_worker(&self, first: Job) -> bool {
        if !self.ctl.begin_spawn(self.slot) {
            return false;
        }
        let mut child = match self.spawn() {
            Ok(c) => c,
            Err(e) => {
                self.ctl.clear_child(self.slot);
                self.ctl.error(format_args!("cannot start worker: {e}"));
                self.ctl.stop(libc::SIGTERM);
                return false;
            }
        };
        let pid = child.id() as i32;
        self.ctl.set_child(self.slot, pid);
        self.shared.set_load(self.slot, Some(0));
        let stdin = child.stdin.take().expect("piped");
        let (pend_tx, pend_rx) = unbounded::<Pending>();
        let quit = AtomicBool::new(false);
        let (dead_tx, dead_rx) = crossbeam_channel::bounded::<()>(0);
        let mut reader = Reader {
            slot: self,
            pending: VecDeque::new(),
            pend_rx: &pend_rx,
            partial: Vec::new(),
            mid_record: false,
            completed: 0,
            spill: Spiller::default(),
            spill_raw: Spiller::default(),
            err_line: Vec::new(),
            front_since: None,
            pgid: pid,
            timed_out: false,
        };
        let (wend, read_res) = std::thread::scope(|s| {
            let writer = s.spawn(|| self.write_loop(stdin, first, &pend_tx, &dead_rx, &quit));
            let mut stdout = child.stdout.take().expect("piped");
            let mut stderr = child.stderr.take().expect("piped");
            let res = reader.pump(&mut stdout, &mut stderr);
            // Its stdout and stderr are closed: it can answer nothing more. One that goes on
            // running (perhaps not reading, with the writer stuck) is ended after a grace.
            let grace = Instant::now() + KILL_GRACE;
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < grace {
                std::thread::sleep(Duration::from_millis(5));
            }
            if matches!(child.try_wait(), Ok(None)) {
                sys::kill_group(pid, libc::SIGTERM);
            }
            quit.store(true, Ordering::SeqCst);
            self.shared.turn.notify_all();
            drop(dead_tx);
            (writer.join().expect("writer thread"), res)
        });
        if read_res.is_err() {
            sys::kill_group(pid, libc::SIGKILL);
        }
        let status = child.wait();
        self.ctl.clear_child(self.slot);
        self.shared.set_load(self.slot, None);
        reader.pending.extend(pend_rx.try_iter());
        let status = match (read_res, status) {
            (Ok(()), Ok(st)) => st,
            (Err(e), _) | (_, Err(e)) => {
                self.ctl.error(format_args!("worker {}: {e}", self.slot));
                ExitStatus::from_raw(255 << 8)
            }
        };
        let timed_out = reader.timed_out;
        if wend.closed && status.code().is_some() && !timed_out {
            // It ended by itself after its input: an unterminated last record is a record.
            // After a crash or a timeout it is a torn one, and its task is redone.
            reader.finish_partial();
        }
        let completed = reader.completed;
        self.settle(reader.pending, &status, wend.closed, completed, timed_out)
    }

    /// Feeds jobs to the worker's stdin until input ends, `--max-tasks` is reached, or the
    /// worker stops reading.
    fn write_loop(
        &self,
        mut stdin: ChildStdin,
        first: Job,
        pend_tx: &Sender<Pending>,
        dead_rx: &Receiver<()>,
        quit: &AtomicBool,
    ) -> WriterEnd {
        let mut spill = Spiller::default();
        let mut sent = 0u64;
        let mut next = Some(first);
        loop {
            let job = match next.take() {
                Some(j) => j,
                None => {
                    if self.cfg.max_tasks.is_some_and(|m| sent >= m) {
                        return WriterEnd { closed: true };
                    }
                    let cap = if self.cfg.chunks.is_some() {
                        CHUNK_SOFT_CAP
                    } else {
                        SOFT_CAP
                    };
                    self.shared.wait_turn(self.slot, quit, cap);
                    if quit.load(Ordering::SeqCst) || self.ctl.stopping() {
                        return WriterEnd { closed: false };
                    }
                    if !self.ctl.may_start() {
                        // --halt soon: what was sent is answered, nothing new goes out.
                        return WriterEnd { closed: true };
                    }
                    match self.next_job(Some(dead_rx), &mut spill) {
                        Next::Job(j) => j,
                        Next::End => return WriterEnd { closed: true },
                        Next::Dead => return WriterEnd { closed: false },
                    }
                }
            };
            if let Some(d) = self.cfg.jobs_ctl.delay {
                self.ctl.pace(d);
            }
            let input = job.input.clone();
            self.shared.add_load(self.slot, 1);
            // The reader must know of the job before the worker can answer it.
            if pend_tx
                .send(Pending {
                    raw: OutBuf::new(),
                    job,
                    got: 0,
                    out: OutBuf::new(),
                })
                .is_err()
            {
                return WriterEnd { closed: false };
            }
            sent += 1;
            if input.send(&mut stdin).is_err() {
                // The worker closed its stdin or died: the reader settles what is pending.
                return WriterEnd { closed: false };
            }
        }
    }

    /// After a worker ended: completes, fails or re-sends the jobs it left unanswered.
    /// Returns whether the slot should go on.
    fn settle(
        &self,
        left: VecDeque<Pending>,
        status: &ExitStatus,
        closed: bool,
        completed: u64,
        timed_out: bool,
    ) -> bool {
        let outcome = match (status.code(), status.signal()) {
            (Some(c), _) => Outcome::Exited(c),
            (None, Some(s)) => Outcome::Signaled(s),
            (None, None) => Outcome::Exited(255),
        };
        // It exited by itself after its input ended: its work is over, whatever its status
        // (grep says 1 when nothing matched); a signal or an early exit is a failure.
        let clean = closed && status.code().is_some() && !timed_out;
        if left.is_empty() {
            if status.signal().is_some() && !self.ctl.stopping() {
                eprintln!("parx: worker {} ended by {}", self.slot, describe(outcome));
            }
            self.shared.startup_failures.store(0, Ordering::SeqCst);
            return true;
        }
        if self.ctl.stopping() {
            for p in left {
                self.store(&p.job, &p.raw, outcome);
                self.finish(p.job.seq, OutBuf::new(), outcome);
            }
            return false;
        }
        if clean && !self.cfg.keep_order {
            // Without -k a worker may filter (print nothing for some records): it read all
            // its input and exited, so its tasks are done.
            for p in left {
                self.store(&p.job, &p.raw, Outcome::Exited(0));
                self.finish(p.job.seq, p.out, Outcome::Exited(0));
            }
            self.shared.startup_failures.store(0, Ordering::SeqCst);
            return true;
        }
        if completed == 0 && !timed_out {
            // It answered nothing: a worker that exits at once, or cannot start its work.
            let n = self.shared.startup_failures.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= MAX_STARTUP_FAILURES {
                self.ctl.error(format_args!(
                    "the worker command ended ({}) without answering its input, {n} times in a row; giving up",
                    describe(outcome)
                ));
                self.ctl.stop(libc::SIGTERM);
                for p in left {
                    self.store(&p.job, &p.raw, outcome);
                    self.finish(p.job.seq, OutBuf::new(), outcome);
                }
                return false;
            }
        } else {
            self.shared.startup_failures.store(0, Ordering::SeqCst);
        }
        if clean {
            // With -k: it read all its input and exited 0 but answered fewer records.
            let missing: u64 = left.iter().map(|p| p.job.nrec - p.got).sum();
            self.ctl.error(format_args!(
                "worker {} broke the map contract: it exited with {missing} record(s) missing, on task {}",
                self.slot, left[0].job.seq
            ));
            for p in left {
                self.store(&p.job, &p.raw, Outcome::Exited(1));
                self.finish(p.job.seq, p.out, Outcome::Exited(1));
            }
            return true;
        }
        let mut left = left.into_iter();
        let mut on = left.next().expect("non-empty").job;
        on.failures += 1;
        if timed_out {
            eprintln!(
                "parx: task {} timed out after {:?}: worker {} replaced",
                on.seq,
                self.cfg.jobs_ctl.timeout.unwrap_or_default(),
                self.slot
            );
        } else {
            eprintln!(
                "parx: worker {} {} on task {}",
                self.slot,
                match outcome {
                    Outcome::Signaled(s) => format!("was killed by signal {s}"),
                    o => format!("exited ({})", describe(o)),
                },
                on.seq
            );
        }
        if on.failures <= self.cfg.jobs_ctl.retries {
            let _ = self.shared.redo_tx.send(on);
        } else {
            self.store(&on, &OutBuf::new(), outcome);
            self.finish(on.seq, OutBuf::new(), outcome);
        }
        for p in left {
            let _ = self.shared.redo_tx.send(p.job);
        }
        true
    }

    fn finish(&self, seq: u64, stdout: OutBuf, outcome: Outcome) {
        self.finish_with(seq, stdout, outcome, RunInfo::default());
    }

    fn finish_with(&self, seq: u64, stdout: OutBuf, outcome: Outcome, info: RunInfo) {
        self.ctl.task_ended(seq, outcome);
        let _ = self.out.send(Msg::Done(Box::new(Finished {
            seq,
            stdout,
            stderr: OutBuf::new(),
            outcome,
            info,
        })));
    }

    /// `--results`: the job's output as the worker wrote it, its status and its index row.
    fn store(&self, job: &Job, raw: &OutBuf, outcome: Outcome) {
        let (Some(r), Some(meta)) = (&self.ctl.results, &job.meta) else {
            return;
        };
        let res = r.task(job.seq).and_then(|mut files| {
            raw.write_to(&mut WriteFn(|b: &[u8]| files.out(b)))?;
            files.finish(outcome)?;
            r.index(job.seq, &meta.records)
        });
        if let Err(e) = res {
            eprintln!("parx: task {}: --results: {e}", job.seq);
        }
    }

    /// What the job log says of a job: from when the worker got to it, the bytes both ways,
    /// and the worker's command line.
    fn info(&self, p: &Pending, since: Option<(Instant, SystemTime)>) -> RunInfo {
        let mut info = RunInfo {
            start: since.map(|(_, t)| t),
            runtime: since.map_or(Duration::ZERO, |(t, _)| t.elapsed()),
            send: p.job.input.len(),
            receive: p.out.len(),
            command: Vec::new(),
        };
        if self.cfg.jobs_ctl.joblog.is_some() {
            let r = self.cfg.template.render(&Ctx {
                seq: p.job.seq,
                slot: self.slot,
                records: &[],
            });
            info.command = r.display();
        }
        info
    }
}

fn describe(o: Outcome) -> String {
    match o {
        Outcome::Signaled(s) => format!("signal {s}"),
        o => format!("status {}", o.exit_code()),
    }
}

/// The reading side of one worker: splits stdout into records and credits them to the
/// jobs in flight, in the order they were sent.
struct Reader<'a> {
    slot: &'a Slot<'a>,
    pending: VecDeque<Pending>,
    pend_rx: &'a Receiver<Pending>,
    /// Spill file of the `--results` copies.
    spill_raw: Spiller,
    /// Without -k: the bytes of an output record whose terminator has not arrived yet.
    partial: Vec<u8>,
    /// With -k: the last byte credited was not a terminator.
    mid_record: bool,
    completed: u64,
    spill: Spiller,
    /// An incomplete line of the worker's stderr.
    err_line: Vec<u8>,
    /// Since when the oldest job in flight has been the one the worker is on.
    front_since: Option<(Instant, SystemTime)>,
    /// The worker's process group (killed on `--timeout`).
    pgid: i32,
    /// `--timeout` expired on the oldest job.
    timed_out: bool,
}

impl Reader<'_> {
    fn pump(&mut self, stdout: &mut ChildStdout, stderr: &mut ChildStderr) -> io::Result<()> {
        let mut fds = [
            sys::watch(stdout.as_raw_fd(), libc::POLLIN),
            sys::watch(stderr.as_raw_fd(), libc::POLLIN),
        ];
        let mut buf = vec![0u8; 64 << 10];
        let limit = self.slot.cfg.jobs_ctl.timeout;
        // After a timeout: 1 TERM sent, 2 KILL sent (then stop waiting for the pipes).
        let mut stage = 0u8;
        let mut kill_at = None;
        while fds.iter().any(|p| p.fd >= 0) {
            let mut wait = -1;
            if let Some(limit) = limit {
                let due = match kill_at {
                    Some(at) => Some(at),
                    None => {
                        self.watch_front();
                        self.front_since.map(|(t, _)| t + limit)
                    }
                };
                // No job being timed yet: look again soon (the writer may be sending one).
                wait = 100;
                if let Some(due) = due {
                    let left = due.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        let sig = match stage {
                            0 => libc::SIGTERM,
                            1 => libc::SIGKILL,
                            _ => break,
                        };
                        self.timed_out = true;
                        sys::kill_group(self.pgid, sig);
                        stage += 1;
                        kill_at = Some(Instant::now() + KILL_GRACE);
                        continue;
                    }
                    // Re-check at least every 100 ms: the oldest job may change meanwhile.
                    wait = left.as_millis().clamp(1, 100) as i32;
                }
            }
            if sys::poll(&mut fds, wait)? == 0 {
                continue;
            }
            for (i, pfd) in fds.iter_mut().enumerate() {
                if pfd.fd < 0 || pfd.revents == 0 {
                    continue;
                }
                let r = if i == 0 {
                    stdout.read(&mut buf)
                } else {
                    stderr.read(&mut buf)
                };
                let n = match r {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if n == 0 {
                    pfd.fd = -1;
                } else if i == 0 {
                    self.on_stdout(&buf[..n])?;
                } else {
                    self.on_stderr(&buf[..n]);
                }
            }
        }
        if !self.err_line.is_empty() {
            self.err_line.push(b'\n');
            let _ = io::stderr().lock().write_all(&self.err_line);
        }
        Ok(())
    }

    /// Passes the worker's stderr through, whole lines at a time.
    fn on_stderr(&mut self, data: &[u8]) {
        match memchr::memrchr(b'\n', data) {
            None => self.err_line.extend_from_slice(data),
            Some(i) => {
                let mut e = io::stderr().lock();
                let _ = e
                    .write_all(&self.err_line)
                    .and_then(|()| e.write_all(&data[..=i]));
                self.err_line.clear();
                self.err_line.extend_from_slice(&data[i + 1..]);
            }
        }
    }

    fn on_stdout(&mut self, data: &[u8]) -> io::Result<()> {
        if self.slot.cfg.keep_order {
            return self.credit(data, None);
        }
        // Without -k whole records go out as they come: hold back an unfinished last one.
        let term = self.slot.cfg.record_end();
        let Some(last) = memchr::memrchr(term, data) else {
            self.partial.extend_from_slice(data);
            return Ok(());
        };
        let mut whole = std::mem::take(&mut self.partial);
        whole.extend_from_slice(&data[..=last]);
        self.partial.extend_from_slice(&data[last + 1..]);
        let mut out = Vec::with_capacity(whole.len());
        self.credit(&whole, Some(&mut out))?;
        let _ = self.slot.out.send(Msg::Output(OutBuf::from_vec(out)));
        Ok(())
    }

    /// Credits the records in `data` to the jobs in flight, oldest first, a whole span per
    /// job. Without a `sink` (-k) the bytes become the jobs' output; with one they go there
    /// (tagged with `--tag`). A record may go on in the next call.
    fn credit(&mut self, mut data: &[u8], mut sink: Option<&mut Vec<u8>>) -> io::Result<()> {
        let term = self.slot.cfg.record_end();
        while !data.is_empty() {
            if self.pending.is_empty() {
                self.pending.extend(self.pend_rx.try_iter());
            }
            let Some(front) = self.pending.front_mut() else {
                // Records for no task: the worker broke the contract. Keep the bytes.
                self.slot.ctl.error(format_args!(
                    "worker {} printed a record for no task",
                    self.slot.slot
                ));
                match sink {
                    Some(out) => out.extend_from_slice(data),
                    None => {
                        let _ = self
                            .slot
                            .out
                            .send(Msg::Output(OutBuf::from_vec(data.to_vec())));
                    }
                }
                return Ok(());
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
            let tag = front.job.meta.as_ref().and_then(|m| m.tag.as_deref());
            let at_start = !self.mid_record;
            // Without -k a job of several records (-n, -X, chunks) is printed whole when it is
            // answered: were its worker to die half way, the job is redone, and its first
            // records must not come out twice.
            let sink_now = if front.job.nrec > 1 {
                None
            } else {
                sink.as_deref_mut()
            };
            match sink_now {
                Some(out) => push_tagged(span, tag, term, at_start, &mut |b| {
                    out.extend_from_slice(b);
                    Ok(())
                })?,
                None => {
                    let (buf, spill) = (&mut front.out, &mut self.spill);
                    push_tagged(span, tag, term, at_start, &mut |b| buf.push(b, spill))?;
                }
            }
            if self.slot.cfg.jobs_ctl.results.is_some() {
                front.raw.push(span, &mut self.spill_raw)?;
            }
            self.mid_record = data[end - 1] != term;
            data = &data[end..];
            self.add_records(seen);
        }
        Ok(())
    }

    /// Starts the clock of the oldest job in flight when it becomes the one the worker is on.
    fn watch_front(&mut self) {
        if self.front_since.is_none() && self.front().is_some() {
            self.front_since = Some((Instant::now(), SystemTime::now()));
        }
    }

    /// The oldest job in flight.
    fn front(&mut self) -> Option<&mut Pending> {
        if self.pending.is_empty() {
            self.pending.extend(self.pend_rx.try_iter());
        }
        self.pending.front_mut()
    }

    /// Counts `n` more records answered for the oldest job (at most what it lacks),
    /// finishing it when complete.
    fn add_records(&mut self, n: u64) {
        let Some(front) = self.front() else { return };
        front.got += n;
        if front.got >= front.job.nrec {
            let p = self.pending.pop_front().expect("front exists");
            self.completed += 1;
            self.slot.shared.add_load(self.slot.slot, -1);
            let since = self.front_since.take();
            let info = self.slot.info(&p, since);
            self.slot.store(&p.job, &p.raw, Outcome::Exited(0));
            self.slot
                .finish_with(p.job.seq, p.out, Outcome::Exited(0), info);
        }
    }

    /// At the end of the worker's output, an unterminated last record counts as a record.
    fn finish_partial(&mut self) {
        if self.slot.cfg.keep_order {
            if !self.mid_record {
                return;
            }
        } else {
            if self.partial.is_empty() {
                return;
            }
            let rec = std::mem::take(&mut self.partial);
            let _ = self.slot.out.send(Msg::Output(OutBuf::from_vec(rec)));
        }
        self.mid_record = false;
        self.add_records(1);
    }
}

/// Counts the records of a chunk as the chunk modes split them: record ends (plus an
/// unterminated last record), or with `--recstart` alone the record starts.
struct RecordCounter<'a> {
    rec: &'a RecordSpec,
    /// Separators seen (with `--recstart` alone: those not at the very start).
    seps: u64,
    /// Bytes seen so far.
    seen: u64,
    /// The last bytes seen (a separator may straddle two pieces).
    tail: Vec<u8>,
}

impl<'a> RecordCounter<'a> {
    fn new(rec: &'a RecordSpec) -> Self {
        RecordCounter {
            rec,
            seps: 0,
            seen: 0,
            tail: Vec::new(),
        }
    }

    fn sep(&self) -> &'a [u8] {
        if self.rec.recend.is_empty() {
            self.rec.recstart.as_deref().unwrap_or_default()
        } else {
            &self.rec.recend
        }
    }

    fn feed(&mut self, data: &[u8]) {
        let sep = self.sep();
        if data.is_empty() || sep.is_empty() {
            self.seen += data.len() as u64;
            return;
        }
        let mut joined = std::mem::take(&mut self.tail);
        let old = joined.len();
        joined.extend_from_slice(data);
        let base = self.seen - old as u64;
        let starts_only = self.rec.recend.is_empty();
        self.seps += memchr::memmem::find_iter(&joined, sep)
            .filter(|&i| i + sep.len() > old)
            .filter(|&i| !(starts_only && base + i as u64 == 0))
            .count() as u64;
        self.seen += data.len() as u64;
        let keep = sep.len().min(joined.len());
        self.tail = joined[joined.len() - keep..].to_vec();
    }

    /// The number of records in what was fed.
    fn records(&self) -> u64 {
        if self.seen == 0 {
            return 0;
        }
        let sep = self.sep();
        if sep.is_empty() {
            return 1;
        }
        if self.rec.recend.is_empty() {
            // Each start not at the beginning opens one more record.
            return self.seps + 1;
        }
        self.seps + u64::from(!self.tail.ends_with(sep))
    }
}

/// Passes `span` (output records, the first one starting a record when `at_start`) to `out`,
/// each record prefixed with `tag` if there is one.
fn push_tagged(
    span: &[u8],
    tag: Option<&[u8]>,
    term: u8,
    mut at_start: bool,
    out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let Some(tag) = tag else {
        return out(span);
    };
    let mut rest = span;
    while !rest.is_empty() {
        if at_start {
            out(tag)?;
        }
        match memchr::memchr(term, rest) {
            Some(i) => {
                out(&rest[..=i])?;
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
