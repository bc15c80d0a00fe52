//! Parsing of human-written quantities: durations (`500ms`, `30s`, `2m`, plain seconds), and
//! the running median of task run times behind `--timeout N%`.

use std::time::Duration;

/// Parses a duration: a number (decimals allowed) with an optional unit `ms`, `s`, `m`, `h`,
/// `d`; a plain number is seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration '{s}' (use e.g. 500ms, 30s, 2m, 1.5)"))?;
    let mult = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => {
            return Err(format!(
                "invalid duration unit in '{s}' (use ms, s, m, h or d)"
            ))
        }
    };
    Duration::try_from_secs_f64(n * mult).map_err(|_| format!("duration out of range: '{s}'"))
}

/// The median of the last [`Median::WINDOW`] task run times (`--timeout N%`: GNU parallel
/// kills a task after N% of the median run time of the tasks done so far; none before the
/// first is done).
#[derive(Debug, Default)]
pub(crate) struct Median {
    last: std::collections::VecDeque<Duration>,
}

impl Median {
    /// How many recent run times count.
    pub(crate) const WINDOW: usize = 999;

    /// Adds a finished task's run time.
    pub(crate) fn push(&mut self, d: Duration) {
        if self.last.len() == Self::WINDOW {
            self.last.pop_front();
        }
        self.last.push_back(d);
    }

    /// The median so far, if any task has finished.
    pub(crate) fn get(&self) -> Option<Duration> {
        let mut v: Vec<Duration> = self.last.iter().copied().collect();
        v.sort_unstable();
        v.get(v.len().saturating_sub(1) / 2).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("1..2").is_err());
    }
}
