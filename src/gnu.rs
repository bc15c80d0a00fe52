//! The `parallel` personality: parx invoked as `parallel` (a link or copy of that name) or as
//! `parx --as parallel ...` takes GNU parallel 20221122's command semantics: the command's
//! words are joined by spaces and run as shell code, values quoted as GNU quotes them, by the
//! shell GNU parallel would pick (`$PARALLEL_SHELL`, else the shell parx was started from, else
//! `$SHELL`, else `/bin/sh`), so exported Bash functions work. A command line with nothing for
//! the shell to do runs without it (same result, xargs' speed). Options are native parx's,
//! which are GNU's where both have them (docs/CONTRACT.md, Compatibility).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;
use crate::config::Config;
use crate::messages;

/// The shells GNU parallel recognises in a parent process's name.
const SHELLS: &[&str] = &[
    "ash",
    "bash",
    "bsd-csh",
    "csh",
    "dash",
    "fdsh",
    "fish",
    "fizsh",
    "ksh",
    "ksh93",
    "lksh",
    "mksh",
    "pdksh",
    "posh",
    "rbash",
    "rc",
    "rush",
    "rzsh",
    "sash",
    "sh",
    "static-sh",
    "tcsh",
    "yash",
    "zsh",
];

/// The shell named by a process's `argv[0]`, as GNU parallel's `parent_shell` reads it:
/// `bash`, `-bash` (a login shell), `/bin/bash`, `[bash]`, `busybox sh`.
fn shell_name(argv0: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(argv0).ok()?;
    let s = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    let s = s.strip_prefix("busybox ").unwrap_or(s);
    let s = s.rsplit('/').next()?;
    let s = s.strip_prefix('-').unwrap_or(s);
    SHELLS.iter().find(|&&sh| sh == s).copied()
}

/// The nearest ancestor of this process that is a shell, as GNU parallel finds it through
/// /proc (`argv[0]` of each parent in turn).
fn parent_shell() -> Option<PathBuf> {
    let mut pid = std::os::unix::process::parent_id();
    for _ in 0..64 {
        if pid <= 1 {
            return None;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let argv0 = cmdline.split(|&c| c == 0).next().unwrap_or_default();
        if let Some(name) = shell_name(argv0) {
            return crate::pool::thread::search_path(name.as_ref())
                .or_else(|| std::fs::read_link(format!("/proc/{pid}/exe")).ok());
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // After the command name in parentheses: state, then the parent's pid.
        let rest = &stat[stat.rfind(')')? + 1..];
        pid = rest.split_whitespace().nth(1)?.parse().ok()?;
    }
    None
}

/// The shell GNU parallel 20221122 runs commands with.
fn pick_shell() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("PARALLEL_SHELL")
        .or_else(parent_shell)
        .or_else(|| env("SHELL"))
        .unwrap_or_else(|| PathBuf::from("/bin/sh"))
}

/// The words of a profile file (`~/.parallel/NAME`): whitespace-separated, `#` to the end of
/// a line a comment.
fn profile_words(text: &[u8]) -> Vec<OsString> {
    text.split(|&c| c == b'\n')
        .map(|l| l.split(|&c| c == b'#').next().unwrap_or_default())
        .flat_map(|l| l.split(u8::is_ascii_whitespace))
        .filter(|w| !w.is_empty())
        .map(|w| OsStr::from_bytes(w).to_owned())
        .collect()
}

/// GNU parallel's profiles: `$PARALLEL`'s words first, `~/.parallel/config` unless `-J` names
/// profiles, and each `-J NAME`/`--profile NAME` among the options replaced by the words of
/// `~/.parallel/NAME` (or of NAME, a path).
fn with_profiles(args: &[OsString]) -> Result<Vec<OsString>, String> {
    let dir = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".parallel"));
    let read = |name: &OsStr| -> Result<Vec<OsString>, String> {
        let path = match &dir {
            Some(d) if !name.as_bytes().contains(&b'/') => d.join(name),
            _ => PathBuf::from(name),
        };
        std::fs::read(&path)
            .map(|t| profile_words(&t))
            .map_err(|e| format!("--profile {}: {}", path.display(), messages::os_words(&e)))
    };
    let mut out = Vec::new();
    let mut named = false;
    let mut i = 0;
    let mut rest = Vec::new();
    while i < args.len() {
        let a = args[i].as_bytes();
        let name = match a {
            b"-J" | b"--profile" => {
                i += 1;
                args.get(i).cloned()
            }
            _ if a.starts_with(b"--profile=") => Some(OsStr::from_bytes(&a[10..]).to_owned()),
            _ if a.starts_with(b"-J") && a.len() > 2 => Some(OsStr::from_bytes(&a[2..]).to_owned()),
            _ => None,
        };
        match name {
            Some(n) => {
                named = true;
                rest.extend(read(&n)?);
            }
            None if a == b"--" || !a.starts_with(b"-") || a == b":::" || a == b"::::" => {
                rest.extend(args[i..].iter().cloned());
                break;
            }
            None => rest.push(args[i].clone()),
        }
        i += 1;
    }
    if let Some(env) = std::env::var_os("PARALLEL") {
        out.extend(profile_words(env.as_bytes()));
    }
    if !named {
        if let Some(config) = dir
            .as_ref()
            .map(|d| d.join("config"))
            .filter(|c| c.is_file())
        {
            out.extend(read(config.as_os_str())?);
        }
    }
    out.extend(rest);
    Ok(out)
}

