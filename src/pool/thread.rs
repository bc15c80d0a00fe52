//! The thread pool (`--pool thread`): `-j` threads, each taking tasks from the channel and
//! running one supervised child per task ([`crate::pool::child`]), whose output goes through
//! its attempt's [`Sink`] (shaped, stored, streamed or held) to the merger.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::config::Config;
use crate::output::OutBuf;
use crate::pool::child::{self, Capture, Child, Pumped, Spawned, Stream, Tick, IDLE_CHECK};
use crate::pool::feed::Feeder;
use crate::pool::life::{self, Launch};
use crate::pool::sink::{Outlet, Sink};
use crate::pool::{Launcher, Run};
use crate::task::{Finished, Msg, Outcome, RunInfo, Task};
use crate::template::{Ctx, Rendered};

/// The `-j` pool threads, started as tasks arrive ([`Launcher`]). They end when the task
/// channel is drained and closed, or when the run stops.
pub(crate) fn start(
    cfg: &Arc<Config>,
    ctl: &Arc<Run>,
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
    ctl: &'a Run,
    outlet: Outlet<'a>,
    buf: Vec<u8>,
    /// The last program name looked up in PATH and where it was found.
    resolved: Option<(OsString, Option<PathBuf>)>,
    /// The last program name asked about by [`Slot::runs_direct`], and the answer.
    direct: Option<(OsString, bool)>,
    /// The merger need not hear of a task that printed nothing ([`super::counts_only`]).
    counts_only: bool,
}

impl<'a> Slot<'a> {
    fn new(slot: usize, cfg: &'a Config, ctl: &'a Run, out: &'a Sender<Msg>) -> Self {
        Slot {
            slot,
            cfg,
            ctl,
            outlet: Outlet::new(cfg, ctl, out),
            buf: vec![0; 64 << 10],
            resolved: None,
            direct: None,
            counts_only: super::counts_only(cfg),
        }
    }

    fn run(mut self, tasks: &Receiver<Task>) {
        loop {
            // Gate hook: a slot above the count in a -j FILE takes no new task.
            if !self.ctl.slots.slot_open(self.slot) {
                let drained = self.ctl.state.total().is_some() && tasks.is_empty();
                if !self.ctl.may_start() || drained {
                    break;
                }
                continue;
            }
            // Look up now and then: after --halt or a stop no task may come for long (the
            // source may be waiting for input), and the slot must not keep the run alive.
            // {%} (see SlotTable::next_task): taken now, for all of the task's attempts.
            let (task, jobslot) = match self.ctl.slots.next_task(tasks, IDLE_CHECK, &self.ctl.life)
            {
                Ok(t) => t,
                Err(RecvTimeoutError::Timeout) if self.ctl.may_start() => continue,
                Err(_) => break,
            };
            if !self.ctl.may_start() {
                self.ctl.slots.release_jobslot(jobslot);
                break;
            }
            let fin = self.run_retrying(&task, jobslot);
            self.ctl.slots.release_jobslot(jobslot);
            // Gate hook: held at the gate until the run stopped (or --halt soon): it never
            // ran, like a task taken after the stop.
            if fin.info.start.is_none() && !self.cfg.dry_run && !self.ctl.may_start() {
                break;
            }
            let ended = if self.counts_only {
                self.ctl.end_or_tally(fin, self.outlet.to)
            } else {
                self.ctl.end(fin, self.outlet.to)
            };
            if !ended {
                break;
            }
        }
    }

