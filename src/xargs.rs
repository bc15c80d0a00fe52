//! The `xargs` personality: parx invoked as `xargs` (a link or copy of that name) or as
//! `parx --as xargs ...` parses its command line exactly as GNU xargs 4.9 does (`getopt_long`
//! with xargs' options, its warnings, its usage errors and status 1) and runs onto the same
//! engine as native parx: the items are read and packed by `crate::source::xargs`, GNU xargs'
//! statuses come from `crate::exit`, its words from `crate::messages`.
//!
//! Differences that remain (README, "Coming from GNU parallel or xargs"): the commands' stdout
//! goes through parx, line by line (never a torn line, even with `-P`), and a closed stdout
//! ends the run quietly (status 0) instead of a command dying of SIGPIPE (125).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use clap::Parser;

use crate::cli::Cli;
use crate::config::halt::{HaltSpec, Threshold, When, Why};
use crate::config::xargs::XargsSpec;
use crate::config::{Batch, Config, TaskStdin};
use crate::messages;
use crate::template::Template;

/// POSIX's headroom below `ARG_MAX` for the environment a command may add (xargs keeps it).
const HEADROOM: usize = 2048;
/// xargs' default command-line size.
const DEFAULT_SIZE: usize = 128 * 1024;
/// POSIX's smallest `ARG_MAX`.
const POSIX_ARG_MIN: usize = 4096;

/// How an option takes its argument (getopt's `:` and `::`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Takes {
    No,
    Required,
    Optional,
}

/// xargs' long options: name, argument, the short option it stands for.
const LONG: &[(&str, Takes, char)] = &[
    ("null", Takes::No, '0'),
    ("arg-file", Takes::Required, 'a'),
    ("delimiter", Takes::Required, 'd'),
    ("eof", Takes::Optional, 'e'),
    ("replace", Takes::Optional, 'I'),
    ("max-lines", Takes::Optional, 'l'),
    ("max-args", Takes::Required, 'n'),
    ("open-tty", Takes::No, 'o'),
    ("interactive", Takes::No, 'p'),
    ("no-run-if-empty", Takes::No, 'r'),
    ("max-chars", Takes::Required, 's'),
    ("verbose", Takes::No, 't'),
    ("show-limits", Takes::No, 'S'),
    ("exit", Takes::No, 'x'),
    ("max-procs", Takes::Required, 'P'),
    ("process-slot-var", Takes::Required, 'V'),
    ("version", Takes::No, 'v'),
    ("help", Takes::No, 'h'),
];

/// xargs' short options (`+0a:E:e::i::I:l::L:n:oprs:txP:d:`).
fn short(c: u8) -> Option<Takes> {
    Some(match c {
        b'0' | b'o' | b'p' | b'r' | b't' | b'x' => Takes::No,
        b'a' | b'E' | b'I' | b'L' | b'n' | b's' | b'P' | b'd' => Takes::Required,
        b'e' | b'i' | b'l' => Takes::Optional,
        _ => return None,
    })
}

/// A reason to stop before running: the lines to print on stderr (each `xargs: ` prefixed
/// where GNU's is) and the status.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Stop {
    lines: Vec<String>,
    status: i32,
}

impl Stop {
    /// A usage error: the message, then GNU's pointer to `--help`; status 1.
    fn usage(msg: Option<String>) -> Stop {
        let mut lines: Vec<String> = msg.into_iter().collect();
        lines.push("Try 'xargs --help' for more information.".into());
        Stop { lines, status: 1 }
    }

    fn fatal(msg: String) -> Stop {
        Stop {
            lines: vec![format!("xargs: {msg}")],
            status: 1,
        }
    }
}

/// One option as `getopt_long` hands it out: its short letter and argument.
type Opt = (char, Option<OsString>);

