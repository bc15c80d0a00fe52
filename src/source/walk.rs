//! `--walk` input source: a streaming, deterministic directory walker.
//!
//! This module walks what `--walk PATH` and its filters (`--ext`, `--glob`,
//! `--type`, `--hidden`, `--follow`, `--max-depth`) select, as compiled once
//! by [`crate::config::walk`], yielding matching paths one at a time from the
//! [`Walker`] iterator.
//!
//! Semantics:
//! * Entries come out depth-first, parents before children, sorted bytewise
//!   by file name within each directory; roots are walked in the order given.
//! * A root itself is never an entry. Output paths are the root exactly as
//!   typed joined with the relative path (`tree/` gives `tree/a`, `.` gives
//!   `./a`).
//! * Paths are handled as bytes (`OsStr`/`Path`) end to end; non-UTF-8 names
//!   pass through untouched.
//! * Problems (unreadable directories, vanished entries, symlink loops or
//!   dangling links under `--follow`, missing roots) become [`WalkError`]
//!   items and the walk carries on.
//! * `--follow`: a link is taken for what it points to; a link to a directory that is one of
//!   the walk's ancestors is a loop, reported instead of walked.
//!
//! Hand-written over `getdents64` (rustix's `RawDir`) rather than the walkdir crate, with
//! walkdir's semantics (a unit test compares the two on a tree of links, hidden names and
//! odd bytes, every filter combined): on the `walk` benchmark's 20,000 files the walk itself
//! took 8.7–10 ms with walkdir and 5.8–6.4 ms this way, and `--walk tree -X true` 18.6 ms →
//! 14.8 ms (a directory is read whole into one buffer of names and sorted by index; each
//! path is built in one reused buffer, so a selected path costs one allocation and an
//! unselected one none). Entries sort by their names' first 8 bytes as one integer, the
//! whole names compared only on a tie: the source thread's CPU time on that tree (`-X true`,
//! medians of 30) went from 7.5–7.8 ms to 7.1–7.3 ms.

use std::collections::VecDeque;
use std::error::Error;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io;
use std::mem::MaybeUninit;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use globset::GlobSet;
use rustix::fs::{FileType, Mode, OFlags, RawDir, CWD};

use crate::config::walk::CompiledWalk;
use crate::source::Values;

/// A non-fatal problem met while walking; the walk continues after it.
///
/// Displays as `PATH: reason` (one line; the caller adds the `parx:` prefix).
#[derive(Debug)]
pub(super) struct WalkError {
    path: PathBuf,
    message: String,
    source: Option<io::Error>,
}

impl WalkError {
    /// An I/O error on the path `path` (bytes).
    fn io(path: &[u8], err: io::Error) -> WalkError {
        WalkError {
            path: bytes_path(path),
            message: err.to_string(),
            source: Some(err),
        }
    }
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keep the warning on one line even if the path contains control
        // characters such as newlines: escape those.
        let shown = crate::messages::name(&self.path);
        for c in shown.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl Error for WalkError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_ref().map(|e| e as &(dyn Error + 'static))
    }
}

fn bytes_path(b: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(b))
}

/// Final extension of a file name, with `Path::extension` semantics: `None`
/// when there is no dot or the only dot is leading (`.bashrc`).
fn extension(name: &[u8]) -> Option<&[u8]> {
    match memchr::memrchr(b'.', name) {
        None | Some(0) => None,
        Some(i) => Some(&name[i + 1..]),
    }
}

/// What an entry is, as far as the walk cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Symlink,
    Other,
    /// The directory did not say (`DT_UNKNOWN`): an `lstat` will.
    Unknown,
}

impl Kind {
    fn of_dirent(t: FileType) -> Kind {
        match t {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            FileType::Unknown => Kind::Unknown,
            _ => Kind::Other,
        }
    }

