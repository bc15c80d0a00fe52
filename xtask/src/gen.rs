//! The generated files: `man/parx.1` and the completions for bash, zsh, fish, elvish and
//! PowerShell, all from `parx::cli::command()` and the shared text in `doc/` (the same text
//! `--help` shows). Used by `cargo xtask gen` (writes them) and `tests/it/generated.rs` (checks the
//! checked-in copies are current).

use clap_complete::Shell;
use roff::{bold, roman, Roff};

/// Every generated file: its path relative to the repository root and its contents.
pub fn files() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = vec![("man/parx.1", man_page().into_bytes())];
    for (shell, path) in [
        (Shell::Bash, "completions/parx.bash"),
        (Shell::Zsh, "completions/_parx"),
        (Shell::Fish, "completions/parx.fish"),
        (Shell::Elvish, "completions/parx.elv"),
        (Shell::PowerShell, "completions/_parx.ps1"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut parx::cli::command(), "parx", &mut buf);
        out.push((path, buf));
    }
    out
}

/// The man page: NAME, SYNOPSIS, DESCRIPTION, OPTIONS (one subsection per `help_heading`, in
/// the order cli.rs first uses them), EXAMPLES, EXIT STATUS, ENVIRONMENT, SEE ALSO, VERSION.
pub fn man_page() -> String {
    let cmd = parx::cli::command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut page = render(|w| man.render_title(w));
    page += &strip_preamble(render(|w| man.render_name_section(w)));
    page += &strip_preamble(render(|w| man.render_synopsis_section(w)));
    page += &strip_preamble(description());
    page += &strip_preamble(options(&cmd));
    page += &strip_preamble(examples());
    page += &strip_preamble(definitions("EXIT STATUS", parx::cli::EXIT_STATUS));
    page += &strip_preamble(definitions("ENVIRONMENT", parx::cli::ENVIRONMENT));
    page += &strip_preamble(see_also());
    page += &strip_preamble(render(|w| man.render_version_section(w)));
    code_spans(&page)
}

fn render(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut buf = Vec::new();
    f(&mut buf).expect("rendering to memory");
    String::from_utf8(buf).expect("roff output is UTF-8")
}

/// Each rendered piece starts with roff's apostrophe preamble; the page needs it once.
fn strip_preamble(piece: String) -> String {
    let preamble = Roff::new().render();
    piece
        .strip_prefix(preamble.as_str())
        .map(str::to_owned)
        .unwrap_or(piece)
}

fn description() -> String {
    let mut roff = Roff::new();
    roff.control("SH", ["DESCRIPTION"]);
    for para in paragraphs(parx::cli::DESCRIPTION) {
        roff.control("PP", []);
        // A paragraph that opens with a one-word sentence ("Inputs.") gets it in bold.
        match para.split_once(". ") {
            Some((head, rest)) if !head.contains(' ') => {
                roff.text([bold(format!("{head}.")), roman(format!(" {rest}"))]);
            }
            _ => {
                roff.text([roman(para)]);
            }
        }
    }
    roff.render()
}

fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect()
}

/// OPTIONS with a `.SS` subsection per help heading: clap_mangen renders one group at a time
/// (the other arguments hidden), and its `.SH OPTIONS` line becomes the subsection title.
fn options(cmd: &clap::Command) -> String {
    let mut cmd = cmd.clone();
    cmd.build();
    let mut headings: Vec<Option<String>> = vec![None];
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let h = arg.get_help_heading().map(str::to_owned);
        if !headings.contains(&h) {
            headings.push(h);
        }
    }
    let mut out = String::from(".SH OPTIONS\n");
    for heading in headings {
        let group = cmd.clone().mut_args(|arg| {
            let hide = arg.is_hide_set() || arg.get_help_heading() != heading.as_deref();
            arg.hide(hide).help_heading(None)
        });
        let piece = strip_preamble(render(|w| {
            clap_mangen::Man::new(group).render_options_section(w)
        }));
        let title = heading.as_deref().unwrap_or("General");
        out += &piece.replacen(".SH OPTIONS\n", &format!(".SS \"{title}\"\n"), 1);
    }
    out
}

fn examples() -> String {
    let mut roff = Roff::new();
    roff.control("SH", ["EXAMPLES"]);
    let mut what = String::new();
    for line in parx::cli::EXAMPLES.lines() {
        let indent = line.len() - line.trim_start().len();
        if line.trim().is_empty() {
            continue;
        } else if indent >= 4 {
            roff.control("TP", []);
            roff.text([bold(line.trim())]);
            // "Compress every log:" reads as a lead-in in --help; a man page item needs no colon.
            let what = std::mem::take(&mut what);
            roff.text([roman(what.strip_suffix(':').unwrap_or(&what))]);
        } else {
            if !what.is_empty() {
                what.push(' ');
            }
            what += line.trim();
        }
    }
    roff.render()
}

/// `TERM  definition` lines; a line starting deeper than the first column continues the last.
fn definitions(title: &str, text: &str) -> String {
    let mut items: Vec<(String, String)> = Vec::new();
    let base = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .map_or(0, |l| l.len() - l.trim_start().len());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let indent = line.len() - line.trim_start().len();
        let line = line.trim();
        match items.last_mut() {
            Some((_, def)) if indent > base => {
                if !def.is_empty() {
                    def.push(' ');
                }
                def.push_str(line);
            }
            _ => {
                let (term, def) = line.split_once("  ").unwrap_or((line, ""));
                items.push((term.trim().to_owned(), def.trim().to_owned()));
            }
        }
    }
    let mut roff = Roff::new();
    roff.control("SH", [title]);
    for (term, def) in items {
        roff.control("TP", []);
        roff.text([bold(term)]);
        roff.text([roman(def)]);
    }
    roff.render()
}

fn see_also() -> String {
    let mut roff = Roff::new();
    roff.control("SH", ["SEE ALSO"]);
    let mut line = Vec::new();
    for (i, item) in parx::cli::SEE_ALSO.trim().split(", ").enumerate() {
        if i > 0 {
            line.push(roman(", "));
        }
        match item.split_once('(') {
            Some((name, section)) => {
                line.push(bold(name));
                line.push(roman(format!("({section}")));
            }
            None => line.push(bold(item)),
        }
    }
    roff.text(line);
    roff.render()
}

/// `code` in help text (option help comes from cli.rs doc comments) becomes bold: a man page
/// shows no literal backticks. Control lines are left alone; a lone backtick becomes \(ga.
fn code_spans(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    for line in page.lines() {
        if line.starts_with('.') || !line.contains('`') {
            out += line;
        } else {
            let parts: Vec<&str> = line.split('`').collect();
            if parts.len() % 2 == 1 {
                for (i, part) in parts.iter().enumerate() {
                    if i % 2 == 1 {
                        out += &format!("\\fB{part}\\fR");
                    } else {
                        out += part;
                    }
                }
            } else {
                out += &line.replace('`', "\\(ga");
            }
        }
        out.push('\n');
    }
    out
}