/// The options in order, and where the command starts.
fn getopt(args: &[OsString]) -> Result<(Vec<Opt>, usize), Stop> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_bytes();
        if a == b"--" {
            return Ok((out, i + 1));
        }
        if a.len() < 2 || a[0] != b'-' {
            break;
        }
        if let Some(long) = a.strip_prefix(b"--") {
            let (name, value) = match long.iter().position(|&c| c == b'=') {
                Some(eq) => (
                    &long[..eq],
                    Some(OsStr::from_bytes(&long[eq + 1..]).to_owned()),
                ),
                None => (long, None),
            };
            let shown = String::from_utf8_lossy(name).into_owned();
            let exact = LONG.iter().find(|(n, _, _)| n.as_bytes() == name);
            let matches: Vec<_> = LONG
                .iter()
                .filter(|(n, _, _)| n.as_bytes().starts_with(name))
                .collect();
            let &(lname, takes, c) = match (exact, matches.as_slice()) {
                (Some(e), _) => e,
                (None, [one]) => one,
                (None, []) => {
                    return Err(Stop::usage(Some(format!(
                        "xargs: unrecognized option '--{shown}'"
                    ))))
                }
                (None, many) => {
                    let names: Vec<String> =
                        many.iter().map(|(n, _, _)| format!("'--{n}'")).collect();
                    return Err(Stop::usage(Some(format!(
                        "xargs: option '--{shown}' is ambiguous; possibilities: {}",
                        names.join(" ")
                    ))));
                }
            };
            i += 1;
            let value = match (takes, value) {
                (Takes::No, Some(_)) => {
                    return Err(Stop::usage(Some(format!(
                        "xargs: option '--{lname}' doesn't allow an argument"
                    ))))
                }
                (Takes::Required, None) => match args.get(i) {
                    Some(v) => {
                        i += 1;
                        Some(v.clone())
                    }
                    None => {
                        return Err(Stop::usage(Some(format!(
                            "xargs: option '--{lname}' requires an argument"
                        ))))
                    }
                },
                (_, v) => v,
            };
            out.push((c, value));
            continue;
        }
        // A cluster of short options.
        let mut j = 1;
        i += 1;
        while j < a.len() {
            let c = a[j];
            let Some(takes) = short(c) else {
                return Err(Stop::usage(Some(format!(
                    "xargs: invalid option -- '{}'",
                    char::from(c)
                ))));
            };
            j += 1;
            let rest = (j < a.len()).then(|| OsStr::from_bytes(&a[j..]).to_owned());
            let value = match takes {
                Takes::No => {
                    out.push((char::from(c), None));
                    continue;
                }
                Takes::Optional => rest,
                Takes::Required => match rest {
                    Some(v) => Some(v),
                    None => match args.get(i) {
                        Some(v) => {
                            i += 1;
                            Some(v.clone())
                        }
                        None => {
                            return Err(Stop::usage(Some(format!(
                                "xargs: option requires an argument -- '{}'",
                                char::from(c)
                            ))))
                        }
                    },
                },
            };
            out.push((char::from(c), value));
            break;
        }
    }
    Ok((out, i))
}

/// xargs' `parse_num`: a number in `min..=max`; out of range is a usage error when `fatal`,
/// else a warning and the nearest bound.
fn number(
    v: &OsStr,
    opt: char,
    min: i64,
    max: i64,
    fatal: bool,
    warn: &mut Vec<String>,
) -> Result<i64, Stop> {
    let s = v.to_string_lossy();
    let Some(n) = parse_c_long(&s) else {
        return Err(Stop::usage(Some(format!(
            "xargs: invalid number \"{s}\" for -{opt} option"
        ))));
    };
    let (bound, msg) = if n < min {
        (
            min,
            format!("xargs: value {s} for -{opt} option should be >= {min}"),
        )
    } else if n > max {
        (
            max,
            format!("xargs: value {s} for -{opt} option should be <= {max}"),
        )
    } else {
        return Ok(n);
    };
    if fatal {
        return Err(Stop::usage(Some(msg)));
    }
    warn.push(msg);
    Ok(bound)
}

/// `strtol(s, &end, 10)` with the whole string used: optional blanks, a sign, digits.
fn parse_c_long(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(t.parse::<i64>().unwrap_or(if t.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    }))
}

