//! The resource options: `-j` (capped by the process's limits), `--load`, `--memfree`,
//! `--memsuspend`, `--noswap` and `-j FILE` (read again by [`crate::gate`] as tasks end), parsed
//! into a [`Sched`]. Pure functions of their text, the machine's facts and the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::chunk::{parse_block_size, BlockSize};
use super::{usage, Machine, PoolKind, UsageError};

/// Resource-aware scheduling: when a task may start (see [`crate::gate`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Sched {
    /// `--load`: start only while fewer processes than this run on the machine.
    pub load: Option<f64>,
    /// `--memfree`: start only while this much memory is available (bytes).
    pub memfree: Option<u64>,
    /// `--memsuspend`: stop the youngest tasks while less than twice this is available.
    pub memsuspend: Option<u64>,
    /// `--noswap`: start only while the machine is not swapping.
    pub noswap: bool,
    /// `-j FILE`: the slot count is read from this file, again whenever a task ends.
    pub jobs_file: Option<PathBuf>,
    /// The CPUs this process may use (what `-j N%`, `+N`, `-N` and `--load N%` refer to).
    pub cpus: usize,
}

impl Sched {
    /// Whether any resource option is given.
    pub(crate) fn active(&self) -> bool {
        self.load.is_some()
            || self.memfree.is_some()
            || self.memsuspend.is_some()
            || self.noswap
            || self.jobs_file.is_some()
    }
}

/// With `-j FILE`, the pool has this many slots at least (and the file's first value, if more):
/// the file may widen the run up to it.
pub(crate) const JOBS_FILE_SLOTS: usize = 64;

/// `-j`: the slot count, and the `-j FILE` if one is named.
fn jobs_option(value: Option<&str>, cpus: usize) -> Result<(usize, Option<PathBuf>), UsageError> {
    let Some(s) = value else {
        return Ok((cpus, None));
    };
    match parse_jobs(s, cpus) {
        Ok(n) => Ok((n, None)),
        Err(e) => match jobs_file(s) {
            Some(path) => {
                let n =
                    read_jobs_file(&path, cpus).map_err(|e| UsageError(format!("-j {s}: {e}")))?;
                Ok((n.max(JOBS_FILE_SLOTS), Some(path)))
            }
            None => usage(format!("{e}, or the name of a file holding one")),
        },
    }
}

/// `--load`, `--memfree`, `--memsuspend` and `-j FILE`, validated.
pub(super) fn sched_config(
    (load, memfree, memsuspend): (&Option<String>, &Option<String>, &Option<String>),
    cpus: usize,
    jobs_file: Option<PathBuf>,
    pool: PoolKind,
) -> Result<Sched, UsageError> {
    let size = |opt: &str, v: &Option<String>| -> Result<Option<u64>, UsageError> {
        let Some(t) = v.as_deref() else {
            return Ok(None);
        };
        match parse_block_size(t) {
            Ok(BlockSize::Bytes(n)) if n > 0 => Ok(Some(n)),
            _ => usage(format!(
                "invalid {opt} '{t}': use a size such as 500M or 2G (K M G T: powers of 1024)"
            )),
        }
    };
    if jobs_file.is_some() && pool == PoolKind::Process {
        return usage(
            "-j FILE needs --pool thread: process-pool workers are started once per slot \
             (give -j a number)",
        );
    }
    Ok(Sched {
        load: match load {
            None => None,
            Some(l) => Some(parse_load(l, cpus).or_else(usage)?),
        },
        memfree: size("--memfree", memfree)?,
        memsuspend: size("--memsuspend", memsuspend)?,
        noswap: false,
        jobs_file,
        cpus,
    })
}

/// Caps `-j N` by what the process's limits allow (issue 11; `slot_limit` as
/// [`crate::sys::slot_limit`] gives it): one note when it lowers it, a usage error when not
/// even one task could run.
fn cap_jobs(
    jobs: usize,
    (cap, limit): &(usize, Option<String>),
    notes: &mut Vec<String>,
) -> Result<usize, UsageError> {
    let cap = *cap;
    if jobs <= cap.min(MAX_JOBS) {
        return Ok(jobs);
    }
    if cap >= MAX_JOBS {
        notes.push(format!(
            "-j {jobs} lowered to {MAX_JOBS}, the most parx runs at once"
        ));
        return Ok(MAX_JOBS);
    }
    let limit = limit.clone().unwrap_or_default();
    if cap == 0 {
        return Err(UsageError(format!(
            "{limit} leaves no room to run a task: raise the limit"
        )));
    }
    notes.push(format!(
        "-j {jobs} lowered to {cap}: {limit} allows no more slots (raise it for more)"
    ));
    Ok(cap)
}

/// `-j`: the slot count (0, as many as the limits allow: `machine.max_slots`; else capped by
/// them) and the `-j FILE` if one is named.
pub(super) fn jobs(
    value: Option<&str>,
    machine: &Machine,
    notes: &mut Vec<String>,
) -> Result<(usize, Option<PathBuf>), UsageError> {
    let (jobs, jobs_file) = jobs_option(value, machine.cpus)?;
    let jobs = if jobs == 0 {
        machine.max_slots
    } else {
        cap_jobs(jobs, &machine.slot_limit, notes)?
    };
    Ok((jobs, jobs_file))
}

