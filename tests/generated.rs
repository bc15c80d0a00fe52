//! The man page and shell completions are generated from the clap definition; the checked-in
//! copies must match. Regenerate with `PARX_REGENERATE=1 cargo test --test generated`.

use std::path::Path;

use clap_complete::Shell;

fn check(path: &str, want: &[u8]) {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    if std::env::var_os("PARX_REGENERATE").is_some() {
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, want).unwrap();
        return;
    }
    let have = std::fs::read(&full).unwrap_or_default();
    assert!(
        have == want,
        "{path} is stale: run `PARX_REGENERATE=1 cargo test --test generated` and commit it"
    );
}

#[test]
fn man_page_is_current() {
    let mut buf = Vec::new();
    clap_mangen::Man::new(parx::cli::command())
        .render(&mut buf)
        .unwrap();
    check("man/parx.1", &buf);
}

#[test]
fn completions_are_current() {
    for (shell, file) in [
        (Shell::Bash, "completions/parx.bash"),
        (Shell::Zsh, "completions/_parx"),
        (Shell::Fish, "completions/parx.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut parx::cli::command(), "parx", &mut buf);
        check(file, &buf);
    }
}
