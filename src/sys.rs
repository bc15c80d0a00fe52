//! The only home of `unsafe`: raw stdout, catching and waiting for signals, killing process
//! groups, starting the watchdog, poll(2), file mappings and the SIGBUS guard for them,
//! non-blocking pipes, splice(2), resource limits and niceness, CPU affinity,
//! the effective uid and redirecting stderr (`--slurm` array tasks).
//! Every block carries a `// SAFETY:` note.

use std::fs::File;
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

/// A `File` for fd 1 that is never closed (stdout belongs to the process, not to us).
pub(crate) fn stdout_file() -> ManuallyDrop<File> {
    // SAFETY: fd 1 is open for the whole life of the process (or writes to it fail with
    // EBADF, which is reported); ManuallyDrop keeps us from closing it.
    ManuallyDrop::new(unsafe { File::from_raw_fd(1) })
}

/// Whether fd 1 was closed when the process started (`parx … >&-`), before Rust's runtime
/// opened /dev/null on it.
static STDOUT_CLOSED_AT_START: AtomicBool = AtomicBool::new(false);

/// Run by the C runtime before `main` (and so before Rust's runtime fills a closed fd 0, 1 or
/// 2 with /dev/null): notes whether fd 1 is closed.
extern "C" fn note_closed_stdout() {
    // SAFETY: fcntl(F_GETFD) on fd 1 only reads the descriptor table; errno is not read.
    if unsafe { libc::fcntl(1, libc::F_GETFD) } == -1 {
        STDOUT_CLOSED_AT_START.store(true, Ordering::Relaxed);
    }
}

// SAFETY: a function pointer in `.init_array` is called once by the C runtime before main,
// with no arguments; `note_closed_stdout` takes none and only makes one system call.
#[used]
#[link_section = ".init_array"]
static NOTE_CLOSED_STDOUT: extern "C" fn() = note_closed_stdout;

/// If parx was started with stdout closed, makes writes to it fail (EBADF: fd 1 becomes
/// /dev/null opened read-only) instead of vanishing into the /dev/null Rust's runtime put
/// there: output that cannot be printed is an error, not a success.
pub(crate) fn refuse_closed_stdout() {
    if !STDOUT_CLOSED_AT_START.load(Ordering::Relaxed) {
        return;
    }
    if let Ok(f) = File::open("/dev/null") {
        // SAFETY: dup2 onto fd 1, which Rust's runtime opened for this process; `f` stays
        // ours and is closed when dropped.
        unsafe { libc::dup2(f.as_raw_fd(), 1) };
    }
}

