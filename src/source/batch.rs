//! Batching (`-n N`, `-X`): groups consecutive records into one task, within the operating
//! system's limit on the size of a command line, and splits values into columns (`--colsep`).
//!
//! The size of a batch's command is measured the way the kernel does it for execve(2): every
//! argument costs its length, its NUL and an 8-byte `argv` pointer. The budget is
//! `sysconf(_SC_ARG_MAX)` (capped at Linux's real limit of 6 MiB, three quarters of the 8 MiB
//! stack ceiling) less the current environment (each `KEY=VALUE`, its NUL and its pointer)
//! less a margin of [`MARGIN`] bytes for what parx cannot see (the resolved program path, the
//! pointer arrays' NULLs, variables a pool may add). In shell mode the whole script is one
//! argument and so is also limited to Linux's `MAX_ARG_STRLEN` (128 KiB) per argument.
//!
//! A record's cost is measured by rendering the template for that record alone and
//! subtracting the rendering for no record: the template adds the same words per record
//! whatever the batch (context replace `a{}b` per value, lone `{}` one word per value, no
//! placeholder: values appended). `{#}` and `{%}` are measured at their widest.
//!
//! A record that alone exceeds a limit (a value over 128 KiB) becomes a task of its own: its
//! exec fails with E2BIG, which the pool reports and counts like any failed task; the run goes
//! on. A batch never mixes it with other records, so no other value is lost with it.
//!
//! Packing follows GNU parallel (and xargs): a batch is filled up to the limits, then the
//! next one starts. A command line is also kept under a line length unless `-s/--max-chars`
//! says otherwise: GNU parallel's usable command-line length ([`GNU_LINE_MAX`]), natively and
//! in the `parallel` personality, so that `-X` makes the same command lines as GNU parallel
//! (GNU's own tests, run through native parx, count them); with `--walk`, which GNU parallel
//! does not have, xargs' 128 KiB ([`XARGS_LINE_MAX`]): half the commands of a long walk, as
//! `find | xargs` makes. With `-X` and `-m` the last batch
//! (the one the input ends in) is spread evenly over the job slots, as GNU parallel does, so
//! a short input still gives every slot work.

use std::os::unix::ffi::OsStrExt;

use crate::config::{Batch, Limits};
use crate::task::Record;
use crate::template::{Ctx, Learned, Mode, Placeholder, Rendered, Template};

/// Bytes kept free below the computed argument budget.
pub(super) const MARGIN: usize = 8192;
/// Linux's limit on one argument (`MAX_ARG_STRLEN`, 32 pages), terminating NUL included.
pub(super) const MAX_ARG_STRLEN: usize = 131_072;
/// Linux never allows more than this for arguments plus environment (3/4 of `_STK_LIM`).
const LINUX_CEILING: usize = 6 << 20;
/// Size of an `argv`/`envp` pointer.
const PTR: usize = std::mem::size_of::<usize>();
/// GNU parallel's usable command-line length on Linux (`parallel --show-limits`: "Maximal
/// usable size of command", 20221122): half of the longest `sh -c` script it finds (130,329
/// bytes, under the 128 KiB `MAX_ARG_STRLEN`) less 3000. The `parallel` personality keeps a
/// batch's command line shorter than this unless `-s` is given.
pub(super) const GNU_LINE_MAX: usize = 63_664;
/// xargs' default command-line length (`xargs --show-limits`: 131,072), which `--walk -X`
/// fills: `--walk` is parx's `find | xargs`, and GNU parallel has no such option.
pub(super) const XARGS_LINE_MAX: usize = 131_072;
/// The byte budget for one command's arguments, from the OS limit and the environment.
pub(super) fn arg_budget() -> usize {
    let env: usize = std::env::vars_os()
        .map(|(k, v)| k.len() + 1 + v.len() + 1 + PTR)
        .sum();
    crate::sys::arg_max()
        .min(LINUX_CEILING)
        .saturating_sub(env)
        .saturating_sub(MARGIN)
        .max(4096)
}

