//! Isolating a record that ends its worker (a poison record): the [`Suspects`] a worker left
//! unanswered are sent again in batches, halved until the one is found.

use super::*;

/// The search for the record that ends workers, among the records a dead worker left
/// unanswered. They are re-run in batches on fresh workers, each batch followed by the end
/// of input (so a worker that does not flush still hands over every answer): a batch
/// answered in full is done; one that ends its worker leaves its unanswered records in
/// front, the record among them. A batch of one task that ends its worker has found it.
/// Bisection, because a worker that does not flush dies with hundreds of answers in its
/// buffer: one record at a time would start a worker per record, halving starts a few per
/// record found. After a worker that flushed dies, the first record it left is tried alone
/// first: it is the one, and it is found at once.
#[derive(Debug)]
pub(super) struct Suspects {
    pub(super) queue: VecDeque<Job>,
    /// A record that ends workers is among the first `bound` tasks of the queue (`None`:
    /// perhaps none is; the rest goes as one batch).
    pub(super) bound: Option<u64>,
    /// Try the first task alone next.
    pub(super) front_first: bool,
    /// A worker exited 0 at the end of its input with records unanswered (the slot, the
    /// first of them, how many): unless one of them is found to end workers, it skipped
    /// records or split a result, and what it answered may be on the wrong records.
    pub(super) skipped: Option<(usize, String, usize)>,
}

/// Tasks in a row of jobs.
pub(super) fn tasks_in<'a>(jobs: impl Iterator<Item = &'a Job>) -> u64 {
    jobs.map(Job::tasks).sum()
}

impl Suspects {
    /// The records a worker left; `quota`: it answered some and exited 0 before its input
    /// ended (a worker that recycles itself), so they all go to the next one as they are.
    pub(super) fn new(left: VecDeque<InFlight>, quota: bool) -> Suspects {
        let mut s = Suspects {
            queue: VecDeque::new(),
            bound: None,
            front_first: false,
            skipped: None,
        };
        s.failed(left, true, quota);
        s
    }

    /// Tasks in the next batch.
    pub(super) fn size(&self) -> u64 {
        match self.bound {
            Some(_) if self.front_first => 1,
            Some(b) => b.div_ceil(2),
            None => tasks_in(self.queue.iter()),
        }
    }

    /// Takes the next batch off the front; returns it and its tasks.
    pub(super) fn next_batch(&mut self) -> (VecDeque<Job>, u64) {
        let want = self.size().max(1);
        let (mut got, mut batch) = (0, VecDeque::new());
        while got < want {
            let Some(mut j) = self.queue.pop_front() else {
                break;
            };
            if let Some(rest) = j.split_after(want - got) {
                self.queue.push_front(rest);
            }
            got += j.tasks();
            batch.push_back(j);
        }
        (batch, got)
    }

    /// The batch of `n` tasks was answered in full.
    pub(super) fn passed(&mut self, n: u64) {
        self.front_first = false;
        self.bound = match self.bound {
            Some(b) if b > n => Some(b - n),
            _ => None,
        };
    }

    /// A batch of several tasks ended its worker with `left` unanswered: the record is
    /// among them. After answers (a worker that flushes), the first of them goes alone;
    /// after a `quota` (see [`Suspects::new`]) they all go on as one batch.
    pub(super) fn failed(&mut self, left: VecDeque<InFlight>, answered: bool, quota: bool) {
        self.bound = (!quota).then(|| tasks_in(left.iter().map(|p| &p.job)));
        for p in left.into_iter().rev() {
            self.queue.push_front(p.job);
        }
        self.front_first = answered && !quota;
    }
}
