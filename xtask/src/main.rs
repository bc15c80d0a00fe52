//! `cargo xtask gen [DIR]`: write the man page and the shell completions generated from parx's
//! clap definition into DIR (default: the repository root). `tests/it/generated.rs` fails when the
//! checked-in copies differ from what this writes.
//!
//! `cargo xtask modules`: print the module graph of `src/` (top-level modules, then with the
//! submodules) and fail if it has a cycle; `tests/it/modules.rs` runs the same check.

mod gen;
mod modules;

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("gen") => {
            let root = args
                .next()
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
            for (path, bytes) in gen::files() {
                let full = root.join(path);
                std::fs::create_dir_all(full.parent().expect("a file in a directory"))
                    .and_then(|()| std::fs::write(&full, bytes))
                    .unwrap_or_else(|e| {
                        eprintln!("xtask: {}: {e}", full.display());
                        std::process::exit(1)
                    });
                println!("wrote {path}");
            }
        }
        Some("modules") => {
            let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../src");
            let mut cyclic = false;
            for (title, fine) in [("top-level modules", false), ("with submodules", true)] {
                let g = modules::graph(&src, fine).unwrap_or_else(|e| {
                    eprintln!("xtask: {}: {e}", src.display());
                    std::process::exit(1)
                });
                println!("# {title}\n{}", modules::render(&g));
                for c in modules::cycles(&modules::layers(&g)) {
                    eprintln!("xtask: import cycle: {}", c.join(" <-> "));
                    cyclic = true;
                }
            }
            if cyclic {
                std::process::exit(1);
            }
        }
        _ => {
            eprintln!("usage: cargo xtask gen [DIR]   (man/parx.1 and completions/ into DIR)");
            eprintln!(
                "       cargo xtask modules     (the module graph of src/; fails on a cycle)"
            );
            std::process::exit(2)
        }
    }
}
