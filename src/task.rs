//! Tasks and their outcomes: what flows from the sources through the pool to the merger.

use std::ffi::OsString;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::Sender;
use std::time::{Duration, SystemTime};

use crate::output::OutBuf;

/// One input record: its columns (one per input source, or per `--colsep` field).
pub(crate) type Record = Vec<OsString>;

/// A unit of work: a sequence number and its input.
#[derive(Debug)]
pub(crate) struct Task {
    /// 1-based position in input order (`{#}`).
    pub seq: u64,
    /// What the command runs on.
    pub input: TaskInput,
}

/// The input of one task.
#[derive(Debug)]
pub(crate) enum TaskInput {
    /// One or more argument records (more than one with `-n`/`-X`).
    Args(Vec<Record>),
    /// A chunk of `--pipe`/`--pipe-part` input, fed to the command's stdin.
    Chunk(Chunk),
    /// Many one-value tasks in a row, as the bytes a process-pool worker is sent (made only
    /// for it, when nothing needs the tasks one by one: see `Config::value_blocks`).
    Lines(Lines),
}

/// One-value tasks in a row, numbered from the [`Task`]'s `seq`: their values, each ended by
/// `end` (the record terminator the worker reads), exactly as they are written to it.
#[derive(Debug)]
pub(crate) struct Lines {
    /// The values, each ended by `end`; those before `at` are already answered.
    pub bytes: Vec<u8>,
    /// Where the first value not yet answered starts.
    pub at: usize,
    /// How many values (tasks) from `at` on.
    pub count: u64,
    /// The byte that ends each value.
    pub end: u8,
}

impl Lines {
    /// The values from `at` on: what is still to be sent or answered.
    pub(crate) fn rest(&self) -> &[u8] {
        &self.bytes[self.at..]
    }

    /// The first value (without its end), for messages.
    pub(crate) fn first(&self) -> &[u8] {
        let rest = self.rest();
        &rest[..memchr::memchr(self.end, rest).unwrap_or(rest.len())]
    }

    /// Takes the first `n` values off the front (they have been answered): returns them as a
    /// block of their own, without their bytes (nothing reads them any more).
    pub(crate) fn take_answered(&mut self, n: u64) -> Lines {
        debug_assert!(n <= self.count);
        self.at += self.offset_of(n);
        self.count -= n;
        Lines {
            bytes: Vec::new(),
            at: 0,
            count: n,
            end: self.end,
        }
    }

    /// Splits off the values after the first `n` (to be sent elsewhere), leaving this block
    /// with the first `n` alone.
    pub(crate) fn split_after(&mut self, n: u64) -> Option<Lines> {
        if n == 0 || self.count <= n {
            return None;
        }
        let cut = self.at + self.offset_of(n);
        let rest = Lines {
            bytes: self.bytes[cut..].to_vec(),
            at: 0,
            count: self.count - n,
            end: self.end,
        };
        self.bytes.truncate(cut);
        self.count = n;
        Some(rest)
    }

    /// The offset, from `at`, just past the `n`th value.
    fn offset_of(&self, n: u64) -> usize {
        if n == 0 {
            return 0;
        }
        let rest = self.rest();
        memchr::memchr_iter(self.end, rest)
            .nth(n as usize - 1)
            .map_or(rest.len(), |i| i + 1)
    }
}

/// A record-aligned chunk: the header (if any) then the body go to the command's stdin.
/// [`crate::pool::feed::Feeder`] sends one without blocking.
#[derive(Debug)]
pub(crate) struct Chunk {
    /// The `--header` records, sent before the body (shared by every chunk of a file).
    pub header: Arc<[u8]>,
    /// The chunk's own bytes.
    pub body: ChunkBody,
    /// What value placeholders see: for `--pipe-part` one record holding the file's name
    /// (`{}`); empty for `--pipe`.
    pub name: Vec<Record>,
    /// `--cat`: the temp file holding the chunk (its name is `name`), removed when the task
    /// is done with it (dropped): held only for that.
    #[allow(dead_code)]
    pub cat: Option<tempfile::TempPath>,
}

