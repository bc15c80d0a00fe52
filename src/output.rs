//! Task output buffers: bytes held in memory up to a shared budget and spilled to an
//! unlinked temp file beyond it, so that `-k` behind a slow task never exhausts memory.
//!
//! Each pool thread owns one [`Spiller`] (one unlinked temp file, reused once every output
//! that points into it has been written), so the number of open files stays at `-j`.
//!
//! A spill that fails (`$TMPDIR` full, missing, read-only) is GNU parallel's "output is
//! incomplete": the first one is kept for the merger to report ([`take_spill_report`]: this module
//! writes no message of its own) and the run starts no more tasks ([`spill_failed`]);
//! the buffer that could not take its bytes is marked broken ([`OutBuf::is_broken`]), and the
//! merger neither prints nor logs a task with a broken buffer, so no output is ever printed
//! in part or glued to another's.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Bytes of task output that may wait in memory, over all pending tasks together.
pub(crate) const MEM_BUDGET: usize = 16 << 20;
/// Bytes one task may keep in memory before it spills.
pub(crate) const TASK_MEM_MAX: usize = 4 << 20;
/// Truncate a reusable spill file above this size once nothing points into it.
const SPILL_SHRINK: u64 = 64 << 20;

static MEM_IN_USE: AtomicUsize = AtomicUsize::new(0);
static SPILL_FAILED: AtomicBool = AtomicBool::new(false);
static SPILL_FAILURE: OnceLock<String> = OnceLock::new();

/// Whether a spill has failed in this run: output is incomplete, no new task may start, and
/// the run ends with status 255.
pub(crate) fn spill_failed() -> bool {
    SPILL_FAILED.load(Ordering::SeqCst)
}

/// The first failed spill of the run, as the line to report (without `parx: `): given once,
/// to whoever reports it first (the merger, or a task whose stderr must go out at once).
pub(crate) fn take_spill_report() -> Option<&'static str> {
    static TAKEN: AtomicBool = AtomicBool::new(false);
    let line = SPILL_FAILURE.get()?;
    (!TAKEN.swap(true, Ordering::SeqCst)).then_some(line.as_str())
}

/// A spill file could not be created or written: where, and why.
#[derive(Debug)]
pub(crate) struct SpillError {
    dir: PathBuf,
    source: io::Error,
}

impl std::fmt::Display for SpillError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "output is incomplete: cannot write to {}: {}",
            self.dir.display(),
            self.source
        )
    }
}

impl std::error::Error for SpillError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Whether `e` is a failed spill ([`SpillError`]).
pub(crate) fn is_spill_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|r| r.is::<SpillError>())
}

/// Turns the error of a spill into a [`SpillError`]; the first one of the run is kept as the
/// line to report (naming the directory, [`take_spill_report`]) and stops new tasks from starting.
fn spill_error(e: io::Error) -> io::Error {
    if is_spill_error(&e) {
        return e;
    }
    let err = SpillError {
        dir: std::env::temp_dir(),
        source: e,
    };
    // A guess only where the error says what is wrong.
    let hint = match err.source.raw_os_error() {
        Some(libc::ENOENT) => "does the directory exist? ",
        Some(libc::ENOTDIR) => "it is not a directory ",
        Some(libc::EACCES | libc::EPERM | libc::EROFS) => "is it writable? ",
        Some(libc::ENOSPC | libc::EDQUOT) => "is the disk full? ",
        _ => "",
    };
    // The line first, then the flag: whoever sees the flag finds the line.
    let _ = SPILL_FAILURE.set(format!(
        "{err}; {hint}(output that waits for its turn is kept there: set --tmpdir DIR or $TMPDIR); starting no more tasks"
    ));
    SPILL_FAILED.store(true, Ordering::SeqCst);
    io::Error::new(err.source.kind(), err)
}

fn reserve(n: usize) -> bool {
    MEM_IN_USE
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            (used + n <= MEM_BUDGET).then_some(used + n)
        })
        .is_ok()
}

/// One thread's spill file: an unlinked temp file in `$TMPDIR`, appended to with `pwrite`.
#[derive(Debug, Default)]
pub(crate) struct Spiller {
    file: Option<Arc<File>>,
    end: u64,
}

impl Spiller {
    /// Appends `data`, returning the file and the offset it was written at.
    fn append(&mut self, data: &[u8]) -> io::Result<(Arc<File>, u64)> {
        self.try_append(data).map_err(spill_error)
    }

    fn try_append(&mut self, data: &[u8]) -> io::Result<(Arc<File>, u64)> {
        let file = match &self.file {
            Some(f) if Arc::strong_count(f) == 1 => {
                // Nothing pending points into the file: start it over.
                if self.end > SPILL_SHRINK {
                    f.set_len(0)?;
                }
                self.end = 0;
                f.clone()
            }
            Some(f) => f.clone(),
            None => {
                let f = Arc::new(tempfile::tempfile()?);
                self.file = Some(f.clone());
                self.end = 0;
                f
            }
        };
        let at = self.end;
        file.write_all_at(data, at)?;
        self.end += data.len() as u64;
        Ok((file, at))
    }

