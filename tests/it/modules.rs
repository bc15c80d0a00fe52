//! No import cycles between parx's modules (issue 10): the module graph of `src/`, read by
//! `xtask/src/modules.rs` (print it with `cargo xtask modules`), has none, at the level of the
//! top-level modules nor between submodules (`pool::process`, `source::walk`, ...; a module's
//! use of its own submodules is its business, see `modules::layers`).

use std::path::Path;

#[allow(clippy::module_inception)]
#[path = "../../xtask/src/modules.rs"]
mod modules;

#[test]
fn module_graph_has_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for fine in [false, true] {
        let g = modules::graph(&src, fine).expect("reading src/");
        assert!(g.contains_key("lib") && g.contains_key("pool"), "{g:?}");
        let cycles = modules::cycles(&modules::layers(&g));
        assert!(
            cycles.is_empty(),
            "import cycles {cycles:?} in the module graph:\n{}",
            modules::render(&g)
        );
    }
}

/// Every line parx writes to stderr, a task's stderr included, goes through `messages` (which
/// keeps the `--bar`/`--eta` display out of the way): no other module of `src/` names stderr
/// but `progress` (the display itself, drawn by indicatif, which `messages` suspends; it only
/// asks whether stderr is a terminal). `eprint!`/`eprintln!` are denied by clippy
/// (`clippy::print_stderr`, allowed in messages.rs only); this catches `io::stderr()`.
#[test]
fn stderr_has_one_owner() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("reading src/") {
            let p = e.expect("a directory entry").path();
            if p.is_dir() {
                dirs.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(&src)
                .expect("under src/")
                .to_string_lossy()
                .into_owned();
            if rel == "messages.rs" || rel == "progress.rs" || !rel.ends_with(".rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).expect("reading a source file");
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                if code.contains("stderr()") || code.contains("eprint") {
                    found.push(format!("src/{rel}:{}: {}", i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "stderr written outside messages.rs:\n{}",
        found.join("\n")
    );
}

/// Functions a reader can hold in one screen and files of one concern: no file of `src/` over
/// 700 code lines, no function over 120 (`bench/size.py` counts: a code line is neither blank
/// nor only a comment; a function runs from `fn` to its closing brace).
#[test]
fn sources_stay_within_the_size_limits() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = std::process::Command::new("python3")
        .arg(root.join("bench/size.py"))
        .arg(root.join("src"))
        .output()
        .expect("python3 runs bench/size.py");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}
