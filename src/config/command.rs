//! The command's options: its words and the template they make (`-I`, `--plus`, the
//! `--*replace` strings, `--header :` names, `-q`, `--shell`), which pool runs it and the
//! process pool's worker options (`--max-tasks`, `--result-end`), and the GNU options parx
//! refuses.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::chunk::{ChunkConfig, ChunkMode};
use super::input::parse_delimiter;
use super::{usage, PoolKind, UsageError};
use crate::cli::{Cli, PoolArg};
use crate::template::{Mode, Placeholder, Syntax, Template};

/// Refuses GNU parallel's Perl expressions (`{= ... =}`) among the command words.
pub(super) fn refuse_perl(command: &[OsString]) -> Result<(), UsageError> {
    if let Some(w) = command
        .iter()
        .find(|w| w.as_bytes().windows(2).any(|p| p == b"{="))
    {
        return usage(format!(
            "Perl expressions ({}) are not supported: use --plus's replacement strings, or \
             compute the value in the command (e.g. $(...) in a shell command)",
            w.to_string_lossy()
        ));
    }
    Ok(())
}

/// The command template from its words: `force_shell` runs them as shell code; `more` are
/// the `--*replace` strings; `named_header` is `--header :`. In chunk modes the values are
/// not appended, and under `--pipe` no value placeholder may appear.
pub(super) fn template(
    cli: &Cli,
    (command, force_shell): (&[OsString], bool),
    more: Vec<(Vec<u8>, Placeholder)>,
    named_header: bool,
    jobs: usize,
    chunks: Option<&ChunkConfig>,
) -> Result<Template, UsageError> {
    let syntax = Syntax {
        replace: match cli.replace.as_deref() {
            Some("") => return usage("-I needs a non-empty replacement string, e.g. -I {}"),
            r => r.map(|r| r.as_bytes().to_vec()),
        },
        plus: cli.plus,
        header: named_header,
        more,
    };
    let mut template = Template::with_syntax(command, force_shell, &syntax).with_jobs(jobs);
    if let Some(c) = chunks {
        if command.is_empty() {
            return usage(
                "--pipe and --pipe-part need a command to run on each chunk \
                 (e.g. parx --pipe wc -l)",
            );
        }
        // (--cat: `{}` is the chunk's file.)
        if matches!(c.mode, ChunkMode::Pipe(_)) && template.uses_values() && !c.cat {
            return usage(
                "{} and other value placeholders have no value under --pipe \
                 (the chunk is on stdin); {#} and {%} work",
            );
        }
        template = template.without_appending();
    }
    Ok(template)
}

/// The pool options, validated.
pub(super) struct PoolOpts {
    /// `--pool`.
    pub(super) pool: PoolKind,
    /// `--max-tasks`.
    pub(super) max_tasks: Option<u64>,
    /// `--result-end`.
    pub(super) result_end: Option<u8>,
    /// `--framed` (`Some(true)` with `--framed-out`).
    pub(super) framed: Option<bool>,
}

/// `--pool`, and the process pool's `--max-tasks`, `--result-end` and `--framed`.
pub(super) fn pool(
    cli: &Cli,
    template: &Template,
    chunk_mode: bool,
) -> Result<PoolOpts, UsageError> {
    let pool =
        match cli.pool {
            PoolArg::Thread => PoolKind::Thread,
            PoolArg::Process if cli.cat => return usage(
                "--cat gives each chunk's file to a command of its own: it needs the thread pool",
            ),
            PoolArg::Process if cli.files => {
                return usage(
                    "--files stores each task's output in a file: it needs the thread pool \
                 (a worker's results are not tasks' outputs one by one)",
                )
            }
            PoolArg::Process => {
                check_worker_command(template)?;
                PoolKind::Process
            }
        };
    if cli.max_tasks == Some(0) {
        return usage(
            "invalid --max-tasks 0: a worker runs at least 1 task (use --max-tasks N, N >= 1)",
        );
    }
    if cli.max_tasks.is_some() && pool != PoolKind::Process {
        return usage(
            "--max-tasks goes with --pool process (add --pool process, or drop --max-tasks)",
        );
    }
    let result_end = match &cli.result_end {
        None => None,
        Some(_) if pool != PoolKind::Process => {
            return usage("--result-end goes with --pool process")
        }
        Some(s) => match parse_delimiter(s).or_else(usage)?[..] {
            [b] => Some(b),
            _ => {
                return usage(format!(
                    "invalid --result-end '{s}': one byte is needed (e.g. '\\0')"
                ))
            }
        },
    };
    let framed = match (cli.framed, pool) {
        (false, _) => None,
        (true, PoolKind::Thread) => {
            return usage("--framed goes with --pool process (add --pool process)")
        }
        (true, PoolKind::Process) if chunk_mode => {
            return usage(
                "--framed does not take chunks yet (--pipe, --pipe-part): use the line protocol, or give values",
            )
        }
        (true, PoolKind::Process) if cli.framed_out && (cli.tag || cli.tagstring.is_some()) => {
            return usage("--framed-out prints frames, which take no tag: drop --tag/--tagstring")
        }
        (true, PoolKind::Process) => Some(cli.framed_out),
    };
    Ok(PoolOpts {
        pool,
        max_tasks: cli.max_tasks,
        result_end,
        framed,
    })
}

