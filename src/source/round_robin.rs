//! `--round-robin` (GNU parallel, with `--pipe`): at most one command per job slot, each fed
//! many chunks on its stdin, for commands that are slow to start. A command is started for
//! each of the first chunks (so a short input starts only as many as it has chunks); then
//! each chunk, whole, goes to the next command in turn. A command's stdin is a pipe this
//! thread writes (the task's body is [`ChunkBody::Pipe`], as a spliced chunk's), and
//! `--header` goes once to each command, before its first chunk. A command that exits
//! before its input ends takes no more chunks: the chunk it refused goes to the next.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::sys;
use crate::task::{Chunk, ChunkBody, PipeBody, TaskInput};

/// One command's stdin, while it takes chunks.
struct Feed {
    pipe: File,
    /// Bytes written to it (its job-log Send column).
    sent: Arc<AtomicU64>,
}

/// Runs `split`, which hands each chunk to the closure it is given, and deals the chunks out
/// to at most `jobs` commands, each started with `emit`. The commands' stdins are closed
/// when the input ends.
pub(crate) fn run(
    jobs: usize,
    emit: &mut dyn FnMut(TaskInput) -> bool,
    split: impl FnOnce(&mut dyn FnMut(TaskInput) -> bool) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut feeds: Vec<Option<Feed>> = Vec::new();
    let mut turn = 0;
    let mut failed = None;
    let res = split(&mut |input| {
        let TaskInput::Chunk(c) = input else {
            return emit(input);
        };
        loop {
            let (i, new) = if feeds.len() < jobs.max(1) {
                match start(emit) {
                    Ok(Some(f)) => feeds.push(Some(f)),
                    Ok(None) => return false,
                    Err(e) => {
                        failed = Some(e);
                        return false;
                    }
                }
                (feeds.len() - 1, true)
            } else {
                let live = (0..feeds.len())
                    .map(|k| (turn + k) % feeds.len())
                    .find(|&k| feeds[k].is_some());
                match live {
                    Some(k) => (k, false),
                    // Every command has exited: the rest of the input goes nowhere.
                    None => return false,
                }
            };
            turn = (i + 1) % jobs.max(1);
            let feed = feeds[i].as_mut().expect("a live feed");
            match write_chunk(feed, &c, new) {
                Ok(()) => return true,
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => feeds[i] = None,
                Err(e) => {
                    failed = Some(e);
                    return false;
                }
            }
        }
    });
    // The input has ended: the commands see the end of theirs.
    drop(feeds);
    match failed {
        Some(e) => Err(anyhow::Error::new(e).context("--round-robin: feeding a command")),
        None => res,
    }
}

/// Starts a command (a task whose stdin is a new pipe); `None` if the run takes no more.
fn start(emit: &mut dyn FnMut(TaskInput) -> bool) -> io::Result<Option<Feed>> {
    let (rx, tx) = sys::pipe()?;
    sys::set_pipe_size(tx.as_raw_fd(), 1 << 20);
    let sent = Arc::new(AtomicU64::new(0));
    let chunk = Chunk {
        header: Arc::from(&[][..]),
        body: ChunkBody::Pipe(PipeBody {
            stdin: Mutex::new(Some(OwnedFd::from(rx))),
            sent: sent.clone(),
        }),
        name: Vec::new(),
        cat: None,
    };
    Ok(emit(TaskInput::Chunk(chunk)).then_some(Feed { pipe: tx, sent }))
}

/// Writes a chunk (with the header first if it is the command's first chunk).
fn write_chunk(feed: &mut Feed, c: &Chunk, first: bool) -> io::Result<()> {
    if first {
        put(feed, &c.header)?;
    }
    match &c.body {
        ChunkBody::Bytes(b) => put(feed, b),
        ChunkBody::File { file, offset, len } => {
            file.each_piece(*offset, *len, 1 << 20, |b| put(feed, b))
        }
        ChunkBody::Pipe(_) => unreachable!("--round-robin is never spliced"),
    }
}

fn put(feed: &mut Feed, data: &[u8]) -> io::Result<()> {
    feed.pipe.write_all(data)?;
    feed.sent.fetch_add(data.len() as u64, Ordering::Release);
    Ok(())
}
