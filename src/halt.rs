//! `--halt`: when a run stops early, and with what exit status. Pure bookkeeping over the
//! parsed [`HaltSpec`]: a pool feeds it each task's final outcome (after its last attempt,
//! before the slot may start another task) through [`crate::pool::Run`], and acts on the
//! [`When`] it returns.

pub(crate) use crate::config::halt::{HaltSpec, Threshold, When, Why};
use crate::task::Outcome;

/// Counts final outcomes and says when to halt.
#[derive(Debug)]
pub(crate) struct HaltState {
    /// What was asked for.
    pub spec: HaltSpec,
    failed: u64,
    succeeded: u64,
    /// Set once the condition was met: the run's exit status.
    pub status: Option<i32>,
    /// The task whose end met the condition.
    pub trigger: u64,
    /// The outcome of that task.
    pub cause: Option<Outcome>,
}

impl HaltState {
    /// Bookkeeping for `spec`.
    pub(crate) fn new(spec: HaltSpec) -> Self {
        HaltState {
            spec,
            failed: 0,
            succeeded: 0,
            status: None,
            trigger: 0,
            cause: None,
        }
    }

    /// Records the final outcome of task `seq`. `total` is the number of tasks once the input has been
    /// read completely, else the number read so far (a percentage is taken of it). Returns
    /// `Some(when)` the first time the condition is met.
    pub(crate) fn observe(&mut self, seq: u64, outcome: Outcome, total: u64) -> Option<When> {
        if self.status.is_some() {
            return None;
        }
        if outcome.success() {
            self.succeeded += 1;
        } else {
            self.failed += 1;
        }
        if self.spec.why == Why::Xargs {
            self.status = Some(match outcome {
                Outcome::Exited(255) => 124,
                Outcome::Signaled(_) => 125,
                Outcome::SpawnFailed(s) => s,
                _ => return None,
            });
            self.trigger = seq;
            self.cause = Some(outcome);
            return Some(When::Soon);
        }
        let counted = match self.spec.why {
            Why::Fail if outcome.success() => return None,
            Why::Success if !outcome.success() => return None,
            Why::Fail => self.failed,
            Why::Success => self.succeeded,
            Why::Done => self.failed + self.succeeded,
            Why::Xargs => return None,
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
            // docs/CONTRACT.md: the triggering task's own status (128+signal when killed).
            (Why::Fail, Threshold::Count(_)) => outcome.exit_code(),
            (Why::Done, Threshold::Count(_)) => self.failed.min(101) as i32,
            (Why::Xargs, _) => return None,
        });
        Some(self.spec.when)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::halt::parse;

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
