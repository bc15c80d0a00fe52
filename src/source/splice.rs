//! `--pipe` from a pipe without copying (Linux): each chunk's bytes go from parx's stdin pipe
//! to a pipe of the chunk's own with splice(2) — the kernel hands the pages over, parx never
//! reads them — and the command reads that pipe as its stdin. Only the end of each block is
//! read (into a small buffer) to find where its last record ends; what follows that record
//! end starts the next chunk.
//!
//! A chunk is sent to a slot first and filled while its command reads. A command that reads
//! slowly must not hold up the others: when its pipe stays full for [`STALL`], the rest of
//! the chunk is read into memory (so the next chunk can start) and a short-lived thread
//! writes it on. A command that exits without reading its input gets nothing more (the
//! bytes are read and dropped, so the next chunk still starts in the right place).
//!
//! Chunk edges follow the `--pipe` rule (each chunk the longest record-aligned prefix of at
//! most `--block` bytes) as long as the last record end of a block lies in its last
//! [`WINDOW`] bytes; a block without one there ends at the first record end after it (as a
//! single record longer than the block does). Used for a one-byte record end only, without
//! `-N`/`-L`, `--recstart`, `--header`, `--retries` or the process pool (see
//! [`usable`]); everything else takes the copying path of [`crate::source::chunk`].

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{ChunkConfig, Config, PoolKind};
use crate::sys;
use crate::task::{Chunk, ChunkBody, PipeBody};

/// The end of each block read to find its last record end.
pub(super) const WINDOW: usize = 1 << 20;
/// Blocks smaller than this are read and copied (the window would be most of them).
const MIN_BLOCK: u64 = 4 * WINDOW as u64;
/// How long a command's full pipe may hold the input up before the rest of its chunk is
/// read into memory.
pub(super) const STALL: Duration = Duration::from_millis(20);
/// The pause that lets a pipe fill or drain before parx moves its pages (see `body`).
const PAUSE: Duration = Duration::from_micros(200);
/// Pipe buffer asked for on parx's stdin and on each chunk's pipe (the unprivileged limit).
const PIPE_SIZE: usize = 1 << 20;
/// Largest single splice(2) request.
const MAX_SPLICE: usize = 1 << 20;
/// Read size when searching for a record end past the block.
const READ_SIZE: usize = 256 << 10;

/// Whether `--pipe` from the pipe `fd` can be spliced with this configuration.
pub(super) fn usable(cfg: &Config, c: &ChunkConfig, fd: RawFd) -> bool {
    cfg!(target_os = "linux")
        && cfg.pool == PoolKind::Thread
        // The chunk runs once: no retry (--retries), no rerun (--memfree) can read it again.
        && cfg.jobs_ctl.max_runs == Some(1)
        && cfg.sched.memfree.is_none()
        && c.lines.is_none()
        && c.group <= 1
        && c.header == 0
        && c.header_re.is_none()
        && !c.cat
        && !c.round_robin
        && !c.remove_rec_sep
        && c.regexp.is_none()
        && c.rec.recstart.is_none()
        && c.rec.recend.len() == 1
        && matches!(c.block, crate::source::chunk::BlockSize::Bytes(b) if b >= MIN_BLOCK)
        && sys::is_pipe(fd)
}

/// Where the bytes of the chunk being filled go.
enum Sink {
    /// Into its pipe, as fast as the command reads.
    Pipe(File),
    /// Into memory (the command was slow), written to its pipe later.
    Buffer(File, Vec<u8>),
    /// Nowhere: the command is gone.
    Discard,
}

/// Splits parx's stdin pipe into spliced chunks.
pub(super) struct PipeSplitter {
    input: File,
    recend: u8,
    block: usize,
    /// The end of each block read to find its last record end ([`WINDOW`]).
    window: usize,
    /// Bytes read past the end of the previous chunk: the start of the next.
    carry: Vec<u8>,
    eof: bool,
}

impl PipeSplitter {
    /// A splitter for `input` (a pipe) with `block`-byte chunks ending after `recend`.
    pub(super) fn new(input: File, recend: u8, block: u64) -> Self {
        Self::with_window(input, recend, block, WINDOW)
    }

