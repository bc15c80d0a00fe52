//! The README's examples cannot rot: every fenced block whose info string is `sh runnable` is
//! run with `sh -e` in a fresh temporary directory (after its `<!-- setup: ... -->`, and with
//! the README's `<!-- file: NAME -->` blocks saved there), with the freshly built parx first on
//! PATH, this checkout's python/ on PYTHONPATH (the `parx` package) and stdin from
//! /dev/null; it must exit 0, and when the next block is `text expected`, its stdout must
//! equal that block. Every other block a reader could copy says why it is not
//! run (`<!-- not run: WHY -->`), or the test fails.

use std::path::Path;
use std::process::{Command, Stdio};

struct Example {
    line: usize,
    /// Run before the block, in the same shell (`<!-- setup: ... -->` before the block).
    setup: String,
    script: String,
    expected: Option<String>,
}

/// What a Markdown text's fenced blocks hold for this test.
#[derive(Default)]
struct Blocks {
    /// The `sh runnable` blocks, each with the expected output that follows it.
    examples: Vec<Example>,
    /// Blocks saved as files for the examples (`<!-- file: NAME -->` before the block).
    files: Vec<(String, String)>,
    /// Blocks not run, with why (`<!-- not run: WHY -->` before the block).
    not_run: Vec<(usize, String)>,
    /// Blocks that neither run nor say why not (their line numbers).
    unmarked: Vec<usize>,
}

/// Reads the fenced blocks of a Markdown text. A block is `sh runnable` (run), `text expected`
/// (the output of the runnable block before it), `text` (not a command), or follows an HTML
/// comment saying what it is: `<!-- file: NAME -->` (saved as NAME in each example's
/// directory), `<!-- setup: SCRIPT -->` (a runnable block's preparation, not shown in the
/// rendered README) or `<!-- not run: WHY -->`. Any other block is unmarked.
fn blocks(markdown: &str) -> Blocks {
    let mut out = Blocks::default();
    let mut lines = markdown.lines().enumerate().peekable();
    // The HTML comment on the lines just before a fence, if any.
    let mut comment: Option<String> = None;
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("<!--") {
            let mut text = rest.to_owned();
            while !text.contains("-->") {
                match lines.next() {
                    Some((_, l)) => {
                        text.push('\n');
                        text.push_str(l);
                    }
                    None => break,
                }
            }
            comment = Some(
                text.split("-->")
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            );
            continue;
        }
        let Some(info) = trimmed.strip_prefix("```") else {
            comment = None;
            continue;
        };
        let info = info.trim();
        let mut body = String::new();
        for (_, l) in lines.by_ref() {
            if l.trim_start().starts_with("```") {
                break;
            }
            body += l;
            body.push('\n');
        }
        let note = comment.take().unwrap_or_default();
        if let Some(name) = note.strip_prefix("file:") {
            out.files.push((name.trim().to_owned(), body));
        } else if let Some(why) = note.strip_prefix("not run:").map(str::trim) {
            if why.is_empty() {
                out.unmarked.push(n + 1);
            } else {
                out.not_run.push((n + 1, why.to_owned()));
            }
        } else if info == "sh runnable" {
            out.examples.push(Example {
                line: n + 1,
                setup: note.strip_prefix("setup:").unwrap_or_default().to_owned(),
                script: body,
                expected: None,
            });
        } else if info == "text expected" {
            let last = out
                .examples
                .last_mut()
                .filter(|e| e.expected.is_none())
                .unwrap_or_else(|| {
                    panic!(
                        "README.md:{}: expected output after no runnable block",
                        n + 1
                    )
                });
            last.expected = Some(body);
        } else if info != "text" {
            out.unmarked.push(n + 1);
        }
    }
    out
}

/// Every block a reader can copy is run or says why not.
#[test]
fn every_block_runs_or_says_why_not() {
    let b = blocks(&readme());
    assert!(
        b.unmarked.is_empty(),
        "README.md lines {:?}: a fenced block that neither runs (```sh runnable, or \
         <!-- file: NAME --> for a file the examples use) nor says why not \
         (<!-- not run: WHY --> on the line before it)",
        b.unmarked
    );
    assert!(!b.not_run.is_empty() && !b.files.is_empty());
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md")
}

