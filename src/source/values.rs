//! Argument tasks: the records of the argument sources ([`crate::source::args`]), split into
//! columns with `--colsep` and grouped by `-n`/`-X` ([`crate::source::batch`]).

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use crate::config::{Batch, Config, SourceKind};
use anyhow::Context;

use crate::source::spool::Spool;
use crate::source::{args, batch, Count, Source, Values};
use crate::task::{Record, TaskInput};
use crate::template::Learned;

/// The argument sources, opened.
pub(super) struct ArgTasks {
    cfg: Arc<Config>,
    /// Where the task count (`{##}`) and the header's names (`--header :`) are told.
    learned: Arc<Learned>,
    sources: Vec<Values>,
    /// Stdin read ahead (`--bar`/`--eta` with stdin from a pipe), for the count ahead.
    spool: Option<Arc<Spool>>,
}

impl ArgTasks {
    /// Opens every argument source (a missing file is an error here). With `--bar`/`--eta`
    /// shown, stdin that is not a regular file is read ahead ([`Spool`]), so that it can be
    /// counted when it ends.
    pub(super) fn open(cfg: &Arc<Config>, learned: &Arc<Learned>) -> anyhow::Result<ArgTasks> {
        let reads_stdin = cfg
            .input
            .sources
            .iter()
            .any(|s| s.kind == SourceKind::Stdin);
        let spool = match reads_stdin
            && crate::progress::shown(cfg.jobs_ctl.bar, cfg.jobs_ctl.eta)
            && args::stdin_file().is_none()
        {
            true => Some(Spool::start(std::io::stdin()).context("reading stdin ahead")?),
            false => None,
        };
        Ok(ArgTasks {
            cfg: cfg.clone(),
            learned: learned.clone(),
            sources: args::open_all(&cfg.input, spool.as_ref())?,
            spool,
        })
    }
}

impl Source for ArgTasks {
    /// With `--header :` the first value of each source names its column; with `{##}` every
    /// task is read before the first is emitted (the total must be known).
    fn produce(self: Box<Self>, emit: &mut dyn FnMut(TaskInput) -> bool) -> anyhow::Result<()> {
        let cfg = &self.cfg;
        let mut sources = self.sources;
        if cfg.input.header {
            let names = args::take_header(&cfg.input, &mut sources)?;
            let unknown = cfg.template.unknown_names(&names);
            self.learned.set_header(names);
            if !unknown.is_empty() {
                anyhow::bail!(
                    "--header: no column named {} in the header line (the first value of each \
                     source)",
                    unknown.join(", ")
                );
            }
        }
        let hold = cfg.template.needs_total() || cfg.compat.shuf;
        let mut held = Vec::new();
        let drop_values = cfg.compat.drop_values;
        let res = {
            let mut emit = |records: Vec<Record>| {
                // -N 0: the command runs once per value, without it.
                let records = if drop_values {
                    vec![Record::new()]
                } else {
                    records
                };
                if hold {
                    held.push(records);
                    true
                } else {
                    emit(TaskInput::Args(records))
                }
            };
            let mut batcher =
                batch::Batcher::new(&cfg.template, &self.learned, cfg.batch, cfg.compat.limits);
            let colsep = cfg.input.colsep.as_ref();
            let trim = cfg.input.trim;
            let res = args::produce(&cfg.input, sources, |rec| {
                let rec = match colsep {
                    Some(re) => batch::split_columns(re, rec)
                        .into_iter()
                        .map(|c| OsStr::from_bytes(trim.apply(c.as_bytes())).to_owned())
                        .collect(),
                    None => rec,
                };
                batcher.push(rec, &mut emit)
            });
            // What was read before an error still runs.
            batcher.finish(&mut emit);
            match (batcher.too_long, res) {
                (Some(n), Ok(())) => Err(anyhow::anyhow!(
                    "-x: a command line would be {n} characters, over the -s limit of {}",
                    cfg.compat.limits.max_chars.unwrap_or_default()
                )),
                (_, res) => res,
            }
        };
        if hold {
            self.learned.set_total(held.len() as u64);
            if cfg.compat.shuf {
                shuffle(&mut held);
            }
            for records in held {
                if !emit(TaskInput::Args(records)) {
                    break;
                }
            }
        }
        res
    }

