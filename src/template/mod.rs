//! Command templates: parsing placeholders, rendering a task into an argv (no shell) or a
//! `sh -c` script with every substituted value quoted when it needs it, and quoting for
//! `--dry-run`.
//!
//! Placeholders follow GNU parallel: `{}` `{.}` `{/}` `{//}` `{/.}` `{#}` `{%}` and the
//! positional forms `{N}` `{N.}` `{N/}` `{N//}` `{N/.}` (`{-N}` counts from the end; blanks may
//! follow N, as in `{1 }`). In a batch (`-n`, `-N`, `-X`, `-m`) `{N}` is the batch's Nth value,
//! as in GNU parallel; with one record it is the record's Nth source or column. `-I STR` makes
//! STR the value placeholder instead of `{}`; `--plus` adds GNU's extra ones (`{..}` `{+.}`
//! `{##}` `{0#}` `{:-x}` `{#re}` `{%%re}` ...); `--header :` adds `{name}` for named columns.
//! Anything else in braces is literal.
//!
//! Three rooms: `grammar` (the placeholder grammar), `render` (a task into a command, with the
//! run's facts learned from the input passed in the [`Ctx`]: the task count and the header's
//! names, written once by the source into a [`Learned`]) and `quote` (GNU path transforms and
//! quoting). The template itself is parsed once and never changes.

mod grammar;
mod quote;
mod render;
#[cfg(test)]
mod tests;

pub(crate) use grammar::{Col, Placeholder, Syntax, Transform};
pub(crate) use quote::{direct_words, quote_into, shell_escape};

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;

use crate::task::Record;
use grammar::{Filter, Op, Tables, Word};

/// How the command is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Separate words, exec'd directly.
    Argv,
    /// Through `sh -c`, values quoted.
    Shell,
    /// No command: each value is itself a shell command line.
    ValueIsCommand,
}

/// How a placeholder that stands for each record expands when a task has several records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Replace {
    /// `-X`, `-n`, `-N`, `-L`: the placeholder's word is repeated per record (`a{}b` → `a1b a2b`).
    #[default]
    Context,
    /// `-m`, `--xargs`: the placeholder alone is replaced by all values (`a{}b` → `a1 2b`).
    Plain,
}

/// A parsed command template.
#[derive(Clone, Debug)]
pub(crate) struct Template {
    words: Vec<Word>,
    mode: Mode,
    uses_values: bool,
    /// Any placeholder at all, `{#}` and `{%}` included: values are appended only without.
    any_placeholder: bool,
    /// `{uniq}` / `{choose_k}`: which tasks run.
    filter: Option<Filter>,
    /// Values are appended when no placeholder occurs (false in chunk modes).
    append: bool,
    replace: Replace,
    ops: Vec<Op>,
    names: Vec<Vec<u8>>,
    /// The number of job slots (`{0%}`'s width).
    jobs: usize,
}

/// A rendered command, ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Rendered {
    /// Program and arguments.
    Argv(Vec<OsString>),
    /// A script for `sh -c`.
    Shell(Vec<u8>),
}

/// What one rendering needs to know about the task.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx<'a> {
    /// `{#}`.
    pub seq: u64,
    /// `{%}`.
    pub slot: usize,
    /// The task's argument records.
    pub records: &'a [Record],
    /// What the run has learned from its input so far (`{##}`, `--header :`).
    pub learned: &'a Learned,
}

/// What a run learns from its input that commands may need: the number of tasks (`{##}`,
/// `{0#}`), known once every task was read, and the column names of `--header :`. Written once
/// by the source, read by every rendering through its [`Ctx`]; the template itself never
/// changes once parsed.
#[derive(Debug, Default)]
pub(crate) struct Learned {
    total: OnceLock<u64>,
    header: OnceLock<Vec<Vec<u8>>>,
}

impl Learned {
    /// Sets the number of tasks (`{##}`); the first call wins.
    pub(crate) fn set_total(&self, n: u64) {
        let _ = self.total.set(n);
    }

    /// The number of tasks, 0 until known.
    pub(crate) fn total(&self) -> u64 {
        self.total.get().copied().unwrap_or(0)
    }

    /// Sets the column names read from the input (`--header :`); the first call wins.
    pub(crate) fn set_header(&self, names: Vec<Vec<u8>>) {
        let _ = self.header.set(names);
    }

    /// The column names read from the input (`--header :`), once read.
    pub(crate) fn header_names(&self) -> Option<&[Vec<u8>]> {
        self.header.get().map(Vec::as_slice)
    }
}

