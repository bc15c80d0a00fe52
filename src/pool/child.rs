//! The supervised child both pools run: a command spawned in its own process group with piped
//! stdout and stderr, registered with [`Run`] (and through it the orphan watchdog) for as
//! long as it lives; the poll(2) loop that reads its outputs (feeding a chunk to its stdin
//! meanwhile, if asked), with the `--timeout` TERM → KILL stages; reaping; and the mapping of
//! its exit status to an [`Outcome`]. The pools only decide what the bytes mean.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::pool::feed::{Fed, Feeder};
use crate::pool::Run;
use crate::sys;
use crate::task::Outcome;

/// How often an idle slot checks whether the run still may start tasks.
pub(crate) const IDLE_CHECK: Duration = Duration::from_millis(100);
/// After a `--timeout` TERM, how long the child's group has before KILL (and after the KILL,
/// how long parx still waits for its pipes to close).
pub(crate) const KILL_GRACE: Duration = Duration::from_millis(500);
/// How a timed-out child is ended unless `--termseq` says otherwise: TERM, KILL after
/// [`KILL_GRACE`], and another grace before parx stops waiting for its pipes.
pub(crate) const END_SEQUENCE: [(i32, Duration); 2] =
    [(libc::SIGTERM, KILL_GRACE), (libc::SIGKILL, KILL_GRACE)];
/// How often parx looks whether a group it is ending still holds a process (and, where the
/// kernel has no pidfd, whether a child has exited).
const GROUP_CHECK: Duration = Duration::from_millis(10);
/// [`GROUP_CHECK`] in milliseconds, for poll(2).
const GROUP_MS: i32 = GROUP_CHECK.as_millis() as i32;
/// Short reads of a child's stdout after which the reader pauses between reads.
const CHATTY_READS: u32 = 8;
/// That pause: long enough for a chatty writer to put many writes in the pipe, short enough
/// to add nothing a person or a pipeline would notice.
const CHATTY_PAUSE: Duration = Duration::from_micros(1000);

/// How long a spawn that failed for want of processes or descriptors waits before trying
/// again.
const SPAWN_RETRY: Duration = Duration::from_millis(20);
/// How long it keeps trying when no other task runs (that could free some).
const SPAWN_RETRY_ALONE: Duration = Duration::from_secs(2);

/// Whether a spawn failed for want of processes (EAGAIN) or descriptors (EMFILE, ENFILE),
/// which running tasks free as they end.
fn out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAGAIN | libc::EMFILE | libc::ENFILE)
    )
}

/// A running child in its own process group, known to [`Run`] until reaped.
pub(crate) struct Child<'a> {
    child: std::process::Child,
    ctl: &'a Run,
    slot: usize,
    /// Its process group (= its pid).
    pub pgid: i32,
    /// [`Capture::Held`]: parx's own copies of the write ends of its stdout and stderr,
    /// closed when it is reaped.
    _writers: Option<(OwnedFd, OwnedFd)>,
}

/// How a child's stdout and stderr pipes are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Capture {
    /// parx keeps the read ends only: a pipe closes when the child and every descendant
    /// holding it have closed it (a process-pool worker: the end of its output is news).
    Closing,
    /// parx keeps the write ends too, until the child is reaped: the child's exit closes
    /// nothing [`pump`] waits on, so a task's end wakes its slot once (its pidfd), not once
    /// per pipe and again for wait(2). [`pump`] stops at the child's exit either way (what
    /// is in the pipes by then is read; a descendant still writing is not waited for).
    Held,
}

/// How spawning went.
pub(crate) enum Spawned<'a> {
    /// The child runs.
    Running(Child<'a>),
    /// The run is stopping: nothing was started.
    Stopping,
    /// The command could not be started.
    Failed(io::Error),
}

