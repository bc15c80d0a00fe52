//! The only home of `unsafe`: raw stdout, signal masks and waiting, killing process groups.
//! Every block carries a `// SAFETY:` note.

use std::fs::File;
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;

/// A `File` for fd 1 that is never closed (stdout belongs to the process, not to us).
pub fn stdout_file() -> ManuallyDrop<File> {
    // SAFETY: fd 1 is open for the whole life of the process (or writes to it fail with
    // EBADF, which is reported); ManuallyDrop keeps us from closing it.
    ManuallyDrop::new(unsafe { File::from_raw_fd(1) })
}

fn sigset(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set; sigaddset only writes into it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// The signals parx handles itself (in a dedicated thread, via [`wait_signal`]).
pub const HANDLED: [i32; 2] = [libc::SIGINT, libc::SIGTERM];

/// Blocks [`HANDLED`] in the calling thread and every thread it starts afterwards.
/// Children do not inherit the mask: std's spawn resets it.
pub fn block_signals() -> io::Result<()> {
    let set = sigset(&HANDLED);
    // SAFETY: `set` is a valid, initialised sigset; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// Waits for one of the blocked [`HANDLED`] signals and returns its number.
pub fn wait_signal() -> io::Result<i32> {
    let set = sigset(&HANDLED);
    let mut sig: libc::c_int = 0;
    // SAFETY: `set` is valid and `sig` is a valid out-pointer for the duration of the call.
    let rc = unsafe { libc::sigwait(&set, &mut sig) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(sig)
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