/// What a command costs against the limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Cost {
    /// Bytes against the total argument budget.
    args: usize,
    /// Length of the one shell-script argument (shell modes; 0 otherwise).
    script: usize,
    /// Length of the longest argument.
    longest: usize,
    /// Characters of the command line (`-s`): the script, or the words and their NULs.
    line: usize,
}

fn cost(r: &Rendered) -> Cost {
    match r {
        Rendered::Argv(a) => Cost {
            args: a.iter().map(|w| w.len() + 1 + PTR).sum(),
            script: 0,
            longest: a.iter().map(|w| w.len()).max().unwrap_or(0),
            line: a.iter().map(|w| w.len() + 1).sum(),
        },
        // `sh -c SCRIPT`
        Rendered::Shell(s) => Cost {
            args: 3 + 3 + s.len() + 1 + 3 * PTR,
            script: s.len(),
            longest: s.len(),
            line: s.len(),
        },
    }
}

/// Groups records into tasks.
pub(super) struct Batcher<'a> {
    template: &'a Template,
    /// What the run knows from its input so far (`--header :` names), for measuring.
    learned: &'a Learned,
    /// Most records per batch.
    max: usize,
    /// Byte budget for all arguments.
    budget: usize,
    /// Byte budget for the one script argument in shell modes.
    script_budget: usize,
    /// A command line stays shorter than this (`-s`, or GNU's limit for a shell command).
    line_max: usize,
    /// `-X`/`-m`: the last batch is spread over this many slots.
    spread_over: usize,
    /// `-x`: a record too long for the line limit stops the batching.
    exit_on_size: bool,
    /// Set when `-x` stopped the batching: the length of the command line that was too long.
    pub too_long: Option<usize>,
    base: Cost,
    /// Separate words with values only appended: a record costs its values, no rendering.
    appended: bool,
    cur: Vec<Record>,
    /// How many records the last batch held: the next one is given room for as many at its
    /// first record (the first batch: as many as the line holds of records like its first),
    /// so that a batch of thousands is not grown, and copied, a dozen times.
    last_len: usize,
    used: Cost,
}

impl<'a> Batcher<'a> {
    /// A batcher for `batch`, with the argument budget of this process's environment.
    pub(super) fn new(
        template: &'a Template,
        learned: &'a Learned,
        batch: Batch,
        limits: Limits,
    ) -> Self {
        Self::with_budget(template, learned, batch, limits, arg_budget())
    }

    /// A batcher with an explicit argument budget (for tests).
    pub(super) fn with_budget(
        template: &'a Template,
        learned: &'a Learned,
        batch: Batch,
        limits: Limits,
        budget: usize,
    ) -> Self {
        let max = match batch {
            Batch::One => 1,
            Batch::MaxArgs(n) => n.max(1),
            Batch::Fit => usize::MAX,
        };
        let line_max = match limits.max_chars {
            Some(n) => n,
            None if limits.xargs_line => XARGS_LINE_MAX,
            None => GNU_LINE_MAX,
        };
        let base = cost(&template.render(&Self::ctx(learned, &[])));
        let appended = template.mode() == Mode::Argv
            && !template
                .placeholders()
                .any(|p| matches!(p, Placeholder::Value { .. }));
        Batcher {
            template,
            learned,
            max,
            budget,
            script_budget: MAX_ARG_STRLEN - 1 - 256,
            line_max,
            spread_over: limits.spread_over,
            exit_on_size: limits.exit_on_size && limits.max_chars.is_some(),
            too_long: None,
            base,
            appended,
            cur: Vec::new(),
            last_len: 0,
            used: base,
        }
    }

    fn ctx<'b>(learned: &'b Learned, records: &'b [Record]) -> Ctx<'b> {
        Ctx {
            seq: u64::MAX,
            slot: usize::MAX,
            records,
            learned,
        }
    }

