//! The thread pool (`--pool thread`): `-j` threads, each taking tasks from the channel and
//! running one supervised child per task ([`crate::pool::child`]), shaping its output with the
//! per-attempt hook and handing it to the merger (streamed when it is the `-k` head of line).

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::config::Config;
use crate::output::{OutBuf, Spiller};
use crate::pool::child::{self, Child, Pumped, Spawned, Stream, Tick, IDLE_CHECK};
use crate::pool::feed::Feeder;
use crate::pool::hook::OutputHook;
use crate::pool::{Control, Launcher};
use crate::task::{Finished, Msg, Outcome, RunInfo, Task};
use crate::template::{Ctx, Rendered};

/// The `-j` pool threads, started as tasks arrive ([`Launcher`]). They end when the task
/// channel is drained and closed, or when the run stops.
pub fn start(
    cfg: &Arc<Config>,
    ctl: &Arc<Control>,
    tasks: Receiver<Task>,
    out: Sender<Msg>,
) -> Arc<Launcher> {
    let (cfg, ctl) = (cfg.clone(), ctl.clone());
    Launcher::lazy(cfg.jobs, "parx-slot", 256 << 10, move |slot| {
        let (c, k, tasks, out) = (cfg.clone(), ctl.clone(), tasks.clone(), out.clone());
        Box::new(move || Slot::new(slot, &c, &k, &out).run(&tasks))
    })
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
            // Gate hook: a slot above the count in a -j FILE takes no new task.
            if !self.ctl.slot_open(self.slot) {
                let drained = self.ctl.total().is_some() && tasks.is_empty();
                if !self.ctl.may_start() || drained {
                    break;
                }
                continue;
            }
            // Look up now and then: after --halt or a stop no task may come for long (the
            // source may be waiting for input), and the slot must not keep the run alive.
            // {%}: the lowest number free now, for all of the task's attempts.
            let (task, jobslot) = match self.ctl.next_task(tasks, IDLE_CHECK) {
                Ok(t) => t,
                Err(RecvTimeoutError::Timeout) if self.ctl.may_start() => continue,
                Err(_) => break,
            };
            if !self.ctl.may_start() {
                self.ctl.release_jobslot(jobslot);
                break;
            }
            let fin = self.run_retrying(&task, jobslot);
            self.ctl.release_jobslot(jobslot);
            // Gate hook: held at the gate until the run stopped (or --halt soon): it never
            // ran, like a task taken after the stop.
            if fin.info.start.is_none() && !self.cfg.dry_run && !self.ctl.may_start() {
                break;
            }
            self.ctl.task_ended(fin.seq, fin.outcome);
            if self.out.send(Msg::Done(Box::new(fin))).is_err() {
                break;
            }
        }
    }

    /// Runs a task up to `--retries` times in all while it fails. Earlier attempts' outputs
    /// are dropped; only the last attempt allowed may stream or send lines early (its output
    /// cannot be replaced any more), so with retries a task's output is printed when it ends.
    fn run_retrying(&mut self, task: &Task, jobslot: usize) -> Finished {
        let mut attempt = 0;
        loop {
            let last = !self.cfg.jobs_ctl.may_rerun(attempt + 1);
            let fin = self.run_task(task, jobslot, last);
            // Gate hook: killed by --memfree, it runs again (its output dropped), and that
            // attempt does not count.
            let killed = fin.outcome == Outcome::Signaled(libc::SIGKILL);
            if self.ctl.take_requeue(self.slot) && killed && self.ctl.may_start() {
                continue;
            }
            if last || fin.outcome.success() || !self.ctl.may_start() {
                return fin;
            }
            attempt += 1;
        }
    }

    fn run_task(&mut self, task: &Task, jobslot: usize, last: bool) -> Finished {
        let rendered = self.cfg.template.render(&Ctx {
            seq: task.seq,
            slot: jobslot,
            records: task.template_records(),
        });
        let mut fin = Finished {
            seq: task.seq,
            stdout: OutBuf::new(),
            stderr: OutBuf::new(),
            outcome: Outcome::DryRun,
            info: RunInfo::default(),
            more: 0,
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
        // -t: the command on stderr before it runs; -v: on stdout, grouped with its output.
        let compat = &self.cfg.compat;
        if compat.verbose || compat.print_command {
            let mut line = rendered.display();
            line.push(b'\n');
            if compat.verbose {
                let _ = io::Write::write_all(&mut io::stderr().lock(), &line);
            }
            if compat.print_command {
                let _ = fin.stdout.push(&line, &mut self.spill_out);
            }
        }
        let mut hook = match OutputHook::new(
            self.cfg,
            self.ctl,
            task.seq,
            jobslot,
            task.records(),
            // Gate hook: a task --memfree may kill and rerun must not print early.
            last && !self.ctl.may_requeue(),
        ) {
            Ok(h) => h,
            Err(e) => {
                let msg = format!("parx: task {}: --results: {e}\n", task.seq);
                fin.stderr = OutBuf::from_vec(msg.into_bytes());
                fin.outcome = Outcome::IoError;
                return fin;
            }
        };
        let who = super::Spawn {
            cfg: self.cfg,
            seq: Some(task.seq),
            slot: jobslot,
        };
        let program = match &rendered {
            Rendered::Argv(a) => Some(self.resolve(&a[0])),
            Rendered::Shell(_) => None,
        };
        let mut cmd = super::command(&rendered, program, who);
        // Gate hook: wait for --load/--memfree/--memsuspend/-j FILE (before the clock starts).
        if !self.ctl.admit(self.slot) {
            fin.outcome = Outcome::Signaled(libc::SIGTERM);
            return fin;
        }
        if let Some(d) = self.cfg.jobs_ctl.delay {
            self.ctl.pace(d);
        }
        let started = Instant::now();
        fin.info.start = Some(SystemTime::now());
        let mut child = match Child::spawn(
            self.ctl,
            self.slot,
            &mut cmd,
            // perf (issue 14): a spliced chunk's pipe is the command's stdin itself.
            crate::pool::feed::stdin_for(task.chunk()),
        ) {
            Spawned::Running(c) => c,
            Spawned::Stopping => {
                fin.outcome = Outcome::Signaled(libc::SIGTERM);
                return fin;
            }
            Spawned::Failed(e) => {
                let (msg, outcome) = crate::messages::spawn_error(cmd.get_program(), &e);
                fin.stderr = OutBuf::from_vec(format!("parx: {msg}\n").into_bytes());
                fin.outcome = outcome;
                let _ = hook.finish(fin.outcome);
                return fin;
            }
        };
        let deadline = self.cfg.jobs_ctl.timeout.map(|t| started + t).or_else(|| {
            // --timeout N%: N% of the median run time so far (none before a task is done).
            let pct = self.cfg.compat.timeout_pct?;
            let median = self.ctl.runtimes.lock().ok()?.get()?;
            Some(started + median.mul_f64(pct / 100.0))
        });
        let feed = match (child.take_stdin(), task.chunk()) {
            (Some(s), Some(c)) => Some((s, Feeder::new(c))),
            _ => None,
        };
        let (mut stdout, mut stderr) = child.take_outputs();
        let mut buf = std::mem::take(&mut self.buf);
        let may_stream = hook.last;
        let mut streaming = false;
        let pumped = child::pump(
            child.pgid,
            (&mut stdout, &mut stderr),
            feed,
            &mut buf,
            self.cfg
                .compat
                .termseq
                .as_deref()
                .unwrap_or(&child::END_SEQUENCE),
            || Tick {
                deadline,
                recheck: None,
            },
            |stream, data| match stream {
                Stream::Out if data.is_empty() => {
                    let lines = hook.lines;
                    let rest = hook.stdout_end();
                    self.pass_stdout(&mut fin, rest, lines, may_stream, &mut streaming)
                }
                Stream::Out => {
                    let (data, lines) = hook.stdout(data)?;
                    self.pass_stdout(&mut fin, data, lines, may_stream, &mut streaming)
                }
                Stream::Err => {
                    let data = hook.stderr(data)?;
                    if streaming && self.cfg.jobs_ctl.line_buffer {
                        // -k --line-buffer: the streaming head task's stderr goes out as it
                        // comes, like its stdout (GNU parallel); only one task streams.
                        let _ = io::Write::write_all(&mut io::stderr().lock(), data);
                        Ok(())
                    } else {
                        fin.stderr.push(data, &mut self.spill_err)
                    }
                }
            },
        );
        self.buf = buf;
        drop((stdout, stderr));
        if pumped.is_err() {
            child.signal(libc::SIGKILL);
        }
        let status = child.reap();
        fin.info.runtime = started.elapsed();
        if self.cfg.compat.timeout_pct.is_some() {
            if let Ok(mut m) = self.ctl.runtimes.lock() {
                m.push(fin.info.runtime);
            }
        }
        fin.info.receive = hook.received;
        fin.outcome = match (pumped, status) {
            (Ok(p), Ok(st)) if p.timed_out => {
                let msg = format!(
                    "parx: task {} timed out after {:?}\n",
                    task.seq,
                    deadline.map(|d| d - started).unwrap_or_default()
                );
                let _ = fin.stderr.push(msg.as_bytes(), &mut self.spill_err);
                // Killed, or ended by itself after the TERM: a timed-out task failed.
                Outcome::Signaled(st.signal().unwrap_or(libc::SIGTERM))
            }
            (
                Ok(Pumped {
                    feed_err: Some(e), ..
                }),
                Ok(_),
            ) => {
                let msg = format!("parx: task {}: {e}\n", task.seq);
                let _ = fin.stderr.push(msg.as_bytes(), &mut self.spill_err);
                Outcome::IoError
            }
            (Ok(_), Ok(st)) => child::outcome(st),
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
