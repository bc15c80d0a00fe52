//! `--joblog`'s spellings: `+FILE` appends to FILE (GNU parallel's way), `-` is stdout.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::{SourceKind, SourceSpec, UsageError};
use crate::template::Template;

/// The job log's path and whether rows are appended to what it holds (`+FILE`: no header,
/// nothing cut, as GNU parallel does); `-` is stdout.
pub(crate) fn split(arg: Option<PathBuf>) -> (Option<PathBuf>, bool) {
    let Some(path) = arg else {
        return (None, false);
    };
    let bytes = path.as_os_str().as_bytes();
    match bytes.strip_prefix(b"+") {
        Some(rest) if !rest.is_empty() => (Some(stdout_or(rest.to_vec())), true),
        _ => (Some(stdout_or(path.into_os_string().into_vec())), false),
    }
}

fn stdout_or(p: Vec<u8>) -> PathBuf {
    if p == b"-" {
        PathBuf::from("/dev/stdout")
    } else {
        PathBuf::from(OsString::from_vec(p))
    }
}

/// `--retry-failed`: the command (each value is a command line, run by the shell) and one
/// source holding, for each task number from 1 to the log's highest, the command of its last
/// row (empty for a number without a row: it is skipped). A missing log holds no task, as
/// GNU parallel's. A command logged with a newline (written `\n`) runs as written.
pub(crate) fn retry(log: &Path) -> Result<(Template, Vec<SourceSpec>), UsageError> {
    let text = match std::fs::read(log) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(UsageError(format!(
                "--retry-failed: reading the job log {}: {e}",
                log.display()
            )))
        }
    };
    let values = commands(&text);
    Ok((
        Template::new(&[], false),
        vec![SourceSpec {
            kind: SourceKind::Values(values),
            linked: false,
        }],
    ))
}

/// The command of each task's last row, by task number (see [`retry`]): rows are
/// `Seq Host Starttime JobRuntime Send Receive Exitval Signal Command`; the header, other
/// lines and a torn last line are skipped.
fn commands(text: &[u8]) -> Vec<OsString> {
    let whole = memchr::memrchr(b'\n', text).map_or(0, |i| i + 1);
    let mut by_seq: Vec<OsString> = Vec::new();
    for line in text[..whole].split(|&b| b == b'\n') {
        let f: Vec<&[u8]> = line.splitn(9, |&b| b == b'\t').collect();
        let seq = std::str::from_utf8(f[0])
            .ok()
            .and_then(|s| s.parse::<usize>().ok());
        let (Some(seq), 9) = (seq, f.len()) else {
            continue;
        };
        if seq == 0 || seq > (1 << 32) {
            continue;
        }
        if by_seq.len() < seq {
            by_seq.resize(seq, OsString::new());
        }
        by_seq[seq - 1] = OsString::from_vec(f[8].to_vec());
    }
    by_seq
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_appends_and_dash_is_stdout() {
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(split(p("+log")), (p("log"), true));
        assert_eq!(split(p("log")), (p("log"), false));
        assert_eq!(split(p("-")), (p("/dev/stdout"), false));
        assert_eq!(split(p("+-")), (p("/dev/stdout"), true));
        assert_eq!(split(p("+")), (p("+"), false));
        assert_eq!(split(p("./+log")), (p("./+log"), false));
        assert_eq!(split(None), (None, false));
    }

    #[test]
    fn retry_takes_each_tasks_last_command() {
        let log = b"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n\
            1\t:\t1.0\t0.1\t0\t0\t1\t0\tfirst\tone\n\
            3\t:\t1.0\t0.1\t0\t0\t0\t15\tthird\n\
            1\t:\t1.0\t0.1\t0\t0\t1\t0\tfirst again\n\
            junk\n4\t:\t1.0";
        let got: Vec<OsString> = commands(log);
        assert_eq!(got, ["first again", "", "third"]);
        assert!(commands(b"").is_empty());
    }
}
