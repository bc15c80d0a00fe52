//! The `--slurm` run directory: created and kept readable only by its owner (directories
//! 0700, files 0600, whatever the umask), and never followed through a symbolic link: every
//! file is opened with `O_NOFOLLOW` (new ones also `O_EXCL`), directories are checked with
//! lstat, and a directory being resumed is audited whole before anything in it is used.
//!
//! Layout (DIR):
//! * `run`: what the run is (`shards N`, `mode args|part`); `args`: parx's arguments, NUL-ended
//! * `stdin`: the saved standard input, when the inputs read it
//! * `job.sh`: the batch script of the latest submission; `jobs`: one line per submission;
//!   `refused`: array tasks the batch script refused (an index that is not a share)
//! * `claims`: the claim counter (see `claim`); `halt`: `--halt soon` was met (no shard
//!   starts another task)
//! * `shard-K/`: `out` (the shard's stdout, append-only) and `joblog` (its index, see
//!   `collect::Log`), `stderr` (the
//!   tasks' stderr and the shard's own messages), `status` (written last, by renaming, when the shard's parx ends) and
//!   `slurm-state` (written by the submitter when Slurm ended the shard's array task)

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::sys;

/// A checked run directory (an absolute path).
#[derive(Debug, Clone)]
pub(super) struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    /// Creates a new run directory at `path` (its parent must exist); it must not exist yet,
    /// or be an empty directory of ours.
    pub(super) fn create(path: &Path) -> anyhow::Result<RunDir> {
        let path = absolute(path)?;
        match DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                check_dir(&path)?;
                if fs::read_dir(&path)?.next().is_some() {
                    bail!(
                        "--run-dir {}: exists and is not empty; continue it with --resume or \
                         --resume-failed, or give a new directory",
                        path.display()
                    );
                }
            }
            Err(e) => return Err(e).with_context(|| format!("--run-dir {}", path.display())),
        }
        check_dir(&path)?;
        fs::set_permissions(&path, Permissions::from_mode(0o700))?;
        Ok(RunDir { path })
    }

    /// Opens an existing run directory to resume it: it and everything in it must be ours,
    /// private, and free of symbolic links.
    pub(super) fn open(path: &Path) -> anyhow::Result<RunDir> {
        let path = absolute(path)?;
        check_dir(&path)?;
        let meta = fs::symlink_metadata(&path)?;
        if meta.mode() & 0o077 != 0 {
            bail!(
                "--run-dir {}: others may read or write it (mode {:o}); parx keeps run \
                 directories private (chmod 700 it if that is safe)",
                path.display(),
                meta.mode() & 0o777
            );
        }
        let dir = RunDir { path };
        dir.audit(&dir.path)?;
        Ok(dir)
    }

    /// Opens the run directory from inside an array task (checked, not audited whole).
    pub(super) fn for_task(path: &Path) -> anyhow::Result<RunDir> {
        check_dir(path)?;
        Ok(RunDir {
            path: path.to_owned(),
        })
    }

    /// `DIR/name`.
    pub(super) fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The directory of shard `k`.
    pub(super) fn shard(&self, k: u64) -> PathBuf {
        self.path.join(format!("shard-{k}"))
    }

    /// Creates shard `k`'s directory (or checks the one there).
    pub(super) fn make_shard(&self, k: u64) -> anyhow::Result<PathBuf> {
        let p = self.shard(k);
        make_dir(&p)?;
        Ok(p)
    }

    /// Fails on the first symbolic link, or entry not owned by us, at or under `root`.
    pub(super) fn audit(&self, root: &Path) -> anyhow::Result<()> {
        let me = sys::euid();
        for entry in walkdir::WalkDir::new(root).follow_links(false) {
            let entry = entry.with_context(|| format!("--run-dir {}", self.path.display()))?;
            let meta = entry.metadata()?;
            if entry.path_is_symlink() || meta.file_type().is_symlink() {
                bail!(
                    "--run-dir {}: {} is a symbolic link; parx never follows links in a run \
                     directory (remove it, or start a new run)",
                    self.path.display(),
                    entry.path().display()
                );
            }
            if meta.uid() != me {
                bail!(
                    "--run-dir {}: {} belongs to another user (uid {})",
                    self.path.display(),
                    entry.path().display(),
                    meta.uid()
                );
            }
        }
        Ok(())
    }
}

