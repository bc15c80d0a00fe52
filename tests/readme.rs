//! The README's examples cannot rot: every fenced block whose info string is `sh runnable` is
//! run with `sh -e` in a fresh temporary directory, with the freshly built parx first on PATH
//! and stdin from /dev/null; it must exit 0, and when the next block is `text expected`, its
//! stdout must equal that block.

use std::path::Path;
use std::process::{Command, Stdio};

struct Example {
    line: usize,
    script: String,
    expected: Option<String>,
}

/// The runnable blocks of a Markdown text, each with the expected output that follows it.
fn runnable_blocks(markdown: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut lines = markdown.lines().enumerate().peekable();
    while let Some((n, line)) = lines.next() {
        let info = match line.trim_start().strip_prefix("```") {
            Some(info) if !info.is_empty() => info.trim(),
            _ => continue,
        };
        let mut body = String::new();
        for (_, l) in lines.by_ref() {
            if l.trim_start().starts_with("```") {
                break;
            }
            body += l;
            body.push('\n');
        }
        match info {
            "sh runnable" => out.push(Example {
                line: n + 1,
                script: body,
                expected: None,
            }),
            "text expected" => {
                let last = out
                    .last_mut()
                    .filter(|e| e.expected.is_none())
                    .unwrap_or_else(|| {
                        panic!(
                            "README.md:{}: expected output after no runnable block",
                            n + 1
                        )
                    });
                last.expected = Some(body);
            }
            _ => {}
        }
    }
    out
}

#[test]
fn readme_examples_run() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let examples = runnable_blocks(&readme);
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
        let out = Command::new("sh")
            .arg("-ec")
            .arg(&ex.script)
            .current_dir(dir.path())
            .env("PATH", &path)
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
    let md = "text\n```sh runnable\necho a\n```\n```text expected\na\n```\n```sh\nnot run\n```\n```sh runnable\ntrue\n```\n";
    let ex = runnable_blocks(md);
    assert_eq!(ex.len(), 2);
    assert_eq!((ex[0].line, ex[0].script.as_str()), (2, "echo a\n"));
    assert_eq!(ex[0].expected.as_deref(), Some("a\n"));
    assert_eq!((ex[1].line, ex[1].expected.as_deref()), (11, None));
}