/// `-d`: one character, or a backslash escape (`\n`, `\t`, `\0`, `\x41`, `\101`, ...).
fn delimiter(v: &OsStr) -> Result<u8, Stop> {
    let b = v.as_bytes();
    let s = v.to_string_lossy();
    if b.len() == 1 {
        return Ok(b[0]);
    }
    if b.first() != Some(&b'\\') || b.len() < 2 {
        return Err(Stop::fatal(format!(
            "Invalid input delimiter specification {s}: the delimiter must be either a single \
             character or an escape sequence starting with \\."
        )));
    }
    let simple = match b[1] {
        b'a' => Some(7),
        b'b' => Some(8),
        b'f' => Some(0x0c),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(0x0b),
        b'\\' => Some(b'\\'),
        _ => None,
    };
    if let Some(c) = simple {
        return Ok(c);
    }
    let (digits, radix, max) = match b[1] {
        b'x' => (&s[2..], 16, "ff"),
        c if c.is_ascii_digit() => (&s[1..], 8, "377"),
        _ => {
            return Err(Stop::fatal(format!(
                "Invalid escape sequence {s} in input delimiter specification."
            )))
        }
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    if end < digits.len() {
        return Err(Stop::fatal(format!(
            "Invalid escape sequence {s} in input delimiter specification; trailing \
             characters {} not recognised.",
            &digits[end..]
        )));
    }
    match u64::from_str_radix(digits, radix) {
        Ok(n) if n <= 255 => Ok(n as u8),
        _ => Err(Stop::fatal(format!(
            "Invalid escape sequence {s} in input delimiter specification; character values \
             must not exceed {max}."
        ))),
    }
}

/// What the command line asks for, after xargs' own rules.
#[derive(Debug)]
pub(crate) struct Parsed {
    spec: XargsSpec,
    procs: i64,
    verbose: bool,
    open_tty: bool,
    slot_var: Option<OsString>,
    show_limits: bool,
    /// Warnings GNU xargs prints before it runs.
    warnings: Vec<String>,
    /// The system's limit on a command line (after the environment and the headroom).
    arg_size_max: usize,
    env_size: usize,
}

/// The size of the environment as xargs counts it (each `KEY=VALUE` and its NUL).
fn env_size() -> usize {
    std::env::vars_os()
        .map(|(k, v)| k.len() + 1 + v.len() + 1)
        .sum()
}

/// Parses xargs' arguments (without `argv[0]`): pure but for the facts passed in.
pub(crate) fn parse(
    args: &[OsString],
    sys_arg_max: usize,
    env_size: usize,
) -> Result<Result<Parsed, Stop>, Info> {
    let (opts, at) = match getopt(args) {
        Ok(x) => x,
        Err(stop) => return Ok(Err(stop)),
    };
    // Help and version win wherever they are, as getopt hands them out in order.
    for (c, _) in &opts {
        match c {
            'h' => return Err(Info::Help),
            'v' => return Err(Info::Version),
            _ => {}
        }
    }
    Ok(build(opts, &args[at..], sys_arg_max, env_size))
}

/// `--help` or `--version`: printed on stdout, status 0.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Info {
    Help,
    Version,
}

fn build(
    opts: Vec<Opt>,
    command: &[OsString],
    sys_arg_max: usize,
    env_size: usize,
) -> Result<Parsed, Stop> {
    let arg_size_max = sys_arg_max.saturating_sub(env_size + HEADROOM);
    if arg_size_max == 0 {
        return Err(Stop::fatal("environment is too large for exec".into()));
    }
    let mut warnings = Vec::new();
    let mut spec = XargsSpec {
        max_chars: DEFAULT_SIZE.clamp(POSIX_ARG_MIN.min(arg_size_max), arg_size_max),
        max_arg_count: (arg_size_max / std::mem::size_of::<usize>()).saturating_sub(2),
        always_run: true,
        ..XargsSpec::default()
    };
    let mut p = Parsed {
        spec: XargsSpec::default(),
        procs: 1,
        verbose: false,
        open_tty: false,
        slot_var: None,
        show_limits: false,
        warnings: Vec::new(),
        arg_size_max,
        env_size,
    };
    for (c, v) in opts {
        let val = || v.clone().unwrap_or_default();
        match c {
            '0' => spec.delimiter = Some(0),
            'd' => spec.delimiter = Some(delimiter(&val())?),
            'E' | 'e' => spec.eof = v.filter(|e| !e.is_empty()).map(|e| e.as_bytes().to_vec()),
            'I' | 'i' | 'L' | 'l' | 'n' => cut_option(&mut spec, c, v, &mut warnings)?,
            's' => {
                spec.max_chars =
                    number(&val(), 's', 1, arg_size_max as i64, false, &mut warnings)? as usize;
            }
            'S' => p.show_limits = true,
            't' => p.verbose = true,
            'x' => spec.exit_if_size_exceeded = true,
            'o' => p.open_tty = true,
            'p' => {
                spec.interactive = true;
                p.verbose = true;
            }
            'r' => spec.always_run = false,
            'P' => p.procs = number(&val(), 'P', 0, i64::from(i32::MAX), true, &mut warnings)?,
            'a' => spec.file = Some(PathBuf::from(val())),
            'V' => {
                let name = val();
                if name.as_bytes().contains(&b'=') {
                    return Err(Stop::fatal(
                        "option --process-slot-var may not be set to a value which includes `='"
                            .into(),
                    ));
                }
                p.slot_var = Some(name);
            }
            _ => unreachable!("getopt hands out only xargs' options"),
        }
    }
    if spec.eof.is_some() && spec.delimiter.is_some() {
        // GNU's message ends with a newline of its own: a blank line follows.
        warnings.push("xargs: warning: the -E option has no effect if -0 or -d is used.\n".into());
    }
    if spec.replace.is_some() || spec.max_lines > 0 {
        spec.exit_if_size_exceeded = true;
    }
    spec.command = if command.is_empty() {
        vec![OsString::from("echo")]
    } else {
        command.to_vec()
    };
    p.spec = spec;
    p.warnings = warnings;
    Ok(p)
}