/// Makes `p` absolute against the current directory (without resolving links).
fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_owned()
    } else {
        std::env::current_dir()?.join(p)
    })
}

/// `p` is a real directory (not a link to one) owned by us.
pub(super) fn check_dir(p: &Path) -> anyhow::Result<()> {
    let meta = fs::symlink_metadata(p).with_context(|| format!("--run-dir {}", p.display()))?;
    if meta.file_type().is_symlink() {
        bail!(
            "--run-dir {}: is a symbolic link; parx does not follow links to or in a run \
             directory (give the real path)",
            p.display()
        );
    }
    if !meta.is_dir() {
        bail!("--run-dir {}: not a directory", p.display());
    }
    if meta.uid() != sys::euid() {
        bail!(
            "--run-dir {}: belongs to another user (uid {})",
            p.display(),
            meta.uid()
        );
    }
    Ok(())
}

/// Creates directory `p` with mode 0700 (or checks the one there), whatever the umask.
pub(super) fn make_dir(p: &Path) -> anyhow::Result<()> {
    match DirBuilder::new().mode(0o700).create(p) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| p.display().to_string()),
    }
    check_dir(p)?;
    fs::set_permissions(p, Permissions::from_mode(0o700))?;
    Ok(())
}

/// Creates a new file (`O_EXCL|O_NOFOLLOW`, 0600 whatever the umask).
pub(super) fn create(p: &Path) -> anyhow::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(p)
        .with_context(|| p.display().to_string())?;
    f.set_permissions(Permissions::from_mode(0o600))?;
    Ok(f)
}

/// Opens `p` for appending, creating it if needed (`O_NOFOLLOW`, 0600).
pub(super) fn append(p: &Path) -> anyhow::Result<File> {
    let f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(p)
        .with_context(|| link_hint(p))?;
    if !f.metadata()?.is_file() {
        bail!("{}: not a regular file", p.display());
    }
    f.set_permissions(Permissions::from_mode(0o600))?;
    Ok(f)
}

/// Opens `p` for reading (`O_NOFOLLOW`); `None` when it does not exist.
pub(super) fn open_read(p: &Path) -> anyhow::Result<Option<File>> {
    match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(p)
    {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| link_hint(p)),
    }
}

/// Reads `p` whole (`O_NOFOLLOW`); `None` when it does not exist.
pub(super) fn read(p: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(mut f) = open_read(p)? else {
        return Ok(None);
    };
    let mut v = Vec::new();
    f.read_to_end(&mut v)?;
    Ok(Some(v))
}

/// Writes `p` whole: a new temp file beside it, then renamed over it (a link at `p` is
/// replaced, not followed).
pub(super) fn replace(p: &Path, data: &[u8]) -> anyhow::Result<()> {
    let name = p.file_name().unwrap_or_default().to_string_lossy();
    let tmp = p.with_file_name(format!(".{name}.tmp"));
    remove(&tmp)?;
    let mut f = create(&tmp)?;
    f.write_all(data)?;
    f.sync_all().ok();
    fs::rename(&tmp, p).with_context(|| p.display().to_string())?;
    Ok(())
}

/// Removes file `p` if it is there (a link is removed, not followed).
pub(super) fn remove(p: &Path) -> anyhow::Result<()> {
    match fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| p.display().to_string()),
    }
}

/// Sets every directory at or under `root` to 0700 and every file to 0600 (links are not
/// followed): what the tasks' parx created under the user's umask becomes private.
pub(super) fn tighten(root: &Path) {
    for entry in walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        let Ok(meta) = fs::symlink_metadata(entry.path()) else {
            continue;
        };
        let mode = if meta.is_dir() {
            0o700
        } else if meta.is_file() {
            0o600
        } else {
            continue;
        };
        if meta.mode() & 0o777 != mode {
            let _ = fs::set_permissions(entry.path(), Permissions::from_mode(mode));
        }
    }
}

fn link_hint(p: &Path) -> String {
    match fs::symlink_metadata(p) {
        Ok(m) if m.file_type().is_symlink() => format!(
            "{} is a symbolic link; parx never follows links in a run directory",
            p.display()
        ),
        _ => p.display().to_string(),
    }
}
