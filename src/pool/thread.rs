//! The thread pool (`--pool thread`): `-j` threads, each taking tasks from the channel and
//! running one child process per task in its own process group, collecting its stdout and
//! stderr with poll(2) and handing the whole output to the merger.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::config::Config;
use crate::output::{OutBuf, Spiller};
use crate::pool::feed::{Fed, Feeder};
use crate::pool::hook::OutputHook;
use crate::pool::Control;
use crate::sys;
use crate::task::{Chunk, Finished, Msg, Outcome, RunInfo, Task};
use crate::template::{Ctx, Rendered};

/// How often an idle slot checks whether the run still may start tasks.
pub const IDLE_CHECK: Duration = Duration::from_millis(100);
/// Short reads of one task's stdout after which the slot pauses between reads.
const CHATTY_READS: u32 = 8;
/// That pause: long enough for a chatty writer to put many writes in the pipe, short enough
/// to add nothing a person or a pipeline would notice.
const CHATTY_PAUSE: Duration = Duration::from_micros(200);
/// After a `--timeout` TERM, how long the task's group has before KILL (and after the KILL,
/// how long parx still waits for its pipes to close).
pub const KILL_GRACE: Duration = Duration::from_millis(500);

/// Starts the `-j` pool threads. They end when the task channel is drained and closed, or
/// when the run stops.
pub fn start(
    cfg: &Arc<Config>,
    ctl: &Arc<Control>,
    tasks: Receiver<Task>,
    out: Sender<Msg>,
) -> Vec<JoinHandle<()>> {
    (1..=cfg.jobs)
        .map(|slot| {
            let (cfg, ctl, tasks, out) = (cfg.clone(), ctl.clone(), tasks.clone(), out.clone());
            std::thread::Builder::new()
                .name(format!("parx-slot-{slot}"))
                .stack_size(256 << 10)
                .spawn(move || Slot::new(slot, &cfg, &ctl, &out).run(&tasks))
                .expect("cannot start a pool thread")
        })
        .collect()
}

/// One job slot: its thread's reusable buffers.
struct Slot<'a> {
    slot: usize,
    cfg: &'a Config,
    ctl: &'a Control,
    out: &'a Sender<Msg>,
    spill_out: Spiller,
    spill_err: Spiller,
    buf: Vec<u8>,
    /// The last program name looked up in PATH and where it was found.
    resolved: Option<(OsString, Option<PathBuf>)>,
}

impl<'a> Slot<'a> {
    fn new(slot: usize, cfg: &'a Config, ctl: &'a Control, out: &'a Sender<Msg>) -> Self {
        Slot {
            slot,
            cfg,
            ctl,
            out,
            spill_out: Spiller::default(),
            spill_err: Spiller::default(),
            buf: vec![0; 64 << 10],
            resolved: None,
        }
    }

    fn run(mut self, tasks: &Receiver<Task>) {
        loop {
            // Look up now and then: after --halt or a stop no task may come for long (the
            // source may be waiting for input), and the slot must not keep the run alive.
            let task = match tasks.recv_timeout(IDLE_CHECK) {
                Ok(t) => t,
                Err(RecvTimeoutError::Timeout) if self.ctl.may_start() => continue,
                Err(_) => break,
            };
            if !self.ctl.may_start() {
                break;
            }
            let fin = self.run_retrying(&task);
            self.ctl.task_ended(fin.seq, fin.outcome);
            if self.out.send(Msg::Done(Box::new(fin))).is_err() {
                break;
            }
        }
    }

    /// Runs a task up to `--retries` more times while it fails. Earlier attempts' outputs
    /// are dropped; only the last attempt allowed may stream or send lines early (its output
    /// cannot be replaced any more), so with retries a task's output is printed when it ends.
    fn run_retrying(&mut self, task: &Task) -> Finished {
        let retries = self.cfg.jobs_ctl.retries;
        let mut attempt = 0;
        loop {
            let last = attempt >= retries;
            let fin = self.run_task(task, last);
            if last || fin.outcome.success() || !self.ctl.may_start() {
                return fin;
            }
            attempt += 1;
        }
    }

