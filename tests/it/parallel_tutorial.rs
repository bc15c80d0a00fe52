//! GNU parallel's own tutorial (`parallel_tutorial`, GNU parallel 20221122) run through parx's
//! `parallel` personality: parx linked as `parallel`, every example that runs on one machine.
//!
//! The tutorial is GNU's (GFDL), so it is not copied here: the test reads its texinfo from the
//! Debian package of GNU parallel 20221122 (`usr/share/doc/parallel/parallel_tutorial.texi.gz`)
//! at `$PARX_PARALLEL_TUTORIAL`; `.ci/references.sh` unpacks it (the package is downloaded and
//! unpacked, never installed: the tests do not run GNU parallel). Without it the test says so
//! and passes, except under `CI=true`.
//!
//! Every `@verbatim` block is an example, except those after a paragraph starting "Output"
//! (what GNU prints) and those that do not run `parallel`. The "Prerequisites" examples make
//! the tutorial's files (abc-file, num30000, ...) once; each other example runs with bash in a
//! fresh directory holding links to them, stdin from /dev/null, `parallel` first on PATH.
//!
//! Calibration: `PARX_TUTORIAL_ORACLE=/usr/bin/parallel cargo test --test it --
//! parallel_tutorial --nocapture` runs every example twice through GNU parallel and prints the
//! calibration: for each example its status and output, compared byte for byte when the
//! example keeps order (`-k`, `-j1`) and GNU's two runs agree, as sorted lines when they agree
//! so (jobs end in any order, as the tutorial says), or left out as nondeterministic; examples
//! outside one machine or needing Perl expressions are left out with the reason.
//! `fixtures/parallel-tutorial/calibrated.tsv` holds it; at least 90% of the calibrated
//! examples must pass through parx, and the README lists the others with the reason.

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one example may run.
const EXAMPLE_TIMEOUT: Duration = Duration::from_secs(30);

/// One example: where it starts in the texinfo (its first line) and its text.
#[derive(Debug, Clone)]
struct Example {
    line: usize,
    text: String,
    prerequisite: bool,
}

/// Why an example is not run, if it is not.
fn left_out(text: &str) -> Option<&'static str> {
    let has = |w: &str| text.contains(w);
    let remote = [
        "--sshlogin",
        " -S ",
        "-S ",
        "$SERVER",
        "--onall",
        "--nonall",
        "--transfer",
        "--return",
        "--cleanup",
        "--basefile",
        "--workdir",
        "--wd ",
        "--slf",
        "--sshloginfile",
        "ssh ",
        "--controlmaster",
        "--env ",
        "env_parallel",
        "--filter-hosts",
        "--trc",
    ];
    if remote.iter().any(|r| has(r)) {
        return Some("remote execution");
    }
    if has("{=") || has("--rpl") || has("--parens") {
        return Some("Perl expression");
    }
    if has("--sql") || has("sql:") || has("--sqlmaster") || has("--sqlworker") {
        return Some("SQL database");
    }
    if has("--tmux") || has("--fg") || has("--tty") || has("--interactive") || has(" -p ") {
        return Some("terminal");
    }
    if has("sem ") || has("--semaphore") || has("parset") || has("parcat") || has("niceload") {
        return Some("other GNU parallel tools");
    }
    if has("emacs") || has("vi ") || has("--shebang") || has("#!/usr/bin/parallel") {
        return Some("editor or script file");
    }
    if has("pi.dk") || has("wget") || has("curl") || has("lynx") {
        return Some("network");
    }
    if has("--citation") || has("--bibtex") || has("--version") || has("--help") {
        return Some("GNU parallel's own information");
    }
    if has("--record-env") {
        return Some("env_parallel's --env _ set-up");
    }
    if has("-vv --pipepart") {
        return Some("prints GNU parallel's internal Perl wrapper");
    }
    None
}

