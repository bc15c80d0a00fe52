//! What a process-pool worker is sent and owes: a [`Job`] (a task's records, kept until they
//! are answered, to be re-sent if the worker ends), the [`Ledger`] of the jobs in flight on
//! one worker that credits its results to them by count of terminators (the map contract:
//! one result per record, in order). Pure logic, unit-tested here; the pool moves the
//! bytes.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;

use crate::pool::sink::Sink;
use crate::task::{Chunk, Lines, Record};

/// A task as sent to a worker, kept until it is answered.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) seq: u64,
    /// Records the worker must answer.
    pub(crate) nrec: u64,
    pub(crate) input: JobInput,
    /// Failed attempts so far (a worker ended while on this task).
    pub(crate) failures: u32,
    /// `--tag`/`--tagstring`: the prefix of each of its results, TAB included.
    pub(crate) tag: Option<Box<[u8]>>,
}

/// The records of a job: argument values (encoded when sent), a chunk (sent as it is), or a
/// block of one-value tasks (sent as it is; answered from its front as results come).
#[derive(Debug)]
pub(crate) enum JobInput {
    Records(Vec<Record>),
    Chunk(Arc<Chunk>),
    Lines(Lines),
}

impl Job {
    /// What the writer's load counts: records, or one per chunk.
    pub(crate) fn units(&self) -> u64 {
        match self.input {
            JobInput::Records(_) | JobInput::Lines(_) => self.nrec,
            JobInput::Chunk(_) => 1,
        }
    }

    /// How many tasks it stands for (numbered in a row from `seq`).
    pub(crate) fn tasks(&self) -> u64 {
        match &self.input {
            JobInput::Lines(l) => l.count,
            JobInput::Records(_) | JobInput::Chunk(_) => 1,
        }
    }

    /// Splits off the tasks after its first `n` (a block of values; any other job is one
    /// task and stays whole).
    pub(crate) fn split_after(&mut self, n: u64) -> Option<Job> {
        let JobInput::Lines(l) = &mut self.input else {
            return None;
        };
        let rest = l.split_after(n)?;
        self.nrec = n;
        Some(Job {
            seq: self.seq + n,
            nrec: rest.count,
            input: JobInput::Lines(rest),
            failures: 0,
            tag: None,
        })
    }

    /// Appends its records to `out`: columns joined by TAB, each record ended by `term`.
    pub(crate) fn encode(&self, term: u8, out: &mut Vec<u8>) {
        if let JobInput::Lines(l) = &self.input {
            out.extend_from_slice(l.rest());
        }
        if let JobInput::Records(recs) = &self.input {
            for rec in recs {
                for (i, col) in rec.iter().enumerate() {
                    if i > 0 {
                        out.push(b'\t');
                    }
                    out.extend_from_slice(col.as_encoded_bytes());
                }
                out.push(term);
            }
        }
    }

    /// Bytes sent in all.
    pub(crate) fn len(&self) -> u64 {
        match &self.input {
            JobInput::Records(recs) => recs
                .iter()
                .map(|r| r.iter().map(|c| c.len() as u64 + 1).sum::<u64>().max(1))
                .sum(),
            JobInput::Chunk(c) => c.len(),
            JobInput::Lines(l) => l.rest().len() as u64,
        }
    }

    /// The values the job's messages and `--results` index show.
    pub(crate) fn records(&self) -> &[Record] {
        match &self.input {
            JobInput::Records(r) => r,
            JobInput::Chunk(c) => &c.name,
            JobInput::Lines(_) => &[],
        }
    }

    /// The job as a message names it: `task N (value)`.
    pub(crate) fn label(&self) -> String {
        format!("task {} ({})", self.seq, self.value())
    }

    /// Its value(s) as a message shows them (shortened).
    pub(crate) fn value(&self) -> String {
        let mut v = String::new();
        for (i, rec) in self.records().iter().enumerate() {
            if i > 0 {
                v.push(' ');
            }
            for (j, col) in rec.iter().enumerate() {
                if j > 0 {
                    v.push('\t');
                }
                v.push_str(&col.to_string_lossy());
            }
        }
        match &self.input {
            JobInput::Chunk(c) if v.is_empty() => v = format!("chunk of {} bytes", c.len()),
            JobInput::Lines(l) => v = String::from_utf8_lossy(l.first()).into_owned(),
            _ => {}
        }
        if v.chars().count() > 60 {
            v = v.chars().take(57).collect::<String>() + "...";
        }
        v.escape_debug().to_string()
    }
}

