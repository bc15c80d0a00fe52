//! `--bar` and `--eta`: progress drawn on stderr with indicatif, by the merger as tasks finish.
//! Hidden when stderr is not a terminal; never written to stdout. While the input is still
//! being read it shows a count and a rate; once the number of tasks is known, done/total, a bar
//! (`--bar`) and the time left.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The progress display.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    with_bar: bool,
    total_known: bool,
}

impl Progress {
    /// A display for `--bar` / `--eta`, or `None` when neither is asked for or stderr is not a
    /// terminal.
    pub fn new(bar: bool, eta: bool) -> Option<Progress> {
        if !(bar || eta) || !std::io::stderr().is_terminal() {
            return None;
        }
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
        pb.set_style(
            ProgressStyle::with_template("parx: {pos} done, {per_sec}, {elapsed} elapsed")
                .expect("valid template"),
        );
        pb.enable_steady_tick(Duration::from_millis(200));
        Some(Progress {
            bar: pb,
            with_bar: bar,
            total_known: false,
        })
    }

    /// One more task finished; `total` is the number of tasks once the input is all read.
    pub fn inc(&mut self, total: Option<u64>) {
        if let (false, Some(n)) = (self.total_known, total) {
            self.total_known = true;
            self.bar.set_length(n);
            let tmpl = if self.with_bar {
                "parx: {wide_bar} {pos}/{len} {percent}% {per_sec} ETA {eta}"
            } else {
                "parx: {pos}/{len} {percent}% {per_sec} ETA {eta}"
            };
            self.bar
                .set_style(ProgressStyle::with_template(tmpl).expect("valid template"));
        }
        self.bar.inc(1);
    }

    /// Runs `f` (which writes to stderr) with the display cleared, then redraws it.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// Leaves the final state on the terminal.
    pub fn finish(&self) {
        self.bar.finish();
    }
}