impl<'a> Child<'a> {
    /// Spawns `cmd` in slot `slot`: its own process group, stdout and stderr piped as
    /// `capture` says, stdin piped if `stdin`, else /dev/null.
    pub(crate) fn spawn(
        ctl: &'a Run,
        slot: usize,
        cmd: &mut Command,
        stdin: Stdio,
        capture: Capture,
    ) -> Spawned<'a> {
        cmd.stdin(stdin).process_group(0);
        if !ctl.slots.begin_spawn(slot) {
            return Spawned::Stopping;
        }
        let mut waited = Duration::ZERO;
        let spawned = loop {
            match start(cmd, capture) {
                // Out of processes or descriptors for now: wait for running tasks to free
                // some (GNU parallel and xargs finish such runs), briefly when none runs.
                Err(e)
                    if out_of_resources(&e)
                        && !ctl.state.stopping()
                        && (ctl.slots.others_running(slot) || waited < SPAWN_RETRY_ALONE) =>
                {
                    std::thread::sleep(SPAWN_RETRY);
                    waited += SPAWN_RETRY;
                }
                r => break r,
            }
        };
        match spawned {
            Ok((child, writers)) => {
                let pgid = child.id() as i32;
                ctl.slots.set_child(slot, pgid);
                Spawned::Running(Child {
                    child,
                    ctl,
                    slot,
                    pgid,
                    _writers: writers,
                })
            }
            Err(e) => {
                ctl.slots.clear_child(slot);
                Spawned::Failed(e)
            }
        }
    }

    /// Its stdin (once; `None` if not piped).
    pub(crate) fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// Its stdout and stderr (once).
    pub(crate) fn take_outputs(&mut self) -> (ChildStdout, ChildStderr) {
        (
            self.child.stdout.take().expect("piped"),
            self.child.stderr.take().expect("piped"),
        )
    }

    /// Sends `sig` to its whole group.
    pub(crate) fn signal(&self, sig: i32) {
        sys::kill_group(self.pgid, sig);
    }

    /// Whether it has exited (without reaping it for good: [`Child::reap`] still must run).
    pub(crate) fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// After its outputs closed: gives it `grace` to exit by itself, then TERMs its group.
    pub(crate) fn end_within(&mut self, grace: Duration) {
        if self.exited() {
            return;
        }
        // Woken by its exit (its pidfd), not by a clock: a worker's outputs close a few
        // microseconds before it exits, and a 5 ms nap there was paid at every worker's end.
        if let Some(fd) = sys::pidfd_open(self.pgid) {
            let mut exit = [sys::watch(fd.as_raw_fd(), libc::POLLIN)];
            let _ = sys::poll(&mut exit, grace.as_millis().try_into().unwrap_or(i32::MAX));
        } else {
            let until = Instant::now() + grace;
            while !self.exited() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if !self.exited() {
            self.signal(libc::SIGTERM);
        }
    }

    /// Waits for it to end and tells [`Run`] it is gone. A group being ended outlives
    /// its leader when a descendant ignores the signal that ended the leader: the rest of
    /// `ending` (a `--timeout`'s sequence: see [`pump`]) goes to the group, and while the run
    /// is stopping the stop's signals reach it ([`crate::pool::slots::SlotTable::linger`]), until the group is
    /// empty. Its slot keeps the group meanwhile, so that the orphan watchdog sees it too.
    pub(crate) fn reap(mut self, ending: Option<Ending>) -> io::Result<ExitStatus> {
        let st = self.child.wait();
        if let Some(e) = ending {
            e.finish(self.pgid);
        }
        if self.ctl.state.stopping() {
            self.ctl.slots.linger(self.pgid);
        }
        self.ctl.slots.clear_child(self.slot);
        st
    }
}

/// One try at spawning `cmd` with its stdout and stderr captured as `capture` says; with
/// [`Capture::Held`], also parx's copies of the pipes' write ends.
fn start(
    cmd: &mut Command,
    capture: Capture,
) -> io::Result<(std::process::Child, Option<(OwnedFd, OwnedFd)>)> {
    if capture == Capture::Closing {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        return cmd.spawn().map(|c| (c, None));
    }
    let (out_r, out_w) = sys::pipe()?;
    let (err_r, err_w) = sys::pipe()?;
    let (out_w, err_w) = (OwnedFd::from(out_w), OwnedFd::from(err_w));
    cmd.stdout(out_w.try_clone()?).stderr(err_w.try_clone()?);
    let mut child = cmd.spawn()?;
    // The command holds the child's copies until it is dropped or spawns again: parx's own
    // are the ones kept here.
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    child.stdout = Some(OwnedFd::from(out_r).into());
    child.stderr = Some(OwnedFd::from(err_r).into());
    Ok((child, Some((out_w, err_w))))
}

