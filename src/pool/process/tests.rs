//! The process pool's unit tests: dispatch windows, the no-answer streak, the search for
//! poison records.

use super::dispatch::*;
use super::*;
use crate::task::Lines;

fn shared(jobs: usize) -> Shared {
    Shared::new(jobs, SOFT_CAP)
}

#[test]
fn silent_workers_on_different_tasks_make_a_streak() {
    let s = shared(2);
    assert_eq!(s.silent_end(Some(5)), [5]);
    assert_eq!(s.silent_end(Some(5)), [5], "a retried task counts once");
    s.silent_end(Some(6));
    assert_eq!(s.silent_end(Some(9)), [5, 6, 9]);
    s.silent_end(None);
    assert_eq!(s.silent_end(Some(3)), [3], "an answer ends the streak");
}

#[test]
fn the_window_follows_the_measured_cost_of_a_record() {
    let t0 = Instant::now();
    let mut p = Pace::new(t0);
    p.held = Some(0);
    assert_eq!(p.window(SOFT_CAP), 1, "one record until a cost is known");
    let ms = Duration::from_millis;
    p.sent(1, t0);
    // The first answer comes after the worker's start-up: no measure of a record.
    p.answered(1, t0 + ms(10));
    assert_eq!(p.cost(), None);
    assert_eq!(p.window(SOFT_CAP), 1);
    p.sent(1, t0 + ms(10));
    p.answered(1, t0 + ms(210));
    assert_eq!(p.window(SOFT_CAP), 1, "a record of 0.2 s: one at a time");
    let mut q = Pace::new(t0);
    q.held = Some(0);
    q.sent(1000, t0);
    q.answered(200, t0 + ms(10));
    q.answered(800, t0 + ms(10) + Duration::from_micros(1600));
    assert_eq!(q.window(SOFT_CAP), 5000, "2 us a record: 10 ms of them");
    assert_eq!(q.window(2), 2, "never past the cap by cost");
    q.held = Some(40_000);
    q.grow();
    assert_eq!(
        q.window(SOFT_CAP),
        80_000,
        "a worker seen waiting for input with what it holds gets twice as much"
    );
}

#[test]
fn a_worker_is_looked_at_after_twice_its_usual_silence() {
    let t0 = Instant::now();
    let mut p = Pace::new(t0);
    p.held = Some(0);
    assert_eq!(p.probe_after(), PROBE_AFTER, "before any answer: soon");
    p.sent(100, t0);
    let ms = Duration::from_millis;
    // Answers in bursts 1 ms apart (a streaming worker read between parx's pauses).
    for i in 0..=10 {
        p.answered(10, t0 + ms(i));
    }
    let d = p.probe_after();
    assert!(d > ms(1) && d <= ms(2), "{d:?}: not between two bursts");
    // Bursts a second apart: looked at after PROBE_MAX all the same (it may be starving).
    p.answered(1, t0 + ms(1010));
    p.answered(1, t0 + ms(2010));
    assert_eq!(p.probe_after(), PROBE_MAX);
}

fn block(seq: u64, n: u64) -> Job {
    let bytes: Vec<u8> = (seq..seq + n)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect();
    Job {
        seq,
        nrec: n,
        input: JobInput::Lines(Lines {
            bytes,
            at: 0,
            count: n,
            end: b'\n',
        }),
        failures: 0,
        tag: None,
    }
}

/// Runs the search over tasks 1..=n where `poison` end every worker they reach (a
/// worker that does not flush: it answers nothing of a batch it dies in). Returns the
/// poison tasks found, in order, and the batches run.
fn search(n: u64, poison: &[u64]) -> (Vec<u64>, usize) {
    let mut s = Suspects::new(VecDeque::from([InFlight::new(block(1, n))]), false);
    let (mut found, mut runs) = (Vec::new(), 0);
    while !s.queue.is_empty() {
        let (batch, tasks) = s.next_batch();
        runs += 1;
        let first = batch[0].seq;
        if !poison.iter().any(|p| (first..first + tasks).contains(p)) {
            s.passed(tasks);
            continue;
        }
        if tasks == 1 {
            found.push(first);
            s.bound = None;
            s.front_first = false;
            continue;
        }
        s.failed(batch.into_iter().map(InFlight::new).collect(), false, false);
    }
    (found, runs)
}

#[test]
fn bisection_finds_every_poison_record_in_few_runs() {
    assert_eq!(search(1000, &[500]).0, [500]);
    let (found, runs) = search(10_000, &[4321, 4322]);
    assert_eq!(found, [4321, 4322], "two poison records in one block");
    assert!(runs < 60, "{runs} runs");
    let (found, runs) = search(100, &[]);
    assert!(
        found.is_empty() && runs <= 8,
        "a crash that does not come back"
    );
    assert_eq!(search(1, &[1]).0, [1]);
}