/// The `@verbatim` examples of the tutorial.
fn examples(texi: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let lines: Vec<&str> = texi.lines().collect();
    let mut i = 0;
    // The first line of the paragraph being read, and of the one before it.
    let (mut para, mut last_para) = (String::new(), String::new());
    let mut prerequisites = true;
    while i < lines.len() {
        let l = lines[i];
        if l.starts_with("@chapter Input sources") {
            prerequisites = false;
        }
        if l.trim() != "@verbatim" {
            if l.trim().is_empty() {
                if !para.is_empty() {
                    last_para = std::mem::take(&mut para);
                }
            } else if !l.starts_with('@') && para.is_empty() {
                para = l.trim().to_owned();
            }
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut j = start;
        while j < lines.len() && lines[j].trim() != "@end verbatim" {
            j += 1;
        }
        let body: Vec<&str> = lines[start..j].to_vec();
        i = j + 1;
        let before = if para.is_empty() { &last_para } else { &para };
        let is_output = before.starts_with("Output");
        para.clear();
        last_para.clear();
        if is_output {
            continue;
        }
        let text = body
            .iter()
            .map(|l| l.strip_prefix("  ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let runs_parallel = text
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .any(|w| w == "parallel");
        // The prerequisites make files with any command; the examples are those that run
        // GNU parallel. Lines with a prompt are a session shown, not a command to copy.
        if !(runs_parallel || prerequisites) || text.trim_start().starts_with('$') {
            continue;
        }
        out.push(Example {
            line: start + 1,
            text,
            prerequisite: prerequisites,
        });
    }
    out
}

/// What running an example gave.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Ran {
    status: i32,
    stdout: Vec<u8>,
}

/// Runs `script` with bash in `dir`, `bin` first on PATH, HOME in `home`.
fn run_script(script: &str, dir: &Path, bin: &Path, home: &Path) -> Ran {
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(script)
        .current_dir(dir)
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()),
        )
        .env("HOME", home)
        .env("LC_ALL", "C")
        .env("SHELL", "/bin/bash")
        .env("TMPDIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0);
    common::default_signals(&mut c);
    let mut child = c.spawn().expect("bash");
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code().unwrap_or(-1);
        }
        if t0.elapsed() > EXAMPLE_TIMEOUT {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break -9;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // The group may still hold the pipe (a background job): end it.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    Ran {
        status,
        stdout: reader.join().unwrap_or_default(),
    }
}

/// Whether the example asks for output in input order (else jobs end, and print, in any
/// order: compared as sorted lines, as the tutorial says "the order may be different").
fn keeps_order(text: &str) -> bool {
    text.split_whitespace().any(|w| {
        matches!(
            w,
            "-k" | "--keep-order" | "--keeporder" | "-j1" | "--jobs=1"
        ) || (w.starts_with('-') && !w.starts_with("--") && w.contains('k') && w.len() <= 4)
    }) || text.contains("-j 1 ")
}

/// FNV-1a, 64 bits: a stable fingerprint of an output for the calibration file.
fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &c| {
        (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn sorted(b: &[u8]) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = b.split(|&c| c == b'\n').collect();
    lines.sort();
    lines.join(&b'\n')
}

/// The prerequisite files, made once in `dir` by the tutorial's own commands.
fn prepare(ex: &[Example], dir: &Path, bin: &Path, home: &Path) {
    for e in ex.iter().filter(|e| e.prerequisite) {
        if left_out(&e.text).is_none() {
            run_script(&e.text, dir, bin, home);
        }
    }
}

/// A fresh directory for one example, with links to the prerequisite files.
fn fresh(base: &Path, files: &Path, n: usize) -> PathBuf {
    let d = base.join(format!("ex{n}"));
    fs::create_dir_all(&d).unwrap();
    for e in fs::read_dir(files).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            let _ = fs::hard_link(e.path(), d.join(e.file_name()));
        }
    }
    d
}

/// A calibrated example: how its output is compared, and what GNU parallel gave.
#[derive(Debug)]
enum Expect {
    Exact { status: i32, hash: u64 },
    Sorted { status: i32, hash: u64 },
    Skip,
}

fn parse_calibration(text: &str) -> BTreeMap<usize, Expect> {
    let mut m = BTreeMap::new();
    for l in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = l.split('\t').collect();
        let line: usize = f[0].parse().unwrap();
        let e = match f[1] {
            "exact" | "sorted" => {
                let status = f[2].parse().unwrap();
                let hash = u64::from_str_radix(f[3], 16).unwrap();
                if f[1] == "exact" {
                    Expect::Exact { status, hash }
                } else {
                    Expect::Sorted { status, hash }
                }
            }
            _ => Expect::Skip,
        };
        m.insert(line, e);
    }
    m
}

