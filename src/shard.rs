//! `--shard K/N` and `--shard auto`: which tasks this machine runs. Task `s` (1-based) runs
//! iff `(s-1) % N == K-1`. `auto` reads a batch scheduler's array-job variables:
//!
//! * Slurm: `SLURM_ARRAY_TASK_ID`, with `SLURM_ARRAY_TASK_MIN`/`_MAX` (K = ID-MIN+1,
//!   N = MAX-MIN+1), or `SLURM_ARRAY_TASK_COUNT` (K = ID-MIN+1 with MIN defaulting to 0).
//! * SGE / UGE: `SGE_TASK_ID`, `SGE_TASK_FIRST`, `SGE_TASK_LAST`, `SGE_TASK_STEPSIZE`.
//! * LSF: `LSB_JOBINDEX`, `LSB_JOBINDEX_END` (indices 1..END).
//!
//! PBS/Torque (`PBS_ARRAYID`, `PBS_ARRAY_INDEX`) export no array size, so they are not
//! enough on their own: use `--shard K/N` there.

/// This machine's share of the tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which share, 1..=n.
    pub k: u64,
    /// How many shares.
    pub n: u64,
}

impl Shard {
    /// Whether task `seq` (1-based) belongs to this shard.
    pub fn runs(&self, seq: u64) -> bool {
        (seq - 1) % self.n == self.k - 1
    }
}

/// Parses `K/N` or `auto` (looking variables up with `env`).
pub fn parse(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
    if s == "auto" {
        return from_env(env);
    }
    let bad = || format!("invalid --shard '{s}': use K/N with 1 <= K <= N, or auto");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (u64, u64) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok(Shard { k, n })
}

fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
    let num = |name: &str| -> Result<Option<i64>, String> {
        match env(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("--shard auto: {name}='{v}' is not a number")),
        }
    };
    let make = |k: i64, n: i64, what: &str| -> Result<Shard, String> {
        if n < 1 || k < 1 || k > n {
            return Err(format!(
                "--shard auto: {what} gives share {k} of {n}, which is out of range"
            ));
        }
        Ok(Shard {
            k: k as u64,
            n: n as u64,
        })
    };
    if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
        let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let n = match (num("SLURM_ARRAY_TASK_MAX")?, num("SLURM_ARRAY_TASK_COUNT")?) {
            (Some(max), _) => max - min + 1,
            (None, Some(c)) => c,
            (None, None) => {
                return Err("--shard auto: SLURM_ARRAY_TASK_ID is set but neither \
                            SLURM_ARRAY_TASK_MAX nor SLURM_ARRAY_TASK_COUNT is"
                    .into())
            }
        };
        return make(id - min + 1, n, "Slurm");
    }
    if let Some(id) = num("SGE_TASK_ID")? {
        let first = num("SGE_TASK_FIRST")?.unwrap_or(1);
        let step = num("SGE_TASK_STEPSIZE")?.unwrap_or(1).max(1);
        let last = num("SGE_TASK_LAST")?
            .ok_or("--shard auto: SGE_TASK_ID is set but SGE_TASK_LAST is not")?;
        return make((id - first) / step + 1, (last - first) / step + 1, "SGE");
    }
    if let Some(id) = num("LSB_JOBINDEX")? {
        let end = num("LSB_JOBINDEX_END")?
            .ok_or("--shard auto: LSB_JOBINDEX is set but LSB_JOBINDEX_END is not")?;
        return make(id, end, "LSF");
    }
    Err(
        "--shard auto: no array-job variables found (Slurm SLURM_ARRAY_TASK_*, SGE SGE_TASK_*, \
         LSF LSB_JOBINDEX*); use --shard K/N"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn explicit() {
        let s = parse("2/3", env(&[])).unwrap();
        assert_eq!(s, Shard { k: 2, n: 3 });
        let picked: Vec<u64> = (1..=7).filter(|&q| s.runs(q)).collect();
        assert_eq!(picked, vec![2, 5]);
        for bad in ["0/3", "4/3", "1/0", "x", "1/", "/2", "auto"] {
            assert!(parse(bad, env(&[])).is_err(), "{bad}");
        }
    }

    #[test]
    fn schedulers() {
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "4"),
            ("SLURM_ARRAY_TASK_MAX", "7"),
        ]);
        assert_eq!(parse("auto", slurm), Ok(Shard { k: 2, n: 4 }));
        let slurm0 = env(&[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        assert_eq!(parse("auto", slurm0), Ok(Shard { k: 1, n: 3 }));
        let sge = env(&[
            ("SGE_TASK_ID", "3"),
            ("SGE_TASK_FIRST", "1"),
            ("SGE_TASK_LAST", "5"),
            ("SGE_TASK_STEPSIZE", "1"),
        ]);
        assert_eq!(parse("auto", sge), Ok(Shard { k: 3, n: 5 }));
        let lsf = env(&[("LSB_JOBINDEX", "2"), ("LSB_JOBINDEX_END", "2")]);
        assert_eq!(parse("auto", lsf), Ok(Shard { k: 2, n: 2 }));
        assert!(parse("auto", env(&[("SLURM_ARRAY_TASK_ID", "1")])).is_err());
        assert!(parse("auto", env(&[("PBS_ARRAYID", "1")])).is_err());
    }
}