/// The rest of a child's ending sequence (`--timeout`, `--termseq`) once its leader has
/// exited: the signals not sent yet, each with the wait after it, and when the next is due.
#[derive(Debug, Clone)]
pub(crate) struct Ending {
    rest: Vec<(i32, Duration)>,
    next: Instant,
}

impl Ending {
    /// Sends the rest of the sequence to the group `pgid`, each signal when due, until the
    /// group is empty (or the sequence's last wait is over: a process stuck in the kernel
    /// outlives even a KILL for a while).
    fn finish(self, pgid: i32) {
        let mut next = self.next;
        let mut rest = self.rest.into_iter();
        while group_live(pgid) {
            let now = Instant::now();
            if now >= next {
                let Some((sig, wait)) = rest.next() else {
                    return;
                };
                sys::kill_group(pgid, sig);
                next = now + wait;
                continue;
            }
            std::thread::sleep((next - now).min(GROUP_CHECK));
        }
    }
}

/// Whether the process group `pgid` still holds a live process. A zombie does not count:
/// an orphaned descendant that was killed stays one until its new parent reaps it, which
/// some containers' init never does.
pub(crate) fn group_live(pgid: i32) -> bool {
    if !sys::group_exists(pgid) {
        return false;
    }
    // It has a member: a live one, or only zombies? /proc says (on the ending path only).
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return true;
    };
    dir.flatten().any(|e| {
        let is_pid = e
            .file_name()
            .as_encoded_bytes()
            .iter()
            .all(u8::is_ascii_digit);
        is_pid && std::fs::read(e.path().join("stat")).is_ok_and(|s| live_member(&s, pgid))
    })
}

/// From a `/proc/PID/stat` line: whether that process is in the group `pgid` and not a
/// zombie (or dead).
fn live_member(stat: &[u8], pgid: i32) -> bool {
    // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
    let Some(close) = stat.iter().rposition(|&b| b == b')') else {
        return false;
    };
    let mut fields = stat[close + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    let state = fields.next();
    let pgrp = fields
        .nth(1)
        .and_then(|p| std::str::from_utf8(p).ok()?.parse::<i32>().ok());
    !matches!(state, None | Some(b"Z" | b"X")) && pgrp == Some(pgid)
}

/// A child's exit status as an outcome.
pub(crate) fn outcome(st: ExitStatus) -> Outcome {
    match (st.code(), st.signal()) {
        (Some(c), _) => Outcome::Exited(c),
        (None, Some(s)) => Outcome::Signaled(s),
        (None, None) => Outcome::Exited(255),
    }
}

/// Which output a piece of bytes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    /// stdout.
    Out,
    /// stderr.
    Err,
}

/// What [`pump`] asks its caller between reads.
pub(crate) struct Tick {
    /// When the child's group gets TERM (`--timeout`), if it is being timed.
    pub deadline: Option<Instant>,
    /// The longest wait before asking again (`None`: until something happens).
    pub recheck: Option<Duration>,
}

/// How [`pump`] ended.
#[derive(Debug, Default)]
pub(crate) struct Pumped {
    /// The `--timeout` TERM was sent (and perhaps the KILL).
    pub timed_out: bool,
    /// The chunk fed to stdin could not be read.
    pub feed_err: Option<io::Error>,
    /// When timed out: the rest of the sequence, for [`Child::reap`] to finish once the
    /// leader is reaped (its group may hold descendants that ignored the first signals).
    pub ending: Option<Ending>,
}

/// What [`pump`]'s clock says before a wait.
enum Clock {
    /// Wait this long at most (ms; `None`: until something is ready).
    Wait(Option<i32>),
    /// A signal of the ending sequence was just sent: look again.
    Sent,
    /// The sequence is over: stop waiting for the pipes.
    Over,
}

