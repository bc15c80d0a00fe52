//! `--shard K/N`, `--shard auto` and `--shard auto/N`: which share of the tasks this process
//! runs. Task `s` (1-based) belongs to share `((s-1) mod N) + 1`; `--pipe-part` instead gives
//! share K the K-th of N contiguous byte ranges (see `source::pipe`). `auto` reads a batch
//! scheduler's array-job variables (docs/CONTRACT.md, "Job control"):
//!
//! * Slurm: `SLURM_ARRAY_TASK_ID`, `_COUNT`, `_MIN`, `_MAX`. The array must be an evenly
//!   stepped range: STEP = (MAX-MIN)/(COUNT-1) integral and ID on it. `SLURM_ARRAY_TASK_STEP`
//!   is not read (Slurm sets it wrongly for lists); `%` throttles do not show in the variables.
//!   A one-task array is refused (a resubmitted index would run everything); with `auto/N`
//!   the ID alone is the 0-based share index, so resubmitting some indices runs those shares.
//! * AWS Batch: `AWS_BATCH_JOB_ARRAY_INDEX` (0-based) and `AWS_BATCH_JOB_ARRAY_SIZE` (or N
//!   from `auto/N`).
//! * Kubernetes Indexed Jobs: `JOB_COMPLETION_INDEX` (0-based); the pod is not told the count,
//!   so N comes from `auto/N`.
//! * SGE / UGE: `SGE_TASK_ID`, `_FIRST`, `_LAST`, `_STEPSIZE` (`undefined`: not an array).
//!
//! Two schedulers' variables that give different shares are refused, as is an N in `auto/N`
//! that a scheduler contradicts. Everything here is pure: the environment is a function.

/// This process's share of the tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    /// Which share, 1..=n.
    pub k: u64,
    /// How many shares.
    pub n: u64,
}

/// Dynamic shares (`--slurm`): which tasks this process claimed, decided as the source reaches
/// them (`seq` in increasing order, once each, from the source thread).
pub(crate) trait Claims: Send + Sync {
    /// Whether task `seq` runs here (it may wait until a job slot is about to be free, then
    /// claim a batch from the run directory).
    fn owns(&self, seq: u64) -> bool;

    /// Whether the whole run was told to start no new task (`--halt soon` met over all
    /// shards): tasks already handed to the pool do not start either.
    fn stopped(&self) -> bool {
        false
    }
}

/// Set once, by a `--slurm` array task before its run starts: then every [`Shard`] of this
/// process asks it instead of taking every N-th task.
static CLAIMS: std::sync::OnceLock<Box<dyn Claims>> = std::sync::OnceLock::new();

/// Whether this process's dynamic share was told to start no new task ([`Claims::stopped`]);
/// asked by the pools before each task starts.
pub(crate) fn stopped() -> bool {
    CLAIMS.get().is_some_and(|c| c.stopped())
}

/// Makes this process's share dynamic (see [`Claims`]); a second call is ignored.
pub(crate) fn claim_dynamically(claims: Box<dyn Claims>) {
    let _ = CLAIMS.set(claims);
}

impl Shard {
    /// Whether task `seq` (1-based) belongs to this shard: every N-th task, or (`--slurm`)
    /// the tasks this process claimed.
    pub(crate) fn runs(&self, seq: u64) -> bool {
        if let Some(c) = CLAIMS.get() {
            return c.owns(seq);
        }
        (seq - 1) % self.n == self.k - 1
    }

    /// The nominal byte range `[lo, hi)` of this share of `total` bytes (before the edges are
    /// moved to record boundaries): shares' ranges are contiguous and cover `0..total`.
    pub(crate) fn byte_range(&self, total: u64) -> (u64, u64) {
        let edge = |k: u64| (total as u128 * k as u128 / self.n as u128) as u64;
        (edge(self.k - 1), edge(self.k))
    }
}

/// Parses `K/N`, `auto` or `auto/N` (looking variables up with `env`).
pub(crate) fn parse(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
    if s == "auto" {
        return from_env(&env, None);
    }
    if let Some(n) = s.strip_prefix("auto/") {
        let n = match n.parse::<u64>() {
            Ok(n) if n >= 1 => n,
            _ => return Err(format!("invalid --shard '{s}': auto/N needs N >= 1")),
        };
        return from_env(&env, Some(n));
    }
    let bad = || format!("invalid --shard '{s}': use K/N with 1 <= K <= N, auto, or auto/N");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (u64, u64) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok(Shard { k, n })
}

/// One scheduler's reading of the environment.
struct Found {
    /// The scheduler, as the messages name it.
    who: &'static str,
    /// Its share, or why its variables do not give one.
    share: Result<Shard, String>,
}

