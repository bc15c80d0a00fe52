//! `--results DIR`: each task's raw stdout, stderr and exit status stored under `DIR/<seq>/`,
//! and `DIR/index.tsv` mapping sequence numbers to values. Directory names come from the
//! sequence number only, so no value can name a path outside DIR. Written by the pools'
//! task output sinks (`crate::pool::sink`) as the output arrives (a streamed `-k` head of line is stored too).
//!
//! Every error names the file it was writing (`DIR/7/stdout: No space left on device`). A write
//! that fails never touches the task's output to stdout: the hook stops storing that task and
//! the pool reports it (see `crate::pool::sink`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::task::{Outcome, Record};

/// The results directory of a run.
#[derive(Debug)]
pub struct Results {
    dir: PathBuf,
    index: File,
}

/// The files of one task (one attempt: a retry starts them over).
#[derive(Debug)]
pub struct TaskFiles {
    dir: PathBuf,
    out: BufWriter<File>,
    err: BufWriter<File>,
}

impl Results {
    /// Creates DIR (and its parents) and starts `DIR/index.tsv` over.
    pub fn open(dir: &Path) -> io::Result<Results> {
        fs::create_dir_all(dir)?;
        let index = OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.join("index.tsv"))?;
        index.set_len(0)?;
        Ok(Results {
            dir: dir.to_owned(),
            index,
        })
    }

    /// Creates (or empties) `DIR/<seq>/stdout` and `stderr` for a new attempt of task `seq`.
    pub fn task(&self, seq: u64) -> io::Result<TaskFiles> {
        let dir = self.dir.join(seq.to_string());
        fs::create_dir_all(&dir).map_err(|e| at(&dir, e))?;
        let open = |name: &str| -> io::Result<BufWriter<File>> {
            let path = dir.join(name);
            Ok(BufWriter::with_capacity(
                16 << 10,
                File::create(&path).map_err(|e| at(&path, e))?,
            ))
        };
        Ok(TaskFiles {
            out: open("stdout")?,
            err: open("stderr")?,
            dir,
        })
    }

    /// Appends `seq TAB value` to the index in one write; the columns of every record are
    /// TAB-separated, records space-separated; TAB, newline, CR and backslash in values are
    /// written as `\t`, `\n`, `\r`, `\\`.
    pub fn index(&self, seq: u64, records: &[Record]) -> io::Result<()> {
        let mut row = format!("{seq}\t").into_bytes();
        for (i, rec) in records.iter().enumerate() {
            if i > 0 {
                row.push(b' ');
            }
            for (j, v) in rec.iter().enumerate() {
                if j > 0 {
                    row.push(b'\t');
                }
                escape_into(&mut row, v.as_encoded_bytes());
            }
        }
        row.push(b'\n');
        (&self.index)
            .write_all(&row)
            .map_err(|e| at(&self.dir.join("index.tsv"), e))
    }
}

/// `e`, saying which file it happened on.
fn at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!(
            "{}: {}",
            crate::messages::name(path),
            crate::messages::io_text(&e)
        ),
    )
}

fn escape_into(out: &mut Vec<u8>, v: &[u8]) {
    for &b in v {
        match b {
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(b),
        }
    }
}

impl TaskFiles {
    /// Stores a piece of the task's stdout.
    pub fn out(&mut self, data: &[u8]) -> io::Result<()> {
        self.out
            .write_all(data)
            .map_err(|e| at(&self.dir.join("stdout"), e))
    }

    /// Stores a piece of the task's stderr.
    pub fn err(&mut self, data: &[u8]) -> io::Result<()> {
        self.err
            .write_all(data)
            .map_err(|e| at(&self.dir.join("stderr"), e))
    }

    /// Flushes the outputs and writes `exitval` (the shell's status: 128+signal if killed).
    pub fn finish(mut self, outcome: Outcome) -> io::Result<()> {
        let dir = &self.dir;
        self.out.flush().map_err(|e| at(&dir.join("stdout"), e))?;
        self.err.flush().map_err(|e| at(&dir.join("stderr"), e))?;
        let path = dir.join("exitval");
        fs::write(&path, format!("{}\n", outcome.exit_code())).map_err(|e| at(&path, e))
    }
}
