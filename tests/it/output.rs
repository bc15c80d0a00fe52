//! Job slots and output (docs/CONTRACT.md): `-j`, grouped output, completion and input order,
//! memory bounds behind a slow task, and integrity at scale. The real binary on real
//! processes, with an explicit stdin; needs sh, coreutils and mawk.

use crate::common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::*;

// ---------------------------------------------------------------------------------------
// Job slots
// ---------------------------------------------------------------------------------------

/// Runs `tasks` tasks under `-j jobs` (or the default) that each record their start and end
/// time (ns) and slot, and returns (max number of tasks running at once, intervals).
/// Each task waits (at most 10 s) until `want` tasks have started, so on a loaded machine
/// the first `want` tasks still overlap; a pool running fewer than `want` at once shows up
/// as a lower maximum (after the wait), one running more as a higher maximum.
fn measure_concurrency(
    jobs: Option<&str>,
    tasks: usize,
    want: usize,
) -> (usize, Vec<(u128, u128, usize)>) {
    let dir = tempdir();
    let d = dir.path().to_str().unwrap();
    let script = format!(
        "s=$(date +%s%N); : >\"{{}}/{{#}}\"; i=0; \
         while :; do set -- \"{{}}\"/*; [ $# -ge {want} ] && break; \
         i=$((i+1)); [ $i -ge 200 ] && break; sleep 0.05; done; \
         sleep 0.1; e=$(date +%s%N); echo \"$s $e {{%}}\""
    );
    let mut args: Vec<&str> = Vec::new();
    let j = jobs.map(|j| format!("-j{j}"));
    args.extend(j.as_deref());
    args.extend(["sh", "-c", &script, ":::"]);
    args.extend((0..tasks).map(|_| d));
    let out = run_str(&args, b"");
    let iv: Vec<(u128, u128, usize)> = out
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(iv.len(), tasks);
    // Sweep: at equal times an end comes before a start.
    let mut ev: Vec<(u128, i32)> = iv.iter().flat_map(|&(s, e, _)| [(s, 1), (e, -1)]).collect();
    ev.sort();
    let (mut cur, mut max) = (0i32, 0i32);
    for (_, d) in ev {
        cur += d;
        max = max.max(cur);
    }
    (max as usize, iv)
}

fn check_jobs(jobs: Option<&str>, want: usize) {
    let (max, iv) = measure_concurrency(jobs, 2 * want, want);
    assert_eq!(
        max, want,
        "-j {jobs:?}: {max} tasks ran at once, expected {want}"
    );
    // Tasks running at the same time have distinct slots, all in 1..=want.
    for (i, a) in iv.iter().enumerate() {
        assert!(
            (1..=want).contains(&a.2),
            "-j {jobs:?}: slot {} out of range",
            a.2
        );
        for b in &iv[i + 1..] {
            let overlap = a.0 < b.1 && b.0 < a.1;
            assert!(
                !(overlap && a.2 == b.2),
                "-j {jobs:?}: two running tasks share slot {}",
                a.2
            );
        }
    }
}

#[test]
fn jobs_absolute_numbers() {
    check_jobs(Some("1"), 1);
    check_jobs(Some("3"), 3);
}

#[test]
fn jobs_default_is_the_cpu_count() {
    check_jobs(None, cpus());
}

#[test]
fn jobs_relative_to_cpus() {
    let c = cpus();
    check_jobs(Some("+1"), c + 1);
    check_jobs(Some("-1"), (c - 1).max(1));
}

#[test]
fn jobs_percentage_of_cpus() {
    let c = cpus();
    check_jobs(Some("200%"), 2 * c);
    check_jobs(Some("50%"), (c / 2).max(1));
}