/// parx as GNU parallel with `args` (argv without `argv[0]`): the configuration to run, or the
/// exit status when there is nothing to run (help, version, a usage error).
pub(crate) fn plan(args: &[OsString]) -> Result<Config, i32> {
    // GNU parallel keeps its files under ~/.parallel and makes it when it starts (users write
    // profiles there).
    if let Some(home) = std::env::var_os("HOME") {
        let _ = std::fs::create_dir_all(PathBuf::from(home).join(".parallel"));
    }
    let args = with_profiles(args).map_err(|e| {
        messages::error(e);
        crate::exit::EXIT_ERROR
    })?;
    let argv = std::iter::once(OsStr::new("parallel").to_owned()).chain(args);
    // GNU's Getopt::Long takes any unambiguous prefix of a long option (`--jo` for --joblog).
    let parsed = Cli::command()
        .infer_long_args(true)
        .try_get_matches_from(argv)
        .and_then(|m| Cli::from_arg_matches(&m));
    let mut cli = match parsed {
        Ok(c) => c,
        Err(e) => return Err(crate::cli::clap_error(&e)),
    };
    if let Some((text, code)) = crate::cli::info(&cli, crate::resources::cpu_topology) {
        print!("{text}");
        return Err(code);
    }
    cli.gnu = true;
    let mut notes = Vec::new();
    let built = Config::from_cli(cli, &crate::resources::machine(), &mut notes);
    for n in notes {
        messages::note(n);
    }
    let mut cfg = built.map_err(|e| {
        messages::error(e);
        crate::exit::EXIT_ERROR
    })?;
    cfg.compat.shell = Some(pick_shell());
    cfg.compat.shell_direct = true;
    cfg.compat.gnu = true;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shells_are_recognised_by_argv0() {
        assert_eq!(shell_name(b"bash"), Some("bash"));
        assert_eq!(shell_name(b"-bash"), Some("bash"));
        assert_eq!(shell_name(b"/usr/bin/zsh"), Some("zsh"));
        assert_eq!(shell_name(b"[sh]"), Some("sh"));
        assert_eq!(shell_name(b"busybox sh"), Some("sh"));
        for not in [&b"sshd"[..], b"foo.sh", b"crash", b"parx", b""] {
            assert_eq!(shell_name(not), None);
        }
    }
}