    fn with_window(input: File, recend: u8, block: u64, window: usize) -> Self {
        sys::set_pipe_size(input.as_raw_fd(), PIPE_SIZE);
        PipeSplitter {
            input,
            recend,
            block: usize::try_from(block).unwrap_or(usize::MAX),
            window,
            carry: Vec::new(),
            eof: false,
        }
    }

    /// The next chunk, to be sent to a slot and then filled with [`Filler::fill`]; `None`
    /// at the end of the input.
    pub(super) fn next_chunk(&mut self) -> io::Result<Option<(Chunk, Filler<'_>)>> {
        if self.carry.is_empty() && !self.eof {
            let mut first = vec![0; 64 << 10];
            let n = read_some(&mut self.input, &mut first)?;
            first.truncate(n);
            self.eof = n == 0;
            self.carry = first;
        }
        if self.carry.is_empty() {
            return Ok(None);
        }
        let (rx, tx) = sys::pipe()?;
        sys::set_pipe_size(tx.as_raw_fd(), PIPE_SIZE);
        sys::set_nonblocking(tx.as_raw_fd())?;
        let sent = Arc::new(AtomicU64::new(0));
        let chunk = Chunk {
            header: Arc::from(&[][..]),
            body: ChunkBody::Pipe(PipeBody {
                stdin: std::sync::Mutex::new(Some(OwnedFd::from(rx))),
                sent: sent.clone(),
            }),
            name: Vec::new(),
            cat: None,
        };
        Ok(Some((
            chunk,
            Filler {
                split: self,
                sink: Sink::Pipe(tx),
                sent,
                total: 0,
            },
        )))
    }
}

/// Fills one chunk's pipe from the input.
pub(super) struct Filler<'a> {
    split: &'a mut PipeSplitter,
    sink: Sink,
    sent: Arc<AtomicU64>,
    /// Bytes of the chunk taken from the input so far.
    total: usize,
}