/// `-I`/`-i`, `-L`/`-l` and `-n` (`c`, with its value `v`): each says how the input is cut
/// into command lines, so the one given last wins, with GNU's warning for what it overrides.
fn cut_option(
    spec: &mut XargsSpec,
    c: char,
    v: Option<OsString>,
    warnings: &mut Vec<String>,
) -> Result<(), Stop> {
    let excl = |w: &mut Vec<String>, option: &str, offending: &str| {
        w.push(format!(
            "xargs: warning: options {offending} and {option} are mutually exclusive, ignoring \
             previous {offending} value"
        ));
    };
    let max = i64::MAX;
    let val = || v.clone().unwrap_or_default();
    match c {
        'I' | 'i' => {
            spec.replace = Some(v.map_or(b"{}".to_vec(), |r| r.as_bytes().to_vec()));
            if spec.max_args != 0 {
                excl(warnings, "--replace/-I/-i", "--max-args");
                spec.max_args = 0;
            }
            if spec.max_lines != 0 {
                excl(warnings, "--replace/-I/-i", "--max-lines");
                spec.max_lines = 0;
            }
        }
        'L' | 'l' => {
            spec.max_lines = match (c, &v) {
                ('l', None) => 1,
                (_, _) => number(&val(), c, 1, max, true, warnings)? as u64,
            };
            let name = if c == 'L' { "-L" } else { "--max-lines/-l" };
            if spec.max_args != 0 {
                excl(warnings, name, "--max-args");
                spec.max_args = 0;
            }
            if spec.replace.is_some() {
                excl(warnings, name, "--replace");
                spec.replace = None;
            }
        }
        'n' => {
            spec.max_args = number(&val(), 'n', 1, max, true, warnings)? as u64;
            if spec.max_lines != 0 {
                excl(warnings, "--max-args/-n", "--max-lines");
                spec.max_lines = 0;
            }
            if spec.replace.is_some() {
                if spec.max_args == 1 {
                    // GNU ignores -n1 with -i (sv patch 1500).
                    spec.max_args = 0;
                } else {
                    excl(warnings, "--max-args/-n", "--replace");
                    spec.replace = None;
                }
            }
        }
        _ => unreachable!("only the options that cut the input come here"),
    }
    Ok(())
}

/// GNU xargs' `--help`.
const HELP: &str = "\
Usage: xargs [OPTION]... COMMAND [INITIAL-ARGS]...
Run COMMAND with arguments INITIAL-ARGS and more arguments read from input.

Mandatory and optional arguments to long options are also
mandatory or optional for the corresponding short option.
  -0, --null                   items are separated by a null, not whitespace;
                                 disables quote and backslash processing and
                                 logical EOF processing
  -a, --arg-file=FILE          read arguments from FILE, not standard input
  -d, --delimiter=CHARACTER    items in input stream are separated by CHARACTER,
                                 not by whitespace; disables quote and backslash
                                 processing and logical EOF processing
  -E END                       set logical EOF string; if END occurs as a line
                                 of input, the rest of the input is ignored
                                 (ignored if -0 or -d was specified)
  -e, --eof[=END]              equivalent to -E END if END is specified;
                                 otherwise, there is no end-of-file string
  -I R                         same as --replace=R
  -i, --replace[=R]            replace R in INITIAL-ARGS with names read
                                 from standard input, split at newlines;
                                 if R is unspecified, assume {}
  -L, --max-lines=MAX-LINES    use at most MAX-LINES non-blank input lines per
                                 command line
  -l[MAX-LINES]                similar to -L but defaults to at most one non-
                                 blank input line if MAX-LINES is not specified
  -n, --max-args=MAX-ARGS      use at most MAX-ARGS arguments per command line
  -o, --open-tty               Reopen stdin as /dev/tty in the child process
                                 before executing the command; useful to run an
                                 interactive application.
  -P, --max-procs=MAX-PROCS    run at most MAX-PROCS processes at a time
  -p, --interactive            prompt before running commands
      --process-slot-var=VAR   set environment variable VAR in child processes
  -r, --no-run-if-empty        if there are no arguments, then do not run COMMAND;
                                 if this option is not given, COMMAND will be
                                 run at least once
  -s, --max-chars=MAX-CHARS    limit length of command line to MAX-CHARS
      --show-limits            show limits on command-line length
  -t, --verbose                print commands before executing them
  -x, --exit                   exit if the size (see -s) is exceeded
      --help                   display this help and exit
      --version                output version information and exit

