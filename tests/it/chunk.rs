//! Chunk modes (`--pipe`, `--pipe-part`) end to end, with the real binary: round trips over
//! random inputs, numbering and order, headers, records, and bad input.

use crate::common;

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use proptest::prelude::*;

use common::{parx_std, Timed, BIN};

/// Runs `cmd` with `input` on a real pipe as stdin.
fn run_piped(mut cmd: Command, input: &[u8]) -> std::process::Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let stdout = common::drain(child.stdout.take().unwrap());
    let stderr = common::drain(child.stderr.take().unwrap());
    let status = common::wait_timeout(&mut child, common::TIMEOUT).expect("parx hung");
    writer.join().unwrap();
    std::process::Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Runs `cmd` with the file `path` as stdin (a regular file: the in-place path).
fn run_file_stdin(mut cmd: Command, path: &Path) -> std::process::Output {
    cmd.stdin(File::open(path).unwrap());
    cmd.timed_output().unwrap()
}

fn stderr_one_line(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "stderr: {err}");
    assert!(err.starts_with("parx: "), "stderr: {err}");
    err
}

const RECENDS: [&str; 4] = ["\n", "\\0", "XY", "ab\\n"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Concatenating the chunks gives the input back byte for byte, in all three paths:
    /// --pipe from a pipe, --pipe from a regular file, --pipe-part.
    #[test]
    fn chunks_reproduce_input(
        data in prop::collection::vec(prop::sample::select(b"ab\n\0XY".to_vec()), 0..400),
        block in 1u64..80,
        re in 0..RECENDS.len(),
        terminate in any::<bool>(),
    ) {
        let mut data = data;
        let recend = RECENDS[re];
        let raw = recend.replace("\\0", "\0").replace("\\n", "\n");
        if terminate && !data.ends_with(raw.as_bytes()) {
            data.extend_from_slice(raw.as_bytes());
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        fs::write(&path, &data).unwrap();
        let args = |mode: &str| {
            let mut c = parx_std();
            c.args([mode, "-k", "-j3", "--block", &block.to_string(), "--recend", recend, "cat"]);
            c
        };
        let out = run_piped(args("--pipe"), &data);
        prop_assert!(out.status.success(), "{:?}", out);
        prop_assert_eq!(&out.stdout, &data);
        let out = run_file_stdin(args("--pipe"), &path);
        prop_assert!(out.status.success(), "{:?}", out);
        prop_assert_eq!(&out.stdout, &data);
        let mut c = args("--pipe-part");
        c.arg("::::").arg(&path);
        let out = c.timed_output().unwrap();
        prop_assert!(out.status.success(), "{:?}", out);
        prop_assert_eq!(&out.stdout, &data);
    }
}

#[test]
fn chunks_are_numbered_in_order_and_never_split_records() {
    let input: String = (1..=50).map(|i| format!("line{i}\n")).collect();
    let mut c = parx_std();
    c.args(["--pipe", "-k", "-j2", "--block", "20"]);
    c.args(["sh", "-c", "echo \"#{#} slot{%}\"; cat"]);
    let out = run_piped(c, input.as_bytes());
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut seq = 0;
    let mut body = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix('#') {
            seq += 1;
            let (n, slot) = rest.split_once(' ').unwrap();
            assert_eq!(n, seq.to_string());
            assert!(slot == "slot1" || slot == "slot2", "{line}");
        } else {
            assert!(line.starts_with("line"), "{line}");
            body.push_str(line);
            body.push('\n');
        }
    }
    assert_eq!(body, input);
    // 20-byte blocks of 6-7-byte records: 2 or 3 records each.
    assert!(seq >= 17, "{seq} chunks");
}

