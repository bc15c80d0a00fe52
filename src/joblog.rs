//! `--joblog` and `--resume`: GNU parallel's TSV job log. Rows are written by the merger (the
//! one place every pool's final task outcomes pass through), each row whole in one write(2) on
//! an `O_APPEND` file, so a `kill -9` of parx leaves a log of whole rows. Reading it back for
//! `--resume` tolerates a torn last line. The room for a row is reserved (fallocate(2))
//! before its task's output is printed ([`Joblog::reserve`]), so that a full disk is known
//! before the output goes out rather than after; a write that fails anyway is undone (the
//! file is cut back to its last whole row).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::task::Outcome;

/// The header row (GNU parallel's columns).
pub(crate) const HEADER: &[u8] =
    b"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";

/// What an existing log says about earlier runs.
#[derive(Debug, Default)]
pub(crate) struct Logged {
    /// Tasks with a row.
    pub done: HashSet<u64>,
    /// Tasks with a row that shows success (exit value 0, no signal).
    pub succeeded: HashSet<u64>,
}

/// One finished task, as the log records it.
#[derive(Debug)]
pub(crate) struct Row<'a> {
    /// Sequence number.
    pub seq: u64,
    /// When the (last attempt of the) task started.
    pub start: SystemTime,
    /// How long it ran.
    pub runtime: Duration,
    /// Bytes sent to the task's stdin.
    pub send: u64,
    /// Bytes the task wrote to stdout.
    pub receive: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// The command line as `--dry-run` shows it.
    pub command: &'a [u8],
    /// parx ended the task itself (see [`crate::task::RunInfo::killed`]).
    pub killed: bool,
}

/// Formats a row: seconds since the epoch with 3 decimals, the runtime as `%10.3f`, the
/// exit value and signal (a task killed by a signal: its signal, with exit value -1 when parx
/// sent it, as GNU parallel logs a timeout, and 0 when it came from elsewhere, as GNU
/// parallel logs `kill -TERM $$`), the command with any newline written as `\n` so that every row is one line.
pub(crate) fn format_row(r: &Row) -> Vec<u8> {
    let start = r.start.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (exitval, signal) = match r.outcome {
        Outcome::Signaled(s) => (if r.killed { -1 } else { 0 }, s),
        o => (o.exit_code(), 0),
    };
    let mut row = format!(
        "{}\t:\t{}.{:03}\t{:10.3}\t{}\t{}\t{}\t{}\t",
        r.seq,
        start.as_secs(),
        start.subsec_millis(),
        r.runtime.as_secs_f64(),
        r.send,
        r.receive,
        exitval,
        signal
    )
    .into_bytes();
    for &b in r.command {
        match b {
            b'\n' => row.extend_from_slice(b"\\n"),
            b'\r' => row.extend_from_slice(b"\\r"),
            _ => row.push(b),
        }
    }
    row.push(b'\n');
    row
}

/// A row's nine tab-separated fields (the command, last, may hold tabs).
pub(crate) fn row_fields(line: &[u8]) -> Vec<&[u8]> {
    line.splitn(9, |&b| b == b'\t').collect()
}

