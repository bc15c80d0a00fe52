//! `--halt`: when a run stops early, and with what exit status. Pure bookkeeping, fed one
//! final task outcome at a time by the merger (retried attempts are not seen here), so both
//! pools share it.

use std::sync::atomic::Ordering;

use crate::pool::Control;
use crate::task::Outcome;

/// Called by a pool when a task has finished for good (after its last attempt), before its
/// slot may start another task: applies `--halt` (no new tasks; with `now`, TERM to every
/// running task — the merger's [`crate::observe::Observer`] sends the KILL after a grace).
pub fn task_ended(ctl: &Control, seq: u64, outcome: Outcome) {
    let Some(h) = &ctl.halt else { return };
    let total = ctl
        .total()
        .unwrap_or_else(|| ctl.tasks_read.load(Ordering::Acquire));
    let when = h
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .observe(seq, outcome, total);
    match when {
        None => {}
        Some(When::Soon) => ctl.no_new_tasks(),
        Some(When::Now) => {
            ctl.no_new_tasks();
            ctl.stop(libc::SIGTERM);
        }
    }
}

/// What to do when the condition is met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Start no new task; let the running ones finish.
    Soon,
    /// Also end the running tasks at once.
    Now,
}

/// Which finished tasks count towards the condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Failed tasks.
    Fail,
    /// Succeeded tasks.
    Success,
    /// Any finished task.
    Done,
}

/// How many tasks must count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// At least this many.
    Count(u64),
    /// At least this fraction (0 < f ≤ 1) of all tasks.
    Fraction(f64),
}

/// A parsed `--halt` value (`never` is `None` at the Config level).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HaltSpec {
    /// Soon or now.
    pub when: When,
    /// What counts.
    pub why: Why,
    /// How many.
    pub threshold: Threshold,
}

/// Parses `never`, `soon|now,fail|success|done=N|N%` and GNU parallel's old numeric forms
/// (`0`, `1`, `2`, `-1`, `-2`, `1-99%`).
pub fn parse(s: &str) -> Result<Option<HaltSpec>, String> {
    let bad = || format!("invalid --halt '{s}': use never, or soon|now,fail|success|done=N or N%");
    let spec = |when, why, n| HaltSpec {
        when,
        why,
        threshold: Threshold::Count(n),
    };
    match s {
        "never" | "0" => return Ok(None),
        "1" => return Ok(Some(spec(When::Soon, Why::Fail, 1))),
        "2" => return Ok(Some(spec(When::Now, Why::Fail, 1))),
        "-1" => return Ok(Some(spec(When::Soon, Why::Success, 1))),
        "-2" => return Ok(Some(spec(When::Now, Why::Success, 1))),
        _ => {}
    }
    let (when, rest) = match s.split_once(',') {
        Some(("soon", r)) => (When::Soon, r),
        Some(("now", r)) => (When::Now, r),
        Some(_) => return Err(bad()),
        // `N%` alone: soon,fail=N%.
        None if s.ends_with('%') => return parse(&format!("soon,fail={s}")),
        None => return Err(bad()),
    };
    let (why, n) = match rest.split_once('=') {
        Some(("fail", n)) => (Why::Fail, n),
        Some(("success", n)) => (Why::Success, n),
        Some(("done", n)) => (Why::Done, n),
        _ => return Err(bad()),
    };
    let threshold = if let Some(p) = n.strip_suffix('%') {
        let p: f64 = p.parse().map_err(|_| bad())?;
        if !(p > 0.0 && p <= 100.0) {
            return Err(format!(
                "invalid --halt '{s}': the percentage must be in (0, 100]"
            ));
        }
        Threshold::Fraction(p / 100.0)
    } else {
        let n: u64 = n.parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(format!("invalid --halt '{s}': N must be at least 1"));
        }
        Threshold::Count(n)
    };
    Ok(Some(HaltSpec {
        when,
        why,
        threshold,
    }))
}

/// Counts final outcomes and says when to halt.
#[derive(Debug)]
pub struct HaltState {
    /// What was asked for.
    pub spec: HaltSpec,
    failed: u64,
    succeeded: u64,
    /// Set once the condition was met: the run's exit status.
    pub status: Option<i32>,
    /// The task whose end met the condition.
    pub trigger: u64,
}

