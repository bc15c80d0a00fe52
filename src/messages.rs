//! parx's own lines on stderr: every `parx: ...` message outside the pools is written here,
//! with the `--bar`/`--eta` display cleared for it. Also owns the two facts those messages
//! leave for the exit status: that an error was reported (status 255) and how many warnings
//! were (each counts like a failed task). See [`crate::exit`].

use std::ffi::OsStr;
use std::fmt::Display;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::progress::Progress;
use crate::task::Outcome;

static ERRORED: AtomicBool = AtomicBool::new(false);
static WARNINGS: AtomicU64 = AtomicU64::new(0);
static PROGRESS: OnceLock<Progress> = OnceLock::new();
static PROGRAM: OnceLock<&'static str> = OnceLock::new();

/// Names the program in every line from now on (`xargs` for that personality; `parx` unless
/// set). The first call wins.
pub(crate) fn set_program(name: &'static str) {
    let _ = PROGRAM.set(name);
}

/// The name lines start with: `parx`, or the personality's.
pub(crate) fn program() -> &'static str {
    PROGRAM.get().copied().unwrap_or("parx")
}

/// Whether parx runs as GNU xargs (its words and statuses).
fn as_xargs() -> bool {
    program() == "xargs"
}

/// The OS's words for `e`, without Rust's ` (os error N)` (as C's `strerror` gives them).
pub(crate) fn os_words(e: &io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error ")
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Writes `text` on stderr as it is, with no prefix and no newline (xargs' `-p` prompt).
pub(crate) fn raw(text: &[u8]) {
    with_stderr(|| {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text);
        let _ = err.flush();
    });
}

/// Reports one of parx's own errors: `parx: <msg>`; the run will end with status 255.
pub(crate) fn error(msg: impl Display) {
    line(msg);
    ERRORED.store(true, Ordering::SeqCst);
}

/// Reports a problem that does not stop the run but counts like a failed task (a `--walk`
/// entry that cannot be read).
pub(crate) fn warn(msg: impl Display) {
    line(msg);
    WARNINGS.fetch_add(1, Ordering::SeqCst);
}

/// Tells the user what parx is doing (`--halt` met): no effect on the exit status.
pub(crate) fn note(msg: impl Display) {
    line(msg);
}

/// Whether [`error`] was called.
pub(crate) fn errored() -> bool {
    ERRORED.load(Ordering::SeqCst)
}

/// How many times [`warn`] was called.
pub(crate) fn warnings() -> u64 {
    WARNINGS.load(Ordering::SeqCst)
}

/// From now on, stderr writes clear `progress` first and redraw it after.
pub(crate) fn set_progress(progress: Progress) {
    let _ = PROGRESS.set(progress);
}

/// Runs `f`, which writes to stderr (a task's stderr, say), with the progress display out of
/// the way.
pub(crate) fn with_stderr<R>(f: impl FnOnce() -> R) -> R {
    match PROGRESS.get() {
        Some(p) => p.suspend(f),
        None => f(),
    }
}

/// Why `program` could not be started (`e`, from spawning it), in a shell's words, and the
/// task's outcome a shell would give it: `PROG: command not found` (status 127) for a bare
/// name not in PATH, `PROG: no such file` (127) for a missing path, and status 126 for a
/// program that is there but cannot run (`permission denied`, `is a directory`, a `#!`
/// interpreter that is missing, ...). Without the `parx: ` prefix.
pub(crate) fn spawn_error(program: &OsStr, e: &io::Error) -> (String, Outcome) {
    let name = program.to_string_lossy();
    let path = Path::new(program);
    if as_xargs() {
        // GNU xargs: the OS's words; 127 when the program is not there, else 126.
        let status = if e.kind() == io::ErrorKind::NotFound {
            127
        } else {
            126
        };
        return (
            format!("{name}: {}", os_words(e)),
            Outcome::SpawnFailed(status),
        );
    }
    let has_slash = name.contains('/');
    let (what, status) = match e.kind() {
        io::ErrorKind::NotFound if has_slash && path.exists() => (
            "bad interpreter: the program on its #! line was not found".to_owned(),
            126,
        ),
        io::ErrorKind::NotFound if has_slash => ("no such file".to_owned(), 127),
        io::ErrorKind::NotFound => ("command not found".to_owned(), 127),
        io::ErrorKind::PermissionDenied if path.is_dir() => ("is a directory".to_owned(), 126),
        io::ErrorKind::PermissionDenied => ("permission denied".to_owned(), 126),
        // The OS's words (as a shell prints them) without Rust's " (os error N)".
        _ => (os_words(e), 126),
    };
    (format!("{name}: {what}"), Outcome::SpawnFailed(status))
}

/// Writes `parx: <msg>` as one line (one write, so lines of threads do not mix).
fn line(msg: impl Display) {
    let text = format!("{}: {msg}\n", program());
    // A failing stderr cannot be reported anywhere.
    with_stderr(|| {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(program: &str, e: io::Error) -> (String, i32) {
        let (msg, outcome) = spawn_error(OsStr::new(program), &e);
        (msg, outcome.exit_code())
    }

    #[test]
    fn spawn_errors_read_like_a_shell() {
        let os = io::Error::from_raw_os_error;
        assert_eq!(
            words("nosuchcmd", os(libc::ENOENT)),
            ("nosuchcmd: command not found".into(), 127)
        );
        assert_eq!(
            words("./nosuch/x", os(libc::ENOENT)),
            ("./nosuch/x: no such file".into(), 127)
        );
        assert_eq!(
            words("/bin/sh", os(libc::ENOENT)).1,
            126,
            "there, but its interpreter is not"
        );
        assert_eq!(
            words("./x.sh", os(libc::EACCES)),
            ("./x.sh: permission denied".into(), 126)
        );
        assert_eq!(
            words("/", os(libc::EACCES)),
            ("/: is a directory".into(), 126)
        );
        assert_eq!(
            words("big", os(libc::E2BIG)),
            ("big: Argument list too long".into(), 126)
        );
    }
}