#[test]
fn outputs_of_chunks_never_interleave() {
    // Without -k: each chunk prints its records twice with pauses; blocks stay whole.
    let input: String = (1..=40).map(|i| format!("{i}\n")).collect();
    let mut c = parx_std();
    c.args(["--pipe", "-j4", "-N", "5"]);
    c.args([
        "sh",
        "-c",
        "d=$(cat); echo \"begin {#}\"; echo \"$d\"; sleep 0.05; echo \"$d\"; echo \"end {#}\"",
    ]);
    let out = run_piped(c, input.as_bytes());
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 8 * 12);
    for block in lines.chunks(12) {
        let n = block[0].strip_prefix("begin ").unwrap();
        assert_eq!(block[11], format!("end {n}"));
        let n: usize = n.parse().unwrap();
        let recs: Vec<String> = (5 * n - 4..=5 * n).map(|i| i.to_string()).collect();
        assert_eq!(&block[1..6], recs.as_slice());
        assert_eq!(&block[6..11], recs.as_slice());
    }
}

#[test]
fn header_is_sent_with_every_chunk() {
    let mut c = parx_std();
    c.args(["--pipe", "-k", "--header", "1", "--block", "4"]);
    c.args(["sh", "-c", "cat; echo --"]);
    let out = run_piped(c, b"H\na\nb\nc\n");
    assert_eq!(out.stdout, b"H\na\nb\n--\nH\nc\n--\n");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("csv");
    fs::write(&f, "id,v\n1,a\n2,b\n3,c\n").unwrap();
    let out = parx_std()
        .args(["--pipe-part", "-k", "--header", "1", "-N", "2", "-a"])
        .arg(&f)
        .args(["sh", "-c", "cat; echo --"])
        .timed_output()
        .unwrap();
    assert_eq!(out.stdout, b"id,v\n1,a\n2,b\n--\nid,v\n3,c\n--\n");
}

#[test]
fn recstart_lines_and_null_records() {
    let mut c = parx_std();
    c.args(["--pipe", "-k", "--recstart", ">", "--block", "1"]);
    c.args(["sh", "-c", "tr '\\n' ' '; echo"]);
    let out = run_piped(c, b">a\nAC\n>b\nGT\nTT\n>c\n");
    assert_eq!(out.stdout, b">a AC \n>b GT TT \n>c \n");

    let mut c = parx_std();
    c.args(["--pipe", "-k", "-N", "3", "wc", "-l"]);
    let out = run_piped(c, b"1\n2\n3\n4\n5\n6\n7\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n3\n1\n");

    let mut c = parx_std();
    c.args([
        "--pipe",
        "-k",
        "-0",
        "-N",
        "2",
        "sh",
        "-c",
        "tr '\\0' ,; echo",
    ]);
    let out = run_piped(c, b"a\nb\0c\0d\0");
    assert_eq!(out.stdout, b"a\nb,c,\nd,\n");
}

#[test]
fn binary_data_with_nul_bytes_goes_through_unchanged() {
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let mut c = parx_std();
    c.args(["--pipe", "-k", "--block", "1k", "cat"]);
    let out = run_piped(c, &data);
    assert!(out.status.success());
    assert_eq!(out.stdout, data);
}

#[test]
fn pipe_part_several_files_braces_and_per_slot_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.txt");
    let b = dir.path().join("b.txt");
    fs::write(&a, (1..=100).map(|i| format!("{i}\n")).collect::<String>()).unwrap();
    fs::write(&b, "x\ny\n").unwrap();
    // --block -2 at -j2: each file in 4 chunks (b has only 2 records: 2 chunks).
    let out = parx_std()
        .args(["--pipe-part", "-k", "-j2", "--block", "-2"])
        .args(["sh", "-c", "echo {/} $(wc -l)"])
        .arg("::::")
        .args([&a, &b])
        .timed_output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    let total: usize = lines[..4]
        .iter()
        .map(|l| {
            assert!(l.starts_with("a.txt "), "{l}");
            l[6..].parse::<usize>().unwrap()
        })
        .sum();
    assert_eq!(total, 100);
    assert_eq!(&lines[4..], ["b.txt 1", "b.txt 1"]);
}

