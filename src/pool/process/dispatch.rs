//! Dispatch: how many records each worker may hold (its window, from the measured cost of a
//! record: [`Pace`]), what the slots share ([`Shared`]: the windows, the turn writers wait for,
//! the re-dispatch queue, the no-answer streak), and how a writer sees its worker waiting for
//! input ([`Probe`]).

use super::*;

/// How much work in flight, in time, the window of a worker aims at: records go out in
/// blocks of about this much work (a write per block), and when the input ends no worker
/// holds more than about this much while another has nothing.
pub(super) const BUDGET: Duration = Duration::from_millis(10);
/// How long a worker holding records and answering nothing waits before parx looks whether
/// it is blocked reading its stdin (it holds its answers until it reads more).
pub(super) const PROBE_AFTER: Duration = Duration::from_micros(200);
/// The longest a worker holding records may be silent before parx looks at it, however far
/// apart its answers came before (see [`Pace::probe_after`]).
pub(super) const PROBE_MAX: Duration = Duration::from_millis(5);
/// How often at most parx looks at a worker that has not answered yet.
pub(super) const START_LOOK: Duration = Duration::from_millis(1);
/// How soon parx looks again to confirm a worker it saw waiting for input.
pub(super) const PROBE_AGAIN: Duration = Duration::from_micros(100);
/// How long without an answer counts as a stall when parx cannot see what a worker is doing
/// (a shell pipeline as the worker): its window grows all the same.
pub(super) const STALL: Duration = Duration::from_millis(50);
/// The same before a worker has answered anything: it may still be starting (an
/// interpreter, a model to load).
pub(super) const START_STALL: Duration = Duration::from_secs(1);
/// How much each new measurement of a record's cost counts against the old ones.
pub(super) const DECAY: f64 = 0.8;
/// The same for the time between two answers.
const GAP_DECAY: f64 = 0.7;

/// One slot's dispatch state: what its worker holds, what a record costs it, and so how
/// many records it may hold (its window).
#[derive(Clone, Debug)]
pub(super) struct Pace {
    /// Records (chunks) outstanding; `None`: no live worker in that slot.
    pub(super) held: Option<u64>,
    /// Seconds of answering and records answered, as decaying sums (the cost of a record
    /// is their ratio).
    pub(super) secs: f64,
    pub(super) recs: f64,
    /// Since when the worker has held records without answering (its last answer, or when
    /// it was sent records while holding none).
    pub(super) since: Instant,
    /// When it was last sent records.
    pub(super) last_sent: Instant,
    /// It has answered something since it started.
    pub(super) answered: bool,
    /// The least window the worker proved it needs: it was seen waiting for input while
    /// holding this many records unanswered (a block-buffered or read-everything worker).
    pub(super) floor: u64,
    /// Seconds between its answers, as a decaying mean (`None` before its first).
    pub(super) gap: Option<f64>,
}

impl Pace {
    pub(super) fn new(now: Instant) -> Pace {
        Pace {
            held: None,
            secs: 0.0,
            recs: 0.0,
            since: now,
            last_sent: now,
            answered: false,
            floor: 1,
            gap: None,
        }
    }

    /// Seconds per record, once measured.
    pub(super) fn cost(&self) -> Option<f64> {
        (self.recs > 0.0).then(|| self.secs / self.recs)
    }

    /// Records it may hold: as many as take about [`BUDGET`] to answer (one while a record
    /// costs more; at most `cap`), but never fewer than it proved it needs.
    pub(super) fn window(&self, cap: u64) -> u64 {
        let by_cost = match self.cost() {
            None => 1,
            Some(c) if c <= 0.0 => cap,
            Some(c) => ((BUDGET.as_secs_f64() / c).ceil() as u64).clamp(1, cap),
        };
        by_cost.max(self.floor)
    }

    /// `n` records were sent.
    pub(super) fn sent(&mut self, n: u64, now: Instant) {
        self.last_sent = now;
        if let Some(h) = &mut self.held {
            if *h == 0 {
                self.since = now;
            }
            *h += n;
        }
    }

    /// `n` records were answered: measures their cost (the time since the worker last
    /// answered or was given work, spread over them). A fresh worker's first answer is not
    /// a measure: its time holds the worker's start-up (an interpreter's 10 ms, over the few
    /// records a block-buffered worker answers first, made cheap records look 50 times
    /// dearer, and their windows stayed too small for dozens of answers).
    pub(super) fn answered(&mut self, n: u64, now: Instant) {
        if let Some(h) = &mut self.held {
            *h = h.saturating_sub(n);
        }
        if !self.answered {
            self.since = now;
            self.answered = true;
            return;
        }
        let dt = now.duration_since(self.since).as_secs_f64();
        self.gap = Some(
            self.gap
                .map_or(dt, |g| g * GAP_DECAY + dt * (1.0 - GAP_DECAY)),
        );
        self.secs = self.secs * DECAY + dt;
        self.recs = self.recs * DECAY + n as f64;
        self.since = now;
        self.answered = true;
    }