impl HaltState {
    /// Bookkeeping for `spec`.
    pub fn new(spec: HaltSpec) -> Self {
        HaltState {
            spec,
            failed: 0,
            succeeded: 0,
            status: None,
            trigger: 0,
        }
    }

    /// Records the final outcome of task `seq`. `total` is the number of tasks once the input has been
    /// read completely, else the number read so far (a percentage is taken of it). Returns
    /// `Some(when)` the first time the condition is met.
    pub fn observe(&mut self, seq: u64, outcome: Outcome, total: u64) -> Option<When> {
        if self.status.is_some() {
            return None;
        }
        if outcome.success() {
            self.succeeded += 1;
        } else {
            self.failed += 1;
        }
        let counted = match self.spec.why {
            Why::Fail if outcome.success() => return None,
            Why::Success if !outcome.success() => return None,
            Why::Fail => self.failed,
            Why::Success => self.succeeded,
            Why::Done => self.failed + self.succeeded,
        };
        let total = total.max(self.failed + self.succeeded).max(1);
        let met = match self.spec.threshold {
            Threshold::Count(n) => counted >= n,
            Threshold::Fraction(f) => counted as f64 >= (total as f64 * f).ceil().max(1.0),
        };
        if !met {
            return None;
        }
        self.trigger = seq;
        self.status = Some(match (self.spec.why, self.spec.threshold) {
            (Why::Success, _) => 0,
            // GNU parallel: the percentage of all tasks that failed, rounded up.
            (_, Threshold::Fraction(_)) => ((self.failed as f64 / total as f64) * 100.0)
                .ceil()
                .min(100.0) as i32,
            // DESIGN.md: the triggering task's own status (128+signal when killed).
            (Why::Fail, Threshold::Count(_)) => outcome.exit_code(),
            (Why::Done, Threshold::Count(_)) => self.failed.min(101) as i32,
        });
        Some(self.spec.when)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        assert_eq!(parse("never"), Ok(None));
        let h = parse("now,fail=2").unwrap().unwrap();
        assert_eq!(
            (h.when, h.why, h.threshold),
            (When::Now, Why::Fail, Threshold::Count(2))
        );
        let h = parse("soon,success=50%").unwrap().unwrap();
        assert_eq!(h.threshold, Threshold::Fraction(0.5));
        let h = parse("2").unwrap().unwrap();
        assert_eq!((h.when, h.why), (When::Now, Why::Fail));
        let h = parse("10%").unwrap().unwrap();
        assert_eq!((h.when, h.why), (When::Soon, Why::Fail));
        for bad in [
            "",
            "later,fail=1",
            "now",
            "now,fail",
            "now,fail=0",
            "now,x=1",
            "now,fail=0%",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fail_count_returns_the_tasks_status() {
        let mut h = HaltState::new(parse("soon,fail=2").unwrap().unwrap());
        assert_eq!(h.observe(1, Outcome::Exited(3), 10), None);
        assert_eq!(h.observe(1, Outcome::Exited(0), 10), None);
        assert_eq!(h.observe(1, Outcome::Signaled(9), 10), Some(When::Soon));
        assert_eq!(h.status, Some(137));
        assert_eq!(h.observe(1, Outcome::Exited(1), 10), None, "only once");
    }

    #[test]
    fn percentages_of_the_total() {
        let mut h = HaltState::new(parse("now,fail=30%").unwrap().unwrap());
        assert_eq!(h.observe(1, Outcome::Exited(1), 10), None);
        assert_eq!(h.observe(1, Outcome::Exited(1), 10), None);
        assert_eq!(h.observe(1, Outcome::Exited(0), 10), None);
        assert_eq!(h.observe(1, Outcome::Exited(1), 10), Some(When::Now));
        assert_eq!(h.status, Some(30));
        let mut s = HaltState::new(parse("now,success=1").unwrap().unwrap());
        assert_eq!(s.observe(1, Outcome::Exited(1), 10), None);
        assert_eq!(s.observe(1, Outcome::Exited(0), 10), Some(When::Now));
        assert_eq!(s.status, Some(0));
    }
}
