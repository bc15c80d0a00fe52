//! `--joblog`'s spellings: `+FILE` appends to FILE (GNU parallel's way), `-` is stdout.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// The job log's path and whether rows are appended to what it holds (`+FILE`: no header,
/// nothing cut, as GNU parallel does); `-` is stdout.
pub fn split(arg: Option<PathBuf>) -> (Option<PathBuf>, bool) {
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
}
