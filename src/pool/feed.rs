//! Feeding a chunk to a command's stdin without blocking: the header, then the body, written
//! from the pool thread's poll loop whenever the pipe has room. Stdin bodies are written from
//! parx's buffer; file bodies (`--pipe-part`) go with sendfile(2) from the page cache to the
//! pipe, so parx never copies them and never touches a mapping of a file that may shrink.
//!
//! A `--pipe` chunk spliced from a pipe is not fed here: the command gets the read end of
//! the pipe the source fills ([`stdin_for`]).
//!
//! A command that exits (or closes its stdin) before reading everything is not an error here:
//! what it does with its input is its own business, as with GNU parallel.

use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::process::Stdio;

use crate::sys;
use crate::task::{Chunk, ChunkBody};

/// Pipe buffer asked for on a fed stdin: fewer wake-ups and system calls per chunk.
pub const PIPE_SIZE: usize = 1 << 20;
/// When the command's pipe still holds more than this on a wake-up, feeding pauses for
/// [`DRAIN_PAUSE`] first: poll(2) reports a pipe writable as soon as one page is free, so a
/// command reading 16 KiB at a time (`wc`) would otherwise wake the slot for every 16 KiB.
const DRAIN_LEVEL: usize = PIPE_SIZE / 2;
/// That pause: about what a fast reader takes to read half the pipe.
const DRAIN_PAUSE: std::time::Duration = std::time::Duration::from_micros(200);
/// Largest single sendfile(2) request.
const MAX_SEND: usize = 1 << 30;

/// The stdin to give the command of a task with `chunk` (if any): the read end of a
/// spliced chunk's pipe (see `crate::source::splice`; taken, so the command is its only
/// holder and the source sees EPIPE when it stops reading), a pipe to feed with [`Feeder`],
/// or /dev/null.
pub fn stdin_for(chunk: Option<&Chunk>) -> Stdio {
    match chunk {
        None => Stdio::null(),
        Some(c) => match &c.body {
            ChunkBody::Pipe(p) => p
                .stdin
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .map_or_else(Stdio::null, Stdio::from),
            _ => Stdio::piped(),
        },
    }
}

/// Where feeding stands after [`Feeder::feed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fed {
    /// The pipe is full; call again when it is writable.
    Pending,
    /// Everything was sent: close the pipe.
    Done,
    /// The reader went away (EPIPE): close the pipe, the rest is dropped.
    Closed,
}

/// Sends one chunk; keeps how far it got.
#[derive(Debug)]
pub struct Feeder<'a> {
    chunk: &'a Chunk,
    /// Bytes of the header sent.
    head: usize,
    /// Bytes of the body sent.
    body: u64,
}

impl<'a> Feeder<'a> {
    /// A feeder at the start of `chunk`.
    pub fn new(chunk: &'a Chunk) -> Self {
        Feeder {
            chunk,
            head: 0,
            body: 0,
        }
    }

    /// Prepares a pipe for [`Feeder::feed`]: non-blocking, with a large buffer.
    pub fn prepare(out: &impl AsRawFd) -> io::Result<()> {
        sys::set_pipe_size(out.as_raw_fd(), PIPE_SIZE);
        sys::set_nonblocking(out.as_raw_fd())
    }

    /// Writes as much as `out` (a non-blocking pipe) takes now. An error means the chunk
    /// could not be read (its file shrank); the pipe should be closed.
    pub fn feed<W: Write + AsRawFd>(&mut self, out: &mut W) -> io::Result<Fed> {
        match self.feed_inner(out) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Fed::Pending),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Fed::Closed),
            Err(e) => Err(e),
        }
    }

    fn feed_inner<W: Write + AsRawFd>(&mut self, out: &mut W) -> io::Result<Fed> {
        if self.head + self.body as usize > 0 && sys::pipe_queued(out.as_raw_fd()) > DRAIN_LEVEL {
            std::thread::sleep(DRAIN_PAUSE);
        }
        let header = &self.chunk.header[..];
        while self.head < header.len() {
            match out.write(&header[self.head..]) {
                Ok(n) => self.head += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        match &self.chunk.body {
            ChunkBody::Bytes(b) => {
                while (self.body as usize) < b.len() {
                    match out.write(&b[self.body as usize..]) {
                        Ok(n) => self.body += n as u64,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            // The command reads it from the pipe the source fills (see `stdin_for`).
            ChunkBody::Pipe(_) => {}
            ChunkBody::File { file, offset, len } => {
                while self.body < *len {
                    let want = (*len - self.body).min(MAX_SEND as u64) as usize;
                    let n = sys::sendfile(out.as_raw_fd(), &file.file, offset + self.body, want)?;
                    if n == 0 {
                        return Err(io::Error::other(format!(
                            "{}: the file shrank while parx was reading it \
                             (chunk at byte {offset} lost its last {} bytes)",
                            file.path.display(),
                            len - self.body
                        )));
                    }
                    self.body += n as u64;
                }
            }
        }
        Ok(Fed::Done)
    }
}
