//! `--bar` and `--eta`: progress drawn on stderr with indicatif, by the merger as tasks finish.
//! Hidden when stderr is not a terminal; never written to stdout. While the input is still
//! being read it shows a count and a rate; once the number of tasks is known, done/total, a bar
//! (`--bar`) and the time left.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The progress display (a handle: clones show the same display).
#[derive(Clone, Debug)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A display for `--bar` / `--eta`, or `None` when neither is asked for or stderr is not a
    /// terminal. `total` says how many tasks there are, once the input has been read; a
    /// ticker thread asks it until it knows.
    /// `waiting` says what a held-back task waits for (`--load`, `--memfree`, ...), shown after
    /// the progress as `waiting: WHY`.
    pub fn new(
        bar: bool,
        eta: bool,
        total: impl Fn() -> Option<u64> + Send + 'static,
        waiting: impl Fn() -> Option<&'static str> + Send + 'static,
    ) -> Option<Progress> {
        if !(bar || eta) || !std::io::stderr().is_terminal() {
            return None;
        }
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
        pb.set_style(
            ProgressStyle::with_template("parx: {pos} done, {per_sec}, {elapsed} elapsed{msg}")
                .expect("valid template"),
        );
        pb.enable_steady_tick(Duration::from_millis(200));
        let ticker = pb.clone();
        let _ = std::thread::Builder::new()
            .name("parx-progress".into())
            .spawn(move || {
                let mut known = false;
                while !ticker.is_finished() {
                    let why = waiting().map(|w| format!("  waiting: {w}"));
                    ticker.set_message(why.unwrap_or_default());
                    if known {
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                    if let Some(n) = total() {
                        known = true;
                        ticker.set_length(n);
                        let tmpl = if bar {
                            "parx: {wide_bar} {pos}/{len} {percent}% {per_sec} ETA {eta}{msg}"
                        } else {
                            "parx: {pos}/{len} {percent}% {per_sec} ETA {eta}{msg}"
                        };
                        ticker
                            .set_style(ProgressStyle::with_template(tmpl).expect("valid template"));
                        continue;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
        Some(Progress { bar: pb })
    }

    /// One more task finished.
    pub fn inc(&self) {
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