/// Parses `-j`: `N`, `N%` of the CPUs, `+N`/`-N` relative to the CPU count (at least 1);
/// `0` (as many as possible) is returned as 0. The number is as typed: the caller caps it
/// ([`MAX_JOBS`], the limits).
pub(crate) fn parse_jobs(s: &str, cpus: usize) -> Result<usize, String> {
    let bad = || format!("invalid -j '{s}': use N, N%, +N, -N or 0 (as many as possible)");
    let num = |t: &str| t.parse::<usize>().map_err(|_| bad());
    let n = if let Some(p) = s.strip_suffix('%') {
        (cpus.saturating_mul(num(p)?) / 100).max(1)
    } else if let Some(p) = s.strip_prefix('+') {
        cpus.saturating_add(num(p)?)
    } else if let Some(p) = s.strip_prefix('-') {
        cpus.saturating_sub(num(p)?).max(1)
    } else {
        // 0: as many as possible (the caller decides how many that is).
        num(s)?
    };
    Ok(n)
}

/// The most slots parx runs at once (a bigger `-j` is lowered to it, with a note).
pub(crate) const MAX_JOBS: usize = 65536;

/// Reads a `-j FILE`: its first word, in any `-j` form (`N`, `N%`, `+N`, `-N`, relative to
/// `cpus`).
pub(crate) fn read_jobs_file(path: &Path, cpus: usize) -> Result<usize, String> {
    let read = || std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()));
    let mut text = read()?;
    // `echo 8 > FILE` truncates, then writes: a read in between sees an empty file. Look again
    // a few times before taking it as empty.
    for _ in 0..5 {
        if !text.trim().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
        text = read()?;
    }
    parse_jobs_text(&text, cpus)
}

/// The slot count a `-j FILE` holds.
pub(crate) fn parse_jobs_text(text: &str, cpus: usize) -> Result<usize, String> {
    let word = text
        .split_whitespace()
        .next()
        .ok_or_else(|| "the file is empty (write N, N%, +N or -N in it)".to_owned())?;
    parse_jobs(word, cpus)
        .map(|n| n.min(MAX_JOBS))
        .map_err(|_| format!("the file holds '{word}', not N, N%, +N or -N"))
}

/// Parses `--load MAX`: a number of running processes (decimals allowed; `0` is 0.01, as in
/// GNU parallel), or `N%`, `+N`, `-N` relative to the usable CPUs.
pub(crate) fn parse_load(s: &str, cpus: usize) -> Result<f64, String> {
    let bad = || format!("invalid --load '{s}': use a number of running processes, N%, +N or -N");
    let num = |t: &str| t.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0);
    let cpus = cpus as f64;
    let v = if let Some(p) = s.strip_suffix('%') {
        cpus * num(p).ok_or_else(bad)? / 100.0
    } else if let Some(p) = s.strip_prefix('+') {
        cpus + num(p).ok_or_else(bad)?
    } else if let Some(p) = s.strip_prefix('-') {
        (cpus - num(p).ok_or_else(bad)?).max(0.0)
    } else {
        num(s).ok_or_else(bad)?
    };
    Ok(if v <= 0.0 { 0.01 } else { v })
}

/// A `-j FILE` path from the `-j` value, if the value is no number form but names a file.
pub(crate) fn jobs_file(value: &str) -> Option<PathBuf> {
    let p = Path::new(value);
    p.is_file().then(|| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_forms() {
        assert_eq!(parse_jobs("3", 2), Ok(3));
        assert_eq!(parse_jobs("50%", 4), Ok(2));
        assert_eq!(parse_jobs("10%", 2), Ok(1));
        assert_eq!(parse_jobs("+2", 2), Ok(4));
        assert_eq!(parse_jobs("-1", 2), Ok(1));
        assert_eq!(parse_jobs("-5", 2), Ok(1));
        assert_eq!(parse_jobs("0", 2), Ok(0));
        assert!(parse_jobs("x", 2).is_err());
        assert!(parse_jobs("", 2).is_err());
        assert!(parse_jobs("%", 2).is_err());
    }

    #[test]
    fn load_forms() {
        assert_eq!(parse_load("3", 2), Ok(3.0));
        assert_eq!(parse_load("1.5", 2), Ok(1.5));
        assert_eq!(parse_load("100%", 4), Ok(4.0));
        assert_eq!(parse_load("50%", 2), Ok(1.0));
        assert_eq!(parse_load("+1", 2), Ok(3.0));
        assert_eq!(parse_load("-1", 2), Ok(1.0));
        assert_eq!(parse_load("0", 2), Ok(0.01));
        assert!(parse_load("x", 2).is_err());
        assert!(parse_load("", 2).is_err());
        assert!(parse_load("nan", 2).is_err());
    }

    #[test]
    fn jobs_file_text() {
        assert_eq!(parse_jobs_text("8\n", 2), Ok(8));
        assert_eq!(parse_jobs_text("  3  junk", 2), Ok(3));
        assert_eq!(parse_jobs_text("200%\n", 2), Ok(4));
        assert_eq!(parse_jobs_text("+1", 2), Ok(3));
        assert!(parse_jobs_text("", 2).is_err());
        assert!(parse_jobs_text("\n", 2).is_err());
        assert!(parse_jobs_text("many", 2).is_err());
    }
}