/// Bytes that make a single command word need a shell.
const SHELL_META: &[u8] = b" \t\n|&;<>()$`\\\"'*?[#~";

/// What a rendering resolves value placeholders against.
struct Env<'a> {
    ctx: &'a Ctx<'a>,
    /// Every value of the task, in order (`{N}`, `{-N}`).
    flat: Vec<&'a OsString>,
    shell: bool,
}

impl Template {
    /// Parses the command words. One word with whitespace or shell metacharacters, or
    /// `force_shell`, means shell mode; no words means each value is a command line.
    pub(crate) fn new(words: &[OsString], force_shell: bool) -> Template {
        Self::with_syntax(words, force_shell, &Syntax::default())
    }

    /// [`Template::new`] with `-I`, `--plus` or `--header :` spellings.
    pub(crate) fn with_syntax(words: &[OsString], force_shell: bool, syn: &Syntax) -> Template {
        let mode = if words.is_empty() {
            Mode::ValueIsCommand
        } else if force_shell
            || (words.len() == 1 && words[0].as_bytes().iter().any(|c| SHELL_META.contains(c)))
        {
            Mode::Shell
        } else {
            Mode::Argv
        };
        let mut t = Tables::default();
        let words: Vec<Word> = words
            .iter()
            .map(|w| Word::parse(w.as_bytes(), syn, &mut t))
            .collect();
        let uses_values = words.iter().any(Word::uses_values);
        let any_placeholder = words.iter().any(|w| w.phs().next().is_some());
        Template {
            words,
            mode,
            uses_values,
            any_placeholder,
            append: true,
            replace: Replace::Context,
            ops: t.ops,
            names: t.names,
            filter: t.filter,
            jobs: 1,
        }
    }

    /// A command that is its values: no words of its own, run without a shell, every value
    /// an argument (the `xargs` personality, whose records are whole command lines).
    pub(crate) fn argv_values() -> Template {
        let mut t = Self::new(&[], false);
        t.mode = Mode::Argv;
        t
    }

    /// Never append values to the command (chunk modes: the data is on stdin).
    pub(crate) fn without_appending(mut self) -> Template {
        self.append = false;
        self
    }

    /// `-m`/`--xargs`: plain replace in batches instead of context replace.
    pub(crate) fn with_replace(mut self, r: Replace) -> Template {
        self.replace = r;
        self
    }

    /// The number of job slots (for `{0%}`).
    pub(crate) fn with_jobs(mut self, jobs: usize) -> Template {
        self.jobs = jobs;
        self
    }

    /// Whether a task with these records runs (`{uniq}`, `{choose_k}`; always without them).
    pub(crate) fn accepts(&self, records: &[Record]) -> bool {
        let values: Vec<&OsString> = records.iter().flatten().collect();
        match self.filter {
            None => true,
            Some(Filter::Uniq) => {
                let mut sorted = values.clone();
                sorted.sort();
                sorted.dedup();
                sorted.len() == values.len()
            }
            Some(Filter::ChooseK) => values.windows(2).all(|w| w[0] < w[1]),
        }
    }

    /// Whether a value placeholder (`{}`, `{.}`, `{1}`, …) occurs in the command.
    pub(crate) fn uses_values(&self) -> bool {
        self.uses_values
    }

    /// Whether the program every task runs is the same word, typed without a placeholder
    /// (`cmd {}`, not `{} arg` or a shell command line): if it cannot be started for one task,
    /// it cannot for any.
    pub(crate) fn fixed_program(&self) -> bool {
        self.mode == Mode::Argv && self.words.first().is_some_and(|w| w.phs().next().is_none())
    }

    /// Whether `{##}` or `{0#}` occurs: the number of tasks must be known before the first runs.
    pub(crate) fn needs_total(&self) -> bool {
        self.placeholders()
            .any(|p| matches!(p, Placeholder::Total | Placeholder::SeqPad))
    }

    /// The names used in `{name}` placeholders that are not among the `header`'s columns.
    pub(crate) fn unknown_names(&self, header: &[Vec<u8>]) -> Vec<String> {
        self.names
            .iter()
            .filter(|n| !header.contains(n))
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect()
    }

    /// The run mode.
    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    /// Every placeholder that occurs in the command.
    pub(crate) fn placeholders(&self) -> impl Iterator<Item = Placeholder> + '_ {
        self.words.iter().flat_map(|w| w.phs().copied())
    }
}