#[test]
fn a_command_that_does_not_read_its_chunk_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("big");
    fs::write(&f, "0123456789abcdef\n".repeat(200_000)).unwrap();
    let out = parx_std()
        .args(["--pipe-part", "--block", "1M", "true", "::::"])
        .arg(&f)
        .timed_output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty());
    let mut c = parx_std();
    c.args(["--pipe", "--block", "1M", "head", "-c", "1"]);
    let out = run_piped(c, "0123456789abcdef\n".repeat(200_000).as_bytes());
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"0".repeat(4));
}

#[test]
fn empty_input_runs_no_task() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let script = format!("touch {}", marker.display());
    let out = run_piped(
        {
            let mut c = parx_std();
            c.args(["--pipe", "sh", "-c", &script]);
            c
        },
        b"",
    );
    assert!(out.status.success());
    let empty = dir.path().join("empty");
    fs::write(&empty, "").unwrap();
    let out = parx_std()
        .args(["--pipe-part", "sh", "-c", &script, "::::"])
        .arg(&empty)
        .timed_output()
        .unwrap();
    assert!(out.status.success());
    // Only a header: no chunk either.
    fs::write(&empty, "h\n").unwrap();
    let out = parx_std()
        .args(["--pipe-part", "--header", "1", "sh", "-c", &script, "::::"])
        .arg(&empty)
        .timed_output()
        .unwrap();
    assert!(out.status.success());
    assert!(!marker.exists());
}

#[test]
fn bad_input_is_one_line_and_255() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let script = format!("touch {}", marker.display());
    let missing = dir.path().join("missing");
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let cases: Vec<Vec<String>> = vec![
        vec![
            "--pipe-part".into(),
            "-a".into(),
            missing.display().to_string(),
        ],
        vec!["--pipe".into(), "-a".into(), missing.display().to_string()],
        vec![
            "--pipe-part".into(),
            "-a".into(),
            fifo.display().to_string(),
        ],
        vec![
            "--pipe-part".into(),
            "-a".into(),
            "/proc/self/status".into(),
        ],
        vec!["--pipe".into(), "--block".into(), "0".into()],
        vec!["--pipe".into(), "--block".into(), "12Q".into()],
        vec!["--pipe".into(), "--block".into(), "".into()],
        vec!["--pipe".into(), "--block".into(), "-2".into()],
        vec!["--pipe".into(), "-N".into(), "0".into()],
        vec!["--block".into(), "1M".into()],
        vec!["--pipe-part".into()],
    ];
    for args in cases {
        let out = parx_std()
            .args(&args)
            .args(["sh", "-c", &script])
            .timed_output()
            .unwrap();
        assert_eq!(out.status.code(), Some(255), "{args:?}");
        let err = stderr_one_line(&out);
        assert!(out.stdout.is_empty(), "{args:?}");
        if args
            .iter()
            .any(|a| a.contains("fifo") || a.contains("proc"))
        {
            assert!(err.contains("--pipe -a"), "{err}");
        }
    }
    assert!(!marker.exists());
}

#[test]
fn file_truncated_while_running_fails_its_chunks_without_crashing() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("data");
    fs::write(&f, "0123456789abcdef\n".repeat(64 * 1024)).unwrap(); // 1.1 MB
    for mode in ["--pipe-part", "--pipe"] {
        let mut c = parx_std();
        c.args([
            mode,
            "-k",
            "-j1",
            "--block",
            "64k",
            "sh",
            "-c",
            "sleep 0.05; wc -c",
        ]);
        if mode == "--pipe-part" {
            c.arg("::::").arg(&f);
        } else {
            c.stdin(File::open(&f).unwrap());
        }
        let child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(250));
        File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_len(100_000)
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let code = out.status.code();
        assert!(
            matches!(code, Some(1..=101)),
            "{mode}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("shrank"), "{err}");
        // The chunks before the cut went through whole.
        let first: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
        let n: usize = first[0].trim().parse().unwrap();
        assert!((63_000..66_000).contains(&n), "{first:?}");
        fs::write(&f, "0123456789abcdef\n".repeat(64 * 1024)).unwrap();
    }
}