impl Filler<'_> {
    /// Moves the whole chunk: the bytes carried over, the body by splice(2), then the end of
    /// the block read to find the last record end. Errors are the input's (reading stdin).
    pub(super) fn fill(mut self) -> io::Result<()> {
        let block = self.split.block;
        // The body, up to `window` bytes before the block's end, is spliced; what was carried
        // over from the previous chunk goes first (or is already past the body).
        let body_end = block.saturating_sub(self.split.window);
        let mut win = std::mem::take(&mut self.split.carry);
        if win.len() < body_end {
            self.write(&win)?;
            win.clear();
            while self.total < body_end && !self.split.eof {
                self.body(body_end - self.total)?;
            }
        }
        // The rest of the block, and one byte more: is there anything after the block?
        let want = (block + 1).saturating_sub(self.total);
        while win.len() < want && !self.split.eof {
            let have = win.len();
            win.resize(want, 0);
            let n = read_some(&mut self.split.input, &mut win[have..])?;
            win.truncate(have + n);
            self.split.eof = n == 0;
        }
        if self.total + win.len() <= block {
            // The input ends within the block: all of it.
            self.write(&win)?;
        } else {
            // `win[last]` is the byte just past the block.
            let last = block - self.total;
            let rec = self.split.recend;
            let end = memchr::memrchr(rec, &win[..last])
                .or_else(|| memchr::memchr(rec, &win[last..]).map(|i| last + i));
            match end {
                Some(i) => {
                    self.write(&win[..=i])?;
                    self.split.carry = win[i + 1..].to_vec();
                }
                None => {
                    // No record end in reach: the chunk runs to the first one after.
                    self.write(&win)?;
                    self.run_to_record_end()?;
                }
            }
        }
        self.sent.store(self.total as u64, Ordering::Release);
        match std::mem::replace(&mut self.sink, Sink::Discard) {
            Sink::Buffer(tx, rest) => finish_later(tx, rest),
            // Closing the pipe ends the command's input.
            Sink::Pipe(_) | Sink::Discard => {}
        }
        Ok(())
    }

    /// Reads on past the block until a record end (or the end of the input); what follows
    /// it is carried to the next chunk.
    fn run_to_record_end(&mut self) -> io::Result<()> {
        let mut buf = vec![0; READ_SIZE];
        while !self.split.eof {
            let n = read_some(&mut self.split.input, &mut buf)?;
            self.split.eof = n == 0;
            match memchr::memchr(self.split.recend, &buf[..n]) {
                Some(i) => {
                    self.write(&buf[..=i])?;
                    self.split.carry = buf[i + 1..n].to_vec();
                    return Ok(());
                }
                None => self.write(&buf[..n])?,
            }
        }
        Ok(())
    }

    /// Moves up to `left` bytes of the body from the input to the sink.
    fn body(&mut self, left: usize) -> io::Result<()> {
        let input = self.split.input.as_raw_fd();
        let want = left.min(MAX_SPLICE);
        let tx = match &mut self.sink {
            Sink::Pipe(tx) => tx.as_raw_fd(),
            Sink::Buffer(_, rest) => {
                let have = rest.len();
                rest.resize(have + want, 0);
                let n = read_some(&mut self.split.input, &mut rest[have..])?;
                rest.truncate(have + n);
                self.split.eof = n == 0;
                self.total += n;
                return Ok(());
            }
            Sink::Discard => {
                let mut buf = vec![0; want.min(READ_SIZE)];
                let n = read_some(&mut self.split.input, &mut buf)?;
                self.split.eof = n == 0;
                self.total += n;
                return Ok(());
            }
        };
        match sys::splice(input, tx, want) {
            Ok(0) => self.split.eof = true,
            Ok(n) => self.total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // The input is empty or the command's pipe is full.
                // Either way, once woken, let the pipes fill or drain a little before moving
                // on: poll(2) wakes for every page, and a reader like `wc` takes 16 KiB at a
                // time.
                let mut out = [sys::watch(tx, libc::POLLOUT)];
                if sys::poll(&mut out, 0)? == 0 {
                    if !self.wait_writable(tx)? {
                        self.switch_to_memory();
                    } else if sys::pipe_queued(tx) > PIPE_SIZE / 2 {
                        std::thread::sleep(PAUSE);
                    }
                } else {
                    let mut inp = [sys::watch(input, libc::POLLIN)];
                    sys::poll(&mut inp, -1)?;
                    if sys::pipe_queued(input) < PIPE_SIZE / 4 {
                        std::thread::sleep(PAUSE);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => self.sink = Sink::Discard,
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Waits up to [`STALL`] for the chunk's pipe to have room; false if it stayed full.
    /// A pipe whose reader is gone counts as writable (the next write sees EPIPE).
    fn wait_writable(&self, tx: RawFd) -> io::Result<bool> {
        let end = Instant::now() + STALL;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let mut out = [sys::watch(tx, libc::POLLOUT)];
            if sys::poll(&mut out, left.as_millis().max(1) as i32)? > 0 {
                return Ok(true);
            }
        }
    }

    /// The command is slow: the rest of the chunk goes to memory.
    fn switch_to_memory(&mut self) {
        if let Sink::Pipe(tx) = std::mem::replace(&mut self.sink, Sink::Discard) {
            self.sink = Sink::Buffer(tx, Vec::new());
        }
    }

    /// Bytes read from the input, to the sink.
    fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        self.total += data.len();
        while !data.is_empty() {
            match &mut self.sink {
                Sink::Discard => return Ok(()),
                Sink::Buffer(_, rest) => {
                    rest.extend_from_slice(data);
                    return Ok(());
                }
                Sink::Pipe(tx) => match tx.write(data) {
                    Ok(n) => data = &data[n..],
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        let fd = tx.as_raw_fd();
                        if !self.wait_writable(fd)? {
                            self.switch_to_memory();
                        }
                    }
                    Err(_) => self.sink = Sink::Discard,
                },
            }
        }
        Ok(())
    }
}

/// Writes the buffered rest of a slow command's chunk from a thread of its own, then closes
/// the pipe. A command that stops reading just ends the thread (EPIPE).
fn finish_later(mut tx: File, rest: Vec<u8>) {
    let spawned = std::thread::Builder::new()
        .name("parx-splice-rest".into())
        .stack_size(64 << 10)
        .spawn(move || {
            if sys::set_blocking(tx.as_raw_fd()).is_ok() {
                let _ = tx.write_all(&rest);
            }
        });
    if let Err(e) = spawned {
        crate::messages::error(format_args!("cannot start a thread: {e}"));
    }
}