This is parx's xargs personality (GNU xargs 4.9's command line on parx's engine):
see 'man parx'.
";

/// parx as GNU xargs with `args` (argv without `argv[0]`): the configuration to run, or the
/// exit status when there is nothing to run (help, version, a usage error).
pub(crate) fn plan(args: &[OsString]) -> Result<Config, i32> {
    messages::set_program("xargs");
    let parsed = match parse(args, crate::sys::arg_max(), env_size()) {
        Err(Info::Help) => {
            print!("{HELP}");
            return Err(0);
        }
        Err(Info::Version) => {
            println!(
                "xargs (parx) {}, GNU xargs 4.9.0's command line",
                env!("CARGO_PKG_VERSION")
            );
            return Err(0);
        }
        Ok(Err(stop)) => {
            for l in &stop.lines {
                messages::raw(format!("{l}\n").as_bytes());
            }
            return Err(stop.status);
        }
        Ok(Ok(p)) => p,
    };
    for w in &parsed.warnings {
        messages::raw(format!("{w}\n").as_bytes());
    }
    if parsed.show_limits {
        show_limits(&parsed);
    }
    if let Some(var) = &parsed.slot_var {
        // Children get their own value; none inherits the caller's.
        std::env::remove_var(var);
    }
    config(parsed).map_err(|e| {
        messages::error(e);
        1
    })
}

/// `--show-limits`, on stderr before the run, as GNU prints it.
fn show_limits(p: &Parsed) {
    let text = format!(
        "Your environment variables take up {} bytes\n\
         POSIX upper limit on argument length (this system): {}\n\
         POSIX smallest allowable upper limit on argument length (all systems): {}\n\
         Maximum length of command we could actually use: {}\n\
         Size of command buffer we are actually using: {}\n\
         Maximum parallelism (--max-procs must be no greater): {}\n",
        p.env_size,
        p.arg_size_max,
        POSIX_ARG_MIN,
        p.arg_size_max.saturating_sub(p.env_size),
        p.spec.max_chars,
        i32::MAX
    );
    messages::raw(text.as_bytes());
}

