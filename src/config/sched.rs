//! Parsing the resource options' values: `--load MAX` and the `-j FILE` count (read again by
//! [`crate::gate`] as tasks end). Pure functions of their text, the CPUs and the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

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
    super::parse_jobs(word, cpus)
        .map(|n| n.min(super::MAX_JOBS))
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