type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn from_env(env: Env, given_n: Option<u64>) -> Result<Shard, String> {
    let found: Vec<Found> = [
        slurm(env, given_n),
        aws(env, given_n),
        kubernetes(env, given_n),
        sge(env),
    ]
    .into_iter()
    .flatten()
    .collect();
    let first = match found.as_slice() {
        [] => {
            return Err(
                "--shard auto: no array-job variables found (Slurm SLURM_ARRAY_TASK_*, \
                        AWS Batch AWS_BATCH_JOB_ARRAY_*, Kubernetes JOB_COMPLETION_INDEX, SGE \
                        SGE_TASK_*); use --shard K/N"
                    .into(),
            )
        }
        [one] => one,
        [a, b, ..] => {
            // Agreeing schedulers (a Slurm job inside a pod with the same index) are fine.
            if matches!((&a.share, &b.share), (Ok(x), Ok(y)) if x == y) && found.len() == 2 {
                a
            } else {
                let say = |f: &Found| match &f.share {
                    Ok(s) => format!("{} says share {} of {}", f.who, s.k, s.n),
                    Err(_) => format!("{} variables are set", f.who),
                };
                return Err(format!(
                    "--shard auto: two schedulers' array variables disagree ({}, {}); \
                     unset one or use --shard K/N",
                    say(a),
                    say(b)
                ));
            }
        }
    };
    let share = first.share.clone()?;
    match given_n {
        Some(n) if n != share.n => Err(format!(
            "--shard auto/{n}: {} says the array has {} tasks; use --shard auto/{} or auto",
            first.who, share.n, share.n
        )),
        _ => Ok(share),
    }
}

/// Reads `name` as an integer: `None` when unset, an error naming it when not a number.
fn num(env: Env, name: &str) -> Option<Result<i64, String>> {
    let v = env(name)?;
    Some(
        v.trim()
            .parse()
            .map_err(|_| format!("--shard auto: {name}='{v}' is not a number")),
    )
}

/// `num` for a variable that must be there once the scheduler is detected.
fn need(env: Env, name: &str, who: &str, id: &str) -> Result<i64, String> {
    num(env, name).unwrap_or_else(|| {
        Err(format!(
            "--shard auto: {id} is set but {name} is not ({who})"
        ))
    })
}

fn share(k: i64, n: i64, who: &str) -> Result<Shard, String> {
    if n < 1 || k < 1 || k > n {
        return Err(format!(
            "--shard auto: the {who} variables give share {k} of {n}, which is out of range"
        ));
    }
    Ok(Shard {
        k: k as u64,
        n: n as u64,
    })
}

/// A 0-based array index `id` as share `id+1` of `n`; an index past the end is refused
/// (saying the index, not a share "n+1 of n").
fn indexed(id: i64, n: u64, who: &str, var: &str) -> Result<Shard, String> {
    if id < 0 || id as u64 >= n {
        return Err(format!(
            "--shard auto/{n}: {who} index {var}={id} is not a share of {n} (indices are \
             0-based: 0 to {})",
            n - 1
        ));
    }
    share(id + 1, n as i64, who)
}

fn slurm(env: Env, given_n: Option<u64>) -> Option<Found> {
    const ID: &str = "SLURM_ARRAY_TASK_ID";
    let id = num(env, ID)?;
    let share = (|| {
        let id = id?;
        if let Some(n) = given_n {
            // auto/N: the index alone says the share, whatever else the array holds, so a
            // resubmitted single index (sbatch --array=3) runs share 4 of N, never all.
            return indexed(id, n, "Slurm", ID);
        }
        let count = need(env, "SLURM_ARRAY_TASK_COUNT", "Slurm", ID)?;
        let min = need(env, "SLURM_ARRAY_TASK_MIN", "Slurm", ID)?;
        let max = need(env, "SLURM_ARRAY_TASK_MAX", "Slurm", ID)?;
        if count < 1 || max < min || id < min || id > max {
            return Err(format!(
                "--shard auto: Slurm array task {id} of {count} in {min}-{max} makes no sense"
            ));
        }
        if count == 1 {
            // One index: a first array of one, or one index of a bigger array resubmitted
            // (sbatch --array=3) — which would silently run every task. Refused.
            return Err(format!(
                "--shard auto: the Slurm array has one task (index {id}), so it does not say \
                 how many shares there are; use --shard auto/N (index i runs share i+1 of N)"
            ));
        }
        let span = max - min;
        let uneven = || {
            format!(
                "--shard auto: the Slurm array ({count} tasks from {min} to {max}, this one {id}) \
                 is not an evenly stepped range like --array={min}-{max}:STEP; submit one, or \
                 use --shard K/N"
            )
        };
        if span % (count - 1) != 0 || span == 0 {
            return Err(uneven());
        }
        let step = span / (count - 1);
        if (id - min) % step != 0 {
            return Err(uneven());
        }
        share((id - min) / step + 1, count, "Slurm")
    })();
    Some(Found {
        who: "Slurm",
        share,
    })
}