/// The signals parx handles itself (in a dedicated thread, via [`wait_signal`]).
pub(crate) const HANDLED: [i32; 2] = [libc::SIGINT, libc::SIGTERM];

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
/// would be inherited, and a task could then not be ended with TERM). A signal that parx
/// inherited as ignored stays ignored, as a shell leaves it (POSIX: "signals that were ignored
/// on entry to a non-interactive shell cannot be trapped"): `parx … &` in a script must not
/// die of the terminal's Ctrl-C, and its tasks inherit the ignored disposition too.
pub(crate) fn catch_signals() -> io::Result<()> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid out-array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    SIG_PIPE[0].store(fds[0], Ordering::SeqCst);
    SIG_PIPE[1].store(fds[1], Ordering::SeqCst);
    for sig in HANDLED {
        // SAFETY: a null new action only reads the current one into a valid, zeroed struct.
        let ignored = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN
        };
        if ignored {
            continue;
        }
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
pub(crate) fn wait_signal() -> io::Result<i32> {
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
pub(crate) fn kill_group(pgid: i32, sig: i32) {
    if pgid > 0 {
        // SAFETY: kill(2) has no memory-safety preconditions; a negative pid names the group.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// Whether the process group `pgid` has a member (a zombie counts), as kill(2) with signal 0
/// tells: a member parx may not signal counts too.
pub(crate) fn group_exists(pgid: i32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pgid) else {
        return false;
    };
    !matches!(
        rustix::process::test_kill_process_group(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

/// A poll(2) entry watching `fd` for `events` (`libc::POLLIN`, `libc::POLLOUT`); a negative
/// fd is ignored by poll.
pub(crate) fn watch(fd: i32, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// A pidfd for `pid` (Linux 5.3+, close-on-exec): readable once the process has exited.
/// `None` where the kernel has none.
pub(crate) fn pidfd_open(pid: i32) -> Option<std::os::fd::OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags, no memory; it returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Waits until one of `fds` is readable (or hung up), at most `timeout_ms` (-1: forever).
/// Entries with a negative fd are ignored; on return `revents` says which are ready.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
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

/// The stack of a process started by [`spawn_sharing_memory`] (its lowest page is a guard).
const SHARED_STACK: usize = 64 << 10;

/// Starts a process that shares parx's memory: clone(2) with `CLONE_VM` and a stack of its
/// own, but not a thread of parx (it has its own pid, its own copy of the descriptor table,
/// and it lives on when parx is killed). In its copy of the descriptor table it moves `stdin`
/// to fd 0 and `stdout` to fd 1 (closing fd 1 if `stdout` is negative), closes stderr and
/// `close` (parx's stay open), then runs `body(arg)` and exits with what that returns.
/// Returns its pid; the caller reaps it ([`reap`]).
///
/// It costs what starting a thread costs: no page table is copied, as a fork would (which was
/// a tenth of `parx true ::: x`).
///
/// `body` runs beside parx's threads in the same memory, on the thread-local block of the
/// calling thread, so it must use no thread-locals, no allocator, no lock and no libc call
/// (a failing one writes the caller's `errno`), and must not panic: only atomics and rustix
/// system calls (raw system calls on Linux: they return errors, they touch no `errno`).
pub(crate) fn spawn_sharing_memory<S: Sync + 'static>(
    body: fn(&'static S) -> i32,
    arg: &'static S,
    stdin: RawFd,
    stdout: RawFd,
    close: RawFd,
) -> io::Result<i32> {
    struct Start<S: 'static> {
        body: fn(&'static S) -> i32,
        arg: &'static S,
        stdin: RawFd,
        stdout: RawFd,
        close: RawFd,
    }
    extern "C" fn enter<S: Sync + 'static>(p: *mut libc::c_void) -> libc::c_int {
        // SAFETY: `p` is the leaked `Start<S>` passed to clone below, never freed or written.
        let start = unsafe { &*(p as *const Start<S>) };
        // SAFETY: `stdin` is open here (a copy of parx's table at the clone); it is only
        // borrowed for the dup2, which rustix makes with a raw system call.
        if rustix::stdio::dup2_stdin(unsafe { BorrowedFd::borrow_raw(start.stdin) }).is_err() {
            return 1; // without its pipe on fd 0 it would read parx's stdin
        }
        // SAFETY: as for `stdin`.
        let out = (start.stdout >= 0).then(|| unsafe { BorrowedFd::borrow_raw(start.stdout) });
        if let Some(out) = out {
            if rustix::stdio::dup2_stdout(out).is_err() {
                return 1;
            }
        }
        // (`stdin` and `stdout` are never 0 or 1 in practice: Rust's runtime opens /dev/null
        // on a closed fd 0, 1 or 2 before main. If one were, the dup2 did nothing and it must
        // stay open.)
        let moved = [start.stdin, start.stdout].into_iter().filter(|&fd| fd > 1);
        let closed = [(out.is_none()).then_some(1), Some(2), Some(start.close)];
        for fd in moved.chain(closed.into_iter().flatten()) {
            // SAFETY: these numbers name descriptors in this process's own copy of the table;
            // nothing in it uses them afterwards. try_close is a raw system call whose error
            // is returned (rustix's `close` would debug_assert on one, and a panic here would
            // run std's panic machinery on parx's thread-local block).
            let _ = unsafe { rustix::io::try_close(fd) };
        }
        (start.body)(start.arg)
    }
    let start: &'static Start<S> = Box::leak(Box::new(Start {
        body,
        arg,
        stdin,
        stdout,
        close,
    }));
    // SAFETY: a fresh private anonymous mapping, checked below; it is never unmapped (the
    // process may outlive any owner), so it is the new process's for its whole life.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            SHARED_STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the lowest page of the mapping just made: an overflow faults instead of
    // writing into the memory below it.
    unsafe { libc::mprotect(stack, page_size(), libc::PROT_NONE) };
    // SAFETY: the stack top is the end of the mapping (16-byte aligned: mmap returns pages);
    // `enter::<S>` follows the contract above (rustix calls and the caller's `body` only),
    // and SIGCHLD makes the new process an ordinary child to reap.
    let pid = unsafe {
        libc::clone(
            enter::<S>,
            stack.cast::<u8>().add(SHARED_STACK).cast(),
            libc::CLONE_VM | libc::SIGCHLD,
            start as *const Start<S> as *mut libc::c_void,
        )
    };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        pid => Ok(pid),
    }
}

/// execve(2) of `path` with `argv` and `envp` (null-terminated arrays of C strings) as a raw
/// system call: it writes no `errno`, so a process sharing parx's memory
/// ([`spawn_sharing_memory`]) may make it. Returns only if the exec failed (always, on
/// architectures other than x86-64 and `AArch64`).
pub(crate) fn exec_raw(
    path: &std::ffi::CStr,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) {
    if argv.last().is_some_and(|p| !p.is_null()) || envp.last().is_some_and(|p| !p.is_null()) {
        return;
    }
    let (path, argv, envp) = (path.as_ptr(), argv.as_ptr(), envp.as_ptr());
    #[cfg(target_arch = "x86_64")]
    // SAFETY: execve's arguments are a C string and two null-terminated arrays of C strings
    // (checked above), all alive for the call; on success the call does not return, on
    // failure it returns an error number in rax and clobbers only rcx and r11.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") libc::SYS_execve => _,
            in("rdi") path,
            in("rsi") argv,
            in("rdx") envp,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above; on AArch64 the number goes in x8 and the error comes back in x0.
    unsafe {
        std::arch::asm!(
            "svc 0",
            in("x8") libc::SYS_execve,
            inlateout("x0") path => _,
            in("x1") argv,
            in("x2") envp,
            options(nostack),
        );
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = (path, argv, envp);
}

/// Sends `sig` to the single process `pid` (ignoring one that is already gone).
pub(crate) fn kill_process(pid: i32, sig: i32) {
    if pid > 0 {
        // SAFETY: kill(2) has no memory-safety preconditions; pid > 0 names one process.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Whether the child process `pid` has ended (or is no child of ours), without reaping it.
pub(crate) fn has_exited(pid: i32) -> bool {
    // SAFETY: waitid writes into a zeroed local siginfo; WNOWAIT leaves the child unreaped,
    // WNOHANG makes it return at once.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        rc < 0 || info.si_pid() != 0
    }
}

/// Waits for the child process `pid` to end and reaps it (errors, such as a child already
/// reaped, are ignored).
pub(crate) fn reap(pid: i32) {
    let mut status = 0;
    // SAFETY: waitpid writes the status into a valid local; pid names our own child.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
    {}
}

/// The kernel's limit on the bytes of arguments plus environment of an exec, from
/// `sysconf(_SC_ARG_MAX)` (at least POSIX's 4096 when it is unknown).
pub(crate) fn arg_max() -> usize {
    // SAFETY: sysconf(3) only reads a configuration value; it has no memory preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_ARG_MAX) };
    if n <= 0 {
        4096
    } else {
        n as usize
    }
}

/// Has the C allocator serve every allocation of 1 MiB or more with its own mapping, returned
/// to the system when freed. Without this, glibc raises its threshold after the first big
/// free and keeps freed `--pipe` blocks in its heap, so peak memory drifts well above the
/// blocks really in flight. A no-op elsewhere than glibc.
pub(crate) fn return_big_frees() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before the threads that allocate
    // blocks start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Maps `file` read-only. Pages of the mapping must only be read under a [`SigbusGuard`]
/// (another process may truncate the file, and touching a page beyond its new end raises
/// SIGBUS).
pub(crate) fn map_file(file: &File) -> io::Result<memmap2::Mmap> {
    // SAFETY: the mapping is read-only and private to parx; the one hazard, the file
    // shrinking under it, is handled by reading it only under a SigbusGuard (see below).
    unsafe { memmap2::MmapOptions::new().map(file) }
}

/// A new anonymous memory file (`memfd_create(2)`), close-on-exec.
pub(crate) fn memfd(name: &std::ffi::CStr) -> io::Result<File> {
    // SAFETY: `name` is a valid C string; on success the fd is new and ours.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// `n` zeroed atomics in a shared mapping of `file` (sized to hold them), kept for the life
/// of the process: another process holding the file reads what parx stores in them.
pub(crate) fn shared_table(file: &File, n: usize) -> io::Result<&'static [AtomicI32]> {
    let bytes = n.max(1) * std::mem::size_of::<AtomicI32>();
    file.set_len(bytes as u64)?;
    // SAFETY: the file is parx's own memory file, sized above and never truncated; the other
    // process that holds it only reads it. The mapping is leaked, so the slice below stays
    // valid for the life of the process.
    let map: &'static mut memmap2::MmapMut = Box::leak(Box::new(unsafe {
        memmap2::MmapOptions::new().len(bytes).map_mut(file)?
    }));
    // SAFETY: the mapping is page-aligned and `bytes` long, fresh zeroes are valid AtomicI32s,
    // and the leaked mapping is only ever used through this slice.
    Ok(unsafe { std::slice::from_raw_parts(map.as_mut_ptr().cast::<AtomicI32>(), n) })
}