/// One read, retried when interrupted.
fn read_some(r: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            res => return res,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Splits `data`, written into a real pipe by a thread, reading each chunk's pipe from
    /// a thread of its own (after a pause when `slow`, so that the rest goes via memory).
    fn split(data: &[u8], block: u64, window: usize, slow: bool) -> Vec<Vec<u8>> {
        let (r, mut w) = sys::pipe().unwrap();
        let d = data.to_vec();
        let writer = std::thread::spawn(move || w.write_all(&d).unwrap());
        let mut split = PipeSplitter::with_window(r, b'\n', block, window);
        let mut chunks = Vec::new();
        while let Some((chunk, filler)) = split.next_chunk().unwrap() {
            let ChunkBody::Pipe(p) = &chunk.body else {
                panic!("not a pipe chunk")
            };
            let fd = p.stdin.lock().unwrap().take().unwrap();
            let reader = std::thread::spawn(move || {
                if slow {
                    std::thread::sleep(STALL * 2);
                }
                let mut v = Vec::new();
                File::from(fd).read_to_end(&mut v).unwrap();
                v
            });
            filler.fill().unwrap();
            let got = reader.join().unwrap();
            assert_eq!(chunk.len(), got.len() as u64);
            chunks.push(got);
        }
        writer.join().unwrap();
        chunks
    }

    /// The `--pipe` rule: each chunk the longest prefix of at most `block` bytes ending
    /// after a newline (all the rest if it fits; else up to the first newline after).
    fn reference(data: &[u8], block: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let end = if rest.len() <= block {
                rest.len()
            } else {
                memchr::memrchr(b'\n', &rest[..block])
                    .or_else(|| memchr::memchr(b'\n', &rest[block..]).map(|i| block + i))
                    .map_or(rest.len(), |i| i + 1)
            };
            out.push(rest[..end].to_vec());
            rest = &rest[end..];
        }
        out
    }

    #[test]
    fn a_command_that_reads_nothing_leaves_the_next_chunk_intact() {
        let data: Vec<u8> = (0..200_000)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        let (r, mut w) = sys::pipe().unwrap();
        let d = data.clone();
        let writer = std::thread::spawn(move || w.write_all(&d).unwrap());
        let mut split = PipeSplitter::with_window(r, b'\n', 300_000, 1000);
        let mut got = Vec::new();
        let mut n = 0;
        while let Some((chunk, filler)) = split.next_chunk().unwrap() {
            n += 1;
            let ChunkBody::Pipe(p) = &chunk.body else {
                panic!("not a pipe chunk")
            };
            let fd = p.stdin.lock().unwrap().take().unwrap();
            if n % 2 == 0 {
                drop(fd);
                filler.fill().unwrap();
            } else {
                let reader = std::thread::spawn(move || {
                    let mut v = Vec::new();
                    File::from(fd).read_to_end(&mut v).unwrap();
                    v
                });
                filler.fill().unwrap();
                got.push(reader.join().unwrap());
            }
        }
        writer.join().unwrap();
        let want: Vec<Vec<u8>> = reference(&data, 300_000).into_iter().step_by(2).collect();
        assert_eq!(got, want);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any input, any block and window: the chunks concatenate back to the input, are
        /// never empty, end after a newline (but the last); with the window covering the
        /// block they are exactly the `--pipe` rule's.
        #[test]
        fn chunks_reproduce_input(
            data in prop::collection::vec(prop::sample::select(b"ab\n".to_vec()), 0..3000),
            block in 1u64..400,
            window in 1usize..400,
            slow in prop::bool::weighted(0.1),
        ) {
            let chunks = split(&data, block, window, slow);
            prop_assert_eq!(chunks.concat(), data.clone());
            prop_assert!(chunks.iter().all(|c| !c.is_empty()));
            for c in &chunks[..chunks.len().saturating_sub(1)] {
                prop_assert_eq!(c.last(), Some(&b'\n'));
            }
            if window >= block as usize {
                prop_assert_eq!(chunks, reference(&data, block as usize));
            }
        }
    }
}
