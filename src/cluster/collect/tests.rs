//! The collector's unit tests: job-log rows, shard ends, the merged order.

use super::*;

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
