//! Stdin read ahead of the tasks, for `--bar`/`--eta` on piped input: a thread reads stdin to
//! its end as fast as it comes and keeps it — the first [`MEMORY_CAP`] bytes in memory, the
//! rest in an unlinked temp file in `$TMPDIR` (`--tmpdir`) — while the source reads it at its
//! own pace through a [`SpoolReader`], and a count ahead reads it a second time. So the number
//! of tasks is known as soon as the input has ended, not when the last task starts.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Bytes of stdin kept in memory; past them it goes to the temp file.
const MEMORY_CAP: usize = 8 << 20;
/// Bytes read from stdin at a time.
const READ_BYTES: usize = 64 << 10;

/// Stdin as read so far: shared by the thread reading it and the readers of the copy.
#[derive(Debug)]
pub(super) struct Spool {
    state: Mutex<State>,
    grown: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// The first bytes (up to [`MEMORY_CAP`]).
    head: Vec<u8>,
    /// The bytes after `head`, from offset 0 of the file.
    tail: Option<Arc<File>>,
    /// Bytes kept (head and tail).
    len: u64,
    /// Stdin has ended (or failed: `error`).
    done: bool,
    /// Why reading stdin (or writing the temp file) failed, for the readers.
    error: Option<(io::ErrorKind, String)>,
}

impl Spool {
    /// Starts reading `input` (stdin) to its end on a thread of its own.
    pub(super) fn start(input: impl Read + Send + 'static) -> io::Result<Arc<Spool>> {
        let spool = Arc::new(Spool {
            state: Mutex::new(State::default()),
            grown: Condvar::new(),
        });
        let s = spool.clone();
        std::thread::Builder::new()
            .name("parx-spool".into())
            .spawn(move || s.fill(input))?;
        Ok(spool)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads `input` to its end into the spool.
    fn fill(&self, mut input: impl Read) {
        let mut buf = vec![0; READ_BYTES];
        let end = loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Some(e),
            };
            if let Err(e) = self.keep(&buf[..n]) {
                let why = format!("keeping stdin ahead of the tasks in $TMPDIR: {e}");
                break Some(io::Error::new(e.kind(), why));
            }
        };
        let mut st = self.lock();
        st.done = true;
        st.error = end.map(|e| (e.kind(), crate::messages::io_text(&e)));
        drop(st);
        self.grown.notify_all();
    }

    /// Appends `data`: to memory while under the cap, then to the temp file (written outside
    /// the lock: readers only read below `len`, which grows once the bytes are there).
    fn keep(&self, data: &[u8]) -> io::Result<()> {
        let mut st = self.lock();
        let room = MEMORY_CAP.saturating_sub(st.head.len()).min(data.len());
        st.head.extend_from_slice(&data[..room]);
        st.len += room as u64;
        let rest = &data[room..];
        if !rest.is_empty() {
            let file = match &st.tail {
                Some(f) => f.clone(),
                None => st.tail.insert(Arc::new(tempfile::tempfile()?)).clone(),
            };
            let at = st.len - st.head.len() as u64;
            drop(st);
            file.write_all_at(rest, at)?;
            self.lock().len += rest.len() as u64;
        }
        self.grown.notify_all();
        Ok(())
    }

    /// A reader of the whole input from its first byte (each reader has its own position);
    /// it waits for bytes not read from stdin yet.
    pub(super) fn reader(self: &Arc<Self>) -> SpoolReader {
        SpoolReader {
            spool: self.clone(),
            pos: 0,
        }
    }
}

/// Reads a [`Spool`] from the start, waiting for what stdin has not given yet.
#[derive(Debug)]
pub(super) struct SpoolReader {
    spool: Arc<Spool>,
    pos: u64,
}

impl Read for SpoolReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut st = self.spool.lock();
        while self.pos >= st.len {
            if st.done {
                return match &st.error {
                    Some((kind, why)) => Err(io::Error::new(*kind, why.clone())),
                    None => Ok(0),
                };
            }
            st = self
                .spool
                .grown
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        let head = st.head.len() as u64;
        if self.pos < head {
            let from = self.pos as usize;
            let n = (head as usize - from).min(buf.len());
            buf[..n].copy_from_slice(&st.head[from..from + n]);
            self.pos += n as u64;
            return Ok(n);
        }
        let file = st
            .tail
            .clone()
            .expect("bytes past the head are in the file");
        let n = ((st.len - self.pos) as usize).min(buf.len());
        drop(st);
        let n = file.read_at(&mut buf[..n], self.pos - head)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that gives `data` in pieces of `piece` bytes, pausing between them.
    struct Slow {
        data: Vec<u8>,
        pos: usize,
        piece: usize,
    }

    impl Read for Slow {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos > 0 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let n = self.piece.min(buf.len()).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    /// Two readers, one reading as the data comes, one after, both get every byte, past the
    /// memory cap (into the temp file) too.
    #[test]
    fn readers_get_every_byte_past_the_cap() {
        let data: Vec<u8> = (0..MEMORY_CAP + 300_000).map(|i| (i % 251) as u8).collect();
        let spool = Spool::start(Slow {
            data: data.clone(),
            pos: 0,
            piece: 1 << 20,
        })
        .unwrap();
        let mut early = Vec::new();
        spool.reader().read_to_end(&mut early).unwrap();
        assert!(early == data, "read as it came");
        let mut late = Vec::new();
        spool.reader().read_to_end(&mut late).unwrap();
        assert!(late == data, "read again");
        assert!(spool.lock().tail.is_some(), "past the cap, in a file");
    }

    /// A read error of stdin reaches the readers once the bytes before it are read.
    #[test]
    fn a_read_error_reaches_the_readers() {
        struct Fails(bool);
        impl Read for Fails {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if std::mem::replace(&mut self.0, true) {
                    return Err(io::Error::from_raw_os_error(libc::EIO));
                }
                buf[..2].copy_from_slice(b"a\n");
                Ok(2)
            }
        }
        let spool = Spool::start(Fails(false)).unwrap();
        let mut r = spool.reader();
        let mut got = Vec::new();
        let e = r.read_to_end(&mut got).unwrap_err();
        assert_eq!(got, b"a\n");
        assert_eq!(e.to_string(), "Input/output error");
    }
}