/// A job sent to the current worker and not yet answered in full. Small: thousands wait
/// behind a slow record.
#[derive(Debug)]
pub(crate) struct InFlight {
    pub(crate) job: Job,
    /// Results credited so far.
    pub(crate) got: u64,
    /// Its output sink, once a piece of its results has come before the rest (or when its
    /// results are tagged or stored).
    pub(crate) sink: Option<Box<Sink>>,
    /// The framed protocol: a record of it was answered with this failure message (the task
    /// fails when its last record is answered).
    pub(crate) failure: Option<Box<[u8]>>,
}

impl InFlight {
    pub(crate) fn new(job: Job) -> Self {
        InFlight {
            job,
            got: 0,
            sink: None,
            failure: None,
        }
    }
}

/// One step of crediting a worker's output.
pub(crate) enum Step<'a, 'd> {
    /// More results (and perhaps the start of one) for a job still unanswered.
    Part(&'a mut InFlight, &'d [u8]),
    /// The last bytes of a job's results: it is answered.
    Done(InFlight, &'d [u8]),
}

/// The jobs in flight on one worker, in the order they were sent: results are credited to
/// the oldest, by count of terminators.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    pub(crate) jobs: VecDeque<InFlight>,
    /// The last byte credited was not a terminator (a result is under way).
    pub(crate) mid: bool,
}