fn first_line(t: &str) -> String {
    t.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(70)
        .collect()
}

#[test]
fn gnu_parallel_tutorial() {
    let Some(texi) = std::env::var_os("PARX_PARALLEL_TUTORIAL").map(PathBuf::from) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set PARX_PARALLEL_TUTORIAL (see .ci/references.sh)"
        );
        eprintln!("gnu_parallel_tutorial: skipped, PARX_PARALLEL_TUTORIAL is not set (README, Development)");
        return;
    };
    let raw = Command::new("gzip")
        .args(["-dcf"])
        .stdin(fs::File::open(&texi).unwrap())
        .output()
        .unwrap()
        .stdout;
    let ex = examples(&String::from_utf8_lossy(&raw));
    let tmp = common::tempdir();
    let bin = tmp.path().join("bin");
    let home = tmp.path().join("home");
    let files = tmp.path().join("files");
    for d in [&bin, &home, &files] {
        fs::create_dir_all(d).unwrap();
    }
    let oracle = std::env::var_os("PARX_TUTORIAL_ORACLE").map(PathBuf::from);
    let target = oracle.clone().unwrap_or_else(|| PathBuf::from(common::BIN));
    std::os::unix::fs::symlink(&target, bin.join("parallel")).unwrap();
    prepare(&ex, &files, &bin, &home);
    let runs = tmp.path().join("runs");
    let mut n = 0;
    let mut run = |e: &Example| {
        n += 1;
        let d = fresh(&runs, &files, n);
        let r = run_script(&e.text, &d, &bin, &home);
        let _ = fs::remove_dir_all(&d);
        r
    };
    let examples: Vec<&Example> = ex.iter().filter(|e| !e.prerequisite).collect();
    if oracle.is_some() {
        println!("# GNU parallel's tutorial: line, mode, status, output hash (FNV-1a), command");
        for e in &examples {
            let first = first_line(&e.text);
            if let Some(why) = left_out(&e.text) {
                println!("{}\tskip\t{why}\t\t{first}", e.line);
                continue;
            }
            let (a, b) = (run(e), run(e));
            let line = if a.status == -9 || b.status == -9 {
                format!("{}\tskip\ttimes out\t\t{first}", e.line)
            } else if a == b && keeps_order(&e.text) {
                format!(
                    "{}\texact\t{}\t{:x}\t{first}",
                    e.line,
                    a.status,
                    fnv(&a.stdout)
                )
            } else if a.status == b.status && sorted(&a.stdout) == sorted(&b.stdout) {
                format!(
                    "{}\tsorted\t{}\t{:x}\t{first}",
                    e.line,
                    a.status,
                    fnv(&sorted(&a.stdout))
                )
            } else {
                format!(
                    "{}\tskip\tnondeterministic under GNU parallel\t\t{first}",
                    e.line
                )
            };
            println!("{line}");
        }
        return;
    }
    let cal = parse_calibration(
        &fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/parallel-tutorial/calibrated.tsv"),
        )
        .unwrap(),
    );
    let (mut passed, mut failed) = (Vec::new(), Vec::new());
    for e in examples.iter().filter(|e| left_out(&e.text).is_none()) {
        let (exact, status, hash) = match cal.get(&e.line) {
            Some(Expect::Exact { status, hash }) => (true, *status, *hash),
            Some(Expect::Sorted { status, hash }) => (false, *status, *hash),
            Some(Expect::Skip) => continue,
            None => panic!("example at line {} is not calibrated", e.line),
        };
        let r = run(e);
        let got = if exact {
            fnv(&r.stdout)
        } else {
            fnv(&sorted(&r.stdout))
        };
        if r.status == status && got == hash {
            passed.push(e.line);
        } else {
            failed.push(format!(
                "line {} (status {} want {status}): {}",
                e.line,
                r.status,
                first_line(&e.text)
            ));
        }
    }
    for f in &failed {
        eprintln!("FAIL {f}");
    }
    let total = passed.len() + failed.len();
    println!("{} passed, {} failed", passed.len(), failed.len());
    assert!(total > 100, "only {total} calibrated examples found");
    assert!(
        passed.len() * 10 >= total * 9,
        "{} of {total} tutorial examples pass (90% needed)",
        passed.len()
    );
}
