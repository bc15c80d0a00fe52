//! The man page and shell completions are generated from the clap definition and `doc/`; the
//! checked-in copies must match. Regenerate with `cargo xtask gen` (or
//! `PARX_REGENERATE=1 cargo test --test generated`) and commit the result.

use std::path::Path;

#[path = "../../xtask/src/gen.rs"]
mod gen;

#[test]
fn generated_files_are_current() {
    let regenerate = std::env::var_os("PARX_REGENERATE").is_some();
    let mut stale = Vec::new();
    for (path, want) in gen::files() {
        let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        if regenerate {
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, &want).unwrap();
        } else if std::fs::read(&full).ok().as_deref() != Some(&want[..]) {
            stale.push(path);
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files {stale:?}: run `cargo xtask gen` and commit them"
    );
}

#[test]
fn man_page_has_its_sections_and_no_backticks() {
    let page = gen::man_page();
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "EXAMPLES",
        "\"EXIT STATUS\"",
        "ENVIRONMENT",
        "\"SEE ALSO\"",
    ] {
        assert!(
            page.contains(&format!("\n.SH {section}\n")),
            "no {section} in:\n{page}"
        );
    }
    assert!(!page.contains('`'), "a literal backtick in the man page");
    // The description is not the NAME line again.
    let name = page.split(".SH SYNOPSIS").next().unwrap();
    let about = parx::cli::command().get_about().unwrap().to_string();
    assert!(name.contains(&about));
    let description = page.split(".SH DESCRIPTION").nth(1).unwrap();
    assert!(!description.split(".SH").next().unwrap().contains(&about));
}

#[test]
fn help_and_man_page_share_the_examples() {
    let help = parx::cli::command().render_long_help().to_string();
    let page = gen::man_page();
    for line in parx::cli::EXAMPLES
        .lines()
        .filter(|l| l.starts_with("    "))
    {
        assert!(help.contains(line.trim()), "--help lacks {line}");
        let roff = line
            .trim()
            .replace('\\', "\\\\")
            .replace('-', "\\-")
            .replace('\'', "\\*(Aq");
        assert!(page.contains(&roff), "the man page lacks {line}");
    }
}
