//! `--results DIR`: each task's raw stdout, stderr and exit status stored under `DIR/<seq>/`,
//! and `DIR/index.tsv` mapping sequence numbers to values. Directory names come from the
//! sequence number only, so no value can name a path outside DIR. Written by the pools'
//! task output sinks (`crate::pool::sink`) as the output arrives (a streamed `-k` head of line is stored too).
//!
//! Nothing under DIR is followed: the task directories and files are made and opened relative
//! to DIR's own descriptor (openat(2)), a task directory with `O_NOFOLLOW`, and each file
//! parx writes is unlinked and created anew (`O_EXCL|O_NOFOLLOW`), so a symbolic or hard link
//! planted at `DIR/1/stdout` (or `DIR/1`, `DIR/index.tsv`) is never written through.
//!
//! In the `parallel` personality the layout is GNU parallel's: `DIR/1/VALUE/2/VALUE/` (or the
//! `--header :` names for the numbers) holding `stdout`, `stderr`, `seq` (and `exitval`), and
//! nothing is printed. A task's files are written in `DIR/.parx-<seq>/` and moved into place
//! when it ends.
//!
//! Every error names the file it was writing (`DIR/7/stdout: No space left on device`). A write
//! that fails never touches the task's output to stdout: the hook stops storing that task and
//! the pool reports it (see `crate::pool::sink`).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};

use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use crate::task::{Outcome, Record};
use crate::template::Learned;

/// The results directory of a run.
#[derive(Debug)]
pub(crate) struct Results {
    dir: PathBuf,
    /// DIR itself, opened once: everything under it is made relative to it.
    dirfd: OwnedFd,
    /// `DIR/index.tsv` (parx's layout).
    index: Option<File>,
    /// GNU parallel's layout (the `parallel` personality): what the run learned from its
    /// input, for the column names of `--header :`.
    gnu: Option<Arc<Learned>>,
}

/// The files of one task (one attempt: a retry starts them over).
#[derive(Debug)]
pub(crate) struct TaskFiles {
    dir: PathBuf,
    dirfd: OwnedFd,
    out: BufWriter<File>,
    err: BufWriter<File>,
}

impl Results {
    /// Creates DIR (and its parents) and starts `DIR/index.tsv` over; with `gnu`, GNU
    /// parallel's layout instead (`DIR/1/VALUE/2/VALUE/{stdout,stderr,seq}`, no index).
    pub(crate) fn open(dir: &Path, gnu: Option<Arc<Learned>>) -> io::Result<Results> {
        fs::create_dir_all(dir)?;
        let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
        let dirfd = rustix::fs::open(dir, flags, Mode::empty()).map_err(|e| at(dir, e.into()))?;
        let path = dir.join("index.tsv");
        let index = match gnu {
            Some(_) => None,
            None => Some(fresh(&dirfd, "index.tsv", OFlags::APPEND).map_err(|e| at(&path, e))?),
        };
        Ok(Results {
            dir: dir.to_owned(),
            dirfd,
            index,
            gnu,
        })
    }

    /// Whether the task's outputs are stored only, not printed (GNU parallel's `--results`).
    pub(crate) fn store_only(&self) -> bool {
        self.gnu.is_some()
    }

    /// Creates `DIR/<seq>/stdout` and `stderr` anew for a new attempt of task `seq` (in GNU's
    /// layout, a `DIR/.parx-<seq>` that [`Results::index`] moves into place).
    pub(crate) fn task(&self, seq: u64) -> io::Result<TaskFiles> {
        let name = match self.gnu {
            Some(_) => format!(".parx-{seq}"),
            None => seq.to_string(),
        };
        let dir = self.dir.join(&name);
        match rustix::fs::mkdirat(&self.dirfd, &*name, Mode::from_bits_truncate(0o777)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(at(&dir, e.into())),
        }
        // A directory, not a link to one.
        let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
        let dirfd = rustix::fs::openat(&self.dirfd, &*name, flags, Mode::empty())
            .map_err(|e| at(&dir, e.into()))?;
        let open = |name: &str| -> io::Result<BufWriter<File>> {
            let file = fresh(&dirfd, name, OFlags::empty()).map_err(|e| at(&dir.join(name), e))?;
            Ok(BufWriter::with_capacity(16 << 10, file))
        };
        Ok(TaskFiles {
            out: open("stdout")?,
            err: open("stderr")?,
            dir,
            dirfd,
        })
    }

    /// Appends `seq TAB value` to the index in one write; the columns of every record are
    /// TAB-separated, records space-separated; TAB, newline, CR and backslash in values are
    /// written as `\t`, `\n`, `\r`, `\\`.
    pub(crate) fn index(&self, seq: u64, records: &[Record]) -> io::Result<()> {
        if let Some(learned) = &self.gnu {
            return self.place(seq, records, learned.header_names());
        }
        let Some(index) = &self.index else {
            return Ok(());
        };
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
        (&*index)
            .write_all(&row)
            .map_err(|e| at(&self.dir.join("index.tsv"), e))
    }
}