    /// Appends to a run already started at `start` (which must end at the file's end).
    fn extend(&mut self, file: &Arc<File>, data: &[u8]) -> io::Result<()> {
        file.write_all_at(data, self.end).map_err(spill_error)?;
        self.end += data.len() as u64;
        Ok(())
    }
}

#[derive(Debug)]
struct Spilled {
    file: Arc<File>,
    start: u64,
    len: u64,
}

/// The bytes of one stream of one task: a memory part followed by an optional spilled part.
#[derive(Debug, Default)]
pub(crate) struct OutBuf {
    mem: Vec<u8>,
    reserved: usize,
    spill: Option<Spilled>,
    /// A spill failed: bytes are missing, and this buffer must never be printed.
    broken: bool,
}

impl OutBuf {
    /// An empty buffer.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A buffer holding `v` in memory, outside the budget (small, short-lived data only).
    pub(crate) fn from_vec(v: Vec<u8>) -> Self {
        OutBuf {
            mem: v,
            reserved: 0,
            spill: None,
            broken: false,
        }
    }

    /// Whether a spill failed while bytes were pushed: some are missing, so the buffer must
    /// not be printed (the task's output is lost, and reported as such).
    pub(crate) fn is_broken(&self) -> bool {
        self.broken
    }

    /// Total length in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.mem.len() as u64 + self.spill.as_ref().map_or(0, |s| s.len)
    }

    /// Whether there are no bytes.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends bytes, in memory while the budget allows, else to `spiller`'s file. A failed
    /// spill ([`SpillError`]) leaves the buffer broken: every later push fails too.
    pub(crate) fn push(&mut self, data: &[u8], spiller: &mut Spiller) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.broken {
            return Err(spill_error(io::Error::other("an earlier write failed")));
        }
        let res = self.push_inner(data, spiller);
        self.broken = res.is_err();
        res
    }

    fn push_inner(&mut self, data: &[u8], spiller: &mut Spiller) -> io::Result<()> {
        if let Some(s) = &mut self.spill {
            spiller.extend(&s.file, data)?;
            s.len += data.len() as u64;
            return Ok(());
        }
        if self.mem.len() + data.len() <= TASK_MEM_MAX && reserve(data.len()) {
            self.reserved += data.len();
            self.mem.extend_from_slice(data);
            return Ok(());
        }
        let (file, start) = spiller.append(data)?;
        self.spill = Some(Spilled {
            file,
            start,
            len: data.len() as u64,
        });
        Ok(())
    }

    /// Takes the contents out, leaving this buffer empty (and still usable).
    pub(crate) fn take(&mut self) -> OutBuf {
        std::mem::take(self)
    }

    /// Writes all bytes to `w` in order.
    pub(crate) fn write_to(&self, w: &mut dyn Write) -> io::Result<()> {
        if !self.mem.is_empty() {
            w.write_all(&self.mem)?;
        }
        if let Some(s) = &self.spill {
            let mut buf = vec![0u8; (s.len as usize).min(256 << 10)];
            let mut off = 0u64;
            while off < s.len {
                let n = ((s.len - off) as usize).min(buf.len());
                s.file.read_exact_at(&mut buf[..n], s.start + off)?;
                w.write_all(&buf[..n])?;
                off += n as u64;
            }
        }
        Ok(())
    }

    /// The bytes as one vector (tests).
    #[cfg(test)]
    pub(crate) fn to_vec(&self) -> io::Result<Vec<u8>> {
        let mut v = Vec::with_capacity(self.len() as usize);
        self.write_to(&mut v)?;
        Ok(v)
    }
}

impl Drop for OutBuf {
    fn drop(&mut self) {
        if self.reserved > 0 {
            MEM_IN_USE.fetch_sub(self.reserved, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_past_the_task_limit_and_reads_back_in_order() {
        let mut sp = Spiller::default();
        let mut b = OutBuf::new();
        let piece: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
        let mut want = Vec::new();
        for _ in 0..6 {
            b.push(&piece, &mut sp).unwrap();
            want.extend_from_slice(&piece);
        }
        assert!(b.spill.is_some(), "6 MiB must not all stay in memory");
        assert!(b.mem.len() <= TASK_MEM_MAX);
        assert_eq!(b.to_vec().unwrap(), want);
    }

    #[test]
    fn spill_file_is_reused_only_when_nothing_points_into_it() {
        let mut sp = Spiller::default();
        let big = vec![b'x'; TASK_MEM_MAX + 1];
        let mut a = OutBuf::new();
        a.push(&big, &mut sp).unwrap();
        let mut b = OutBuf::new();
        b.push(&vec![b'y'; TASK_MEM_MAX + 1], &mut sp).unwrap();
        // `a` is still pending: `b` must not have overwritten it.
        assert_eq!(a.to_vec().unwrap(), big);
        drop(a);
        drop(b);
        let mut c = OutBuf::new();
        c.push(&vec![b'z'; TASK_MEM_MAX + 1], &mut sp).unwrap();
        assert_eq!(c.spill.as_ref().unwrap().start, 0, "file restarted");
    }
}