/// Where a chunk's bytes are.
#[derive(Debug)]
pub(crate) enum ChunkBody {
    /// Read from stdin (`--pipe`).
    Bytes(Block),
    /// A byte range of a file (`--pipe-part`), sent by reading it (pread(2)) from the page
    /// cache: `(file.file.as_raw_fd(), offset, len)` for another consumer.
    File {
        /// The open file.
        file: Arc<DataFile>,
        /// Where the chunk starts.
        offset: u64,
        /// Its length in bytes.
        len: u64,
    },
    /// Moved straight from parx's stdin pipe to the command's (`--pipe` from a pipe).
    Pipe(PipeBody),
}

/// A `--pipe` chunk moved with splice(2) from parx's stdin pipe (`crate::source::splice`):
/// the command's stdin is the read end of a pipe the source fills while the command reads.
#[derive(Debug)]
pub(crate) struct PipeBody {
    /// The read end, until the slot gives it to the command (see
    /// [`crate::pool::feed::stdin_for`]).
    pub stdin: std::sync::Mutex<Option<std::os::fd::OwnedFd>>,
    /// Bytes of the chunk the source has sent so far (all of them once the chunk is whole).
    pub sent: Arc<std::sync::atomic::AtomicU64>,
}

/// The bytes of a `--pipe` chunk. When dropped, the buffer goes back to the source to be
/// read into again (saving the page faults of fresh memory for every block).
#[derive(Debug)]
pub(crate) struct Block {
    data: Vec<u8>,
    home: Option<Sender<Vec<u8>>>,
}

impl Block {
    /// `data`, to be sent back on `home` (if any) when dropped.
    pub(crate) fn new(data: Vec<u8>, home: Option<Sender<Vec<u8>>>) -> Block {
        Block { data, home }
    }
}

impl std::ops::Deref for Block {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        if let Some(home) = &self.home {
            let _ = home.try_send(std::mem::take(&mut self.data));
        }
    }
}

/// An open `--pipe-part` data file.
#[derive(Debug)]
pub(crate) struct DataFile {
    /// Its name as given (for `{}` and messages).
    pub path: PathBuf,
    /// The open file.
    pub file: File,
}

impl DataFile {
    /// Reads bytes `offset..offset + len` in pieces of at most `piece` bytes (one buffer for
    /// all of them), handing each to `put`.
    pub(crate) fn each_piece(
        &self,
        offset: u64,
        len: u64,
        piece: usize,
        mut put: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0; len.min(piece as u64) as usize];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(buf.len() as u64) as usize;
            self.file.read_exact_at(&mut buf[..n], offset + done)?;
            put(&buf[..n])?;
            done += n as u64;
        }
        Ok(())
    }
}

impl Chunk {
    /// Bytes this chunk sends in all, header included.
    pub(crate) fn len(&self) -> u64 {
        let body = match &self.body {
            ChunkBody::Bytes(b) => b.len() as u64,
            ChunkBody::File { len, .. } => *len,
            ChunkBody::Pipe(p) => p.sent.load(std::sync::atomic::Ordering::Acquire),
        };
        self.header.len() as u64 + body
    }
}

impl Task {
    /// The argument records of this task (empty for chunk tasks).
    pub(crate) fn records(&self) -> &[Record] {
        match &self.input {
            TaskInput::Args(r) => r,
            TaskInput::Chunk(_) | TaskInput::Lines(_) => &[],
        }
    }

    /// The records value placeholders see: the arguments, or a chunk's file name.
    pub(crate) fn template_records(&self) -> &[Record] {
        match &self.input {
            TaskInput::Args(r) => r,
            TaskInput::Chunk(c) => &c.name,
            TaskInput::Lines(_) => &[],
        }
    }

    /// The chunk to feed to the command's stdin, if this is a chunk task.
    pub(crate) fn chunk(&self) -> Option<&Chunk> {
        match &self.input {
            TaskInput::Chunk(c) => Some(c),
            TaskInput::Args(_) | TaskInput::Lines(_) => None,
        }
    }
}

impl TaskInput {
    /// How many tasks it stands for (numbered in a row).
    pub(crate) fn tasks(&self) -> u64 {
        match self {
            TaskInput::Lines(l) => l.count,
            TaskInput::Args(_) | TaskInput::Chunk(_) => 1,
        }
    }
}

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The command exited with this status.
    Exited(i32),
    /// The command was killed by this signal.
    Signaled(i32),
    /// The command could not be started: 127 (not found) or 126 (cannot run), as a shell
    /// reports it.
    SpawnFailed(i32),
    /// Nothing ran (`--dry-run`).
    DryRun,
    /// parx could not collect the task's output (reported on its stderr).
    IoError,
}