    /// `:::` values and regular files can be counted ahead (files are opened again: a FIFO
    /// or stdin cannot be, nor a `--walk`). One value per task: the values of each source are
    /// counted and combined; with `-n`/`-X` the values are batched a second time, so the
    /// count is exact whatever the argument limit makes of the batches.
    fn count_ahead(&self) -> Option<Count> {
        // Stdin redirected from a regular file is read again from where it stands now, with
        // pread(2), which leaves its offset to the source.
        let mut stdin = None;
        for s in &self.cfg.input.sources {
            match &s.kind {
                SourceKind::Values(_) => {}
                SourceKind::File(p) if std::fs::metadata(p).is_ok_and(|m| m.is_file()) => {}
                SourceKind::Stdin => stdin = Some(args::StdinAgain::new(self.spool.as_ref())?),
                SourceKind::File(_) | SourceKind::Walk(_) => return None,
            }
        }
        let cfg = self.cfg.clone();
        let learned = self.learned.clone();
        Some(Box::new(move || {
            let spec = &cfg.input;
            if cfg.batch != Batch::One {
                let mut n = 0;
                let sources = args::open_all(spec, None)
                    .ok()?
                    .into_iter()
                    .zip(&spec.sources)
                    .map(|(values, s)| match (&s.kind, &stdin) {
                        (SourceKind::Stdin, Some(again)) => again.values(&spec.delimiter),
                        _ => values,
                    })
                    .collect();
                let again = Box::new(ArgTasks {
                    cfg: cfg.clone(),
                    learned,
                    sources,
                    spool: None,
                });
                again
                    .produce(&mut |_| {
                        n += 1;
                        true
                    })
                    .ok()?;
                return Some(n);
            }
            let counts = spec
                .sources
                .iter()
                .map(|s| match &s.kind {
                    SourceKind::Values(v) => Some(v.len() as u64),
                    SourceKind::File(p) => {
                        args::count_values(File::open(p).ok()?, &spec.delimiter).ok()
                    }
                    SourceKind::Stdin => {
                        args::count_values(stdin.as_ref()?.reader(), &spec.delimiter).ok()
                    }
                    SourceKind::Walk(_) => None,
                })
                .collect::<Option<Vec<u64>>>()?;
            Some(args::count_records(spec, &counts))
        }))
    }
}

/// `--shuf`: the tasks in a random order (Fisher-Yates with a xorshift generator seeded from
/// the clock and the process id; no reproducibility is promised, as in GNU parallel).
fn shuffle<T>(v: &mut [T]) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = nanos ^ (u64::from(std::process::id()) << 32) | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str]) -> Arc<Config> {
        let cli =
            crate::cli::Cli::try_parse_from(std::iter::once("parx").chain(args.iter().copied()))
                .expect("valid command line");
        Arc::new(
            Config::from_cli(cli, &crate::resources::machine(), &mut Vec::new())
                .expect("valid config"),
        )
    }

    /// The count ahead is the number of tasks `produce` makes: values, files, products,
    /// links, batches.
    #[test]
    fn counts_ahead_what_is_produced() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("values");
        std::fs::write(
            &file,
            (1..=23).map(|i| format!("{i}\n")).collect::<String>(),
        )
        .unwrap();
        let file = file.to_str().unwrap();
        let twenty: Vec<String> = (1..=20).map(|i| i.to_string()).collect();
        let mut cases: Vec<Vec<&str>> = vec![
            vec!["echo", ":::"],
            vec!["echo", "::::", file],
            vec!["-a", file, "echo", ":::", "x", "y"],
            vec!["echo", "::::", file, ":::+", "a", "b", "c"],
            vec!["--link", "echo", "::::", file, ":::", "a", "b"],
            vec!["-n", "3", "echo", "::::", file, ":::", "a", "b"],
            vec!["-X", "echo", "::::", file],
            vec!["-n", "4", "--colsep", ",", "echo", ":::", "a,b", "c"],
        ];
        cases[0].extend(twenty.iter().map(String::as_str));
        for args in &cases {
            let cfg = config(args);
            let tasks = ArgTasks::open(&cfg, &Arc::default()).unwrap();
            let count = tasks.count_ahead().expect("countable")();
            let mut made = 0;
            Box::new(tasks)
                .produce(&mut |_| {
                    made += 1;
                    true
                })
                .unwrap();
            assert_eq!(count, Some(made), "{args:?}");
        }
    }

    /// A walk, or a FIFO (which cannot be read twice), is not counted ahead.
    #[test]
    fn walks_and_fifos_are_not_counted_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let cfg = config(&["--walk", d, "echo"]);
        assert!(ArgTasks::open(&cfg, &Arc::default())
            .unwrap()
            .count_ahead()
            .is_none());
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let cfg = config(&["echo", "::::", fifo.to_str().unwrap()]);
        let tasks = ArgTasks {
            cfg: cfg.clone(),
            learned: Arc::default(),
            sources: Vec::new(),
            spool: None,
        };
        assert!(tasks.count_ahead().is_none());
    }
}