#[test]
fn pipe_from_a_file_starts_at_stdins_offset_and_reads_dash_a_files() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("data");
    let input: String = (1..=300).map(|i| format!("{i}\n")).collect();
    fs::write(&f, &input).unwrap();
    let bin = std::path::Path::new(BIN);
    // The shell's `read` leaves stdin's offset after the first line.
    let script = format!(
        "read first; exec '{}' --pipe -k --block 50 cat",
        bin.display()
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .stdin(File::open(&f).unwrap())
        .timed_output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, &input.as_bytes()[2..]);
    let out = parx_std()
        .args(["--pipe", "-k", "--block", "50", "-a"])
        .arg(&f)
        .args(["sh", "-c", "echo \"#{#}\"; cat"])
        .timed_output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let (marks, data): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| l.starts_with('#'));
    let want: Vec<String> = (1..=marks.len()).map(|i| format!("#{i}")).collect();
    assert_eq!(marks, want);
    assert!(marks.len() >= 1100 / 50, "{} chunks", marks.len());
    assert_eq!(data.join("\n") + "\n", input);
}

/// `--pipe` from a real pipe with blocks of 4 MiB or more takes the splice path: chunks are
/// moved into each command's stdin pipe and only the end of each block is read. The input
/// comes back byte for byte, with a record longer than the read window (1 MiB) inside, from
/// commands that read slowly (the rest of their chunk goes via memory) and in parallel.
#[test]
fn spliced_pipe_chunks_reproduce_input_with_slow_and_quitting_commands() {
    let mut data = Vec::new();
    let mut x: u64 = 7;
    while data.len() < 14 << 20 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = if data.len() > 5 << 20 && data.len() < (5 << 20) + 200 {
            3 << 20
        } else {
            (x >> 40) as usize % 200
        };
        data.extend(std::iter::repeat_n(b'a' + (x % 26) as u8, len));
        data.push(b'\n');
    }
    let mut cmd = parx_std();
    cmd.args(["-j3", "--pipe", "--block", "4M", "-k", "cat"]);
    let out = run_piped(cmd, &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == data, "cat: output differs from input");
    // Runs parx --pipe --block 4M -k over the data with `args`, asserting success.
    let piped_ok = |args: &[&str]| {
        let mut cmd = parx_std();
        cmd.args(["--pipe", "--block", "4M", "-k"]).args(args);
        let out = run_piped(cmd, &data);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    // Slow readers: three at once, so the chunks must not wait for each other.
    let out = piped_ok(&["-j3", "sh", "-c", "sleep 0.3; cat"]);
    assert!(out.stdout == data, "slow cat: output differs from input");
    // Chunk sizes: at most the block, but the one with the 3 MiB record may pass it.
    let out = piped_ok(&["-j2", "wc", "-c"]);
    let sizes: Vec<usize> = common::lines(&out.stdout)
        .iter()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), data.len());
    assert_eq!(
        sizes.iter().filter(|&&s| s > 4 << 20).count(),
        1,
        "{sizes:?}"
    );
    // Commands that read a little and quit: every chunk still runs, parx succeeds.
    let out = piped_ok(&["-j2", "sh", "-c", "head -c 10 >/dev/null; echo x"]);
    assert_eq!(common::lines(&out.stdout).len(), sizes.len());
}

