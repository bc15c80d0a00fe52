//! `--bar` and `--eta` drawn in a real terminal: each test starts parx in a tmux session of
//! its own (a private socket) and reads the screen back with `capture-pane` while the run
//! goes on. Skipped, with the reason printed, where tmux is not installed.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A tmux server of this test's own, killed when dropped.
struct Term {
    dir: tempfile::TempDir,
    sock: PathBuf,
}

impl Term {
    /// A terminal to be, with a temp dir; `None` without tmux.
    fn new() -> Option<Term> {
        if Command::new("tmux").arg("-V").timed_output().is_err() {
            eprintln!("skipped: tmux is not installed (apt-get install tmux)");
            return None;
        }
        let dir = tempdir();
        let sock = dir.path().join("tmux.sock");
        Some(Term { dir, sock })
    }

    /// Opens the 100×8 terminal running `script` (sh syntax).
    fn start(&self, script: &str) {
        self.start_rows(8, script);
    }

    /// Opens a terminal of 100 columns and `rows` lines running `script`.
    fn start_rows(&self, rows: u32, script: &str) {
        let rows = rows.to_string();
        let o = self.tmux(&["new-session", "-d", "-x", "100", "-y", &rows, script]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    /// The screen once a line `END` is on it (polled for up to 30 s), with the lines that
    /// scrolled off it.
    fn screen_at_end(&self) -> String {
        let mut screen = String::new();
        let ended = wait_for(Duration::from_secs(30), || {
            let o = self.tmux(&["capture-pane", "-p", "-S", "-"]);
            screen = String::from_utf8_lossy(&o.stdout).into();
            screen.lines().any(|l| l == "END")
        });
        assert!(ended, "no END; screen:\n{screen}");
        screen
    }

    /// A terminal running `script`; `None` without tmux.
    fn run(script: &str) -> Option<Term> {
        let term = Term::new()?;
        term.start(script);
        Some(term)
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.sock)
            .args(args)
            .env_remove("TMUX")
            .stdin(Stdio::null())
            .timed_output()
            .unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The first screen line starting with `parx:` for which `want` holds, polled every
    /// 50 ms for up to 15 s; panics with the last screen if none does.
    fn wait_line(&self, want: impl Fn(&str) -> bool) -> String {
        let t = Instant::now();
        let mut screen = String::new();
        while t.elapsed() < Duration::from_secs(15) {
            screen = String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p"]).stdout).into();
            if let Some(l) = screen.lines().find(|l| l.starts_with("parx:") && want(l)) {
                return l.trim_end().to_owned();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no such progress line; screen:\n{screen}");
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// `N` of an `N/total` on a progress line.
fn done_of(line: &str, total: u64) -> Option<u64> {
    let at = line.find(&format!("/{total} "))?;
    let start = line[..at].rfind(' ')? + 1;
    line[start..at].parse().ok()
}

/// A file of the values 1 to 200, one per line, in the terminal's directory.
fn values_file(term: &Term) -> PathBuf {
    let file = term.path("values");
    std::fs::write(&file, numbers(200).replace(' ', "\n")).unwrap();
    file
}

fn quoted(p: &Path) -> String {
    sh_quote(&p.display().to_string())
}

fn numbers(n: u64) -> String {
    (1..=n).map(|i| format!("{i} ")).collect()
}

/// Early in a 20-task run of `:::` values, the screen shows the bar
/// with done/total, the percentage and the ETA. Also with 200 values, more than the task
/// channel holds: the source is held back, the count ahead is not.
#[test]
fn bar_shows_percentage_and_eta_early_for_values() {
    for (n, sleep) in [(20, "0.3"), (200, "0.1")] {
        let script = format!(
            "{} -j2 --bar sh -c 'sleep {sleep}' ::: {}>/dev/null; sleep 20",
            sh_quote(BIN),
            numbers(n)
        );
        let Some(term) = Term::run(&script) else {
            return;
        };
        let line = term.wait_line(|l| done_of(l, n).is_some_and(|d| d > 0));
        assert!(line.starts_with("parx: ["), "{line}");
        assert!(line.contains("%") && line.contains("ETA"), "{line}");
        let d = done_of(&line, n).unwrap();
        assert!(d < n / 2, "seen early, not at the end: {line}");
        // indicatif may round the percentage or cut it: either matches done/total.
        let (floor, round) = (d * 100 / n, (d * 100 + n / 2) / n);
        assert!(
            line.contains(&format!(" {floor}% ")) || line.contains(&format!(" {round}% ")),
            "{line}"
        );
    }
}

/// `--eta` over a file batched by `-n 3`: 200 values make 67 tasks, known from the start.
#[test]
fn eta_counts_batches_of_a_file() {
    let Some(term) = Term::new() else {
        return;
    };
    let file = values_file(&term);
    term.start(&format!(
        "{} -j2 --eta -n 3 sh -c 'sleep 0.1' sh :::: {} >/dev/null; sleep 20",
        sh_quote(BIN),
        quoted(&file)
    ));
    let line = term.wait_line(|l| done_of(l, 67).is_some());
    assert!(done_of(&line, 67).unwrap() < 30, "{line}");
    assert!(line.contains("%") && line.contains("ETA"), "{line}");
    assert!(!line.contains('['), "--eta draws no bar: {line}");
}

/// `--pipe-part` and `--pipe` from a regular file: the chunks are counted from the split
/// (1000 lines, 10 a chunk: 100).
#[test]
fn bar_counts_pipe_part_chunks() {
    for (mode, input) in [("--pipe-part", ":::: FILE"), ("--pipe", "< FILE")] {
        let Some(term) = Term::new() else {
            return;
        };
        let file = term.path("data");
        std::fs::write(
            &file,
            (1..=1000).map(|i| format!("{i}\n")).collect::<String>(),
        )
        .unwrap();
        term.start(&format!(
            "{} -j2 --bar -N 10 {mode} sh -c 'sleep 0.05; cat >/dev/null' {} >/dev/null; \
             sleep 20",
            sh_quote(BIN),
            input.replace("FILE", &quoted(&file))
        ));
        let line = term.wait_line(|l| done_of(l, 100).is_some_and(|n| n > 0));
        assert!(done_of(&line, 100).unwrap() < 50, "{mode}: {line}");
        assert!(line.contains("ETA"), "{mode}: {line}");
    }
}

/// Values from a pipe are read ahead of the tasks (issue 27): `seq 2000 | parx --bar` shows
/// the percentage and the ETA as soon as seq has ended, not when the last task starts. Seen
/// within the first ~300 tasks of 2000 (at -j2 and 10 ms a task, under 2 s of the run).
#[test]
fn piped_values_show_percentage_and_eta_at_once() {
    for opt in ["--bar", "--eta"] {
        let script = format!(
            "seq 2000 | {} -j2 {opt} sh -c 'sleep 0.01' >/dev/null; sleep 20",
            sh_quote(BIN)
        );
        let Some(term) = Term::run(&script) else {
            return;
        };
        let line = term.wait_line(|l| done_of(l, 2000).is_some());
        assert!(line.contains('%') && line.contains("ETA"), "{opt}: {line}");
        assert!(
            done_of(&line, 2000).unwrap() < 300,
            "{opt}: seen early: {line}"
        );
    }
}

/// `--pipe` chunks of a pipe are not counted ahead: a count and a rate until the input ends.
#[test]
fn count_and_rate_until_a_piped_pipe_input_ends() {
    let script = format!(
        "seq 200 | {} -j2 --bar --pipe -N 1 sh -c 'sleep 0.2; cat' >/dev/null; sleep 20",
        sh_quote(BIN)
    );
    let Some(term) = Term::run(&script) else {
        return;
    };
    let line = term.wait_line(|l| l.contains(" done, "));
    assert!(line.contains("/s") && line.contains("elapsed"), "{line}");
    assert!(!line.contains('%'), "{line}");
}

/// At the end the display is cleared (as cargo's): nothing of it is left on the screen.
#[test]
fn bar_is_gone_at_the_end() {
    let script = format!(
        "seq 100 | {} -j2 --bar sh -c 'sleep 0.02' >/dev/null; echo END; sleep 20",
        sh_quote(BIN)
    );
    let Some(term) = Term::run(&script) else {
        return;
    };
    term.wait_line(|l| done_of(l, 100).is_some());
    let screen = term.screen_at_end();
    let left: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(left, ["END"], "screen:\n{screen}");
}

/// 20 tasks writing lines to the terminal the bar is drawn on: every line of the run is
/// a task's (or the final END), with no bar fragment between them.
#[test]
fn task_lines_leave_no_bar_fragments() {
    let script = format!(
        "seq 20 | {} -j2 --bar sh -c 'sleep 0.2; echo line-{{}}'; echo END; sleep 20",
        sh_quote(BIN)
    );
    let Some(term) = Term::new() else {
        return;
    };
    term.start_rows(40, &script);
    let screen = term.screen_at_end();
    let mut left: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(left.pop(), Some("END"), "screen:\n{screen}");
    left.sort_by_key(|l| l.trim_start_matches("line-").parse::<u32>().unwrap_or(0));
    let want: Vec<String> = (1..=20).map(|i| format!("line-{i}")).collect();
    assert_eq!(left, want, "screen:\n{screen}");
}

/// Values on stdin from a regular file are counted ahead, from where stdin stands (here
/// after a first line read by the shell: 199 values), with `-n` too (67 batches).
#[test]
fn bar_counts_a_regular_file_on_stdin() {
    for (batch, total) in [("", 199), ("-n 3", 67)] {
        let Some(term) = Term::new() else {
            return;
        };
        let file = values_file(&term);
        term.start(&format!(
            "(read first; {} -j2 --bar {batch} sh -c 'sleep 0.1' sh >/dev/null) < {}; sleep 20",
            sh_quote(BIN),
            quoted(&file)
        ));
        let line = term.wait_line(|l| done_of(l, total).is_some_and(|n| n > 0));
        assert!(
            done_of(&line, total).unwrap() < total / 2,
            "{batch}: {line}"
        );
    }
}