/// Reserves `len` bytes of room in the regular file `fd` from `offset` on, without changing
/// its length (fallocate(2) with `FALLOC_FL_KEEP_SIZE`). `Ok(Some(len))` when reserved,
/// `Ok(None)` when the file system cannot reserve room (so nothing is known), an error
/// (`ENOSPC`, `EDQUOT`, `EIO`, ...) when the room is not there.
pub(crate) fn reserve_space(fd: RawFd, offset: u64, len: u64) -> io::Result<Option<u64>> {
    loop {
        // SAFETY: fallocate takes integers only, on an fd the caller owns.
        let rc = unsafe {
            libc::fallocate(
                fd,
                libc::FALLOC_FL_KEEP_SIZE,
                offset as libc::off_t,
                len as libc::off_t,
            )
        };
        if rc == 0 {
            return Ok(Some(len));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL | libc::ENODEV | libc::ESPIPE) => {
                return Ok(None)
            }
            _ => return Err(e),
        }
    }
}

/// Closes every descriptor from `first` up (`close_range(2)`; errors are ignored).
pub(crate) fn close_from(first: u32) {
    // SAFETY: close_range takes integers only; the caller owns every descriptor it closes.
    unsafe {
        libc::syscall(libc::SYS_close_range, first, u32::MAX, 0);
    }
}