    /// How long it may be silent while holding records before parx looks whether it waits
    /// for input: twice the usual time between its answers (a streaming worker's answers
    /// come in bursts, as parx's reader reads them; looking between two bursts costs a
    /// look at /proc and a wake-up each), at least [`PROBE_AFTER`], at most [`PROBE_MAX`].
    pub(super) fn probe_after(&self) -> Duration {
        match self.gap {
            Some(g) if self.answered => {
                Duration::from_secs_f64((2.0 * g).min(1.0)).clamp(PROBE_AFTER, PROBE_MAX)
            }
            _ => PROBE_AFTER,
        }
    }

    /// How long it may hold records without answering before its window grows though parx
    /// cannot see it waiting for input.
    pub(super) fn stall(&self) -> Duration {
        match self.cost() {
            Some(c) if self.answered => {
                let held = self.held.unwrap_or(0) as f64;
                STALL.max(Duration::from_secs_f64((4.0 * c * held).min(3600.0)))
            }
            _ => START_STALL,
        }
    }

    /// The worker waits for input while holding what it has: give it twice as much.
    pub(super) fn grow(&mut self) {
        // Before its first answer it is filling an output buffer of unknown size: grow
        // fast (a block-buffered Python answers after about 8 KiB of results).
        let by = if self.answered { 2 } else { 8 };
        self.floor = self
            .floor
            .max(self.held.unwrap_or(0).saturating_mul(by))
            .max(2);
    }
}

/// What the slots share: each one's [`Pace`], the re-dispatch queue, the no-answer streak.
pub(super) struct Shared {
    pub(super) load: Mutex<Vec<Pace>>,
    pub(super) turn: Condvar,
    /// Writers waiting in [`Shared::wait_turn`] (others need no wake-up).
    pub(super) waiting: AtomicUsize,
    pub(super) redo_tx: Sender<Job>,
    pub(super) redo_rx: Receiver<Job>,
    /// The tasks on which workers ended in a row without answering anything.
    pub(super) silent: Mutex<Vec<u64>>,
    /// Some worker of the run has answered something.
    pub(super) ever_answered: AtomicBool,
    /// Some worker of the run answered records and exited 0 before its input ended.
    pub(super) quota_seen: AtomicBool,
    /// Records (or chunks) the cost rule may let a worker hold at most.
    pub(super) cap: u64,
}

/// Where a writer held back at its window resumes: half of it.
pub(super) fn low_water(window: u64) -> u64 {
    window / 2
}

/// What a writer looks at to see its worker waiting for input: its pid, the pipes to it
/// and from it, and the thread reading its answers.
pub(super) struct Probe {
    pub(super) pid: i32,
    pub(super) stdin: i32,
    pub(super) stdout: i32,
    /// `self/task/TID` of the slot thread that reads and credits its answers.
    pub(super) reader: String,
}

impl Probe {
    /// What the worker is doing: `ReadingStdin` only when it is blocked reading its stdin
    /// with nothing left in it, none of its answers is unread, and parx's reader is not in
    /// the middle of crediting some (then it wants more input before it answers).
    pub(super) fn look(&self) -> Option<sys::Doing> {
        let d = sys::doing(&self.pid.to_string())?;
        if d != sys::Doing::ReadingStdin {
            return Some(d);
        }
        let settled = sys::pipe_queued(self.stdin) == 0
            && sys::pipe_queued(self.stdout) == 0
            && sys::doing(&self.reader) != Some(sys::Doing::Running);
        Some(if settled {
            sys::Doing::ReadingStdin
        } else {
            sys::Doing::Blocked
        })
    }
}

impl Shared {
    pub(super) fn new(jobs: usize, cap: u64) -> Shared {
        let (redo_tx, redo_rx) = unbounded();
        let now = Instant::now();
        Shared {
            load: Mutex::new(vec![Pace::new(now); jobs]),
            turn: Condvar::new(),
            waiting: AtomicUsize::new(0),
            redo_tx,
            redo_rx,
            silent: Mutex::new(Vec::new()),
            ever_answered: AtomicBool::new(false),
            quota_seen: AtomicBool::new(false),
            cap,
        }
    }