    fn of_meta(t: fs::FileType) -> Kind {
        if t.is_file() {
            Kind::File
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_symlink() {
            Kind::Symlink
        } else {
            Kind::Other
        }
    }
}

/// One entry of a directory read: its name in the frame's `names`, and its kind.
#[derive(Clone, Copy, Debug)]
struct Ent {
    /// The name's first 8 bytes, big-endian, zero-padded: names sort by it first (a name
    /// holds no NUL, so the padding sorts a shorter name first, as bytewise order does), and
    /// by the whole name only where it ties.
    key: u64,
    start: u32,
    len: u32,
    kind: Kind,
}

/// [`Ent::key`] of `name`.
fn sort_key(name: &[u8]) -> u64 {
    let mut k = [0u8; 8];
    let n = name.len().min(8);
    k[..n].copy_from_slice(&name[..n]);
    u64::from_be_bytes(k)
}

/// A directory being walked: all its entries, read at once and sorted by name.
#[derive(Debug, Default)]
struct Frame {
    /// The length of this directory's path in [`Walker::path`].
    dir_len: usize,
    /// The depth of its entries (the root's are 1).
    depth: usize,
    /// Its device and inode (`--follow` only: symlink loops are found by them).
    id: Option<(u64, u64)>,
    /// The entries' names, one after another.
    names: Vec<u8>,
    ents: Vec<Ent>,
    next: usize,
}

impl Frame {
    fn name(&self, e: Ent) -> &[u8] {
        &self.names[e.start as usize..(e.start + e.len) as usize]
    }
}

/// A directory to read before the next entry: its path is `Walker::path[..dir_len]`.
#[derive(Clone, Copy, Debug)]
struct Descend {
    dir_len: usize,
    depth: usize,
    id: Option<(u64, u64)>,
}

/// Size of the buffer `getdents64` fills.
const DIRENT_BUF: usize = 32 << 10;

/// Streaming iterator over the entries selected by a [`CompiledWalk`].
/// Yields `Ok(path)` for each matching entry and
/// `Err(WalkError)` for each problem, in walk order.
///
/// Each directory is read whole with `getdents64` into one buffer of names, sorted, and its
/// entries' paths are built in one reused buffer: a path costs one allocation, the one it is
/// handed out in. (walkdir, used before, allocated a `PathBuf` and a `CString` per entry and
/// sorted entries by their paths: the walk of the `walk` benchmark's 20,000 files took 8.7–10
/// ms with it and 5.8–6.4 ms this way, most of the rest being the kernel's.)
pub(super) struct Walker {
    pending: VecDeque<PathBuf>,
    /// The path of the current entry (or of the directory to read next).
    path: Vec<u8>,
    /// Where the current root's relative paths start in `path` (for `--glob`).
    rel: usize,
    stack: Vec<Frame>,
    /// Frames done with, kept for their buffers.
    spare: Vec<Frame>,
    descend: Option<Descend>,
    buf: Vec<u8>,
    exts: Vec<OsString>,
    globs: Option<GlobSet>,
    want_file: bool,
    want_dir: bool,
    want_link: bool,
    hidden: bool,
    follow: bool,
    max_depth: Option<usize>,
}

impl fmt::Debug for Walker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Walker")
            .field("pending", &self.pending)
            .field("path", &bytes_path(&self.path))
            .finish_non_exhaustive()
    }
}

impl Walker {
    /// A walker over `walk`'s roots. No filesystem access happens here; problems are reported
    /// later, as `Err` items of the iterator.
    pub(super) fn new(walk: &CompiledWalk) -> Walker {
        Walker {
            pending: walk.spec.roots.iter().cloned().collect(),
            path: Vec::new(),
            rel: 0,
            stack: Vec::new(),
            spare: Vec::new(),
            descend: None,
            buf: Vec::new(),
            exts: walk.exts.clone(),
            globs: walk.globs.clone(),
            want_file: walk.want_file,
            want_dir: walk.want_dir,
            want_link: walk.want_link,
            hidden: walk.spec.hidden,
            follow: walk.spec.follow,
            max_depth: walk.spec.max_depth,
        }
    }

    /// Starts the next root: `Ok(false)` when there is none left.
    fn start_root(&mut self) -> Result<bool, WalkError> {
        let Some(root) = self.pending.pop_front() else {
            return Ok(false);
        };
        self.path.clear();
        self.path.extend_from_slice(root.as_os_str().as_bytes());
        // The root itself is never an entry; a root that is a link to a directory is
        // walked (as walkdir does).
        let meta = fs::metadata(&root).map_err(|e| WalkError::io(&self.path, e))?;
        self.rel = self.path.len() + usize::from(!self.path.ends_with(b"/"));
        if meta.is_dir() && self.max_depth != Some(0) {
            self.descend = Some(Descend {
                dir_len: self.path.len(),
                depth: 1,
                id: Some((meta.dev(), meta.ino())),
            });
        }
        Ok(true)
    }

    /// Reads the directory `d` whole and pushes it, entries sorted.
    fn read_dir(&mut self, d: Descend) -> Result<(), WalkError> {
        self.path.truncate(d.dir_len);
        let err = |path: &[u8], e: rustix::io::Errno| WalkError::io(path, io::Error::from(e));
        let fd = rustix::fs::openat(
            CWD,
            OsStr::from_bytes(&self.path),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| err(&self.path, e))?;
        let id = match (self.follow, d.id) {
            (false, _) => None,
            (true, Some(id)) => Some(id),
            (true, None) => {
                let st = rustix::fs::fstat(&fd).map_err(|e| err(&self.path, e))?;
                Some((st.st_dev, st.st_ino))
            }
        };
        let mut frame = self.spare.pop().unwrap_or_default();
        frame.names.clear();
        frame.ents.clear();
        frame.next = 0;
        frame.dir_len = d.dir_len;
        frame.depth = d.depth;
        frame.id = id;
        if self.buf.capacity() < DIRENT_BUF {
            self.buf.reserve(DIRENT_BUF);
        }
        let spare: &mut [MaybeUninit<u8>] = self.buf.spare_capacity_mut();
        let mut dir = RawDir::new(&fd, spare);
        while let Some(entry) = dir.next() {
            let entry = entry.map_err(|e| err(&self.path, e))?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let start = frame.names.len();
            frame.names.extend_from_slice(name);
            frame.ents.push(Ent {
                key: sort_key(name),
                start: start as u32,
                len: name.len() as u32,
                kind: Kind::of_dirent(entry.file_type()),
            });
        }
        let names = &frame.names;
        let name = |e: &Ent| &names[e.start as usize..(e.start + e.len) as usize];
        frame
            .ents
            .sort_unstable_by(|a, b| a.key.cmp(&b.key).then_with(|| name(a).cmp(name(b))));
        self.stack.push(frame);
        Ok(())
    }

