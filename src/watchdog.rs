//! Orphan guard: children of a `kill -9`ed parx must not run on. At start, while parx is still
//! single-threaded, it forks a tiny watchdog — a copy of parx that never execs, in its own
//! process group, with stdin, stdout and stderr on /dev/null — and tells it over a pipe which
//! task process groups are live ([`Watchdog::started`], [`Watchdog::ended`], one 4-byte write
//! each). When the pipe reaches EOF, parx is gone: the watchdog sends TERM, then KILL, to
//! every group still recorded (the whole group, so grandchildren too) and exits. At its normal
//! end parx calls [`Watchdog::finish`]: the watchdog does the same at once (the set is
//! normally empty) and parx reaps it, so no process outlives parx.
//!
//! Forked rather than re-executed: a fork of the small single-threaded process costs a
//! fraction of an exec of the parx binary (loading and relocating it again), which was a
//! quarter of the CPU time of `parx true ::: x`. It is forked first thing in
//! [`crate::run_main`], before the command line is parsed: every page parx has at the fork is
//! copied when parx first writes it afterwards, and then parx has the fewest.
//!
//! Chosen over PR_SET_PDEATHSIG because that needs a `pre_exec` hook, which makes std use
//! fork+exec instead of posix_spawn: measured 2.8–3.4 s instead of 1.8–2.1 s for 3000 tasks
//! of `true` at -j2 (README); and it would reach only the direct child, not its group.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::Duration;

/// How long the watchdog lets records gather between reads.
const BATCH: Duration = Duration::from_millis(5);

/// parx's end of the pipe to the watchdog.
#[derive(Debug)]
pub struct Watchdog {
    pipe: File,
    /// The watchdog's pid, until it is reaped.
    child: Mutex<Option<i32>>,
}

impl Watchdog {
    /// Starts the watchdog process. Must be called while parx has a single thread (before
    /// any thread is started): the watchdog is forked, not executed.
    pub fn spawn() -> io::Result<Watchdog> {
        let (rx, tx) = crate::sys::pipe()?;
        let null = File::options().read(true).write(true).open("/dev/null")?;
        let write_end = tx.as_raw_fd();
        let pid = crate::sys::fork_single_threaded(|| {
            // In the child: its own group (a terminal's ^C is for parx to handle), nothing
            // of parx's stdio held open (a reader of parx's stdout must see its EOF), and
            // not the write end, or EOF would never come.
            crate::sys::detach_stdio(&null, &[write_end]);
            serve(rx)
        })?;
        Ok(Watchdog {
            pipe: tx,
            child: Mutex::new(Some(pid)),
        })
    }

    /// parx is about to exit: the watchdog ends any group still live, exits, and is reaped.
    /// With `nothing_live` (every task reaped, the normal end) it is simply killed: it has
    /// nothing to do, and it may be sleeping between reads.
    pub fn finish(&self, nothing_live: bool) {
        let child = self.child.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(pid) = child {
            if nothing_live {
                crate::sys::kill_process(pid, libc::SIGKILL);
            } else {
                self.send(0);
            }
            crate::sys::reap(pid);
        }
    }

    fn send(&self, v: i32) {
        // 4 bytes < PIPE_BUF: atomic among the pool threads. A dead watchdog is not fatal.
        let _ = (&self.pipe).write_all(&v.to_le_bytes());
    }

    /// A task's process group `pgid` is live.
    pub fn started(&self, pgid: i32) {
        if pgid > 0 {
            self.send(pgid);
        }
    }

    /// Task process group `pgid` has been reaped.
    pub fn ended(&self, pgid: i32) {
        if pgid > 0 {
            self.send(-pgid);
        }
    }
}

/// The watchdog's main: follows the live groups on `input`; at EOF (parx died) or at parx's
/// final 0 record ends those left. Returns the exit status.
fn serve(mut input: impl Read) -> i32 {
    let mut live = HashSet::new();
    let mut buf = vec![0u8; 64 << 10];
    let mut have = 0;
    'read: loop {
        let n = match input.read(&mut buf[have..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        have += n;
        let whole = have - have % 4;
        for rec in buf[..whole].chunks_exact(4) {
            let v = i32::from_le_bytes(rec.try_into().expect("4 bytes"));
            if v == 0 {
                break 'read;
            } else if v > 0 {
                live.insert(v);
            } else {
                live.remove(&-v);
            }
        }
        buf.copy_within(whole..have, 0);
        have -= whole;
        // Read in batches: waking for every 4-byte record would compete with the tasks for
        // the CPUs (two records a task). The pipe holds far more than 5 ms of records.
        std::thread::sleep(BATCH);
    }
    if live.is_empty() {
        return 0;
    }
    for &g in &live {
        crate::sys::kill_group(g, libc::SIGTERM);
    }
    std::thread::sleep(Duration::from_millis(200));
    for &g in &live {
        crate::sys::kill_group(g, libc::SIGKILL);
    }
    0
}
