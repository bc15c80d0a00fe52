//! `--halt` over a `--slurm` run: the submitter reads every shard's job-log rows as they come
//! and decides for the whole run ([`HaltWatch`]); `soon` is told to the shards by a file
//! ([`HALT_FILE`]), `now` by cancelling the array.

use super::*;

/// `--halt` over the whole run: the submitter feeds it every shard's job-log rows as they
/// come (the shards run without `--halt`), so a count or a percentage is of the whole run's
/// tasks. A task a signal ended counts only once its shard has ended normally: it may have
/// died of Slurm's TERM (a cancel, a requeue), and then it did not run.
pub(super) struct HaltWatch {
    pub(super) state: HaltState,
    /// The run's tasks (a percentage is of them).
    total: u64,
    /// Per shard: the log's inode and how far it was read.
    read: HashMap<u64, (u64, u64)>,
    /// Tasks already counted (or done before this submission).
    seen: HashSet<u64>,
    /// Per shard: tasks a signal ended, waiting for how the shard ends.
    held: HashMap<u64, Vec<(u64, TaskOutcome)>>,
}

impl HaltWatch {
    pub(super) fn new(
        spec: HaltSpec,
        total: u64,
        dir: &RunDir,
        n: u64,
    ) -> anyhow::Result<HaltWatch> {
        let mut seen = HashSet::new();
        for k in (1..=n).filter(|&k| dir.shard(k).is_dir()) {
            seen.extend(
                Log::read(&dir.shard(k).join("joblog"), false)?
                    .rows
                    .into_keys(),
            );
        }
        Ok(HaltWatch {
            state: HaltState::new(spec),
            total,
            read: HashMap::new(),
            seen,
            held: HashMap::new(),
        })
    }

    pub(super) fn observe(&mut self, seq: u64, o: TaskOutcome) -> Option<When> {
        self.state.observe(seq, o, self.total)
    }

    /// Reads the rows the shards' logs gained; `Some` once the condition is met.
    pub(super) fn poll(&mut self, dir: &RunDir, n: u64) -> Option<When> {
        use std::io::{Read, Seek, SeekFrom};
        use std::os::unix::fs::MetadataExt;
        for k in 1..=n {
            let path = dir.shard(k).join("joblog");
            let Ok(Some(mut f)) = rundir::open_read(&path) else {
                continue;
            };
            let Ok(meta) = f.metadata() else { continue };
            let (ino, pos) = self.read.entry(k).or_insert((meta.ino(), 0));
            if *ino != meta.ino() || meta.len() < *pos {
                // Rewritten (a requeued attempt cut it): its held rows were voided.
                (*ino, *pos) = (meta.ino(), 0);
                self.held.remove(&k);
            }
            let mut buf = Vec::new();
            if f.seek(SeekFrom::Start(*pos)).is_err() || f.read_to_end(&mut buf).is_err() {
                continue;
            }
            let whole = memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1);
            *pos += whole as u64;
            for line in buf[..whole].split(|&b| b == b'\n') {
                let fields = crate::joblog::row_fields(line);
                let num = |i| crate::joblog::field_num(&fields, i);
                let (Some(seq), Some(exit), Some(sig)) = (num(0), num(6), num(7)) else {
                    continue;
                };
                if seq <= 0 || !self.seen.insert(seq as u64) {
                    continue;
                }
                let o = match sig {
                    0 => TaskOutcome::Exited(exit as i32),
                    s => TaskOutcome::Signaled(s as i32),
                };
                if killed_by_a_stop(exit, sig) {
                    self.held.entry(k).or_default().push((seq as u64, o));
                } else if let Some(w) = self.observe(seq as u64, o) {
                    return Some(w);
                }
            }
        }
        None
    }

    /// Shard `k` is over: its held rows count if it ended normally.
    pub(super) fn shard_over(&mut self, k: u64, normal: bool) -> Option<When> {
        let held = self.held.remove(&k).unwrap_or_default();
        if !normal {
            return None;
        }
        held.into_iter().find_map(|(seq, o)| self.observe(seq, o))
    }

    /// Acts on the condition met: `now` cancels the array (what runs counts as not run),
    /// `soon` stops every claim (and the static shares not started yet).
    pub(super) fn act(
        &self,
        when: When,
        dir: &RunDir,
        job: &str,
        pending: &BTreeSet<u64>,
        out: &mut Outcome,
    ) -> anyhow::Result<()> {
        let status = self.state.status.unwrap_or(EXIT_ERROR);
        out.halted = Some(status);
        let what = match when {
            When::Now => {
                slurm::cancel(job);
                for &j in pending {
                    record_state(dir, j, "CANCELLED")?;
                }
                format!("cancelled Slurm array job {job} (its running tasks count as not run)")
            }
            When::Soon => {
                // No shard claims another batch or starts a task it claimed.
                rundir::replace(&dir.join(HALT_FILE), b"soon\n")?;
                rundir::replace(&dir.join("claims"), format!("{}\n", u64::MAX).as_bytes())?;
                if static_shares(dir)? {
                    slurm::cancel_pending(job);
                    "the shards not started yet are cancelled; running ones finish".to_owned()
                } else {
                    "the shards start no new task; running ones finish".to_owned()
                }
            }
        };
        crate::messages::note(format_args!(
            "--halt: condition met at task {} over all shards (status {status}); {what}",
            self.state.trigger
        ));
        Ok(())
    }
}

/// `DIR/halt`: `--halt soon` was met; shards start no new task.
pub(in crate::cluster) const HALT_FILE: &str = "halt";