fn aws(env: Env, given_n: Option<u64>) -> Option<Found> {
    const ID: &str = "AWS_BATCH_JOB_ARRAY_INDEX";
    let id = num(env, ID)?;
    let share = (|| {
        let id = id?;
        let n = match (num(env, "AWS_BATCH_JOB_ARRAY_SIZE"), given_n) {
            (Some(size), _) => size?,
            (None, Some(n)) => n as i64,
            (None, None) => {
                return Err(format!(
                    "--shard auto: {ID} is set but AWS_BATCH_JOB_ARRAY_SIZE is not; give the \
                     array size as --shard auto/N"
                ))
            }
        };
        if n < 1 {
            return share(id + 1, n, "AWS Batch");
        }
        indexed(id, n as u64, "AWS Batch", ID)
    })();
    Some(Found {
        who: "AWS Batch",
        share,
    })
}

fn kubernetes(env: Env, given_n: Option<u64>) -> Option<Found> {
    const ID: &str = "JOB_COMPLETION_INDEX";
    let id = num(env, ID)?;
    let share = (|| {
        let id = id?;
        let n = given_n.ok_or_else(|| {
            format!(
                "--shard auto: {ID} is set (a Kubernetes Indexed Job) but the pod is not told \
                 the number of completions; use --shard auto/N"
            )
        })?;
        indexed(id, n, "Kubernetes", ID)
    })();
    Some(Found {
        who: "Kubernetes",
        share,
    })
}