    fn run_task(&mut self, task: &Task, last: bool) -> Finished {
        let rendered = self.cfg.template.render(&Ctx {
            seq: task.seq,
            slot: self.slot,
            records: task.template_records(),
        });
        let mut fin = Finished {
            seq: task.seq,
            stdout: OutBuf::new(),
            stderr: OutBuf::new(),
            outcome: Outcome::DryRun,
            info: RunInfo::default(),
        };
        if self.cfg.jobs_ctl.joblog.is_some() {
            fin.info.command = rendered.display();
        }
        if self.cfg.dry_run {
            let mut line = rendered.display();
            line.push(b'\n');
            fin.stdout = OutBuf::from_vec(line);
            return fin;
        }
        let mut hook = match OutputHook::new(
            self.cfg,
            self.ctl,
            task.seq,
            self.slot,
            task.records(),
            last,
        ) {
            Ok(h) => h,
            Err(e) => {
                let msg = format!("parx: task {}: --results: {e}\n", task.seq);
                fin.stderr = OutBuf::from_vec(msg.into_bytes());
                fin.outcome = Outcome::IoError;
                return fin;
            }
        };
        let program = match &rendered {
            Rendered::Argv(a) => Some(self.resolve(&a[0])),
            Rendered::Shell(_) => None,
        };
        let mut cmd = super::command(&rendered, program);
        // perf (issue 14): a spliced chunk's pipe is the command's stdin itself.
        let stdin = crate::pool::feed::stdin_for(task.chunk());
        cmd.stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(d) = self.cfg.jobs_ctl.delay {
            self.ctl.pace(d);
        }
        if !self.ctl.begin_spawn(self.slot) {
            fin.outcome = Outcome::Signaled(libc::SIGTERM);
            return fin;
        }
        let started = Instant::now();
        fin.info.start = Some(SystemTime::now());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                self.ctl.clear_child(self.slot);
                let prog = cmd.get_program().to_string_lossy().into_owned();
                fin.stderr = OutBuf::from_vec(format!("parx: {prog}: {e}\n").into_bytes());
                fin.outcome = Outcome::SpawnFailed;
                let _ = hook.finish(fin.outcome);
                return fin;
            }
        };
        let pgid = child.id() as i32;
        self.ctl.set_child(self.slot, pgid);
        let deadline = self.cfg.jobs_ctl.timeout.map(|t| started + t);
        let mut feed = Feed {
            chunk: task.chunk(),
            err: None,
        };
        let pumped = self.pump(&mut child, &mut fin, &mut hook, deadline, &mut feed);
        if pumped.is_err() {
            sys::kill_group(pgid, libc::SIGKILL);
        }
        let status = child.wait();
        self.ctl.clear_child(self.slot);
        fin.info.runtime = started.elapsed();
        fin.info.receive = hook.received;
        fin.outcome = match (pumped, status) {
            (Ok(Some(sig)), Ok(st)) => {
                let msg = format!(
                    "parx: task {} timed out after {:?}\n",
                    task.seq,
                    self.cfg.jobs_ctl.timeout.unwrap_or_default()
                );
                let _ = fin.stderr.push(msg.as_bytes(), &mut self.spill_err);
                // Killed, or ended by itself after the TERM: a timed-out task failed.
                Outcome::Signaled(st.signal().unwrap_or(sig))
            }
            (Ok(None), Ok(_)) if feed.err.is_some() => {
                let e = feed.err.take().expect("checked");
                let msg = format!("parx: task {}: {e}\n", task.seq);
                let _ = fin.stderr.push(msg.as_bytes(), &mut self.spill_err);
                Outcome::IoError
            }
            (Ok(None), Ok(st)) => match (st.code(), st.signal()) {
                (Some(c), _) => Outcome::Exited(c),
                (None, Some(s)) => Outcome::Signaled(s),
                (None, None) => Outcome::Exited(255),
            },
            (Err(e), _) | (_, Err(e)) => {
                let msg = format!("parx: task {}: {e}\n", task.seq);
                let _ = fin.stderr.push(msg.as_bytes(), &mut self.spill_err);
                Outcome::IoError
            }
        };
        let mut stored = hook.finish(fin.outcome);
        if let (true, Some(r)) = (last || fin.outcome.success(), &self.ctl.results) {
            stored = stored.and_then(|()| r.index(task.seq, task.records()));
        }
        if let Err(e) = stored {
            let msg = format!("parx: task {}: --results: {e}\n", task.seq);
            let _ = fin.stderr.push(msg.as_bytes(), &mut self.spill_err);
        }
        fin
    }

    /// Looks a bare program name up in PATH once per slot (the command's program rarely
    /// changes), sparing every spawn the search through PATH. A name with a `/`, or one not
    /// found, is left to the spawn (which then reports the error).
    fn resolve<'p>(&'p mut self, prog: &'p OsStr) -> &'p OsStr {
        if prog.as_bytes().contains(&b'/') {
            return prog;
        }
        if self.resolved.as_ref().is_none_or(|(name, _)| name != prog) {
            self.resolved = Some((prog.to_owned(), search_path(prog)));
        }
        match &self.resolved {
            Some((_, Some(path))) => path.as_os_str(),
            _ => prog,
        }
    }

    /// Reads the child's stdout and stderr until both close, feeding `chunk` (if any) to its
    /// stdin meanwhile; a chunk that cannot be read leaves its error in `feed_err`. With a
    /// `deadline` (`--timeout`),
    /// the task's process group gets TERM when it passes and KILL [`KILL_GRACE`] later;
    /// returns the signal sent, if any.
    fn pump(
        &mut self,
        child: &mut Child,
        fin: &mut Finished,
        hook: &mut OutputHook,
        deadline: Option<Instant>,
        feed: &mut Feed,
    ) -> io::Result<Option<i32>> {
        let mut buf = std::mem::take(&mut self.buf);
        let res = self.pump_with(child, fin, hook, deadline, &mut buf, feed);
        self.buf = buf;
        res
    }

    fn pump_with(
        &mut self,
        child: &mut Child,
        fin: &mut Finished,
        hook: &mut OutputHook,
        mut deadline: Option<Instant>,
        buf: &mut [u8],
        feed: &mut Feed,
    ) -> io::Result<Option<i32>> {
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let mut stdin = child.stdin.take();
        let mut feeder = feed.chunk.map(Feeder::new);
        if let Some(s) = &stdin {
            Feeder::prepare(s)?;
        }
        let pgid = child.id() as i32;
        let mut fds = [
            sys::watch(stdout.as_raw_fd(), libc::POLLIN),
            sys::watch(stderr.as_raw_fd(), libc::POLLIN),
            sys::watch(stdin.as_ref().map_or(-1, |s| s.as_raw_fd()), libc::POLLOUT),
        ];
        let mut streaming = false;
        let may_stream = hook.last;
        let mut small_reads = 0u32;
        // 0: nothing sent, 1: TERM sent, 2: KILL sent.
        let mut stage = 0u8;
        // Until stdout and stderr close and the chunk (if any) is fed: a command may close its
        // stdout early and still read its input.
        while fds.iter().any(|p| p.fd >= 0) {
            let timeout = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        // TERM, KILL after the grace, then stop waiting for the pipes (a
                        // descendant that left the group could hold them open for ever).
                        let sig = match stage {
                            0 => libc::SIGTERM,
                            1 => libc::SIGKILL,
                            _ => break,
                        };
                        sys::kill_group(pgid, sig);
                        stage += 1;
                        deadline = Some(Instant::now() + KILL_GRACE);
                        continue;
                    }
                    left.as_millis().clamp(1, i32::MAX as u128) as i32
                }
            };
            if sys::poll(&mut fds, timeout)? == 0 {
                continue;
            }
            for (i, pfd) in fds.iter_mut().enumerate() {
                if pfd.fd < 0 || pfd.revents == 0 {
                    continue;
                }
                if i == 2 {
                    let (Some(f), Some(s)) = (feeder.as_mut(), stdin.as_mut()) else {
                        unreachable!("the stdin slot is polled only while feeding")
                    };
                    match f.feed(s) {
                        Ok(Fed::Pending) => continue,
                        Ok(Fed::Done | Fed::Closed) => {}
                        Err(e) => feed.err = Some(e),
                    }
                    // Closing stdin tells the command its input has ended.
                    stdin = None;
                    pfd.fd = -1;
                    continue;
                }
                let r = if i == 0 {
                    stdout.read(buf)
                } else {
                    stderr.read(buf)
                };
                let n = match r {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if n == 0 {
                    pfd.fd = -1;
                    if i == 0 {
                        let lines = hook.lines;
                        let rest = hook.stdout_end();
                        self.pass_stdout(fin, rest, lines, may_stream, &mut streaming)?;
                    }
                } else if i == 1 {
                    let data = hook.stderr(&buf[..n])?;
                    fin.stderr.push(data, &mut self.spill_err)?;
                } else {
                    let (data, lines) = hook.stdout(&buf[..n])?;
                    self.pass_stdout(fin, data, lines, may_stream, &mut streaming)?;
                    if n < buf.len() {
                        small_reads += 1;
                    }
                }
            }
            if small_reads > CHATTY_READS && fds[2].fd < 0 {
                // A task that writes in many small pieces (`wc` writes a line per file) would
                // wake this thread for each: let its pipe fill a little between reads (not while
                // its stdin is still being fed).
                std::thread::sleep(CHATTY_PAUSE);
            }
        }
        Ok((stage > 0).then_some(libc::SIGTERM))
    }

    /// Passes (shaped) stdout on: as whole lines to the merger (`--line-buffer`), streamed
    /// (the `-k` head of line on its last attempt), or into the task's buffer.
    fn pass_stdout(
        &mut self,
        fin: &mut Finished,
        data: &[u8],
        lines: bool,
        may_stream: bool,
        streaming: &mut bool,
    ) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if lines {
            let _ = self.out.send(Msg::Lines {
                seq: fin.seq,
                data: data.to_vec(),
            });
            return Ok(());
        }
        if self.cfg.keep_order
            && !*streaming
            && may_stream
            && self.ctl.head.load(Ordering::Acquire) == fin.seq
        {
            // Head of line: what was buffered goes first, then everything streams.
            *streaming = true;
            let _ = self.out.send(Msg::Stream {
                seq: fin.seq,
                data: fin.stdout.take(),
            });
        }
        if *streaming {
            let data = OutBuf::from_vec(data.to_vec());
            let _ = self.out.send(Msg::Stream { seq: fin.seq, data });
        } else {
            fin.stdout.push(data, &mut self.spill_out)?;
        }
        Ok(())
    }
}

/// A chunk to feed to the task's stdin, and what went wrong reading it.
struct Feed<'a> {
    chunk: Option<&'a Chunk>,
    err: Option<io::Error>,
}

/// The first executable regular file named `prog` in `$PATH`, as execvp(3) would find it.
fn search_path(prog: &OsStr) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let cand = dir.join(prog);
        let meta = std::fs::metadata(&cand).ok()?;
        (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(cand)
    })
}