/// The clock of a timed child in [`pump`]: its deadline, then the signals of `ends` in turn
/// (`stage` of them sent, the next one due at `kill_at`).
struct Timer<'a> {
    pgid: i32,
    /// There is no pidfd: whether the child has exited is asked every [`GROUP_CHECK`] (its
    /// pipes may outlive it, held by a descendant or by parx: [`Capture::Held`]).
    blind: bool,
    ends: &'a [(i32, Duration)],
    stage: &'a mut u8,
    kill_at: &'a mut Option<Instant>,
}

impl Timer<'_> {
    /// Sends the next signal if it is due (the child then timed out), else says how long to
    /// wait: until the next look `t` asks for, the next due time, or not at all once the child
    /// has exited (`exited` is set here when [`Timer::blind`] finds it has).
    fn look(&mut self, t: &Tick, exited: &mut Option<u64>, res: &mut Pumped) -> Clock {
        if self.blind && exited.is_none() && sys::has_exited(self.pgid) {
            *exited = Some(0);
        }
        let exited = exited.is_some();
        let due = if exited {
            None
        } else if *self.stage > 0 {
            *self.kill_at
        } else {
            t.deadline
        };
        let mut wait = t.recheck.map(|d| d.as_millis().clamp(1, 60_000) as i32);
        if let Some(due) = due {
            let left = due.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let Some(&(sig, then)) = self.ends.get(usize::from(*self.stage)) else {
                    return Clock::Over;
                };
                res.timed_out = true;
                sys::kill_group(self.pgid, sig);
                *self.stage += 1;
                *self.kill_at = Some(Instant::now() + then);
                return Clock::Sent;
            }
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            wait = Some(wait.map_or(ms, |w| w.min(ms)));
        }
        if exited {
            wait = Some(0);
        } else if self.blind {
            wait = Some(wait.map_or(GROUP_MS, |w| w.min(GROUP_MS)));
        }
        Clock::Wait(wait)
    }
}

/// [`pump`]'s pause for a chatty child: [`CHATTY_PAUSE`], or until the child exits if its
/// `pidfd` (negative: none) says so first.
fn chatty_pause(pidfd: i32) -> io::Result<()> {
    if pidfd >= 0 {
        let mut exit = [sys::watch(pidfd, libc::POLLIN)];
        sys::poll(&mut exit, CHATTY_PAUSE.as_millis() as i32)?;
    } else {
        std::thread::sleep(CHATTY_PAUSE);
    }
    Ok(())
}

/// After the child has exited, how many bytes [`pump`] still reads before it stops waiting
/// for data to be ready: more than the two pipes can hold (1 MiB each at Linux's default
/// `pipe-max-size`), so all the child wrote is read, but a descendant that keeps writing
/// cannot hold the task open.
const DRAIN_LIMIT: u64 = 4 << 20;

