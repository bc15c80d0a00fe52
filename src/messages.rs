//! The one owner of stderr: every `parx: ...` line and every task's stderr is written here
//! ([`task_stderr`]), with the `--bar`/`--eta` display cleared for it. Also owns the two facts those messages
//! leave for the exit status: that an error was reported (status 255) and how many warnings
//! were (each counts like a failed task). See [`crate::exit`].

#![allow(clippy::print_stderr)]

use std::ffi::OsStr;
use std::fmt::Display;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::progress::Progress;
use crate::task::Outcome;

static ERRORED: AtomicBool = AtomicBool::new(false);
static NOT_FOUND: AtomicBool = AtomicBool::new(false);
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

/// The command's program cannot be started and no task could start it (its name holds no
/// placeholder): says so once (`msg`, from [`spawn_error`]); the run ends with status 127, as
/// xargs's. Later calls say nothing.
pub(crate) fn not_found_once(msg: impl Display) {
    if !NOT_FOUND.swap(true, Ordering::SeqCst) {
        line(msg);
    }
}

/// Whether [`not_found_once`] was called.
pub(crate) fn not_found() -> bool {
    NOT_FOUND.load(Ordering::SeqCst)
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

/// Writes a task's own stderr (or a stored copy of it): `write` gets stderr, locked, and writes
/// the bytes as they are, no prefix, with the progress display out of the way. A failing
/// stderr cannot be reported anywhere: its error is ignored.
pub(crate) fn task_stderr(write: impl FnOnce(&mut io::StderrLock<'static>) -> io::Result<()>) {
    with_stderr(|| {
        let _ = write(&mut io::stderr().lock());
    });
}

/// Why `program` could not be started (`e`, from spawning it), in a shell's words, and the
/// task's outcome a shell would give it: `PROG: command not found` (status 127) for a bare
/// name not in PATH, `PROG: no such file` (127) for a missing path, and status 126 for a
/// program that is there but cannot run (`permission denied`, `is a directory`, a `#!`
/// interpreter that is missing, ...). Without the `parx: ` prefix.
pub(crate) fn spawn_error(program: &OsStr, e: &io::Error) -> (String, Outcome) {
    let name = self::name(program);
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
    let has_slash = program.as_bytes().contains(&b'/');
    let (what, status) = match e.kind() {
        io::ErrorKind::NotFound if has_slash && path.exists() => (
            "bad interpreter: the program on its #! line was not found".to_owned(),
            126,
        ),
        io::ErrorKind::NotFound if has_slash => ("no such file".to_owned(), 127),
        io::ErrorKind::NotFound => ("command not found".to_owned(), 127),
        io::ErrorKind::PermissionDenied if path.is_dir() => ("is a directory".to_owned(), 126),
        io::ErrorKind::PermissionDenied => ("permission denied".to_owned(), 126),
        _ => (io_text(e), 126),
    };
    (format!("{name}: {what}"), Outcome::SpawnFailed(status))
}

/// A file or program name as parx shows it: as it is when it is UTF-8 text, with each byte
/// that is not (and each control character) escaped as `\xHH` (`\n`, `\t` for those), so that
/// two different names never show the same.
pub(crate) fn name(name: impl AsRef<OsStr>) -> String {
    let mut out = String::new();
    for chunk in name.as_ref().as_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// A run time as parx shows it: `0.73s`, `12s`, `2m05s`.
pub(crate) fn duration(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        let text = format!("{s:.2}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        format!("{text}s")
    } else {
        let s = s.round() as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// Drops Rust's " (os error N)" from every place it occurs in `text`.
fn without_os_errors(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(" (os error ") {
        let after = &rest[at + " (os error ".len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..at]);
        if digits > 0 && after[digits..].starts_with(')') {
            rest = &after[digits + 1..];
        } else {
            out.push_str(" (os error ");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// An I/O error in the OS's words (as a shell prints them), without Rust's " (os error N)".
pub(crate) fn io_text(e: &io::Error) -> String {
    without_os_errors(&e.to_string())
}

/// Writes `parx: <msg>` as one line (one write, so lines of threads do not mix), without
/// Rust's " (os error N)" after the OS's words.
fn line(msg: impl Display) {
    let text = format!("{}: {}\n", program(), without_os_errors(&msg.to_string()));
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
    fn names_are_escaped_not_lossy() {
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(name(OsStr::from_bytes(b"caf\xc3\xa9.txt")), "café.txt");
        assert_eq!(name(OsStr::from_bytes(b"a\xffb\xfe")), "a\\xffb\\xfe");
        assert_eq!(
            name(OsStr::from_bytes(b"l1\nl2\t\x01\\")),
            "l1\\nl2\\t\\x01\\\\"
        );
    }

    #[test]
    fn os_error_suffixes_are_dropped() {
        assert_eq!(
            without_os_errors("x: Is a directory (os error 21); y (os error 2)"),
            "x: Is a directory; y"
        );
        assert_eq!(without_os_errors("a (os error x)"), "a (os error x)");
        assert_eq!(without_os_errors("plain"), "plain");
    }

    #[test]
    fn durations_read_as_seconds() {
        use std::time::Duration;
        assert_eq!(duration(Duration::from_micros(730_802)), "0.73s");
        assert_eq!(duration(Duration::from_secs(30)), "30s");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration(Duration::from_secs(125)), "2m05s");
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