    /// Runs a task up to `--retries` times in all while it fails. Earlier attempts' outputs
    /// are dropped; only the last attempt allowed may stream or send lines early (its output
    /// cannot be replaced any more), so with retries a task's output is printed when it ends.
    fn run_retrying(&mut self, task: &Task, jobslot: usize) -> Finished {
        let mut attempt = 0;
        // The first start was paced when the task was taken (SlotTable::next_task).
        let mut again = false;
        loop {
            let last = !self.ctl.life.may_retry(attempt + 1);
            let fin = self.run_task(task, jobslot, last, again);
            again = true;
            // Gate hook: killed by --memfree, it runs again (its output dropped), and that
            // attempt does not count.
            let killed = fin.outcome == Outcome::Signaled(libc::SIGKILL);
            if self.ctl.slots.take_requeue(self.slot) && killed && self.ctl.may_start() {
                continue;
            }
            if last || fin.outcome.success() || !self.ctl.may_start() {
                return fin;
            }
            attempt += 1;
        }
    }

    /// One attempt at a task: its command rendered and shown, launched, supervised to its
    /// end, and settled into a [`Finished`]. `again`: a retry (the first start was paced when
    /// the task was taken).
    fn run_task(&mut self, task: &Task, jobslot: usize, last: bool, again: bool) -> Finished {
        let rendered = self.cfg.template.render(&Ctx {
            seq: task.seq,
            slot: jobslot,
            records: task.template_records(),
            learned: &self.ctl.state.learned,
        });
        let mut fin = Finished {
            seq: task.seq,
            stdout: OutBuf::new(),
            stderr: OutBuf::new(),
            outcome: Outcome::DryRun,
            info: RunInfo::default(),
            more: 0,
        };
        let Some(mut sink) = self.begin(task, jobslot, last, &rendered, &mut fin) else {
            return fin;
        };
        let mut cmd = self.command(rendered, jobslot, task.seq);
        // perf (issue 14): a spliced chunk's pipe is the command's stdin itself.
        let stdin = match task.chunk() {
            None => super::task_stdin(self.cfg.compat.task_stdin),
            chunk => crate::pool::feed::stdin_for(chunk),
        };
        let how = (stdin, Capture::Held);
        let (started, spawned) = match life::launch_with(self.ctl, self.slot, &mut cmd, how, again)
        {
            Launch::Held => {
                fin.outcome = Outcome::Signaled(libc::SIGTERM);
                fin.info.killed = true;
                return fin;
            }
            Launch::Tried(started, spawned) => (started, spawned),
        };
        fin.info.start = Some(started.1);
        let child = match spawned {
            Spawned::Running(c) => c,
            Spawned::Stopping => {
                fin.outcome = Outcome::Signaled(libc::SIGTERM);
                fin.info.killed = true;
                return fin;
            }
            Spawned::Failed(e) => {
                let (outcome, line) = self.ctl.life.spawn_failed(self.ctl, cmd.get_program(), &e);
                fin.outcome = outcome;
                let (stdout, _, _) = sink.finish(fin.outcome, None);
                fin.stdout = stdout;
                if let Some(line) = line {
                    fin.stderr = OutBuf::from_vec(line.into_bytes());
                }
                return fin;
            }
        };
        let (pumped, status, deadline) = self.supervise(task, child, started.0, &mut sink);
        fin.info.runtime = started.0.elapsed();
        self.ctl.life.ran(fin.info.runtime);
        fin.info.receive = sink.received;
        let after = deadline.map(|d| d - started.0).unwrap_or_default();
        self.settle(task, last, sink, (pumped, status), after, fin)
    }