    /// A worker started in `slot` (`Some(0)`) or ended (`None`). A new worker keeps what
    /// the slot measured: it runs the same command on the same kind of records.
    pub(super) fn set_load(&self, slot: usize, v: Option<u64>) {
        let mut g = self.load.lock().expect("load lock");
        let p = &mut g[slot - 1];
        p.held = v;
        p.since = Instant::now();
        p.answered = false;
        drop(g);
        self.wake();
    }

    /// `n` records were sent to the worker in `slot`.
    pub(super) fn sent(&self, slot: usize, n: u64) {
        let mut g = self.load.lock().expect("load lock");
        g[slot - 1].sent(n, Instant::now());
    }

    /// `n` records were answered by the worker in `slot`.
    pub(super) fn answered(&self, slot: usize, n: u64) {
        self.ever_answered.store(true, Ordering::Relaxed);
        let mut g = self.load.lock().expect("load lock");
        let p = &mut g[slot - 1];
        let window = p.window(self.cap);
        let was = p.held.unwrap_or(0);
        p.answered(n, Instant::now());
        let now = p.held.unwrap_or(0);
        drop(g);
        // A writer held back resumes when its worker is down to half its window, not at
        // every answer (a wake-up each way per read of the worker's output).
        let low = low_water(window);
        if was > low && now <= low {
            self.wake();
        }
    }

    /// Wakes the writers waiting for their turn, if any.
    pub(super) fn wake(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.turn.notify_all();
        }
    }

    /// Records the worker in `slot` may be sent now (0: none).
    pub(super) fn room(&self, slot: usize) -> u64 {
        let g = self.load.lock().expect("load lock");
        let p = &g[slot - 1];
        p.window(self.cap).saturating_sub(p.held.unwrap_or(0))
    }

    /// Waits until the worker in `slot` may take more work, or `quit` is set: until it
    /// holds less than its window (half of it, once held back), or it is seen waiting for
    /// input while holding what it has (then its window grows; see [`Pace::grow`]).
    pub(super) fn wait_turn(&self, slot: usize, quit: &AtomicBool, probe: &Probe) {
        let mut g = self.load.lock().expect("load lock");
        let mut waited = false;
        // When the worker was first seen waiting for input, and what `since` was then: seen
        // twice in a row, with no answer between, it is really waiting (not an answer
        // being read by parx at that moment).
        let mut seen: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let p = &mut g[slot - 1];
            let held = p.held.unwrap_or(0);
            let window = p.window(self.cap);
            let limit = if waited {
                low_water(window) + 1
            } else {
                window
            };
            if held < limit || quit.load(Ordering::SeqCst) {
                return;
            }
            let silent = now.duration_since(p.since);
            let look_after = p.probe_after();
            let mut running = false;
            if silent >= look_after {
                match probe.look() {
                    Some(sys::Doing::ReadingStdin) => match seen {
                        Some(at) if at == p.since => {
                            p.grow();
                            return;
                        }
                        _ => seen = Some(p.since),
                    },
                    // Working on what it holds: it needs nothing more.
                    Some(sys::Doing::Running) => {
                        running = true;
                        seen = None;
                    }
                    Some(sys::Doing::Blocked) | None => seen = None,
                }
            }
            // Running all along may still be a worker spinning for input: it too is given
            // more in the end.
            if silent >= p.stall() * if running { 8 } else { 1 } {
                // parx cannot see why it does not answer: it may need more input all the
                // same (a shell pipeline as the worker), so it is given more, not starved.
                p.grow();
                p.since = now;
                return;
            }
            waited = true;
            // Look again soon while it is fresh (and to confirm it waits for input), then
            // less often (a worker on a slow record).
            let quiet = now.duration_since(p.since.max(p.last_sent));
            // Before its first answer a worker is looked at at least every START_LOOK: it
            // may be an interpreter about to block on its output buffer, waiting for more.
            let most = if p.answered { STALL } else { START_LOOK };
            let nap = match seen {
                Some(_) => PROBE_AGAIN,
                // Answers are due: wait for them (an answer that brings the worker down to
                // half its window wakes this writer) until it is time to look.
                None if silent < look_after => (look_after - silent).max(PROBE_AGAIN),
                None => (quiet / 4).clamp(PROBE_AFTER, most),
            };
            self.waiting.fetch_add(1, Ordering::SeqCst);
            g = self.turn.wait_timeout(g, nap).expect("load lock").0;
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// A worker ended having answered something (`None`) or nothing while on task `seq`.
    /// Returns the tasks of the streak.
    pub(super) fn silent_end(&self, seq: Option<u64>) -> Vec<u64> {
        let mut g = self.silent.lock().expect("silent lock");
        match seq {
            None => g.clear(),
            Some(s) if !g.contains(&s) => g.push(s),
            Some(_) => {}
        }
        g.clone()
    }
}