/// Puts `fd` in non-blocking mode.
pub(crate) fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd we own, with integer arguments only.
    let rc = unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl < 0 {
            fl
        } else {
            libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK)
        }
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Asks for a pipe buffer of `size` bytes (best effort: the kernel caps it at
/// /proc/sys/fs/pipe-max-size for unprivileged users; failure is ignored).
pub(crate) fn set_pipe_size(fd: RawFd, size: usize) {
    // SAFETY: fcntl on an fd we own, with integer arguments only.
    unsafe {
        libc::fcntl(fd, libc::F_SETPIPE_SZ, size as libc::c_int);
    }
}

/// Moves up to `len` bytes from the pipe `from` to the pipe `to` inside the kernel (the
/// pipe's pages change hands; nothing is copied), without blocking: `WouldBlock` when `from`
/// is empty or `to` is full. Returns the bytes moved, 0 at the end of `from`'s input.
pub(crate) fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    loop {
        // SAFETY: both fds are open for the call; null offsets are required for pipes.
        let n = unsafe {
            libc::splice(
                from,
                std::ptr::null_mut(),
                to,
                std::ptr::null_mut(),
                len,
                libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A new pipe, (read end, write end), both close-on-exec.
pub(crate) fn pipe() -> io::Result<(File, File)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid out-array of two ints; on success both fds are new and ours.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])))
    }
}

/// Bytes waiting in the pipe `fd` (either end), 0 if unknown.
pub(crate) fn pipe_queued(fd: RawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int into a valid local.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    if rc < 0 {
        0
    } else {
        n.max(0) as usize
    }
}

/// What a process (or a thread of parx, `task` = `self/task/TID`) is doing, from
/// /proc/…/syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Doing {
    /// Running or ready to run (not in a blocking system call).
    Running,
    /// Blocked in read(2) on its fd 0.
    ReadingStdin,
    /// Blocked in another system call.
    Blocked,
}

/// What `/proc/{what}/syscall` says (`None` when it cannot be read: another kernel, no
/// permission, the process is gone).
pub(crate) fn doing(what: &str) -> Option<Doing> {
    let text = std::fs::read_to_string(format!("/proc/{what}/syscall")).ok()?;
    let mut words = text.split_ascii_whitespace();
    let nr = words.next()?;
    if nr == "running" {
        return Some(Doing::Running);
    }
    let nr: i64 = nr.parse().ok()?;
    let fd = words.next()?;
    Some(if nr == libc::SYS_read && fd == "0x0" {
        Doing::ReadingStdin
    } else {
        Doing::Blocked
    })
}

