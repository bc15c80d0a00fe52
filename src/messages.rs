//! parx's own lines on stderr: every `parx: ...` message outside the pools is written here,
//! with the `--bar`/`--eta` display cleared for it. Also owns the two facts those messages
//! leave for the exit status: that an error was reported (status 255) and how many warnings
//! were (each counts like a failed task). See [`crate::exit`].

use std::fmt::Display;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::progress::Progress;

static ERRORED: AtomicBool = AtomicBool::new(false);
static WARNINGS: AtomicU64 = AtomicU64::new(0);
static PROGRESS: OnceLock<Progress> = OnceLock::new();

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

/// Writes `parx: <msg>` as one line (one write, so lines of threads do not mix).
fn line(msg: impl Display) {
    let text = format!("parx: {msg}\n");
    // A failing stderr cannot be reported anywhere.
    with_stderr(|| {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    });
}