    /// The cost of a command for `rec` alone, and what `rec` adds to a command that already
    /// has records. Separate words add the same per record; a command string (shell mode) is
    /// context-replaced part by part, so its increment is measured with the record twice.
    fn costs(&self, rec: Record) -> (Cost, Cost, Record) {
        if self.appended {
            let more = Cost {
                args: rec.iter().map(|v| v.len() + 1 + PTR).sum(),
                script: 0,
                longest: rec.iter().map(|v| v.len()).max().unwrap_or(0),
                line: rec.iter().map(|v| v.len() + 1).sum(),
            };
            let alone = Cost {
                args: self.base.args + more.args,
                script: 0,
                longest: more.longest.max(self.base.longest),
                line: self.base.line + more.line,
            };
            return (alone, more, rec);
        }
        let mut recs = vec![rec];
        let alone = cost(&self.template.render(&Self::ctx(self.learned, &recs)));
        let more = if self.template.mode() == Mode::Argv {
            Cost {
                args: alone.args.saturating_sub(self.base.args),
                script: 0,
                longest: 0,
                line: alone.line.saturating_sub(self.base.line),
            }
        } else {
            recs.push(recs[0].clone());
            let twice = cost(&self.template.render(&Self::ctx(self.learned, &recs)));
            Cost {
                args: twice.args.saturating_sub(alone.args),
                script: twice.script.saturating_sub(alone.script),
                longest: 0,
                line: twice.line.saturating_sub(alone.line),
            }
        };
        (alone, more, recs.swap_remove(0))
    }

    /// Adds a record; `emit` gets every batch that is complete. Returns `false` as soon as
    /// `emit` does (the run is stopping).
    pub(super) fn push(&mut self, rec: Record, emit: &mut impl FnMut(Vec<Record>) -> bool) -> bool {
        if self.max == 1 && !self.exit_on_size {
            return emit(vec![rec]);
        }
        let (alone, more, rec) = self.costs(rec);
        if self.exit_on_size && alone.line >= self.line_max {
            self.too_long = Some(alone.line);
            return false;
        }
        if self.max == 1 {
            return emit(vec![rec]);
        }
        if alone.longest >= MAX_ARG_STRLEN {
            // Cannot run at all: alone, so that its failure takes no other value with it.
            return self.flush(emit) && emit(vec![rec]);
        }
        let over = self.used.args + more.args > self.budget
            || self.used.script + more.script > self.script_budget
            || self.used.line + more.line >= self.line_max;
        if !self.cur.is_empty() && over && !self.flush(emit) {
            return false;
        }
        if self.cur.is_empty() {
            self.used = alone;
            let room = match self.last_len {
                0 => (self.line_max / more.line.max(1)).min(4096),
                n => n,
            };
            self.cur.reserve(room.min(self.max));
        } else {
            self.used.args += more.args;
            self.used.script += more.script;
            self.used.line += more.line;
        }
        self.cur.push(rec);
        if self.cur.len() >= self.max {
            return self.flush(emit);
        }
        true
    }

    /// At the end of the input: emits the last batch, spread evenly over the job slots with
    /// `-X`/`-m` (GNU parallel: ceil(n / slots) records per command).
    pub(super) fn finish(&mut self, emit: &mut impl FnMut(Vec<Record>) -> bool) -> bool {
        let n = self.cur.len();
        if self.spread_over > 1 && n > 1 {
            let per = n.div_ceil(self.spread_over);
            let mut rest = std::mem::take(&mut self.cur);
            self.used = self.base;
            while !rest.is_empty() {
                let tail = rest.split_off(per.min(rest.len()));
                if !emit(std::mem::replace(&mut rest, tail)) {
                    return false;
                }
            }
            return true;
        }
        self.flush(emit)
    }

    /// Emits the batch being built, if any.
    pub(super) fn flush(&mut self, emit: &mut impl FnMut(Vec<Record>) -> bool) -> bool {
        self.used = self.base;
        if self.cur.is_empty() {
            return true;
        }
        self.last_len = self.cur.len();
        emit(std::mem::take(&mut self.cur))
    }
}

