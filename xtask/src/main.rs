//! `cargo xtask gen [DIR]`: write the man page and the shell completions generated from parx's
//! clap definition into DIR (default: the repository root). `tests/generated.rs` fails when the
//! checked-in copies differ from what this writes.

mod gen;

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
        _ => {
            eprintln!("usage: cargo xtask gen [DIR]   (man/parx.1 and completions/ into DIR)");
            std::process::exit(2)
        }
    }
}
