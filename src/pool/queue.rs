//! The thread pool's task channel, seen from the source: a low-water mark. A source that finds
//! the channel full waits until the slots have taken it down to half (or [`RECHECK`] has
//! passed), then fills it again, instead of being woken for every task a slot takes and
//! sending one (a wake-up, a hand-off and a few yields of the channel's backoff per task:
//! most of what a task of `true` cost parx beyond its fork and exec).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};

/// How long a waiting source sleeps at most before it looks at the channel (and whether the
/// run stops) again.
const RECHECK: Duration = Duration::from_millis(100);

/// The low-water mark of a task channel (see the module's note).
#[derive(Debug)]
pub(crate) struct Refill {
    /// At most this many tasks queued, the source may send again.
    low: usize,
    /// The source waits for the channel to drain.
    waiting: AtomicBool,
    /// Wakes it (one token at most: a stale one only makes it look once more).
    wake: (Sender<()>, Receiver<()>),
}

impl Refill {
    /// The mark of a channel that holds `capacity` tasks.
    pub(crate) fn new(capacity: usize) -> Refill {
        Refill {
            low: capacity / 2,
            waiting: AtomicBool::new(false),
            wake: crossbeam_channel::bounded(1),
        }
    }

    /// Sends `item` on `tx`, waiting while the channel is full (until it is down to the mark).
    /// `false`: the slots are gone, or `stopping` says the run stops.
    pub(crate) fn send<T>(&self, tx: &Sender<T>, mut item: T, stopping: impl Fn() -> bool) -> bool {
        loop {
            match tx.try_send(item) {
                Ok(()) => return true,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(t)) => item = t,
            }
            if stopping() {
                return false;
            }
            // Said before looking again, so that a slot taking the channel down to the mark
            // meanwhile sees it (and wakes the source) or the source sees the room.
            self.waiting.store(true, Ordering::SeqCst);
            if tx.len() > self.low {
                let _ = self.wake.1.recv_timeout(RECHECK);
            }
            self.waiting.store(false, Ordering::SeqCst);
        }
    }

    /// A slot took a task from `rx`: wakes a waiting source once the channel is down to the
    /// mark.
    pub(crate) fn taken<T>(&self, rx: &Receiver<T>) {
        if self.waiting.load(Ordering::SeqCst)
            && rx.len() <= self.low
            && self.waiting.swap(false, Ordering::SeqCst)
        {
            let _ = self.wake.0.try_send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A source that fills the channel past its capacity again and again hands every item
    /// over, in order, to a receiver that takes them one by one.
    #[test]
    fn a_full_channel_drains_to_the_mark_and_everything_arrives_in_order() {
        let (tx, rx) = crossbeam_channel::bounded::<u32>(4);
        let refill = Arc::new(Refill::new(4));
        let source = {
            let refill = refill.clone();
            std::thread::spawn(move || (0..1000).all(|i| refill.send(&tx, i, || false)))
        };
        let mut got = Vec::new();
        while let Ok(i) = rx.recv() {
            refill.taken(&rx);
            got.push(i);
        }
        assert!(source.join().unwrap(), "every send went through");
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn a_source_stops_when_the_slots_are_gone_or_the_run_stops() {
        let refill = Refill::new(2);
        let (tx, rx) = crossbeam_channel::bounded::<u32>(1);
        assert!(refill.send(&tx, 1, || false));
        assert!(!refill.send(&tx, 2, || true), "full, and the run stops");
        drop(rx);
        assert!(!refill.send(&tx, 3, || false), "no slot left");
    }
}
