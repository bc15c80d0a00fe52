//! The watchdog's side that runs in parx's memory: [`serve`], the body of the process
//! [`crate::sys::spawn_sharing_memory`] starts, and what it calls. That process runs beside
//! parx's threads on the thread-local block of the thread that started it, so it may use no
//! thread-locals, no allocator, no lock and no libc call, and must not panic: only atomics and
//! rustix system calls (and [`crate::sys::exec_raw`], a raw system call).
//!
//! The compiler keeps this, not habit: the lints denied below make `cargo clippy` (run with
//! `-D warnings` in CI) fail on a panic path (`panic!`, `unwrap`, `expect`, indexing, overflow),
//! on `unsafe`, and on anything that allocates, takes a lock, reads a thread-local or calls
//! libc that the repository's `clippy.toml` lists (`Vec`, `String`, `Box`, `format!`, `vec!`,
//! `collect`, `Mutex`, `thread_local!`, `std::io::Error::last_os_error`, `libc::*` calls...).
//! Those lists are allowed everywhere else (`[lints.clippy]` in `Cargo.toml`) and denied here.

#![forbid(unsafe_code)]
#![deny(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented,
    clippy::disallowed_macros,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;

/// How long the groups get between TERM and KILL once parx is gone.
const GRACE: rustix::thread::Timespec = rustix::thread::Timespec {
    tv_sec: 0,
    tv_nsec: 200_000_000,
};

/// How long the watchdog shares parx's memory before it makes itself a separate process: a
/// run shorter than this (most of `parx true ::: x`'s start-up cost would be that exec)
/// never pays for it; an OOM kill of parx within it takes the watchdog too.
pub(super) const SEPARATE_AFTER: rustix::thread::Timespec = rustix::thread::Timespec {
    tv_sec: 0,
    tv_nsec: 50_000_000,
};

/// What parx and the watchdog share while it shares parx's memory (leaked: the watchdog may
/// read it after parx is gone).
#[derive(Debug)]
pub(super) struct Shared {
    /// The table of live process groups, published once ([`super::Watchdog::table`]) before any
    /// task starts. An entry > 0 is a live group.
    pub(super) table: OnceLock<&'static [AtomicI32]>,
    /// The table is in a memory file, the watchdog's stdout: it may make itself a separate
    /// process (exec parx's binary as `parx-watchdog` [`ARG_C`]).
    pub(super) separate: bool,
}

/// The one argument that makes parx's binary a watchdog ([`super::serve_if_asked`]), for exec.
const ARG_C: &std::ffi::CStr = c"--orphan-watchdog-of-a-parx-run";
/// The table of process groups (empty until [`super::Watchdog::table`]).
pub(super) fn table(shared: &'static Shared) -> &'static [AtomicI32] {
    shared.table.get().copied().unwrap_or_default()
}

/// The watchdog's main when it shares parx's memory (see
/// [`crate::sys::spawn_sharing_memory`] for what it may do: atomics and rustix calls only):
/// waits for EOF on its stdin, the pipe, then ends the groups left in the table. Returns the
/// exit status.
pub(super) fn serve(shared: &'static Shared) -> i32 {
    // Its own group: a terminal's ^C is for parx to handle.
    let _ = rustix::process::setpgid(None, None);
    if shared.separate && !eof_within(&SEPARATE_AFTER) {
        // A separate process from here on (see [`serve_if_asked`]); parx does not wait for
        // this exec, which runs beside it.
        let argv = [c"parx-watchdog".as_ptr(), ARG_C.as_ptr(), std::ptr::null()];
        crate::sys::exec_raw(c"/proc/self/exe", &argv, &[std::ptr::null()]);
        // It failed (no /proc?): serve from parx's memory.
    }
    wait_for_eof();
    end_groups(|| table(shared).iter().map(|g| g.load(Ordering::SeqCst)));
    0
}

/// Whether stdin (the pipe) reaches EOF (or is readable) within `limit`.
fn eof_within(limit: &rustix::thread::Timespec) -> bool {
    let stdin = rustix::stdio::stdin();
    let mut fds = [rustix::event::PollFd::new(
        &stdin,
        rustix::event::PollFlags::IN,
    )];
    matches!(rustix::event::poll(&mut fds, Some(limit)), Ok(n) if n > 0)
}

/// Reads stdin (the pipe) until EOF: parx is gone, or asks for the groups to be ended.
pub(super) fn wait_for_eof() {
    let mut buf = [0u8; 16];
    loop {
        match rustix::io::read(rustix::stdio::stdin(), &mut buf) {
            Ok(0) => break,
            Ok(_) | Err(rustix::io::Errno::INTR) => continue,
            Err(_) => break,
        }
    }
}

/// TERM, then after [`GRACE`] KILL, to every live group (entry > 0) of the table `entries`
/// yields (each time it is called). Allocates nothing.
pub(super) fn end_groups<I: Iterator<Item = i32>>(entries: impl Fn() -> I) {
    let live = || {
        entries()
            .filter(|&g| g > 0)
            .filter_map(rustix::process::Pid::from_raw)
    };
    if live().next().is_none() {
        return;
    }
    for g in live() {
        let _ = rustix::process::kill_process_group(g, rustix::process::Signal::TERM);
    }
    let _ = rustix::thread::nanosleep(&GRACE);
    for g in live() {
        let _ = rustix::process::kill_process_group(g, rustix::process::Signal::KILL);
    }
}