impl Results {
    /// GNU's layout: moves task `seq`'s files to `DIR/1/V1/2/V2/...` (the column names of
    /// `--header :` instead of the numbers), adding `seq`. A value is one path component: `/`
    /// in it becomes `_`, and `.`/`..`/empty are written `_.` `_..` `_`.
    fn place(&self, seq: u64, records: &[Record], names: Option<&[Vec<u8>]>) -> io::Result<()> {
        let tmp = format!(".parx-{seq}");
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for rec in records {
            for (i, v) in rec.iter().enumerate() {
                let name = names
                    .and_then(|n| n.get(i))
                    .cloned()
                    .unwrap_or_else(|| (i + 1).to_string().into_bytes());
                parts.push(name);
                let v: Vec<u8> = v
                    .as_encoded_bytes()
                    .iter()
                    .map(|&c| if c == b'/' { b'_' } else { c })
                    .collect();
                parts.push(match v.as_slice() {
                    b"" => b"_".to_vec(),
                    b"." | b".." => [b"_".as_slice(), &v].concat(),
                    _ => v,
                });
            }
        }
        if let Ok(mut f) = fresh_at(&self.dirfd, &tmp, "seq") {
            let _ = f.write_all(format!("{seq}\n").as_bytes());
        }
        // Make each level (never through a link), then move the task's directory in.
        let mut dirfd = rustix::fs::openat(
            &self.dirfd,
            ".",
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut path = self.dir.clone();
        if parts.is_empty() {
            // No value at all (`-N0`): the task's number names it.
            parts.push(seq.to_string().into_bytes());
        }
        let (last, levels) = parts.split_last().expect("one part at least");
        for p in levels {
            let p = std::ffi::OsStr::from_bytes(p);
            path.push(p);
            match rustix::fs::mkdirat(&dirfd, p, Mode::from_bits_truncate(0o777)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(at(&path, e.into())),
            }
            let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
            dirfd = rustix::fs::openat(&dirfd, p, flags, Mode::empty())
                .map_err(|e| at(&path, e.into()))?;
        }
        let last = std::ffi::OsStr::from_bytes(last);
        path.push(last);
        // A task run again (--retries, or a value seen twice) replaces what was there.
        if rustix::fs::renameat(&self.dirfd, &*tmp, &dirfd, last).is_err() {
            let old = format!(".parx-old-{seq}");
            let _ = rustix::fs::renameat(&dirfd, last, &self.dirfd, &*old);
            let _ = fs::remove_dir_all(self.dir.join(&old));
            rustix::fs::renameat(&self.dirfd, &*tmp, &dirfd, last)
                .map_err(|e| at(&path, e.into()))?;
        }
        Ok(())
    }
}

/// [`fresh`] in the subdirectory `sub` of `dirfd` (not followed if a link).
fn fresh_at(dirfd: &OwnedFd, sub: &str, name: &str) -> io::Result<File> {
    let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
    let d = rustix::fs::openat(dirfd, sub, flags, Mode::empty())?;
    fresh(&d, name, OFlags::empty())
}

/// Creates the file `name` in the directory `dirfd` anew, for writing (with `flags` besides):
/// whatever was there is unlinked first, and the new file is made with `O_EXCL|O_NOFOLLOW`,
/// so no link planted there is written through.
fn fresh(dirfd: &OwnedFd, name: &str, flags: OFlags) -> io::Result<File> {
    match rustix::fs::unlinkat(dirfd, name, AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(e.into()),
    }
    let flags =
        flags | OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dirfd, name, flags, Mode::from_bits_truncate(0o666))?;
    Ok(File::from(fd))
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
    pub(crate) fn out(&mut self, data: &[u8]) -> io::Result<()> {
        self.out
            .write_all(data)
            .map_err(|e| at(&self.dir.join("stdout"), e))
    }

    /// Stores a piece of the task's stderr.
    pub(crate) fn err(&mut self, data: &[u8]) -> io::Result<()> {
        self.err
            .write_all(data)
            .map_err(|e| at(&self.dir.join("stderr"), e))
    }

    /// Flushes the outputs and writes `exitval` (the shell's status: 128+signal if killed).
    pub(crate) fn finish(mut self, outcome: Outcome) -> io::Result<()> {
        let dir = &self.dir;
        self.out.flush().map_err(|e| at(&dir.join("stdout"), e))?;
        self.err.flush().map_err(|e| at(&dir.join("stderr"), e))?;
        let path = dir.join("exitval");
        fresh(&self.dirfd, "exitval", OFlags::empty())
            .and_then(|mut f| f.write_all(format!("{}\n", outcome.exit_code()).as_bytes()))
            .map_err(|e| at(&path, e))
    }
}
