//! The thread pool (`--pool thread`): `-j` threads, each taking tasks from the channel and
//! running one child process per task in its own process group, collecting its stdout and
//! stderr with poll(2) and handing the whole output to the merger. A chunk task's stdin is a
//! pipe fed from the same poll loop ([`Feeder`]); other tasks get /dev/null.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::config::Config;
use crate::output::{OutBuf, Spiller};
use crate::pool::feed::{Fed, Feeder};
use crate::pool::Control;
use crate::sys;
use crate::task::{Chunk, Finished, Msg, Outcome, Task};
use crate::template::{Ctx, Rendered};

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
        while let Ok(task) = tasks.recv() {
            if self.ctl.stopping() {
                break;
            }
            let fin = self.run_task(&task);
            if self.out.send(Msg::Done(Box::new(fin))).is_err() {
                break;
            }
        }
    }

    fn run_task(&mut self, task: &Task) -> Finished {
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
        };
        if self.cfg.dry_run {
            let mut line = rendered.display();
            line.push(b'\n');
            fin.stdout = OutBuf::from_vec(line);
            return fin;
        }
        let mut cmd = match &rendered {
            Rendered::Argv(a) => {
                let mut c = Command::new(self.resolve(&a[0]));
                c.args(&a[1..]);
                c
            }
            Rendered::Shell(s) => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(OsStr::from_bytes(s));
                c
            }
        };
        let stdin = match task.chunk() {
            Some(_) => Stdio::piped(),
            None => Stdio::null(),
        };
        cmd.stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if !self.ctl.begin_spawn(self.slot) {
            fin.outcome = Outcome::Signaled(libc::SIGTERM);
            return fin;
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                self.ctl.clear_child(self.slot);
                let prog = cmd.get_program().to_string_lossy().into_owned();
                fin.stderr = OutBuf::from_vec(format!("parx: {prog}: {e}\n").into_bytes());
                fin.outcome = Outcome::SpawnFailed;
                return fin;
            }
        };
        let pgid = child.id() as i32;
        self.ctl.set_child(self.slot, pgid);
        let mut feed_err = None;
        let pumped = self.pump(&mut child, &mut fin, task.chunk(), &mut feed_err);
        if pumped.is_err() {
            sys::kill_group(pgid, libc::SIGKILL);
        }
        let status = child.wait();
        self.ctl.clear_child(self.slot);
        fin.outcome = match (pumped, status) {
            (Ok(()), Ok(_)) if feed_err.is_some() => {
                let e = feed_err.take().expect("checked");
                let msg = format!("parx: task {}: {e}\n", task.seq);
                let _ = fin.stderr.push(msg.as_bytes(), &mut self.spill_err);
                Outcome::IoError
            }
            (Ok(()), Ok(st)) => match (st.code(), st.signal()) {
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
    /// stdin meanwhile. A chunk that cannot be read leaves its error in `feed_err`.
    fn pump(
        &mut self,
        child: &mut Child,
        fin: &mut Finished,
        chunk: Option<&Chunk>,
        feed_err: &mut Option<io::Error>,
    ) -> io::Result<()> {
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let mut stdin = child.stdin.take();
        let mut feeder = chunk.map(Feeder::new);
        if let Some(s) = &stdin {
            Feeder::prepare(s)?;
        }
        let mut fds = [
            libc::pollfd {
                fd: stdout.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: stderr.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: stdin.as_ref().map_or(-1, |s| s.as_raw_fd()),
                events: libc::POLLOUT,
                revents: 0,
            },
        ];
        let mut streaming = false;
        while fds.iter().any(|p| p.fd >= 0) {
            sys::poll(&mut fds, -1)?;
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
                        Err(e) => *feed_err = Some(e),
                    }
                    // Closing stdin tells the command its input has ended.
                    stdin = None;
                    pfd.fd = -1;
                    continue;
                }
                let r = if i == 0 {
                    stdout.read(&mut self.buf)
                } else {
                    stderr.read(&mut self.buf)
                };
                let n = match r {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                let data = &self.buf[..n];
                if n == 0 {
                    pfd.fd = -1;
                } else if i == 1 {
                    fin.stderr.push(data, &mut self.spill_err)?;
                } else {
                    if self.cfg.keep_order
                        && !streaming
                        && self.ctl.head.load(Ordering::Acquire) == fin.seq
                    {
                        // Head of line: what was buffered goes first, then everything streams.
                        streaming = true;
                        let _ = self.out.send(Msg::Stream {
                            seq: fin.seq,
                            data: fin.stdout.take(),
                        });
                    }
                    if streaming {
                        let data = OutBuf::from_vec(data.to_vec());
                        let _ = self.out.send(Msg::Stream { seq: fin.seq, data });
                    } else {
                        fin.stdout.push(data, &mut self.spill_out)?;
                    }
                }
            }
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