/// The calling thread's id.
pub(crate) fn gettid() -> i32 {
    // SAFETY: gettid(2) has no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// Whether `fd` is a pipe or FIFO.
pub(crate) fn is_pipe(fd: RawFd) -> bool {
    // SAFETY: fstat writes into a valid, zeroed local struct.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFIFO
    }
}

/// Puts `fd` back in blocking mode.
pub(crate) fn set_blocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd we own, with integer arguments only.
    let rc = unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl < 0 {
            fl
        } else {
            libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK)
        }
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

// ---- resources (--load, --memfree, default -j) -----------------------------------------------

/// The number of CPUs in this process's affinity mask (`sched_getaffinity`), or `None` if it
/// cannot be read.
pub(crate) fn affinity_cpus() -> Option<usize> {
    // SAFETY: cpu_set_t is plain data, valid when zeroed; sched_getaffinity writes at most
    // size_of::<cpu_set_t>() bytes into it, and CPU_COUNT only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return None;
        }
        usize::try_from(libc::CPU_COUNT(&set))
            .ok()
            .filter(|&n| n > 0)
    }
}

/// The size of a memory page in bytes.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf(3) has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

// ---- SIGBUS guard ---------------------------------------------------------------------------
//
// `--pipe-part` scans its memory-mapped files for record boundaries. If another process
// truncates a file meanwhile, reading a page past the new end raises SIGBUS, which would kill
// parx. While a scan runs, the range it reads is registered here; the handler replaces the
// faulting page with a zero-filled anonymous page (mmap MAP_FIXED, a plain system call) and
// returns, so the read resumes and sees zeros. The scan finishes, `hit()` tells that the file
// shrank, and the chunks past its new end fail when they are sent (sendfile returns short).
// A SIGBUS outside the registered range gets the default action (the process dies as before).

static GUARD_START: AtomicUsize = AtomicUsize::new(0);
static GUARD_END: AtomicUsize = AtomicUsize::new(0);
static GUARD_HIT: AtomicBool = AtomicBool::new(false);
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);
static GUARD_INSTALLED: std::sync::Once = std::sync::Once::new();

extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for an SA_SIGINFO handler; si_addr is the
    // faulting address for SIGBUS. Only async-signal-safe operations follow: atomics and the
    // mmap/signal system calls.
    unsafe {
        let addr = (*info).si_addr() as usize;
        let (start, end) = (
            GUARD_START.load(Ordering::SeqCst),
            GUARD_END.load(Ordering::SeqCst),
        );
        if addr >= start && addr < end {
            let page = addr & !(PAGE_SIZE.load(Ordering::Relaxed) - 1);
            let p = libc::mmap(
                page as *mut libc::c_void,
                PAGE_SIZE.load(Ordering::Relaxed),
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            );
            if p != libc::MAP_FAILED {
                GUARD_HIT.store(true, Ordering::SeqCst);
                return;
            }
        }
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
    }
}

fn install_sigbus_handler() -> io::Result<()> {
    let mut res = Ok(());
    GUARD_INSTALLED.call_once(|| {
        // SAFETY: sysconf has no preconditions; sigaction gets a zeroed, then filled-in
        // struct whose handler has the SA_SIGINFO signature.
        unsafe {
            let ps = libc::sysconf(libc::_SC_PAGESIZE);
            if ps > 0 {
                PAGE_SIZE.store(ps as usize, Ordering::Relaxed);
            }
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigbus as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()) != 0 {
                res = Err(io::Error::last_os_error());
            }
        }
    });
    res
}

/// While alive, SIGBUS from reading `map` is survived (see the section comment). One guard at
/// a time (parx scans one file at a time, possibly from several rayon threads).
pub(crate) struct SigbusGuard<'a> {
    map: &'a [u8],
}

impl<'a> SigbusGuard<'a> {
    /// Registers `map` (a file mapping) as the range being scanned.
    pub(crate) fn new(map: &'a [u8]) -> io::Result<Self> {
        install_sigbus_handler()?;
        GUARD_HIT.store(false, Ordering::SeqCst);
        let start = map.as_ptr() as usize;
        GUARD_START.store(start, Ordering::SeqCst);
        GUARD_END.store(start + map.len(), Ordering::SeqCst);
        Ok(SigbusGuard { map })
    }

    /// The guarded bytes (pages past a truncation read as zeros).
    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.map
    }

    /// Whether a page of the mapping vanished (the file shrank) since the guard was made.
    pub(crate) fn hit(&self) -> bool {
        GUARD_HIT.load(Ordering::SeqCst)
    }
}