fn sge(env: Env) -> Option<Found> {
    const ID: &str = "SGE_TASK_ID";
    if env(ID).is_some_and(|v| v.trim() == "undefined") {
        return None;
    }
    let id = num(env, ID)?;
    let share = (|| {
        let id = id?;
        let first = need(env, "SGE_TASK_FIRST", "SGE", ID)?;
        let last = need(env, "SGE_TASK_LAST", "SGE", ID)?;
        let step = match num(env, "SGE_TASK_STEPSIZE") {
            None => 1,
            Some(s) => s?,
        };
        if step < 1 || last < first || id < first || id > last || (id - first) % step != 0 {
            return Err(format!(
                "--shard auto: SGE task {id} is not on the array {first}-{last}:{step}"
            ));
        }
        share((id - first) / step + 1, (last - first) / step + 1, "SGE")
    })();
    Some(Found { who: "SGE", share })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    /// The variables Slurm sets for each task of an array given as ids.
    fn slurm_array(ids: &[i64]) -> Vec<Vec<(String, String)>> {
        let (min, max) = (ids[0], *ids.last().unwrap());
        ids.iter()
            .map(|id| {
                vec![
                    ("SLURM_ARRAY_TASK_ID".into(), id.to_string()),
                    ("SLURM_ARRAY_TASK_COUNT".into(), ids.len().to_string()),
                    ("SLURM_ARRAY_TASK_MIN".into(), min.to_string()),
                    ("SLURM_ARRAY_TASK_MAX".into(), max.to_string()),
                    // Deliberately wrong: parx must not read it.
                    ("SLURM_ARRAY_TASK_STEP".into(), "7".into()),
                ]
            })
            .collect()
    }

    fn auto(vars: &[(String, String)], spec: &str) -> Result<Shard, String> {
        let v: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        parse(spec, env(&v))
    }

    #[test]
    fn explicit() {
        let s = parse("2/3", env(&[])).unwrap();
        assert_eq!(s, Shard { k: 2, n: 3 });
        let picked: Vec<u64> = (1..=7).filter(|&q| s.runs(q)).collect();
        assert_eq!(picked, vec![2, 5]);
        for bad in [
            "0/3", "4/3", "1/0", "x", "1/", "/2", "auto", "auto/0", "auto/x",
        ] {
            assert!(parse(bad, env(&[])).is_err(), "{bad}");
        }
    }

    #[test]
    fn byte_ranges_cover_and_touch() {
        for n in 1..=7 {
            let mut at = 0;
            for k in 1..=n {
                let (lo, hi) = Shard { k, n }.byte_range(100);
                assert_eq!(lo, at);
                at = hi;
            }
            assert_eq!(at, 100);
        }
    }

    #[test]
    fn slurm_ranges_and_steps() {
        for (ids, want_n) in [(vec![0, 1, 2], 3), (vec![1, 2, 3], 3), (vec![1, 5, 9], 3)] {
            for (i, vars) in slurm_array(&ids).iter().enumerate() {
                let s = auto(vars, "auto").unwrap();
                assert_eq!(
                    s,
                    Shard {
                        k: i as u64 + 1,
                        n: want_n
                    },
                    "{ids:?}"
                );
            }
        }
    }

    #[test]
    fn slurm_single_index_never_runs_everything() {
        // sbatch --array=3 of a 10-share script: plain auto refuses, auto/10 runs share 4.
        let one = slurm_array(&[3]);
        let e = auto(&one[0], "auto").unwrap_err();
        assert!(e.contains("auto/N"), "{e}");
        assert_eq!(auto(&one[0], "auto/10"), Ok(Shard { k: 4, n: 10 }));
        // auto/N reads the index alone, 0-based: --array=3,7 runs shares 4 and 8.
        let two = slurm_array(&[3, 7]);
        assert_eq!(auto(&two[1], "auto/10"), Ok(Shard { k: 8, n: 10 }));
        let e = auto(&slurm_array(&[10])[0], "auto/10").unwrap_err();
        assert!(
            e.contains("SLURM_ARRAY_TASK_ID=10") && e.contains("0 to 9"),
            "{e}"
        );
    }

    #[test]
    fn slurm_uneven_list_refused() {
        // --array=1,2,9: task 2 is not on the grid of 1..9 in 3 tasks.
        let tasks = slurm_array(&[1, 2, 9]);
        let e = auto(&tasks[1], "auto").unwrap_err();
        assert!(e.contains("evenly stepped"), "{e}");
        // --array=1,2,4: (4-1)/2 is not whole.
        let e = auto(&slurm_array(&[1, 2, 4])[0], "auto").unwrap_err();
        assert!(e.contains("evenly stepped"), "{e}");
        // Missing companions.
        assert!(parse("auto", env(&[("SLURM_ARRAY_TASK_ID", "1")])).is_err());
        assert!(parse("auto", env(&[("SLURM_ARRAY_TASK_ID", "x")])).is_err());
    }

    #[test]
    fn aws_kubernetes_sge() {
        let a = env(&[
            ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "3"),
        ]);
        assert_eq!(parse("auto", a), Ok(Shard { k: 1, n: 3 }));
        let a = env(&[("AWS_BATCH_JOB_ARRAY_INDEX", "2")]);
        assert_eq!(parse("auto/3", &a), Ok(Shard { k: 3, n: 3 }));
        assert!(parse("auto", &a).unwrap_err().contains("auto/N"));
        let k = env(&[("JOB_COMPLETION_INDEX", "3")]);
        assert_eq!(parse("auto/4", &k), Ok(Shard { k: 4, n: 4 }));
        assert!(parse("auto", &k).unwrap_err().contains("auto/N"));
        let e = parse("auto/3", &k).unwrap_err();
        assert!(
            e.contains("JOB_COMPLETION_INDEX=3") && e.contains("0 to 2"),
            "{e}"
        );
        let k8 = env(&[("JOB_COMPLETION_INDEX", "8")]);
        assert!(!parse("auto/8", &k8).unwrap_err().contains("share 9"));
        let sge = env(&[
            ("SGE_TASK_ID", "5"),
            ("SGE_TASK_FIRST", "1"),
            ("SGE_TASK_LAST", "9"),
            ("SGE_TASK_STEPSIZE", "2"),
        ]);
        assert_eq!(parse("auto", sge), Ok(Shard { k: 3, n: 5 }));
        let undefined = env(&[
            ("SGE_TASK_ID", "undefined"),
            ("SGE_TASK_FIRST", "undefined"),
            ("SGE_TASK_LAST", "undefined"),
            ("SGE_TASK_STEPSIZE", "undefined"),
        ]);
        assert!(parse("auto", undefined)
            .unwrap_err()
            .contains("no array-job"));
    }

    #[test]
    fn two_schedulers() {
        let mut v = slurm_array(&[0, 1, 2])[0].clone();
        v.push(("SGE_TASK_ID".into(), "2".into()));
        v.push(("SGE_TASK_FIRST".into(), "1".into()));
        v.push(("SGE_TASK_LAST".into(), "3".into()));
        let e = auto(&v, "auto").unwrap_err();
        assert!(
            e.contains("disagree") && e.contains("Slurm") && e.contains("SGE"),
            "{e}"
        );
        // The same share from both is not a conflict.
        let mut v = slurm_array(&[0, 1, 2])[1].clone();
        v.push(("JOB_COMPLETION_INDEX".into(), "1".into()));
        assert_eq!(auto(&v, "auto/3"), Ok(Shard { k: 2, n: 3 }));
        // N contradicting a scheduler that says the size.
        let v = env(&[
            ("AWS_BATCH_JOB_ARRAY_INDEX", "1"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "3"),
        ]);
        assert!(parse("auto/4", v).unwrap_err().contains("3 tasks"));
        // Under auto/N a Slurm array's own size is not checked: a resubmitted subset of
        // indices is smaller than N on purpose.
        let v = slurm_array(&[0, 1, 2])[1].clone();
        assert_eq!(auto(&v, "auto/4"), Ok(Shard { k: 2, n: 4 }));
    }
}
