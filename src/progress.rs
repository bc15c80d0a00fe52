//! `--bar` and `--eta`: progress drawn on stderr with indicatif, by the merger as tasks finish.
//! Silent when stderr is not a terminal (a log gets no progress lines; `--help` says so);
//! never written to stdout. Until the number of tasks is known it shows a count and a rate;
//! then done/total, the percentage, a bar (`--bar`) and the time left. The number comes from
//! counting the input ahead ([`crate::source::count_ahead`]: `:::` values, files, values on
//! stdin — a pipe is read ahead of the tasks for it —, `--pipe-part` and `--pipe` from a
//! regular file) or, failing that, from the input's end (`--pipe` from a pipe, `--walk`).
//! The unit is the task: with `-n`/`-X` a task is one batch of values. Whatever else parx
//! writes to the terminal (stdout, a task's stderr, its own lines) is written with the display
//! cleared ([`Progress::suspend`]), and the display is cleared at the end.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// The progress display (a handle: clones show the same display).
#[derive(Clone, Debug)]
pub(crate) struct Progress {
    bar: ProgressBar,
}

/// A style from `template`, which may show `{rate}`: tasks per second, one decimal.
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("valid template")
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.1}/s", s.per_sec());
        })
}

/// Whether `--bar`/`--eta` draw anything: stderr is a terminal.
pub(crate) fn shown(bar: bool, eta: bool) -> bool {
    (bar || eta) && std::io::stderr().is_terminal()
}

impl Progress {
    /// A display for `--bar` / `--eta`, or `None` when neither is asked for or stderr is not a
    /// terminal. `total` says how many tasks there are, once that is known; a ticker thread
    /// asks it until the display is finished (a count ahead may be corrected at the input's
    /// end, should the files have changed meanwhile). `waiting` says what a held-back task
    /// waits for (`--load`, `--memfree`, ...), shown after the progress as `waiting: WHY`.
    pub(crate) fn new(
        bar: bool,
        eta: bool,
        total: impl Fn() -> Option<u64> + Send + 'static,
        waiting: impl Fn() -> Option<&'static str> + Send + 'static,
    ) -> Option<Progress> {
        if !shown(bar, eta) {
            return None;
        }
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
        pb.set_style(style("parx: {pos} done, {rate}, {elapsed} elapsed{msg}"));
        pb.enable_steady_tick(Duration::from_millis(200));
        let ticker = pb.clone();
        let _ = std::thread::Builder::new()
            .name("parx-progress".into())
            .spawn(move || {
                let mut known = None;
                while !ticker.is_finished() {
                    let why = waiting().map(|w| format!("  waiting: {w}"));
                    ticker.set_message(why.unwrap_or_default());
                    let n = total();
                    if n.is_some() && n != known {
                        if known.is_none() {
                            let tmpl = if bar {
                                "parx: [{wide_bar}] {pos}/{len} {percent}% ETA {eta}{msg}"
                            } else {
                                "parx: {pos}/{len} {percent}% {rate} ETA {eta}{msg}"
                            };
                            ticker.set_style(style(tmpl).progress_chars("=> "));
                        }
                        known = n;
                        ticker.set_length(n.unwrap_or_default());
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
        Some(Progress { bar: pb })
    }

    /// One more task finished.
    pub(crate) fn inc(&self) {
        self.bar.inc(1);
    }

    /// Runs `f` (which writes to stderr) with the display cleared, then redraws it.
    pub(crate) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// Clears the display for good (as cargo does: the run's output stays, the bar goes).
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