#[test]
fn readme_examples_run() {
    let Blocks {
        examples, files, ..
    } = blocks(&readme());
    assert!(
        examples.len() >= 3,
        "only {} runnable blocks in README.md: was the `sh runnable` marker lost?",
        examples.len()
    );
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_parx")).parent().unwrap();
    let path = std::env::join_paths(std::iter::once(bin_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let mut failures = Vec::new();
    for ex in &examples {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in &files {
            std::fs::write(dir.path().join(name), body).unwrap();
        }
        let out = Command::new("sh")
            .arg("-ec")
            .arg(format!("{}\n{}", ex.setup, ex.script))
            .current_dir(dir.path())
            .env("PATH", &path)
            // The Process pool section's Python examples import this checkout's package.
            .env(
                "PYTHONPATH",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("python"),
            )
            .stdin(Stdio::null())
            .output()
            .expect("running sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            failures.push(format!(
                "README.md:{}: {} \n{}\nstderr:\n{}",
                ex.line,
                out.status,
                ex.script,
                String::from_utf8_lossy(&out.stderr)
            ));
        } else if let Some(want) = &ex.expected {
            if stdout != *want {
                failures.push(format!(
                    "README.md:{}: output differs\n{}\nwant:\n{want}got:\n{stdout}",
                    ex.line, ex.script
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn blocks_are_found_with_their_expected_output() {
    let md = "text\n```sh runnable\necho a\n```\n```text expected\na\n```\n```sh\nnot run\n```\n\
              <!-- setup: touch x -->\n```sh runnable\ntrue\n```\n<!-- not run:\n  a cluster -->\n\
              ```sh\nsbatch\n```\n<!-- file: w.py -->\n```python\nprint(1)\n```\n```\nparx\n```\n";
    let b = blocks(md);
    let ex = &b.examples;
    assert_eq!(ex.len(), 2);
    assert_eq!((ex[0].line, ex[0].script.as_str()), (2, "echo a\n"));
    assert_eq!(ex[0].expected.as_deref(), Some("a\n"));
    assert_eq!((ex[1].line, ex[1].expected.as_deref()), (12, None));
    assert_eq!(ex[1].setup.trim(), "touch x");
    assert_eq!(b.not_run, [(17, "a cluster".to_owned())]);
    assert_eq!(b.files, [("w.py".to_owned(), "print(1)\n".to_owned())]);
    assert_eq!(b.unmarked, [8, 24]);
}

/// The benchmark figures are those of `bench/last-run.txt`, written by
/// `bench/readme-figures.py` (one run, never typed by hand). Skipped without python3.
#[test]
fn benchmark_figures_are_one_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = match Command::new("python3")
        .arg(root.join("bench/readme-figures.py"))
        .args(["--check", "bench/last-run.txt", "README.md"])
        .current_dir(root)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipped: python3 cannot run: {e}");
            return;
        }
    };
    assert!(
        out.status.success(),
        "README.md's figures are not bench/last-run.txt's (run bench/readme-figures.py \
         bench/last-run.txt): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The README's install line of the man page puts it where `man` looks: with a fresh `$HOME`
/// and only `~/.cargo/bin` (where `cargo install` puts parx) and the system's directories on
/// PATH, `man -w parx` finds it. Skipped without man-db.
#[test]
fn man_page_installed_as_the_readme_says_is_found() {
    if Command::new("man").arg("-w").arg("man").output().is_err() {
        eprintln!("skipped: man is not installed (apt-get install man-db)");
        return;
    }
    let readme = readme();
    let line = readme
        .lines()
        .find(|l| l.starts_with("install -Dm644 man/parx.1 "))
        .expect("the README's install line of the man page");
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join(".cargo/bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    let run = |cmd: &str| {
        Command::new("sh")
            .args(["-ec", cmd])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("HOME", home.path())
            .env("PATH", &path)
            .env_remove("CARGO_HOME")
            .env_remove("MANPATH")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let installed = run(line);
    assert!(installed.status.success(), "{line}: {installed:?}");
    let found = run("man -w parx");
    let where_ = String::from_utf8_lossy(&found.stdout);
    assert!(
        found.status.success() && where_.starts_with(&home.path().display().to_string()),
        "man -w parx after `{line}`: {where_} {}",
        String::from_utf8_lossy(&found.stderr)
    );
}