/// Splits every value of `rec` into columns at the matches of `re`, the columns of each value
/// following those of the one before (with several sources, `{1}` … number all of them).
pub(super) fn split_columns(re: &regex::bytes::Regex, rec: Record) -> Record {
    let mut out = Record::with_capacity(rec.len() * 2);
    for v in &rec {
        out.extend(
            re.split(v.as_bytes())
                .map(|c| std::ffi::OsStr::from_bytes(c).to_os_string()),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn tpl(words: &[&str]) -> Template {
        let w: Vec<OsString> = words.iter().map(OsString::from).collect();
        Template::new(&w, false)
    }

    fn batches(t: &Template, batch: Batch, budget: usize, vals: &[&str]) -> Vec<Vec<String>> {
        let learned = Learned::default();
        let mut b = Batcher::with_budget(t, &learned, batch, Limits::default(), budget);
        let mut out = Vec::new();
        let mut emit = |recs: Vec<Record>| {
            out.push(
                recs.into_iter()
                    .map(|r| r[0].to_string_lossy().into_owned())
                    .collect(),
            );
            true
        };
        for v in vals {
            assert!(b.push(vec![OsString::from(v)], &mut emit));
        }
        assert!(b.flush(&mut emit));
        out
    }

    #[test]
    fn max_args_groups_consecutive_records() {
        let t = tpl(&["echo"]);
        let got = batches(&t, Batch::MaxArgs(2), 1 << 20, &["a", "b", "c", "d", "e"]);
        assert_eq!(got, [vec!["a", "b"], vec!["c", "d"], vec!["e"]]);
        let got = batches(&t, Batch::One, 1 << 20, &["a", "b"]);
        assert_eq!(got, [vec!["a"], vec!["b"]]);
    }

    #[test]
    fn fit_respects_the_budget_exactly() {
        // echo: 5+9 = 14 bytes; each 1-byte value: 1+1+8 = 10 bytes.
        let t = tpl(&["echo"]);
        let got = batches(
            &t,
            Batch::Fit,
            14 + 30,
            &["a", "b", "c", "d", "e", "f", "g"],
        );
        assert_eq!(got, [vec!["a", "b", "c"], vec!["d", "e", "f"], vec!["g"]]);
        // Context replace: x{}y costs 3+1+8 per value.
        let t = tpl(&["echo", "x{}y"]);
        let got = batches(&t, Batch::Fit, 14 + 24, &["a", "b", "c"]);
        assert_eq!(got, [vec!["a", "b"], vec!["c"]]);
    }

    #[test]
    fn oversized_value_goes_alone() {
        let t = tpl(&["echo"]);
        let big = "x".repeat(100);
        let got = batches(&t, Batch::Fit, 14 + 30, &["a", &big, "b"]);
        assert_eq!(
            got,
            [vec!["a".to_string()], vec![big], vec!["b".to_string()]]
        );
        // Within the total budget, but over the limit for one argument.
        let big = "x".repeat(MAX_ARG_STRLEN);
        let got = batches(&t, Batch::Fit, 1 << 20, &["a", &big, "b", "c"]);
        let s = |v: &str| v.to_string();
        assert_eq!(got, [vec![s("a")], vec![big], vec![s("b"), s("c")]]);
    }

    #[test]
    fn shell_script_stays_under_one_argument_limit() {
        let t = Template::new(&[OsString::from("echo {}")], false);
        let v = "v".repeat(1000);
        let vals: Vec<&str> = (0..300).map(|_| v.as_str()).collect();
        let learned = Learned::default();
        let mut b = Batcher::with_budget(&t, &learned, Batch::Fit, Limits::default(), 6 << 20);
        let mut sizes = Vec::new();
        let mut emit = |recs: Vec<Record>| {
            let r = t.render(&Ctx {
                seq: 1,
                slot: 1,
                records: &recs,
                learned: &Learned::default(),
            });
            match r {
                Rendered::Shell(s) => sizes.push((recs.len(), s.len())),
                Rendered::Argv(_) => panic!("shell mode expected"),
            }
            true
        };
        for v in &vals {
            assert!(b.push(vec![OsString::from(v)], &mut emit));
        }
        assert!(b.flush(&mut emit));
        assert_eq!(sizes.iter().map(|s| s.0).sum::<usize>(), 300);
        assert!(sizes.len() >= 3, "{sizes:?}");
        assert!(sizes.iter().all(|s| s.1 < MAX_ARG_STRLEN), "{sizes:?}");
    }

    #[test]
    fn last_batch_spreads_over_the_slots() {
        let t = tpl(&["true"]);
        let limits = Limits {
            max_chars: None,
            spread_over: 3,
            ..Limits::default()
        };
        let learned = Learned::default();
        let mut b = Batcher::with_budget(&t, &learned, Batch::Fit, limits, 6 << 20);
        let mut got = Vec::new();
        let mut emit = |recs: Vec<Record>| {
            got.push(recs.len());
            true
        };
        for i in 0..10 {
            assert!(b.push(vec![OsString::from(i.to_string())], &mut emit));
        }
        assert!(b.finish(&mut emit));
        assert_eq!(got, [4, 4, 2]);
    }

    #[test]
    fn a_walk_fills_xargs_line_and_others_gnus() {
        // 20,000 paths of 30 bytes appended to `wc -c`: each command line (words and their
        // NULs, as -s counts) stays under the line it fills, and xargs' holds twice as many.
        let t = tpl(&["wc", "-c"]);
        let lines = |xargs_line| {
            let limits = Limits {
                xargs_line,
                ..Limits::default()
            };
            let learned = Learned::default();
            let mut b = Batcher::with_budget(&t, &learned, Batch::Fit, limits, 6 << 20);
            let mut got = Vec::new();
            let mut emit = |recs: Vec<Record>| {
                got.push(
                    recs.iter().flatten().map(|c| c.len() + 1).sum::<usize>() + "wc -c ".len(),
                );
                true
            };
            for i in 0..20_000 {
                let path = format!("tree/src/core/a/file{i:09}.rs");
                assert!(b.push(vec![OsString::from(path)], &mut emit));
            }
            assert!(b.finish(&mut emit));
            got
        };
        let (gnu, xargs) = (lines(false), lines(true));
        assert!(gnu.iter().all(|&n| n < GNU_LINE_MAX), "{gnu:?}");
        assert!(xargs.iter().all(|&n| n < XARGS_LINE_MAX), "{xargs:?}");
        assert!(xargs[0] > GNU_LINE_MAX, "{xargs:?}");
        assert_eq!(gnu.len().div_ceil(2), xargs.len(), "{gnu:?} {xargs:?}");
    }

    #[test]
    fn max_chars_limits_the_line() {
        // A shell command line: "echo a b" is 8 characters; -s 9 allows it, -s 8 does not.
        let t = Template::new(&[OsString::from("echo")], true);
        for (max, want) in [
            (9, vec![vec!["a", "b"], vec!["c"]]),
            (8, vec![vec!["a"], vec!["b"], vec!["c"]]),
        ] {
            let limits = Limits {
                max_chars: Some(max),
                spread_over: 0,
                ..Limits::default()
            };
            let learned = Learned::default();
            let mut b = Batcher::with_budget(&t, &learned, Batch::Fit, limits, 6 << 20);
            let mut got: Vec<Vec<String>> = Vec::new();
            let mut emit = |recs: Vec<Record>| {
                got.push(
                    recs.iter()
                        .map(|r| r[0].to_string_lossy().into_owned())
                        .collect(),
                );
                true
            };
            for v in ["a", "b", "c"] {
                assert!(b.push(vec![OsString::from(v)], &mut emit));
            }
            assert!(b.finish(&mut emit));
            assert_eq!(got, want, "-s {max}");
        }
    }

    #[test]
    fn colsep_splits_each_value() {
        let re = regex::bytes::Regex::new("\t|,").unwrap();
        let rec = vec![OsString::from("a\tb,c"), OsString::from("d")];
        assert_eq!(split_columns(&re, rec), ["a", "b", "c", "d"]);
        let rec = vec![OsString::from("a,,")];
        assert_eq!(split_columns(&re, rec), ["a", "", ""]);
    }
}
