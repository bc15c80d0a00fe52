//! The `parx` binary: parse, run, map the outcome to an exit status (docs/CONTRACT.md, Exit status).

fn main() {
    std::process::exit(parx::run_main());
}