/// `--pipe -N` as a pipeline stage (issue 27): a chunk whose record count is reached goes at
/// once, so the first chunk's output comes while the input is still open (`tail -f log |
/// parx --pipe -N 100 …`), for `-N` and `-N` with `-L` (records of L lines), in order with `-k`.
/// (`-L` alone cuts blocks of whole records: those wait for `--block` bytes, as GNU's.)
#[test]
fn pipe_n_chunk_goes_before_the_input_ends() {
    use std::io::{BufRead, BufReader};
    for records in [&["-N", "5"][..], &["-N", "1", "-L", "5"]] {
        let mut child = parx_std()
            .args(["--pipe", "-k"])
            .args(records)
            .args(["sh", "-c", "echo chunk {#}: $(wc -l)"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"1\n2\n3\n4\n5\n").unwrap();
        stdin.flush().unwrap();
        // The input stays open while the first line is awaited (on a thread, so that a parx
        // that waits for the input's end fails the test instead of hanging it).
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok);
            let _ = tx.send(first);
            let rest: Vec<String> = lines.map_while(Result::ok).collect();
            let _ = tx.send(rest.first().cloned());
        });
        let first = rx.recv_timeout(Duration::from_secs(20));
        stdin.write_all(b"6\n7\n8\n9\n10\n").unwrap();
        drop(stdin);
        assert_eq!(
            first,
            Ok(Some("chunk 1: 5".to_owned())),
            "{records:?}: the first chunk's output before the input ended"
        );
        let second = rx.recv_timeout(Duration::from_secs(20));
        assert_eq!(second, Ok(Some("chunk 2: 5".to_owned())), "{records:?}");
        let status = common::wait_timeout(&mut child, common::TIMEOUT).expect("parx hung");
        assert!(status.success(), "{records:?}");
    }
}

/// A command that splices its stdin on (pv, Python's `os.splice`) moves the pages of its
/// stdin pipe into the next pipe instead of copying them; a slow reader there reads them
/// long after the command's own pipe is empty. They must still hold the chunk: parx gives
/// each chunk's pipe pages of its own (write(2)), never pages it writes again. (vmsplice(2)
/// of a reused buffer fails this even when it waits for the pipe to be empty: the pages
/// then sit in the downstream pipe, and the reader there read later chunks' bytes.)
#[test]
fn a_command_that_splices_its_stdin_on_passes_its_chunk_unchanged() {
    let d = common::tempdir();
    let data: Vec<u8> = (0..500_000u64)
        .flat_map(|i| format!("{i:015}\n").into_bytes())
        .collect(); // 8 MB: chunks of 4 times a pipe
    fs::write(d.path().join("data"), &data).unwrap();
    // Its stdout pipe as big as parx's, so that it can empty parx's pipe into it.
    let py = "import fcntl, os\n\
              try:\n    fcntl.fcntl(1, fcntl.F_SETPIPE_SZ, 1 << 20)\nexcept OSError:\n    pass\n\
              while os.splice(0, 1, 1 << 20):\n    pass\n";
    fs::write(d.path().join("splice.py"), py).unwrap();
    // A reader that lags behind it.
    let slow = "import os, sys, time\n\
                while data := os.read(0, 1 << 16):\n    sys.stdout.buffer.write(data)\n    time.sleep(0.002)\n";
    fs::write(d.path().join("slow.py"), slow).unwrap();
    let out = parx_std()
        .current_dir(d.path())
        .args([
            "--pipe-part",
            "--block",
            "4M",
            "-j2",
            "-a",
            "data",
            "sh",
            "-c",
        ])
        .arg("python3 ./splice.py | python3 ./slow.py > out.$PARALLEL_SEQ")
        .timed_output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut got = Vec::new();
    let mut seq = 1;
    while let Ok(part) = fs::read(d.path().join(format!("out.{seq}"))) {
        assert!(part.ends_with(b"\n"), "task {seq}: a torn chunk");
        got.extend(part);
        seq += 1;
    }
    assert!(seq > 2, "one chunk only");
    assert!(got == data, "the chunks, spliced on, are not the file");
}