impl Drop for SigbusGuard<'_> {
    fn drop(&mut self) {
        GUARD_START.store(0, Ordering::SeqCst);
        GUARD_END.store(0, Ordering::SeqCst);
    }
}

/// The effective user id (owner check of a `--slurm` run directory).
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid(2) cannot fail and has no preconditions.
    unsafe { libc::geteuid() }
}

/// Makes fd 2 a duplicate of `file` (an array task's stderr goes into its run directory).
pub(crate) fn redirect_stderr(file: &File) -> io::Result<()> {
    // SAFETY: dup2 on an fd we own onto fd 2; nothing holds a Rust object for fd 2.
    if unsafe { libc::dup2(file.as_raw_fd(), 2) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes fd 1 a duplicate of `file` (an array task's outputs go into its run directory).
pub(crate) fn redirect_stdout(file: &File) -> io::Result<()> {
    // SAFETY: dup2 on an fd we own onto fd 1; Rust objects for fd 1 (stdout_file) only ever
    // write to whatever fd 1 is, and none is in use yet.
    if unsafe { libc::dup2(file.as_raw_fd(), 1) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `-j 0`: as many job slots as the open-file limit allows (each running task holds a few
/// pipes and spill files), at most 1024 and at least 1.
pub(crate) fn max_slots() -> usize {
    slot_limit().0.clamp(1, 1024)
}

/// The most job slots the process's limits allow (0: not even one), with the limit that sets
/// it as the user would raise it (`ulimit -n 64`); `usize::MAX` and `None` when unlimited.
/// Open files: a running task may hold 8 descriptors (stdout, stderr and stdin pipes with both
/// ends while it spawns, two spill files), parx keeps 24 for itself. Processes (counted per
/// user, and a thread counts): a slot is a thread and a child, 8 are kept for the rest.
pub(crate) fn slot_limit() -> (usize, Option<String>) {
    /// Descriptors parx keeps for itself (stdio, the watchdog, the signal pipe, input files).
    const RESERVED: u64 = 24;
    /// Descriptors a running task may hold.
    const PER_TASK: u64 = 8;
    /// Processes and threads kept for parx's own (its main, source and signal threads, a
    /// monitor or halt thread, the watchdog) and a spare: `ulimit -u` counts threads too.
    const RESERVED_PROCS: u64 = 6;
    /// Processes and threads a slot takes: its thread in parx, its task, and a child of the
    /// task (`sh -c 'cmd …'` forks one).
    const PER_SLOT_PROCS: u64 = 3;
    let get = |res| {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own; no other memory is touched.
        let ok = unsafe { libc::getrlimit(res, &mut lim) } == 0;
        (ok && lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
    };
    let mut best = (usize::MAX, None);
    if let Some(files) = get(libc::RLIMIT_NOFILE) {
        let n = files.saturating_sub(RESERVED) / PER_TASK;
        best = (
            usize::try_from(n).unwrap_or(usize::MAX),
            Some(format!("ulimit -n {files}")),
        );
    }
    if let Some(procs) = get(libc::RLIMIT_NPROC) {
        let n = usize::try_from(procs.saturating_sub(RESERVED_PROCS) / PER_SLOT_PROCS)
            .unwrap_or(usize::MAX);
        if n < best.0 {
            best = (n, Some(format!("ulimit -u {procs}")));
        }
    }
    best
}

/// `--nice N`: the child sets its niceness to N (relative to parx's) before exec.
pub(crate) fn nice_in_child(cmd: &mut std::process::Command, n: i32) {
    use std::os::unix::process::CommandExt;
    // SAFETY: nice(2) is async-signal-safe and touches only the child's own priority; it
    // runs between fork and exec with nothing else in between. Its failure (EPERM for a
    // negative N without privilege) is ignored, as GNU parallel's `nice -n` would go on.
    unsafe {
        cmd.pre_exec(move || {
            libc::nice(n);
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn sigbus_guard_survives_truncation() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&vec![b'x'; 3 * 65536]).unwrap();
        let map = map_file(&f).unwrap();
        f.set_len(100).unwrap();
        let guard = SigbusGuard::new(&map).unwrap();
        let sum: u64 = guard.bytes().iter().map(|&b| u64::from(b)).sum();
        assert!(guard.hit());
        assert_eq!(sum, 100 * u64::from(b'x'));
    }
}
