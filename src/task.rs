//! Tasks and their outcomes: what flows from the sources through the pool to the merger.

use std::ffi::OsString;
use std::time::{Duration, SystemTime};

use crate::output::OutBuf;

/// One input record: its columns (one per input source, or per `--colsep` field).
pub type Record = Vec<OsString>;

/// A unit of work: a sequence number and its input.
#[derive(Debug)]
pub struct Task {
    /// 1-based position in input order (`{#}`).
    pub seq: u64,
    /// What the command runs on.
    pub input: TaskInput,
}

/// The input of one task.
#[derive(Debug)]
pub enum TaskInput {
    /// One or more argument records (more than one with `-n`/`-X`).
    Args(Vec<Record>),
}

impl Task {
    /// The argument records of this task (empty for chunk tasks).
    pub fn records(&self) -> &[Record] {
        match &self.input {
            TaskInput::Args(r) => r,
        }
    }
}

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The command exited with this status.
    Exited(i32),
    /// The command was killed by this signal.
    Signaled(i32),
    /// The command could not be started (reported like a shell's 127).
    SpawnFailed,
    /// Nothing ran (`--dry-run`).
    DryRun,
    /// parx could not collect the task's output (reported on its stderr).
    IoError,
}

impl Outcome {
    /// Whether the task counts as a success.
    pub fn success(self) -> bool {
        matches!(self, Outcome::Exited(0) | Outcome::DryRun)
    }

    /// The task's own exit status as a shell reports it (128+signal when killed).
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Exited(c) => c,
            Outcome::Signaled(s) => 128 + s,
            Outcome::SpawnFailed => 127,
            Outcome::DryRun => 0,
            Outcome::IoError => 255,
        }
    }
}

/// A finished task, handed whole to the merger.
#[derive(Debug)]
pub struct Finished {
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
}

/// Facts about a task's (last) run, for `--joblog`. `Default` when nothing ran.
#[derive(Debug, Default)]
pub struct RunInfo {
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
}

/// What the pool and the sources send to the merger, the only writer of stdout.
#[derive(Debug)]
pub enum Msg {
    /// A piece of the stdout of the task at the head of the `-k` order, streamed through.
    Stream {
        /// The head task's sequence number.
        seq: u64,
        /// The bytes, in order.
        data: OutBuf,
    },
    /// Whole lines of a task's stdout (`--line-buffer`, without `-k`), tags applied.
    Lines {
        /// The task's sequence number.
        seq: u64,
        /// One or more whole lines (the last piece of a task may lack its newline).
        data: Vec<u8>,
    },
    /// A task finished.
    Done(Box<Finished>),
    /// A task that is not run (`--resume`, `--shard`): `-k` moves past it, nothing counts it.
    Skipped(u64),
    /// A source failed (unreadable input): reported, and the run ends with status 255.
    SourceError(anyhow::Error),
    /// parx got SIGINT/SIGTERM (the signal number).
    Interrupt(i32),
}