/// Splits the trailing words into the command and the `:::`-style sources. A linked
/// separator (`:::+`, `::::+`) first is a plain one: there is nothing before it to link to.
/// GNU parallel's `--extensionreplace` and friends: other strings for `{.}`, `{/}`, `{//}`,
/// `{/.}`, `{#}` and `{%}`.
pub(super) fn more_replacements(cli: &Cli) -> Result<Vec<(Vec<u8>, Placeholder)>, UsageError> {
    use crate::template::Transform;
    let value = |tr| Placeholder::Value { col: None, tr };
    let pairs = [
        (
            &cli.ext_replace,
            "--extensionreplace",
            value(Transform::NoExt),
        ),
        (
            &cli.base_replace,
            "--basenamereplace",
            value(Transform::Base),
        ),
        (&cli.dir_replace, "--dirnamereplace", value(Transform::Dir)),
        (
            &cli.base_ext_replace,
            "--basenameextensionreplace",
            value(Transform::BaseNoExt),
        ),
        (&cli.seq_replace, "--seqreplace", Placeholder::Seq),
        (&cli.slot_replace, "--slotreplace", Placeholder::Slot),
    ];
    let mut out = Vec::new();
    for (s, opt, ph) in pairs {
        match s.as_deref() {
            Some("") => return usage(format!("{opt} needs a non-empty string")),
            Some(s) => out.push((s.as_bytes().to_vec(), ph)),
            None => {}
        }
    }
    Ok(out)
}

/// Words joined by single spaces (GNU parallel's command line).
pub(super) fn join_words(words: &[OsString]) -> OsString {
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(w.as_bytes());
    }
    OsString::from_vec(out)
}

/// A worker runs its command once: values arrive on stdin, so only `{%}` may appear.
pub(super) fn check_worker_command(t: &Template) -> Result<(), UsageError> {
    if t.mode() == Mode::ValueIsCommand {
        return usage(
            "--pool process needs a worker command that reads values on its stdin \
             (e.g. parx --pool process ./worker.py ::: a b)",
        );
    }
    if let Some(ph) = t.placeholders().find(|p| *p != Placeholder::Slot) {
        return usage(format!(
            "--pool process: only {{%}} may appear in the worker command (found {}); values arrive on its stdin",
            describe_placeholder(ph)
        ));
    }
    Ok(())
}

fn describe_placeholder(p: Placeholder) -> String {
    use crate::template::{Col, Transform::*};
    match p {
        Placeholder::Seq => "{#}".into(),
        Placeholder::Slot => "{%}".into(),
        Placeholder::Total => "{##}".into(),
        Placeholder::SeqPad => "{0#}".into(),
        Placeholder::SlotPad => "{0%}".into(),
        Placeholder::Value { col, tr } => {
            let n = match col {
                None => String::new(),
                Some(Col::Pos(n)) => n.to_string(),
                Some(Col::Neg(n)) => format!("-{n}"),
                Some(Col::Named(_)) => return "a {name} placeholder".into(),
            };
            let t = match tr {
                Whole => "",
                NoExt => ".",
                Base => "/",
                Dir => "//",
                BaseNoExt => "/.",
                NoExt2 => "..",
                NoExt3 => "...",
                BaseNoExt2 => "/..",
                BaseNoExt3 => "/...",
                PlusDir => "+/",
                PlusExt => "+.",
                PlusExt2 => "+..",
                PlusExt3 => "+...",
                Op(_) => return format!("a {{{n}...}} placeholder"),
            };
            format!("{{{n}{t}}}")
        }
    }
}

/// GNU parallel options parx does not have: one line saying what to use instead.
pub(super) fn refuse_unsupported(cli: &Cli) -> Result<(), UsageError> {
    if let Some(tool) = &cli.as_tool {
        return usage(format!(
            "--as {tool} must be the first argument (parx --as {tool} ...): what follows it is \
             {tool}'s command line"
        ));
    }
    if cli.remote.is_some() || cli.remote_flag {
        return usage(
            "--sshlogin and GNU parallel's other remote options are not supported: parx runs on \
             one machine; spread work over machines with --shard K/N (or --shard auto in an \
             array job), see the README's cluster section",
        );
    }
    Ok(())
}
