//! The `--halt` rules: when a run stops early. Parsed once here; [`crate::halt`] applies them.

/// What to do when the condition is met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum When {
    /// Start no new task; let the running ones finish.
    Soon,
    /// Also end the running tasks at once.
    Now,
}

/// Which finished tasks count towards the condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Why {
    /// Failed tasks.
    Fail,
    /// Succeeded tasks.
    Success,
    /// Any finished task.
    Done,
    /// GNU xargs' fatal outcomes: a command that exited with 255 (status 124), was killed by
    /// a signal (125), or could not be run (126) or found (127).
    Xargs,
}

/// How many tasks must count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Threshold {
    /// At least this many.
    Count(u64),
    /// At least this fraction (0 < f ≤ 1) of all tasks.
    Fraction(f64),
}

/// A parsed `--halt` value (`never` is `None` at the Config level).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct HaltSpec {
    /// Soon or now.
    pub when: When,
    /// What counts.
    pub why: Why,
    /// How many.
    pub threshold: Threshold,
}

/// Parses `never`, `soon|now,fail|success|done=N|N%` and GNU parallel's old numeric forms
/// (`0`, `1`, `2`, `-1`, `-2`, `1-99%`).
pub(crate) fn parse(s: &str) -> Result<Option<HaltSpec>, String> {
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
                "invalid --halt '{s}': the percentage must be in (0, 100] (e.g. soon,fail=10%)"
            ));
        }
        Threshold::Fraction(p / 100.0)
    } else {
        let n: u64 = n.parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(format!(
                "invalid --halt '{s}': N must be at least 1 (e.g. now,fail=1)"
            ));
        }
        Threshold::Count(n)
    };
    Ok(Some(HaltSpec {
        when,
        why,
        threshold,
    }))
}

/// GNU parallel's older `--halt` forms: `0` `1` `2` `-1` `-2` and `N%`.
pub(super) fn gnu_halt(h: &str) -> String {
    match h {
        "0" => "never".into(),
        "1" => "soon,fail=1".into(),
        "2" => "now,fail=1".into(),
        "-1" => "soon,success=1".into(),
        "-2" => "now,success=1".into(),
        _ if h.ends_with('%') && h[..h.len() - 1].parse::<f64>().is_ok() => {
            format!("soon,fail={h}")
        }
        _ => h.into(),
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
}