/// The engine's configuration for a parsed xargs command line: native defaults, then what
/// the personality decides.
fn config(p: Parsed) -> anyhow::Result<Config> {
    let jobs = p.procs.to_string();
    let cli = Cli::try_parse_from(["parx", "-j", &jobs, "--line-buffer", "--", "true"])?;
    let mut notes = Vec::new();
    let built = Config::from_cli(cli, &crate::resources::machine(), &mut notes);
    for n in notes {
        messages::note(n);
    }
    let mut cfg = built?;
    cfg.template = Template::argv_values();
    cfg.batch = Batch::One;
    cfg.keep_order = false;
    cfg.compat.verbose = p.verbose && !p.spec.interactive;
    cfg.compat.process_slot_var = p.slot_var;
    cfg.compat.task_stdin = match (p.open_tty, p.spec.file.is_some()) {
        (true, _) => TaskStdin::Tty,
        (false, true) => TaskStdin::Inherit,
        (false, false) => TaskStdin::Null,
    };
    cfg.jobs_ctl.halt = Some(HaltSpec {
        when: When::Soon,
        why: Why::Xargs,
        threshold: Threshold::Count(1),
    });
    cfg.compat.xargs = Some(p.spec);
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn ok(v: &[&str]) -> Parsed {
        parse(&os(v), 2 << 20, 1000).unwrap().unwrap()
    }

    fn stop(v: &[&str]) -> Stop {
        parse(&os(v), 2 << 20, 1000).unwrap().unwrap_err()
    }

    #[test]
    fn options_end_at_the_command() {
        let p = ok(&["-n2", "-0", "echo", "-n", "x"]);
        assert_eq!(p.spec.max_args, 2);
        assert_eq!(p.spec.delimiter, Some(0));
        assert_eq!(p.spec.command, os(&["echo", "-n", "x"]));
        assert_eq!(ok(&[]).spec.command, os(&["echo"]));
        assert_eq!(ok(&["--", "-x"]).spec.command, os(&["-x"]));
    }

    #[test]
    fn optional_arguments_only_attached() {
        let p = ok(&["-i", "echo", "{}"]);
        assert_eq!(p.spec.replace.as_deref(), Some(&b"{}"[..]));
        let p = ok(&["-iARG", "echo"]);
        assert_eq!(p.spec.replace.as_deref(), Some(&b"ARG"[..]));
        assert_eq!(ok(&["-l", "echo"]).spec.max_lines, 1);
        assert_eq!(ok(&["--max-lines=3"]).spec.max_lines, 3);
        assert_eq!(ok(&["-e"]).spec.eof, None);
        assert_eq!(ok(&["-eEOF"]).spec.eof.as_deref(), Some(&b"EOF"[..]));
    }

    #[test]
    fn long_options_abbreviate() {
        assert_eq!(ok(&["--max-a", "3"]).spec.max_args, 3);
        assert_eq!(ok(&["--nu"]).spec.delimiter, Some(0));
        let s = stop(&["--max", "3"]);
        assert!(s.lines[0].contains("is ambiguous"), "{s:?}");
        assert_eq!(s.status, 1);
    }

    #[test]
    fn usage_errors_are_status_1() {
        let s = stop(&["-z"]);
        assert_eq!(s.lines[0], "xargs: invalid option -- 'z'");
        assert_eq!(s.lines[1], "Try 'xargs --help' for more information.");
        assert_eq!(
            stop(&["-n"]).lines[0],
            "xargs: option requires an argument -- 'n'"
        );
        assert_eq!(
            stop(&["-n", "x"]).lines[0],
            "xargs: invalid number \"x\" for -n option"
        );
        assert_eq!(
            stop(&["-n0"]).lines[0],
            "xargs: value 0 for -n option should be >= 1"
        );
        assert_eq!(
            stop(&["--bogus"]).lines[0],
            "xargs: unrecognized option '--bogus'"
        );
    }

    #[test]
    fn exclusive_options_warn_and_the_last_wins() {
        let p = ok(&["-L2", "-n2"]);
        assert_eq!((p.spec.max_lines, p.spec.max_args), (0, 2));
        assert_eq!(
            p.warnings,
            [
                "xargs: warning: options --max-lines and --max-args/-n are mutually exclusive, \
              ignoring previous --max-lines value"
            ]
        );
        let p = ok(&["-I", "X", "-n1"]);
        assert_eq!((p.spec.replace.is_some(), p.spec.max_args), (true, 0));
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn sizes() {
        // 2 MiB ARG_MAX less 1000 of environment less 2048 of headroom.
        let p = ok(&[]);
        assert_eq!(p.spec.max_chars, 128 * 1024);
        let p = ok(&["-s", "99999999"]);
        assert_eq!(p.spec.max_chars, (2 << 20) - 1000 - 2048);
        assert_eq!(p.warnings.len(), 1);
        assert!(ok(&["-L", "1"]).spec.exit_if_size_exceeded);
    }

    #[test]
    fn delimiters() {
        let d = |s: &str| delimiter(OsStr::new(s));
        assert_eq!(d(","), Ok(b','));
        assert_eq!(d("\\n"), Ok(b'\n'));
        assert_eq!(d("\\x41"), Ok(b'A'));
        assert_eq!(d("\\101"), Ok(b'A'));
        assert_eq!(d("\\0"), Ok(0));
        assert!(d("ab").is_err());
        assert!(d("\\x100").is_err());
    }

    #[test]
    fn help_and_version() {
        assert_eq!(
            parse(&os(&["-n1", "--help"]), 1 << 20, 0).unwrap_err(),
            Info::Help
        );
        assert_eq!(
            parse(&os(&["--vers"]), 1 << 20, 0).unwrap_err(),
            Info::Version
        );
    }
}