    /// Before the task runs: whether it runs at all (`{uniq}`, `--dry-run`), its job-log
    /// command, its output sink (`None`: `fin` is its end: not run, or its `--results` cannot
    /// be stored) and `-t`/`-v`'s lines.
    fn begin(
        &mut self,
        task: &Task,
        jobslot: usize,
        last: bool,
        rendered: &Rendered,
        fin: &mut Finished,
    ) -> Option<Sink> {
        if !self.cfg.template.accepts(task.template_records()) {
            // `{uniq}`/`{choose_k}`: this task does not run (and prints nothing).
            return None;
        }
        if self.cfg.jobs_ctl.joblog.is_some() {
            fin.info.command = rendered.display();
        }
        if self.cfg.dry_run {
            let mut line = rendered.display();
            line.push(b'\n');
            fin.stdout = OutBuf::from_vec(line);
            return None;
        }
        let tag = self.cfg.jobs_ctl.tag.as_ref().map(|t| {
            t.expand_text(&Ctx {
                seq: task.seq,
                slot: jobslot,
                records: task.records(),
                learned: &self.ctl.state.learned,
            })
        });
        // Gate hook: a task --memfree may kill and rerun must not print early.
        let early = last && !self.ctl.slots.may_requeue();
        let results = self.ctl.life.results.as_ref();
        let mut sink = match Sink::task(&self.outlet, results, task.seq, tag.as_deref(), early) {
            Ok(s) => s,
            Err(e) => {
                // --results cannot be stored: the task fails unrun (it may be retried), and
                // the run ends with 255.
                if last {
                    self.ctl
                        .error(format_args!("task {}: --results: {e}", task.seq));
                } else {
                    let msg = format!("parx: task {}: --results: {e}\n", task.seq);
                    fin.stderr = OutBuf::from_vec(msg.into_bytes());
                }
                fin.outcome = Outcome::IoError;
                return None;
            }
        };
        // -t: the command on stderr before it runs; -v: on stdout, grouped with its output.
        let compat = &self.cfg.compat;
        if compat.verbose || compat.print_command {
            let mut line = rendered.display();
            line.push(b'\n');
            if compat.verbose {
                if compat.xargs.is_some() {
                    // GNU xargs quotes the words as `ls --quoting-style=shell-escape` does.
                    line = rendered.display_escaped();
                    line.push(b'\n');
                }
                crate::messages::task_stderr(|e| io::Write::write_all(e, &line));
            }
            if compat.print_command {
                sink.note_out(&line, &mut self.outlet);
            }
        }
        Some(sink)
    }

    /// The process for the rendered command. The `parallel` personality: a command line with
    /// nothing for the shell to do runs without it (a program found in PATH, not an exported
    /// shell function).
    fn command(&mut self, rendered: Rendered, jobslot: usize, seq: u64) -> std::process::Command {
        let cfg = self.cfg;
        let direct = match &rendered {
            Rendered::Shell(s) if cfg.compat.shell_direct => crate::template::direct_words(s)
                .filter(|w| self.runs_direct(&w[0]))
                .map(Rendered::Argv),
            _ => None,
        };
        let rendered = direct.unwrap_or(rendered);
        let program = match &rendered {
            Rendered::Argv(a) => Some(self.resolve(&a[0])),
            Rendered::Shell(_) => None,
        };
        let who = super::Spawn {
            cfg,
            seq: Some(seq),
            slot: jobslot,
        };
        super::command(&rendered, program, who)
    }