impl Ledger {
    /// Credits the results in `data` to the jobs in order, handing each job's span to `on`.
    /// Returns the bytes left over when no job is in flight (more results than records).
    pub(crate) fn credit<'d>(
        &mut self,
        mut data: &'d [u8],
        term: u8,
        mut on: impl FnMut(Step<'_, 'd>) -> io::Result<()>,
    ) -> io::Result<&'d [u8]> {
        while !data.is_empty() {
            let Some(front) = self.jobs.front_mut() else {
                return Ok(data);
            };
            let need = front.job.nrec - front.got;
            let mut seen = 0u64;
            let mut end = data.len();
            for pos in memchr::memchr_iter(term, data) {
                seen += 1;
                if seen == need {
                    end = pos + 1;
                    break;
                }
            }
            let span = &data[..end];
            data = &data[end..];
            self.mid = span[span.len() - 1] != term;
            front.got += seen;
            if front.got >= front.job.nrec {
                let done = self.jobs.pop_front().expect("front exists");
                on(Step::Done(done, span))?;
            } else if let (true, JobInput::Lines(l)) = (seen > 0, &mut front.job.input) {
                // A block's answered values are tasks done now: they leave its front.
                let head = Job {
                    seq: front.job.seq,
                    nrec: seen,
                    input: JobInput::Lines(l.take_answered(seen)),
                    failures: 0,
                    tag: None,
                };
                front.job.seq += seen;
                front.job.nrec -= seen;
                front.job.failures = 0;
                front.got = 0;
                let whole = memchr::memrchr(term, span).expect("seen > 0") + 1;
                let done = InFlight {
                    job: head,
                    got: seen,
                    sink: front.sink.take(),
                    failure: None,
                };
                on(Step::Done(done, &span[..whole]))?;
                if whole < span.len() {
                    let front = self.jobs.front_mut().expect("front exists");
                    on(Step::Part(front, &span[whole..]))?;
                }
            } else {
                on(Step::Part(front, span))?;
            }
        }
        Ok(data)
    }

    /// The framed protocol: credits one whole result, `out` (what is printed for it), to the
    /// oldest record. A block's front value is a task of its own, answered now. Returns
    /// `false` when no record is in flight (an answer nobody asked for).
    pub(crate) fn credit_one<'d>(
        &mut self,
        out: &'d [u8],
        mut on: impl FnMut(Step<'_, 'd>) -> io::Result<()>,
    ) -> io::Result<bool> {
        let Some(front) = self.jobs.front_mut() else {
            return Ok(false);
        };
        self.mid = false;
        front.got += 1;
        if front.got >= front.job.nrec {
            let done = self.jobs.pop_front().expect("front exists");
            on(Step::Done(done, out))?;
        } else if let JobInput::Lines(l) = &mut front.job.input {
            let head = Job {
                seq: front.job.seq,
                nrec: 1,
                input: JobInput::Lines(l.take_answered(1)),
                failures: 0,
                tag: None,
            };
            front.job.seq += 1;
            front.job.nrec -= 1;
            front.job.failures = 0;
            front.got = 0;
            let done = InFlight {
                job: head,
                got: 1,
                sink: front.sink.take(),
                failure: None,
            };
            on(Step::Done(done, out))?;
        } else {
            on(Step::Part(front, out))?;
        }
        Ok(true)
    }

    /// The framed protocol: the oldest record was answered with the failure `msg`. Returns
    /// the task that failed, now answered (a block's front value goes alone, with its value,
    /// to be re-sent under `--retries`); `Some(None)` when the record is one of a task's
    /// several (it fails once its last record is answered); `None` when no record is in
    /// flight.
    pub(crate) fn fail_one(&mut self, msg: &[u8]) -> Option<Option<InFlight>> {
        let front = self.jobs.front_mut()?;
        self.mid = false;
        if let (JobInput::Lines(_), true) = (&front.job.input, front.job.nrec > 1) {
            let rest = front.job.split_after(1).expect("a block of several values");
            let head = std::mem::replace(&mut front.job, rest);
            front.got = 0;
            let mut done = InFlight::new(head);
            done.got = 1;
            done.failure = Some(msg.into());
            return Some(Some(done));
        }
        front.got += 1;
        if front.failure.is_none() {
            front.failure = Some(msg.into());
        }
        if front.got >= front.job.nrec {
            return Some(self.jobs.pop_front());
        }
        Some(None)
    }

    /// An unterminated last result counts as one (the worker ended cleanly after it); it
    /// gets its terminator `term`, as an input record without one does, so it cannot fuse
    /// with the next result printed.
    pub(crate) fn close_result(
        &mut self,
        term: u8,
        mut on: impl FnMut(Step<'_, '_>) -> io::Result<()>,
    ) -> io::Result<()> {
        if !self.mid || self.jobs.is_empty() {
            return Ok(());
        }
        self.mid = false;
        let Some(front) = self.jobs.front_mut() else {
            return Ok(());
        };
        front.got += 1;
        let end = [term];
        if front.got >= front.job.nrec {
            let done = self.jobs.pop_front().expect("front exists");
            on(Step::Done(done, &end))?;
        } else {
            on(Step::Part(front, &end))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::ffi::OsString;

    fn job(seq: u64, nrec: u64) -> InFlight {
        InFlight::new(Job {
            seq,
            nrec,
            input: JobInput::Records(
                (0..nrec)
                    .map(|i| vec![OsString::from(format!("v{seq}.{i}"))])
                    .collect(),
            ),
            failures: 0,
            tag: None,
        })
    }

    /// Credits `pieces` in turn; returns (seq, bytes) per answered job, and the leftovers.
    fn credit_all(l: &mut Ledger, pieces: &[&[u8]]) -> (Vec<(u64, Vec<u8>)>, Vec<u8>) {
        let mut done = Vec::new();
        let mut extra = Vec::new();
        let mut parts: HashMap<u64, Vec<u8>> = HashMap::new();
        for p in pieces {
            let rest = l
                .credit(p, b'\n', |s| {
                    match s {
                        Step::Part(inf, span) => parts
                            .entry(inf.job.seq)
                            .or_default()
                            .extend_from_slice(span),
                        Step::Done(inf, span) => {
                            let mut v = parts.remove(&inf.job.seq).unwrap_or_default();
                            v.extend_from_slice(span);
                            done.push((inf.job.seq, v));
                        }
                    }
                    Ok(())
                })
                .unwrap();
            extra.extend_from_slice(rest);
        }
        (done, extra)
    }

    #[test]
    fn ledger_credits_results_by_count_across_pieces() {
        let mut l = Ledger::default();
        l.jobs.extend([job(1, 1), job(2, 3), job(3, 1)]);
        let (done, extra) = credit_all(&mut l, &[b"a\nb", b"\nc\n", b"d\ne"]);
        assert_eq!(
            done,
            vec![(1, b"a\n".to_vec()), (2, b"b\nc\nd\n".to_vec())],
            "a job of 3 records is answered by 3 results, whatever the pieces"
        );
        assert!(extra.is_empty());
        assert!(l.mid, "'e' is a result under way");
        assert_eq!(l.jobs.front().unwrap().job.seq, 3);
        // The worker ends cleanly: its unterminated last result counts.
        let mut closed = Vec::new();
        l.close_result(b'\n', |s| {
            if let Step::Done(inf, _) = s {
                closed.push(inf.job.seq);
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(closed, [3]);
        assert!(l.jobs.is_empty());
    }

    #[test]
    fn ledger_returns_results_beyond_every_record() {
        let mut l = Ledger::default();
        l.jobs.push_back(job(7, 2));
        let (done, extra) = credit_all(&mut l, &[b"x\ny\nbanner\n"]);
        assert_eq!(done, vec![(7, b"x\ny\n".to_vec())]);
        assert_eq!(extra, b"banner\n");
    }

    #[test]
    fn ledger_keeps_unanswered_jobs_in_order() {
        let mut l = Ledger::default();
        l.jobs.extend([job(1, 1), job(2, 2), job(3, 1)]);
        let (done, _) = credit_all(&mut l, &[b"1\n2a\n"]);
        assert_eq!(done.len(), 1);
        let left: Vec<(u64, u64)> = l.jobs.iter().map(|j| (j.job.seq, j.got)).collect();
        assert_eq!(left, [(2, 1), (3, 0)], "task 2 is half answered");
    }

    #[test]
    fn a_block_answers_its_values_as_tasks_as_their_results_come() {
        let mut l = Ledger::default();
        let block = Lines {
            bytes: b"a\nb\nc\nd\n".to_vec(),
            at: 0,
            count: 4,
            end: b'\n',
        };
        l.jobs.push_back(InFlight::new(Job {
            seq: 10,
            nrec: 4,
            input: JobInput::Lines(block),
            failures: 0,
            tag: None,
        }));
        l.jobs.push_back(job(14, 1));
        let mut done = Vec::new();
        let mut credit = |l: &mut Ledger, piece: &[u8]| {
            l.credit(piece, b'\n', |s| {
                if let Step::Done(inf, span) = s {
                    done.push((inf.job.seq, inf.job.tasks(), span.to_vec()));
                }
                Ok(())
            })
            .unwrap();
        };
        credit(&mut l, b"A\nB\nc");
        let front = &l.jobs.front().unwrap().job;
        assert_eq!(
            (front.seq, front.nrec),
            (12, 2),
            "two values left the block"
        );
        assert_eq!(front.value(), "c", "its first value is the next one owed");
        credit(&mut l, b"C\nD\nE\n");
        assert_eq!(
            done,
            [
                (10, 2, b"A\nB\n".to_vec()),
                (12, 2, b"C\nD\n".to_vec()),
                (14, 1, b"E\n".to_vec())
            ]
        );
    }

    #[test]
    fn framed_answers_credit_one_record_each_and_a_failure_takes_its_task_off() {
        let mut l = Ledger::default();
        let block = Lines {
            bytes: b"a\nb\nc\n".to_vec(),
            at: 0,
            count: 3,
            end: b'\n',
        };
        l.jobs.push_back(InFlight::new(Job {
            seq: 1,
            nrec: 3,
            input: JobInput::Lines(block),
            failures: 0,
            tag: None,
        }));
        l.jobs.push_back(job(4, 2));
        let mut done = Vec::new();
        // A result holding newlines is one result.
        l.credit_one(b"A\nA\n", |s| {
            if let Step::Done(inf, span) = s {
                done.push((inf.job.seq, span.to_vec()));
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(done, [(1, b"A\nA\n".to_vec())]);
        // Value b fails: it leaves the block with its value (to be re-sent), c stays owed.
        let failed = l.fail_one(b"boom").unwrap().unwrap();
        assert_eq!((failed.job.seq, failed.job.value()), (2, "b".into()));
        assert_eq!(failed.failure.as_deref(), Some(&b"boom"[..]));
        assert_eq!(l.jobs.front().unwrap().job.value(), "c");
        l.credit_one(b"C", |_| Ok(())).unwrap();
        // Task 4 has two records: a failure on the first fails it once its last is answered.
        assert!(l.fail_one(b"first").unwrap().is_none());
        let mut last = None;
        l.credit_one(b"second", |s| {
            if let Step::Done(inf, _) = s {
                last = Some((inf.job.seq, inf.failure));
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(last, Some((4, Some(b"first"[..].into()))));
        assert!(!l.credit_one(b"extra", |_| Ok(())).unwrap(), "nothing owed");
        assert!(l.fail_one(b"extra").is_none());
    }

    #[test]
    fn job_labels_name_the_task_and_its_value() {
        let j = job(5, 1).job;
        assert_eq!(j.label(), "task 5 (v5.0)");
        let mut buf = Vec::new();
        j.encode(b'\n', &mut buf);
        assert_eq!(buf, b"v5.0\n");
        assert_eq!(j.len(), 5);
    }
}
