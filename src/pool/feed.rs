//! Feeding a chunk to a command's stdin without blocking: the header, then the body, written
//! from the pool thread's poll loop whenever the pipe has room. Stdin bodies are written from
//! parx's buffer; file bodies (`--pipe-part`, `--pipe < FILE`) are read with pread(2) and
//! written, so parx never touches a mapping of a file that may shrink, and what the command
//! reads is what the file held when parx read it. (sendfile(2) was zero-copy, but it puts the
//! file's own pages in the pipe: a truncation while they wait there zeroes the tail of the
//! page at the new end, and the command read NUL bytes. vmsplice(2) of the read buffer would
//! save the copy into the pipe, but a command that splices its stdin on moves the buffer's
//! pages into another pipe, read after this one is empty: the buffer could never be written
//! again.) A file that no longer holds the whole chunk, while or once it is sent, fails the
//! chunk's task.
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
pub(crate) const PIPE_SIZE: usize = 1 << 20;
/// When the command's pipe still holds more than this on a wake-up, feeding pauses for
/// [`DRAIN_PAUSE`] first: poll(2) reports a pipe writable as soon as one page is free, so a
/// command reading 16 KiB at a time (`wc`) would otherwise wake the slot for every 16 KiB.
const DRAIN_LEVEL: usize = PIPE_SIZE / 2;
/// That pause: about what a fast reader takes to read half the pipe.
const DRAIN_PAUSE: std::time::Duration = std::time::Duration::from_micros(200);
/// Largest single read of a file body (a buffer per thread: see [`read_copy`]).
const COPY_BUF: usize = 256 << 10;

/// The stdin to give the command of a task with `chunk` (if any): the read end of a
/// spliced chunk's pipe (see `crate::source::splice`; taken, so the command is its only
/// holder and the source sees EPIPE when it stops reading), a pipe to feed with [`Feeder`],
/// or /dev/null.
pub(crate) fn stdin_for(chunk: Option<&Chunk>) -> Stdio {
    match chunk {
        None => Stdio::null(),
        Some(c) => match &c.body {
            ChunkBody::Pipe(p) => p
                .stdin
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
                .map_or_else(Stdio::null, Stdio::from),
            _ => Stdio::piped(),
        },
    }
}

/// Where feeding stands after [`Feeder::feed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fed {
    /// The pipe is full; call again when it is writable.
    Pending,
    /// Everything was sent: close the pipe.
    Done,
    /// The reader went away (EPIPE): close the pipe, the rest is dropped.
    Closed,
}

/// Sends one chunk; keeps how far it got.
#[derive(Debug)]
pub(crate) struct Feeder<'a> {
    chunk: &'a Chunk,
    /// Bytes of the header sent.
    head: usize,
    /// Bytes of the body sent.
    body: u64,
    /// A file body's bytes read but not yet taken by the pipe: `copy[pending]` (so nothing is
    /// read twice). The buffer is the thread's, borrowed while this feeder lives.
    copy: Vec<u8>,
    pending: std::ops::Range<usize>,
}

thread_local! {
    /// Each thread's read buffer for file bodies, lent to one [`Feeder`] at a time.
    static COPY: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Drop for Feeder<'_> {
    fn drop(&mut self) {
        let copy = std::mem::take(&mut self.copy);
        if copy.capacity() > 0 {
            COPY.set(copy);
        }
    }
}

impl<'a> Feeder<'a> {
    /// A feeder at the start of `chunk`.
    pub(crate) fn new(chunk: &'a Chunk) -> Self {
        Feeder {
            chunk,
            head: 0,
            body: 0,
            copy: Vec::new(),
            pending: 0..0,
        }
    }

    /// Prepares a pipe for [`Feeder::feed`]: non-blocking, with a large buffer.
    pub(crate) fn prepare(out: &impl AsRawFd) -> io::Result<()> {
        sys::set_pipe_size(out.as_raw_fd(), PIPE_SIZE);
        sys::set_nonblocking(out.as_raw_fd())
    }

    /// Writes as much as `out` (a non-blocking pipe) takes now. An error means the chunk
    /// could not be read (its file shrank); the pipe should be closed.
    pub(crate) fn feed<W: Write + AsRawFd>(&mut self, out: &mut W) -> io::Result<Fed> {
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
            self.head += write_some(out, &header[self.head..])?;
        }
        match &self.chunk.body {
            ChunkBody::Bytes(b) => {
                while (self.body as usize) < b.len() {
                    self.body += write_some(out, &b[self.body as usize..])? as u64;
                }
            }
            // The command reads it from the pipe the source fills (see `stdin_for`).
            ChunkBody::Pipe(_) => {}
            ChunkBody::File { file, offset, len } => {
                while self.body < *len {
                    if self.pending.is_empty() {
                        let at = offset + self.body;
                        let n = read_copy(&mut self.copy, file, at, *len - self.body)?;
                        if n == 0 {
                            return Err(shrank(file, *offset, *len));
                        }
                        self.pending = 0..n;
                    }
                    let n = write_some(out, &self.copy[self.pending.clone()])?;
                    self.pending.start += n;
                    self.body += n as u64;
                }
                // Sent whole; a file cut short meanwhile may have been cut inside what was
                // read (a read racing the truncation can see zeros): the chunk is not sound.
                still_held(self.chunk)?;
            }
        }
        Ok(Fed::Done)
    }
}

/// Reads up to `len` bytes (at most [`COPY_BUF`]) of `file` at `offset` into `buf` (the
/// thread's buffer, taken on first use); returns the bytes read (0: the file ends before
/// `offset`).
fn read_copy(
    buf: &mut Vec<u8>,
    file: &crate::task::DataFile,
    offset: u64,
    len: u64,
) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    if buf.is_empty() {
        *buf = COPY.take();
        buf.resize(COPY_BUF, 0);
    }
    let want = len.min(COPY_BUF as u64) as usize;
    loop {
        match file.file.read_at(&mut buf[..want], offset) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

/// One write of `data` to `out`, retried when interrupted.
fn write_some<W: Write>(out: &mut W, data: &[u8]) -> io::Result<usize> {
    loop {
        match out.write(data) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

/// Whether the file of a file chunk (`--pipe-part`, `--pipe < FILE`) still holds all of it
/// (an error saying it does not). Checked when the chunk is sent and when its task ends: a
/// task whose chunk the file no longer holds fails.
pub(crate) fn still_held(chunk: &Chunk) -> io::Result<()> {
    match &chunk.body {
        ChunkBody::File { file, offset, len }
            if file.file.metadata().is_ok_and(|m| m.len() < offset + len) =>
        {
            Err(shrank(file, *offset, *len))
        }
        _ => Ok(()),
    }
}

/// The error of a chunk whose file no longer holds it.
fn shrank(file: &crate::task::DataFile, offset: u64, len: u64) -> io::Error {
    let now = file.file.metadata().map_or(0, |m| m.len());
    io::Error::other(format!(
        "{}: the file shrank to {now} bytes while this task had its chunk (bytes \
         {offset}..{}): the task fails",
        file.path.display(),
        offset + len
    ))
}