impl Outcome {
    /// Whether the task counts as a success.
    pub(crate) fn success(self) -> bool {
        matches!(self, Outcome::Exited(0) | Outcome::DryRun)
    }

    /// The task's own exit status as a shell reports it (128+signal when killed).
    pub(crate) fn exit_code(self) -> i32 {
        match self {
            Outcome::Exited(c) => c,
            Outcome::Signaled(s) => 128 + s,
            Outcome::SpawnFailed(s) => s,
            Outcome::DryRun => 0,
            Outcome::IoError => crate::exit::EXIT_ERROR,
        }
    }
}

/// A finished task, handed whole to the merger.
#[derive(Debug)]
pub(crate) struct Finished {
    /// The task's sequence number.
    pub seq: u64,
    /// Its stdout (what was not already streamed as head of line).
    pub stdout: OutBuf,
    /// Its stderr.
    pub stderr: OutBuf,
    /// How it ended.
    pub outcome: Outcome,
    /// What the job log needs (the last attempt's timing and byte counts, the command).
    pub info: RunInfo,
    /// Tasks `seq+1 ..= seq+more` that this entry finishes too, all successfully, their
    /// output included in `stdout` (the process pool's run of answered records; used only
    /// when no job log and no progress display need one entry per task).
    pub more: u64,
}

/// Facts about a task's (last) run, for `--joblog`. `Default` when nothing ran.
#[derive(Debug, Default)]
pub(crate) struct RunInfo {
    /// When the last attempt started (`None`: it never started).
    pub start: Option<SystemTime>,
    /// How long it ran.
    pub runtime: Duration,
    /// Bytes written to its stdin.
    pub send: u64,
    /// Bytes it wrote to stdout.
    pub receive: u64,
    /// The command line as `--dry-run` shows it (filled only when a job log is kept).
    pub command: Vec<u8>,
    /// parx ended it itself (`--timeout`, or a stop: `--halt now`, an interrupt of parx,
    /// `--termseq`): a signal's row says Exitval -1, as GNU parallel's; a signal parx did not
    /// send says 0.
    pub killed: bool,
}

/// What the pool and the sources send to the merger, the only writer of stdout.
#[derive(Debug)]
pub(crate) enum Msg {
    /// A piece of the stdout of the task at the head of the `-k` order, streamed through.
    Stream {
        /// The head task's sequence number.
        seq: u64,
        /// The bytes, in order.
        data: OutBuf,
    },
    /// A task finished.
    Done(Box<Finished>),
    /// Whole lines of a task's stdout (`--line-buffer`, without `-k`), tags applied: the
    /// task has begun to print.
    Lines {
        /// The task's sequence number.
        seq: u64,
        /// One or more whole lines (the last piece of a task may lack its newline).
        data: Vec<u8>,
    },
    /// Output not tied to one task's place in the order (`--pool process` without `-k`:
    /// whole results as they arrive).
    Output(OutBuf),
    /// A task that is not run (`--resume`, `--shard`): `-k` moves past it, nothing counts it.
    Skipped(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(b: &[u8]) -> Lines {
        Lines {
            bytes: b.to_vec(),
            at: 0,
            count: memchr::memchr_iter(b'\n', b).count() as u64,
            end: b'\n',
        }
    }

    #[test]
    fn a_block_of_values_splits_at_value_ends() {
        let mut l = lines(b"one\ntwo\nthree\nfour\n");
        let head = l.take_answered(2);
        assert_eq!((head.count, l.count), (2, 2));
        assert_eq!(l.rest(), b"three\nfour\n");
        assert_eq!(l.first(), b"three");
        let rest = l.split_after(1).expect("two values");
        assert_eq!((l.count, l.rest()), (1, &b"three\n"[..]));
        assert_eq!((rest.count, rest.rest()), (1, &b"four\n"[..]));
        let mut one = rest;
        assert!(one.split_after(1).is_none(), "one value stays whole");
        assert_eq!(TaskInput::Lines(lines(b"x\ny\n")).tasks(), 2);
    }
}