    /// The ancestor directory (on the stack) with device and inode `id`.
    fn ancestor(&self, id: (u64, u64)) -> Option<&[u8]> {
        self.stack
            .iter()
            .rev()
            .find(|f| f.id == Some(id))
            .map(|f| &self.path[..f.dir_len])
    }

    fn selected(&self, kind: Kind, name: &[u8]) -> bool {
        let type_ok = match kind {
            Kind::File => self.want_file,
            Kind::Dir => self.want_dir,
            Kind::Symlink => self.want_link,
            Kind::Other | Kind::Unknown => false,
        };
        if !type_ok {
            return false;
        }
        if !self.exts.is_empty() {
            match extension(name) {
                Some(ext) => {
                    if !self.exts.iter().any(|e| e.as_bytes() == ext) {
                        return false;
                    }
                }
                None => return false,
            }
        }
        if let Some(globs) = &self.globs {
            let rel = self.path.get(self.rel..).unwrap_or_default();
            if !globs.is_match(Path::new(OsStr::from_bytes(rel))) {
                return false;
            }
        }
        true
    }

    /// The next entry of the walk, selected or not; `Ok(None)` at its end.
    fn step(&mut self) -> Result<Option<PathBuf>, WalkError> {
        loop {
            if let Some(d) = self.descend.take() {
                self.read_dir(d)?;
            }
            let Some(top) = self.stack.last_mut() else {
                if !self.start_root()? {
                    return Ok(None);
                }
                continue;
            };
            let Some(&ent) = top.ents.get(top.next) else {
                let done = self.stack.pop().expect("a frame");
                self.spare.push(done);
                continue;
            };
            top.next += 1;
            let (dir_len, depth) = (top.dir_len, top.depth);
            let top = self.stack.last().expect("a frame");
            let name = top.name(ent);
            self.path.truncate(dir_len);
            if !self.path.ends_with(b"/") {
                self.path.push(b'/');
            }
            self.path.extend_from_slice(name);
            let name_at = self.path.len() - name.len();
            let mut kind = ent.kind;
            let path = OsStr::from_bytes(&self.path);
            if kind == Kind::Unknown {
                let meta = fs::symlink_metadata(path).map_err(|e| WalkError::io(&self.path, e))?;
                kind = Kind::of_meta(meta.file_type());
            }
            let mut id = None;
            if self.follow && kind == Kind::Symlink {
                let meta = fs::metadata(path).map_err(|e| WalkError::io(&self.path, e))?;
                kind = Kind::of_meta(meta.file_type());
                if kind == Kind::Dir {
                    let found = (meta.dev(), meta.ino());
                    if let Some(anc) = self.ancestor(found) {
                        let message = format!(
                            "filesystem loop: points to ancestor {}",
                            crate::messages::name(bytes_path(anc))
                        );
                        return Err(WalkError {
                            path: bytes_path(&self.path),
                            message,
                            source: None,
                        });
                    }
                    id = Some(found);
                }
            }
            let name = &self.path[name_at..];
            if !self.hidden && name.first() == Some(&b'.') {
                continue;
            }
            if kind == Kind::Dir && self.max_depth.is_none_or(|m| depth < m) {
                self.descend = Some(Descend {
                    dir_len: self.path.len(),
                    depth: depth + 1,
                    id,
                });
            }
            if self.selected(kind, &self.path[name_at..]) {
                return Ok(Some(PathBuf::from(OsString::from_vec(self.path.clone()))));
            }
        }
    }
}

impl Iterator for Walker {
    type Item = Result<PathBuf, WalkError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step().transpose()
    }
}

impl std::iter::FusedIterator for Walker {}

/// The `--walk` source as argument values (each path's bytes, as an `OsString`). Problems are
/// reported as `parx: PATH: reason` warnings as they happen (each counts like a failed task in
/// the exit status); the walk goes on.
pub(super) fn values(walk: &CompiledWalk) -> Values {
    Box::new(Walker::new(walk).filter_map(move |item| match item {
        Ok(p) => Some(Ok(p.into_os_string())),
        Err(e) => {
            crate::messages::warn(e);
            None
        }
    }))
}

#[cfg(test)]
mod tests;