/// Reads the child's stdout and stderr into `on` until both close or the child (`pgid` is its
/// pid) has exited and what is already in the pipes is read (an empty piece says that stream
/// ended; a background descendant that holds a pipe open is not waited for), feeding `feed` (if any) to
/// `stdin` meanwhile (closing it when done). Between reads `tick` says whether the child is
/// timed: when its deadline passes, the group gets the signals of `ends` in turn, each followed
/// by its wait ([`END_SEQUENCE`] or `--termseq`), and after the last parx stops waiting for the
/// pipes (a descendant that left the group could hold them open for ever). When the leader
/// exits before the sequence is over, [`Pumped::ending`] holds the rest. A child that writes in many small pieces is read with
/// short pauses, so that one read takes many of its writes.
pub(crate) fn pump(
    pgid: i32,
    outs: (&mut ChildStdout, &mut ChildStderr),
    mut feed: Option<(ChildStdin, Feeder<'_>)>,
    buf: &mut [u8],
    ends: &[(i32, Duration)],
    mut tick: impl FnMut() -> Tick,
    mut on: impl FnMut(Stream, &[u8]) -> io::Result<()>,
) -> io::Result<Pumped> {
    let (stdout, stderr) = outs;
    if let Some((s, _)) = &feed {
        Feeder::prepare(s)?;
    }
    let mut fds = [
        sys::watch(stdout.as_raw_fd(), libc::POLLIN),
        sys::watch(stderr.as_raw_fd(), libc::POLLIN),
        sys::watch(
            feed.as_ref().map_or(-1, |(s, _)| s.as_raw_fd()),
            libc::POLLOUT,
        ),
        sys::watch(-1, libc::POLLIN),
    ];
    // Readable once the child has exited (without one, parx looks every GROUP_CHECK: its
    // pipes may stay open after it, held by a descendant or by parx, see Capture::Held).
    let pidfd = sys::pidfd_open(pgid);
    if let Some(p) = &pidfd {
        fds[3].fd = p.as_raw_fd();
    }
    // Bytes read since the child was seen to have exited.
    let mut exited: Option<u64> = None;
    let mut res = Pumped::default();
    let mut small_reads = 0u32;
    // How many signals of `ends` were sent.
    let mut stage = 0u8;
    let mut kill_at: Option<Instant> = None;
    while fds[..3].iter().any(|p| p.fd >= 0) {
        if let Some(drained) = exited {
            // The task is over: read what is ready now, wait for nothing.
            if drained > DRAIN_LIMIT || sys::poll(&mut fds, 0)? == 0 {
                for (i, stream) in [(0, Stream::Out), (1, Stream::Err)] {
                    if fds[i].fd >= 0 {
                        fds[i].fd = -1;
                        on(stream, &[])?;
                    }
                }
                break;
            }
        }
        let mut timer = Timer {
            pgid,
            blind: pidfd.is_none(),
            ends,
            stage: &mut stage,
            kill_at: &mut kill_at,
        };
        let wait = match timer.look(&tick(), &mut exited, &mut res) {
            Clock::Wait(w) => w,
            Clock::Sent => continue,
            Clock::Over => break,
        };
        let polled = Instant::now();
        if sys::poll(&mut fds, wait.unwrap_or(-1))? == 0 {
            continue;
        }
        if polled.elapsed() > CHATTY_PAUSE {
            // It had to be waited for: it writes slower than parx reads (a process-pool
            // worker answering one record at a time), and a pause would only delay it.
            small_reads = 0;
        }
        for i in 0..fds.len() {
            if fds[i].fd < 0 || fds[i].revents == 0 {
                continue;
            }
            if i == 3 {
                exited = Some(0);
                fds[3].fd = -1;
                continue;
            }
            if i == 2 {
                let (s, f) = feed.as_mut().expect("stdin is polled only while feeding");
                match f.feed(s) {
                    Ok(Fed::Pending) => continue,
                    Ok(Fed::Done | Fed::Closed) => {}
                    Err(e) => res.feed_err = Some(e),
                }
                // Closing stdin tells the command its input has ended.
                feed = None;
                fds[2].fd = -1;
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
            let stream = if i == 0 { Stream::Out } else { Stream::Err };
            if n == 0 {
                fds[i].fd = -1;
                on(stream, &[])?;
                continue;
            }
            on(stream, &buf[..n])?;
            if let Some(d) = &mut exited {
                *d += n as u64;
            }
            if i == 0 && n < buf.len() {
                small_reads += 1;
            }
        }
        if small_reads > CHATTY_READS && fds[2].fd < 0 && exited.is_none() {
            // A child that writes in many small pieces (`wc` writes a line per file, a
            // flushing worker a line per record) would wake this thread for each: let its
            // pipe fill a little between reads (not while its stdin is still being fed). The
            // pause ends at the child's exit (its pidfd), and there is none after it: blind
            // 1 ms sleeps held the slot 2-3 ms past each `wc -c` of the walk benchmark.
            chatty_pause(fds[3].fd)?;
        }
    }
    if let (true, Some(next)) = (res.timed_out, kill_at) {
        res.ending = Some(Ending {
            rest: ends.get(usize::from(stage)..).unwrap_or_default().to_vec(),
            next,
        });
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::live_member;

    #[test]
    fn live_member_reads_state_and_group_past_the_command_name() {
        let stat = b"42 (a) b (c)) S 1 77 77 0 -1 4194560 0 0";
        assert!(live_member(stat, 77));
        assert!(!live_member(stat, 42));
        assert!(!live_member(b"42 (perl) Z 1 77 77 0", 77));
        assert!(!live_member(b"garbage", 77));
    }
}