/// Field `i` of a row's [`row_fields`] as a number (`None`: missing or not a number, as in
/// the header).
pub(crate) fn field_num(fields: &[&[u8]], i: usize) -> Option<i64> {
    std::str::from_utf8(fields.get(i)?)
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Parses a log's rows (the header, unparsable lines and a torn last line are skipped).
pub(crate) fn parse(text: &[u8]) -> Logged {
    let mut l = Logged::default();
    let complete = match memchr::memrchr(b'\n', text) {
        Some(i) => &text[..=i],
        None => &[][..],
    };
    for line in complete.split(|&b| b == b'\n') {
        let mut f = line.split(|&b| b == b'\t');
        let num =
            |f: Option<&[u8]>| -> Option<i64> { std::str::from_utf8(f?).ok()?.trim().parse().ok() };
        let seq = num(f.next());
        let (exitval, signal) = (num(f.nth(5)), num(f.next()));
        if let (Some(seq), Some(e), Some(s), Some(_cmd)) = (seq, exitval, signal, f.next()) {
            if seq > 0 {
                l.done.insert(seq as u64);
                if e == 0 && s == 0 {
                    l.succeeded.insert(seq as u64);
                }
            }
        }
    }
    l
}

/// An open job log.
#[derive(Debug)]
pub(crate) struct Joblog {
    file: File,
    /// It is a regular file (not `--joblog -`, a pipe): its length can be cut back and its
    /// room reserved.
    regular: bool,
    /// Its length: the end of its last whole row.
    len: u64,
    /// Up to where its room is reserved.
    reserved: u64,
    /// Room promised to the rows of tasks that print before they end ([`Joblog::promise`]).
    promised: u64,
}

/// The room promised to the row of a task that prints before it ends: a row is about 60
/// bytes and its command (a command of more than 4 KiB may find no room when its row comes).
const ROW_PROMISE: u64 = 4 << 10;

/// How much room [`Joblog::reserve`] asks for at once (fewer system calls), if there is.
const RESERVE_AHEAD: u64 = 64 << 10;

impl Joblog {
    /// Opens the log. With `resume`, reads what it already holds (a missing file holds
    /// nothing) and appends after it, dropping a torn last line; with `append` (`+FILE`)
    /// appends after it and writes no header, as GNU parallel; otherwise starts it over.
    pub(crate) fn open(path: &Path, resume: bool, append: bool) -> io::Result<(Joblog, Logged)> {
        let mut logged = Logged::default();
        // `--joblog -`: parx's own stdout (its file offset shared with the merger's writes).
        let stdout = path == Path::new("/dev/stdout");
        let mut file = if stdout {
            File::from(std::os::fd::AsFd::as_fd(&io::stdout()).try_clone_to_owned()?)
        } else {
            OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(path)?
        };
        let mut text = Vec::new();
        if resume && !stdout {
            file.read_to_end(&mut text)?;
            logged = parse(&text);
            let whole = memchr::memrchr(b'\n', &text).map_or(0, |i| i + 1);
            if whole < text.len() {
                file.set_len(whole as u64)?;
                text.truncate(whole);
            }
        }
        // (Not for `--joblog -`: stdout may be a pipe, a terminal, or a file that holds what
        // parx printed.)
        let regular = !stdout && file.metadata()?.is_file();
        if !resume && !append && regular {
            file.set_len(0)?;
        }
        if append && !resume && regular {
            // Appended after what is there (the end of its last whole row, should a row be
            // torn: a new row then starts on a line of its own).
            file.read_to_end(&mut text)?;
            if text.last().is_some_and(|&b| b != b'\n') {
                text.push(b'\n');
                file.write_all(b"\n")?;
            }
        }
        let len = text.len() as u64;
        let mut log = Joblog {
            file,
            regular,
            len,
            reserved: len,
            promised: 0,
        };
        if text.is_empty() && !append {
            log.write_whole(HEADER)?;
        }
        Ok((log, logged))
    }

    /// Reserves room for `n` more bytes (a row about to be written), so that writing them
    /// cannot fail for want of space: an error says the row cannot be written (and nothing
    /// should be printed that it would record). Where room cannot be reserved (not a regular
    /// file, a file system without fallocate(2)) it says nothing.
    pub(crate) fn reserve(&mut self, n: usize) -> io::Result<()> {
        self.reserve_after(self.promised, n as u64)
    }

    /// Reserves room for the row of a task that prints before it ends ([`ROW_PROMISE`]),
    /// besides what is reserved for others; [`Joblog::unpromise`] gives it back when the
    /// task ends (its row then reserves its own).
    pub(crate) fn promise(&mut self) -> io::Result<()> {
        self.reserve_after(self.promised, ROW_PROMISE)?;
        self.promised += ROW_PROMISE;
        Ok(())
    }

    /// Gives back one [`Joblog::promise`].
    pub(crate) fn unpromise(&mut self) {
        self.promised = self.promised.saturating_sub(ROW_PROMISE);
    }

    /// Reserves room for `n` bytes after the end and `skip` bytes promised already.
    fn reserve_after(&mut self, skip: u64, n: u64) -> io::Result<()> {
        let n = n + skip;
        if !self.regular || self.len + n <= self.reserved {
            return Ok(());
        }
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.file);
        // Ahead if there is room, else just this row.
        let mut got = crate::sys::reserve_space(fd, self.len, n.max(RESERVE_AHEAD));
        if got.is_err() {
            got = crate::sys::reserve_space(fd, self.len, n);
        }
        match got {
            Ok(Some(k)) => {
                self.reserved = self.len + k;
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Appends one whole row (formatted by [`format_row`]) with one write(2); if the write
    /// fails, the log is cut back to its last whole row.
    pub(crate) fn write(&mut self, row: &[u8]) -> io::Result<()> {
        self.write_whole(row)
    }

    fn write_whole(&mut self, data: &[u8]) -> io::Result<()> {
        let mut f = &self.file;
        // O_APPEND: one write of a regular file lands whole; finish a short one anyway.
        let res = f.write(data).and_then(|n| match n < data.len() {
            true => f.write_all(&data[n..]),
            false => Ok(()),
        });
        match res {
            Ok(()) => {
                self.len += data.len() as u64;
                Ok(())
            }
            Err(e) => {
                // No torn row for --resume to misread.
                if self.regular {
                    let _ = self.file.set_len(self.len);
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_format_is_gnu_parallels() {
        let r = Row {
            seq: 7,
            start: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            runtime: Duration::from_millis(2500),
            send: 0,
            receive: 12,
            outcome: Outcome::Exited(3),
            command: b"echo 'a\nb'",
            killed: false,
        };
        assert_eq!(
            format_row(&r),
            b"7\t:\t1700000000.123\t     2.500\t0\t12\t3\t0\techo 'a\\nb'\n".to_vec()
        );
        let r = Row {
            outcome: Outcome::Signaled(15),
            ..r
        };
        assert!(format_row(&r).starts_with(b"7\t:\t1700000000.123\t     2.500\t0\t12\t0\t15\t"));
        let r = Row { killed: true, ..r };
        assert!(format_row(&r).starts_with(b"7\t:\t1700000000.123\t     2.500\t0\t12\t-1\t15\t"));
    }

    #[test]
    fn parse_skips_header_garbage_and_torn_line() {
        let mut t = HEADER.to_vec();
        t.extend_from_slice(b"1\t:\t1.000\t 0.1\t0\t0\t0\t0\tok\n");
        t.extend_from_slice(b"2\t:\t1.000\t 0.1\t0\t0\t1\t0\tfail\n");
        t.extend_from_slice(b"3\t:\t1.000\t 0.1\t0\t0\t-1\t15\tkilled\n");
        t.extend_from_slice(b"junk\n4\t:\t1.0");
        let l = parse(&t);
        assert_eq!(l.done, HashSet::from([1, 2, 3]));
        assert_eq!(l.succeeded, HashSet::from([1]));
    }
}