#[test]
fn jobs_two_runs_four_one_second_tasks_in_about_two_seconds() {
    let start = Instant::now();
    run_ok(&["-j2", "sleep", ":::", "1", "1", "1", "1"], b"");
    let t = start.elapsed();
    assert!(
        t >= Duration::from_millis(1900) && t < Duration::from_millis(3800),
        "took {t:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

/// Checks that `out` is made of whole blocks, one per task: lines `TAG N` for N in 1..=n,
/// consecutive, each task once.
fn assert_whole_blocks(out: &[u8], prefix: &str, tasks: usize, n: usize) {
    let l = lines(out);
    assert_eq!(l.len(), tasks * n, "{prefix}: wrong line count in {l:?}");
    let mut seen = HashSet::new();
    for block in l.chunks(n) {
        let tag = block[0].rsplit_once(' ').unwrap().0.to_owned();
        for (i, line) in block.iter().enumerate() {
            assert_eq!(
                line,
                &format!("{tag} {}", i + 1),
                "{prefix}: output torn: {l:?}"
            );
        }
        assert!(seen.insert(tag), "{prefix}: a task printed twice: {l:?}");
    }
}

#[test]
fn grouped_output_never_interleaves() {
    let script = "for i in 1 2 3 4 5 6 7 8 9 10; do echo \"out {} $i\"; echo \"err {} $i\" >&2; sleep 0.02; done";
    let out = parx()
        .args([
            "-j4", "sh", "-c", script, ":::", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8",
        ])
        .assert()
        .success();
    let o = out.get_output();
    assert_whole_blocks(&o.stdout, "stdout", 8, 10);
    assert_whole_blocks(&o.stderr, "stderr", 8, 10);
    assert!(lines(&o.stdout).iter().all(|l| l.starts_with("out ")));
    assert!(lines(&o.stderr).iter().all(|l| l.starts_with("err ")));
}

#[test]
fn output_in_completion_order_without_keep_order() {
    let out = run_str(
        &[
            "-j2",
            "sh",
            "-c",
            "{}",
            ":::",
            "sleep 1; echo slow",
            "echo fast",
        ],
        b"",
    );
    assert_eq!(out, "fast\nslow\n");
}

#[test]
fn keep_order_prints_in_input_order() {
    let out = run_str(
        &[
            "-k",
            "-j2",
            "sh",
            "-c",
            "{}",
            ":::",
            "sleep 0.5; echo slow",
            "echo fast",
        ],
        b"",
    );
    assert_eq!(out, "slow\nfast\n");
    let out = run_str(
        &[
            "-k",
            "-j4",
            "sh",
            "-c",
            "sleep {}; echo {}",
            ":::",
            "0.4",
            "0.3",
            "0.2",
            "0.1",
            "0",
        ],
        b"",
    );
    assert_eq!(out, "0.4\n0.3\n0.2\n0.1\n0\n");
}

/// Reads `r` to its end and checks it equals the concatenation of `pieces` byte for byte,
/// without holding more than one piece in memory.
fn assert_stream_equals(r: impl Read, pieces: impl Iterator<Item = Vec<u8>>) {
    let mut r = BufReader::with_capacity(1 << 20, r);
    let mut buf = Vec::new();
    let mut offset = 0u64;
    for (i, want) in pieces.enumerate() {
        buf.resize(want.len(), 0);
        let mut got = 0;
        while got < want.len() {
            match r.read(&mut buf[got..]).unwrap() {
                0 => panic!("output ends at byte {offset}+{got}, inside piece {i}"),
                n => got += n,
            }
        }
        if buf != want {
            let at = buf.iter().zip(&want).position(|(a, b)| a != b).unwrap();
            panic!(
                "output differs at byte {} (piece {i}, +{at}): got {:?}, want {:?}",
                offset + at as u64,
                String::from_utf8_lossy(&buf[at..(at + 40).min(buf.len())]),
                String::from_utf8_lossy(&want[at..(at + 40).min(want.len())]),
            );
        }
        offset += want.len() as u64;
    }
    let mut extra = Vec::new();
    r.read_to_end(&mut extra).unwrap();
    assert!(
        extra.is_empty(),
        "{} bytes of extra output after byte {offset}",
        extra.len()
    );
}

#[test]
fn keep_order_behind_a_slow_task_is_exact_and_memory_bounded() {
    const TASKS: usize = 150;
    const SIZE: usize = 2_000_000;
    let dir = tempdir();
    let spill = tempdir();
    let rss_file = dir.path().join("rss");
    let time = std::path::Path::new("/usr/bin/time");
    let script = "if [ {} -eq 0 ]; then sleep 2; echo first; \
                  else head -c 2000000 /dev/zero | tr '\\0' X; printf ' %s\\n' {}; fi";
    let mut cmd = if time.exists() {
        let mut c = StdCommand::new(time);
        c.arg("-f").arg("%M").arg("-o").arg(&rss_file).arg(BIN);
        c
    } else {
        println!("note: /usr/bin/time is absent: peak RSS not measured");
        StdCommand::new(BIN)
    };
    cmd.args(["-k", "-j4", script, ":::"])
        .args((0..=TASKS).map(|i| i.to_string()))
        .env("TMPDIR", spill.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let err = drain(child.stderr.take().unwrap());
    let pieces = std::iter::once(b"first\n".to_vec()).chain((1..=TASKS).map(|i| {
        let mut v = vec![b'X'; SIZE];
        v.extend_from_slice(format!(" {i}\n").as_bytes());
        v
    }));
    assert_stream_equals(child.stdout.take().unwrap(), pieces);
    let st = wait_timeout(&mut child, Duration::from_secs(60)).expect("parx did not exit");
    let err = err.join().unwrap();
    assert!(
        st.success(),
        "status {st:?}, stderr {}",
        String::from_utf8_lossy(&err)
    );
    assert!(
        dir_names(spill.path()).is_empty(),
        "spill files left in $TMPDIR"
    );
    if time.exists() {
        let text = std::fs::read_to_string(&rss_file).unwrap();
        let kb: u64 = text.lines().last().unwrap().trim().parse().unwrap();
        assert!(kb < 64 * 1024, "peak RSS {kb} KB, limit 64 MB");
    }
}

// ---------------------------------------------------------------------------------------
// Integrity at scale
// ---------------------------------------------------------------------------------------

/// One generated task: output `#SEQ:SIZE\n` then SIZE bytes of `SEQ.` repeated, exit CODE
/// (fixtures/core/block.awk, one mawk per task, run without a shell).
struct Gen {
    seq: u64,
    size: usize,
    code: u8,
}

const INTEGRITY_TASKS: u64 = 10_000;

/// 10,000 tasks from a fixed seed. Sizes are skewed small to keep the run short: 90% of
/// tasks print 0–1 KB, 10% print 0–256 KB (about 130 MB in all). About 0.5% of the tasks
/// exit with a random non-zero code 1–255, so the expected status is an exact count < 101.
fn integrity_tasks() -> Vec<Gen> {
    let mut r = Rng(0x5eed_f00d);
    (1..=INTEGRITY_TASKS)
        .map(|seq| {
            let size = (if r.below(10) == 0 {
                r.below(256 * 1024 + 1)
            } else {
                r.below(1025)
            }) as usize;
            let code = if r.below(200) == 0 {
                1 + r.below(255) as u8
            } else {
                0
            };
            Gen { seq, size, code }
        })
        .collect()
}

fn block_body(seq: u64, size: usize) -> Vec<u8> {
    let unit = format!("{seq}.");
    unit.bytes().cycle().take(size).collect()
}

fn block(g: &Gen) -> Vec<u8> {
    let mut v = format!("#{}:{}\n", g.seq, g.size).into_bytes();
    v.extend(block_body(g.seq, g.size));
    v
}

/// Runs the integrity tasks through parx with `extra` options; `check` reads stdout.
/// Returns the exit code and the expected one.
fn run_integrity(extra: &[&str], check: impl FnOnce(&mut dyn Read, &[Gen])) -> (i32, i32) {
    let tasks = integrity_tasks();
    let failed = tasks.iter().filter(|g| g.code != 0).count();
    let input: Vec<u8> = tasks
        .iter()
        .flat_map(|g| format!("{} {} {}\n", g.seq, g.size, g.code).into_bytes())
        .collect();
    let mut child = parx_std()
        .args(extra)
        .args(["-j4", "mawk", "-f"])
        .arg(fixture("block.awk"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let err = drain(child.stderr.take().unwrap());
    check(&mut child.stdout.take().unwrap(), &tasks);
    writer.join().unwrap().unwrap();
    let st = wait_timeout(&mut child, Duration::from_secs(120)).expect("parx did not exit");
    let err = err.join().unwrap();
    assert!(err.is_empty(), "stderr: {}", String::from_utf8_lossy(&err));
    (st.code().expect("parx killed"), failed.min(101) as i32)
}

#[test]
fn ten_thousand_tasks_keep_order_byte_exact() {
    let (code, want) = run_integrity(&["-k"], |out, tasks| {
        assert_stream_equals(out, tasks.iter().map(block));
    });
    assert!(
        want > 0 && want < 101,
        "the seed should give a countable number of failures"
    );
    assert_eq!(code, want);
}

#[test]
fn ten_thousand_tasks_completion_order_blocks_intact_once() {
    let (code, want) = run_integrity(&[], |out, tasks| {
        let mut r = BufReader::with_capacity(1 << 20, out);
        let mut seen = vec![false; tasks.len() + 1];
        let mut header = Vec::new();
        let mut body = Vec::new();
        let mut n = 0;
        loop {
            header.clear();
            if r.read_until(b'\n', &mut header).unwrap() == 0 {
                break;
            }
            let h = String::from_utf8_lossy(&header).into_owned();
            let parsed = h
                .strip_prefix('#')
                .and_then(|h| h.trim_end().split_once(':'))
                .and_then(|(s, z)| Some((s.parse::<usize>().ok()?, z.parse::<usize>().ok()?)));
            let Some((seq, size)) = parsed else {
                panic!(
                    "after {n} blocks: not a block header: {:?}",
                    &h[..h.len().min(60)]
                );
            };
            let g = &tasks[seq - 1];
            assert_eq!(size, g.size, "block {seq}: header size");
            body.resize(size, 0);
            r.read_exact(&mut body).unwrap();
            assert!(
                body == block_body(g.seq, g.size),
                "block {seq}: body torn or mixed"
            );
            assert!(!seen[seq], "block {seq} printed twice");
            seen[seq] = true;
            n += 1;
        }
        assert_eq!(n, tasks.len(), "blocks missing");
    });
    assert_eq!(code, want);
}
