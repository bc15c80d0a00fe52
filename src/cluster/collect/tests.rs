//! The collector's unit tests: job-log rows, shard ends, the merged order, `--halt` over the
//! whole run.

use super::*;

#[test]
fn halt_counts_every_shards_rows_and_holds_the_killed_ones() {
    let d = tempfile::tempdir().unwrap();
    let dir = RunDir::create(&d.path().join("rd")).unwrap();
    let row = |seq: u64, exit: i32, sig: i32| {
        format!("{seq}\t:\t1.0\t0.1\t0\t0\t{exit}\t{sig}\tcmd\n").into_bytes()
    };
    let write = |k: u64, rows: &[Vec<u8>]| {
        let mut t = crate::joblog::HEADER.to_vec();
        rows.iter().for_each(|r| t.extend_from_slice(r));
        dir.make_shard(k).unwrap();
        std::fs::write(dir.shard(k).join("joblog"), t).unwrap();
    };
    let spec = |s: &str| crate::config::halt::parse(s).unwrap().unwrap();
    // Task 5 was done before this submission: it does not count.
    write(1, &[row(5, 1, 0)]);
    let mut h = HaltWatch::new(spec("soon,fail=2"), 8, &dir, 2).unwrap();
    write(1, &[row(5, 1, 0), row(1, 3, 0)]);
    write(2, &[row(2, 0, 0), row(4, -1, 15)]);
    // One failure in shard 1; shard 2's TERM may be Slurm's: held.
    assert_eq!(h.poll(&dir, 2), None);
    assert_eq!(h.shard_over(2, false), None, "ended by Slurm: not run");
    write(2, &[row(2, 0, 0), row(4, -1, 15), row(6, 4, 0)]);
    assert_eq!(
        h.poll(&dir, 2),
        Some(When::Soon),
        "one failure in each shard"
    );
    assert_eq!(h.state.status, Some(4));
    // A shard that ended by itself: its killed task was a failure.
    write(1, &[row(5, 1, 0)]);
    write(2, &[]);
    let mut h = HaltWatch::new(spec("now,fail=25%"), 8, &dir, 2).unwrap();
    write(1, &[row(5, 1, 0), row(1, 3, 0), row(7, 0, 0)]);
    assert_eq!(h.poll(&dir, 2), None);
    assert_eq!(h.shard_over(1, true), None);
    write(2, &[row(2, 0, 0), row(4, -1, 15)]);
    assert_eq!(h.poll(&dir, 2), None);
    assert_eq!(h.shard_over(2, true), Some(When::Now), "2 of 8 failed");
    assert_eq!(h.state.status, Some(25));
}

#[test]
fn tasks_not_run_are_named() {
    assert_eq!(name_tasks(&[]), "");
    assert_eq!(name_tasks(&[7]), " (task 7)");
    assert_eq!(name_tasks(&[7, 9]), " (tasks 7, 9)");
    let many: Vec<u64> = (1..=10).collect();
    assert_eq!(
        name_tasks(&many),
        " (tasks 1, 2, 3, 4, 5, 6, 7, 8 and 2 more)"
    );
}

#[test]
fn log_keeps_the_last_row_of_each_task() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("joblog");
    let mut t = crate::joblog::HEADER.to_vec();
    t.extend_from_slice(b"1\t:\t1.0\t0.1\t0\t2\t0\t0\techo a\n");
    t.extend_from_slice(b"4\t:\t1.0\t0.1\t0\t2\t3\t0\tfalse\n");
    t.extend_from_slice(b"4\t:\t2.0\t0.1\t0\t2\t0\t0\ttrue\n");
    t.extend_from_slice(b"7\t:\t1.0\t0.1\t0\t0\t-1\t15\tsleep 9\n");
    t.extend_from_slice(b"9\t:\t1.0");
    std::fs::write(&p, &t).unwrap();
    let log = Log::read(&p, false).unwrap();
    assert_eq!(log.rows.keys().copied().collect::<Vec<_>>(), [1, 4, 7]);
    assert_eq!(log.failed(), 1);
    assert_eq!(log.row(4).rest, b":\t2.0\t0.1\t0\t2\t0\t0\ttrue\n");
    // The index of shard-K/out: each row's Receive bytes follow the rows before it.
    assert_eq!((log.row(1).offset, log.row(1).len), (0, 2));
    assert_eq!((log.row(4).offset, log.row(4).len), (4, 2));
    assert_eq!(log.out_len(), 6);
    // A shard Slurm ended: the task its TERM killed did not run.
    let log = Log::read(&p, true).unwrap();
    assert_eq!(log.rows.keys().copied().collect::<Vec<_>>(), [1, 4]);
    // Cut for --resume-failed: every row stays (the offsets), those cut are void.
    let again = log.text(|r| !r.failed());
    assert!(again.starts_with(crate::joblog::HEADER));
    let body = String::from_utf8_lossy(&again[crate::joblog::HEADER.len()..]).into_owned();
    let seqs: Vec<&str> = body
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(seqs, ["1", "0", "4", "0"]);
    std::fs::write(&p, &again).unwrap();
    let cut = Log::read(&p, false).unwrap();
    assert_eq!(cut.rows.keys().copied().collect::<Vec<_>>(), [1, 4]);
    assert_eq!(cut.row(4).offset, 4);
    assert!(crate::joblog::parse(&again)
        .done
        .iter()
        .all(|&s| s == 1 || s == 4));
}
