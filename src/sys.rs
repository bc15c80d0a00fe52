//! The only home of `unsafe`: raw stdout, catching and waiting for signals, killing process
//! groups, poll(2).
//! Every block carries a `// SAFETY:` note.

use std::fs::File;
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicI32, Ordering};

/// A `File` for fd 1 that is never closed (stdout belongs to the process, not to us).
pub fn stdout_file() -> ManuallyDrop<File> {
    // SAFETY: fd 1 is open for the whole life of the process (or writes to it fail with
    // EBADF, which is reported); ManuallyDrop keeps us from closing it.
    ManuallyDrop::new(unsafe { File::from_raw_fd(1) })
}

/// The signals parx handles itself (in a dedicated thread, via [`wait_signal`]).
pub const HANDLED: [i32; 2] = [libc::SIGINT, libc::SIGTERM];

/// The write end of the self-pipe the signal handler writes to (-1 before
/// [`catch_signals`]), and the read end [`wait_signal`] reads.
static SIG_PIPE: [AtomicI32; 2] = [AtomicI32::new(-1), AtomicI32::new(-1)];

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIG_PIPE[1].load(Ordering::Relaxed);
    let b = sig as u8;
    // SAFETY: only async-signal-safe calls (write); errno is saved and restored so that the
    // interrupted code does not see it change.
    unsafe {
        let errno = *libc::__errno_location();
        libc::write(fd, (&b as *const u8).cast(), 1);
        *libc::__errno_location() = errno;
    }
}

/// Catches [`HANDLED`] with a handler that writes the signal number to a self-pipe, for
/// [`wait_signal`]. The signals are handled rather than blocked, so that children start
/// with an empty signal mask and default dispositions (exec resets handlers; a blocked mask
/// would be inherited, and a task could then not be ended with TERM).
pub fn catch_signals() -> io::Result<()> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid out-array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    SIG_PIPE[0].store(fds[0], Ordering::SeqCst);
    SIG_PIPE[1].store(fds[1], Ordering::SeqCst);
    for sig in HANDLED {
        // SAFETY: the sigaction struct is zeroed and then filled in; the handler only does
        // async-signal-safe work; a null old-action pointer is allowed.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Waits for one of the [`HANDLED`] signals (after [`catch_signals`]) and returns its number.
pub fn wait_signal() -> io::Result<i32> {
    let fd = SIG_PIPE[0].load(Ordering::SeqCst);
    let mut b = 0u8;
    loop {
        // SAFETY: reads one byte into a valid local buffer.
        let n = unsafe { libc::read(fd, (&mut b as *mut u8).cast(), 1) };
        if n == 1 {
            return Ok(i32::from(b));
        }
        let e = io::Error::last_os_error();
        if n == 0 || e.kind() != io::ErrorKind::Interrupted {
            return Err(if n == 0 {
                io::ErrorKind::UnexpectedEof.into()
            } else {
                e
            });
        }
    }
}

/// Sends `sig` to the whole process group `pgid` (ignoring a group that is already gone).
pub fn kill_group(pgid: i32, sig: i32) {
    if pgid > 0 {
        // SAFETY: kill(2) has no memory-safety preconditions; a negative pid names the group.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// Waits until one of `fds` is readable (or hung up), at most `timeout_ms` (-1: forever).
/// Entries with a negative fd are ignored; on return `revents` says which are ready.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    loop {
        // SAFETY: the pointer and length describe a valid, exclusively borrowed slice.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if rc >= 0 {
            return Ok(rc as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