    /// Runs the task's child to its end: feeds its chunk, passes its output to `sink`, ends
    /// it at its deadline (`--timeout`), reaps it. Returns how the pumping and the child
    /// ended, and the deadline.
    fn supervise(
        &mut self,
        task: &Task,
        mut child: Child,
        started: Instant,
        sink: &mut Sink,
    ) -> (
        io::Result<Pumped>,
        io::Result<std::process::ExitStatus>,
        Option<Instant>,
    ) {
        let deadline = self.ctl.life.deadline(started);
        let feed = match (child.take_stdin(), task.chunk()) {
            (Some(s), Some(c)) => Some((s, Feeder::new(c))),
            _ => None,
        };
        let (mut stdout, mut stderr) = child.take_outputs();
        let mut buf = std::mem::take(&mut self.buf);
        let outlet = &mut self.outlet;
        let mut pumped = child::pump(
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
                Stream::Out if data.is_empty() => sink.stdout_end(outlet),
                Stream::Out => sink.stdout(data, outlet),
                Stream::Err => sink.stderr(data, outlet),
            },
        );
        self.buf = buf;
        drop((stdout, stderr));
        if pumped.is_err() {
            child.signal(libc::SIGKILL);
        }
        let status = child.reap(pumped.as_ref().ok().and_then(|p| p.ending.clone()));
        // A file chunk cut short while the task ran: it may have read what the file no
        // longer holds, so it fails.
        if let (Ok(p), Some(c)) = (&mut pumped, task.chunk()) {
            if p.feed_err.is_none() {
                p.feed_err = crate::pool::feed::still_held(c).err();
            }
        }
        (pumped, status, deadline)
    }

    /// The task's child has ended (`after` its start, if it timed out): its outcome, the line
    /// that says why when it did not simply exit, its output and `--results` files completed.
    fn settle(
        &mut self,
        task: &Task,
        last: bool,
        mut sink: Sink,
        (pumped, status): (io::Result<Pumped>, io::Result<std::process::ExitStatus>),
        after: std::time::Duration,
        mut fin: Finished,
    ) -> Finished {
        let note = match (&pumped, &status) {
            (Ok(p), Ok(_)) if p.timed_out => Some(self.ctl.life.timed_out(task.seq, after)),
            (
                Ok(Pumped {
                    feed_err: Some(e), ..
                }),
                Ok(_),
            ) => Some(format!("parx: task {}: {e}\n", task.seq)),
            (Ok(_), Ok(_)) => None,
            (Err(e), _) | (_, Err(e)) => Some(format!("parx: task {}: {e}\n", task.seq)),
        };
        if let Some(note) = &note {
            sink.note_err(note.as_bytes(), &mut self.outlet);
        }
        // A signal parx sent (a timeout, a stop) is logged as GNU parallel logs its own.
        fin.info.killed = matches!(&pumped, Ok(p) if p.timed_out) || self.ctl.state.stopping();
        fin.outcome = match (pumped, status) {
            // Killed, or ended by itself after the TERM: a timed-out task failed.
            (Ok(p), Ok(st)) if p.timed_out => {
                Outcome::Signaled(st.signal().unwrap_or(libc::SIGTERM))
            }
            (
                Ok(Pumped {
                    feed_err: Some(_), ..
                }),
                Ok(_),
            ) => Outcome::IoError,
            (Ok(_), Ok(st)) => child::outcome(st),
            (Err(_), _) | (_, Err(_)) => Outcome::IoError,
        };
        let results = self.ctl.life.results.as_ref();
        let index = results
            .filter(|_| last || fin.outcome.success())
            .map(|r| (r, task.records()));
        let (stdout, stderr, stored) = sink.finish(fin.outcome, index);
        (fin.stdout, fin.stderr) = (stdout, stderr);
        // Its stdout is whole (a failed --results write does not touch it), its results are
        // not: the run ends with 255. An attempt that will be retried is not reported (the
        // next one starts the files over).
        if let (Err(e), true) = (stored, last || fin.outcome.success()) {
            self.ctl.error(format_args!(
                "task {}: --results: {e} (its results are incomplete)",
                task.seq
            ));
        }
        fin
    }

    /// Whether `prog` may run without the shell (the `parallel` personality): a program found
    /// in PATH, not a shell function bash exports (`export -f`). The answer for the last name
    /// asked about is kept, as the PATH lookup is.
    fn runs_direct(&mut self, prog: &OsStr) -> bool {
        if let Some((name, ok)) = &self.direct {
            if name == prog {
                return *ok;
            }
        }
        let ok = !exported_function(prog) && self.resolve(prog).as_bytes().contains(&b'/');
        self.direct = Some((prog.to_owned(), ok));
        ok
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
}

/// Whether `name` is a shell function bash exports to its children (`export -f name`).
fn exported_function(name: &OsStr) -> bool {
    let mut var = OsString::from("BASH_FUNC_");
    var.push(name);
    var.push("%%");
    std::env::var_os(var).is_some()
}

/// The first executable regular file named `prog` in `$PATH`, as execvp(3) would find it.
pub(crate) fn search_path(prog: &OsStr) -> Option<PathBuf> {
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
