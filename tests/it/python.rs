//! The Python side as a Python user meets it: `pip install .` from a clone into a fresh venv
//! gives the `parx` binary and the `parx` package, and `parx.imap` over 100,000 records gives
//! what `multiprocessing.Pool.imap` gives, in order. Slow (a release build and a venv):
//! behind `PARX_SLOW_TESTS=1`. The package's own tests are python/tests (pytest; .ci/run runs
//! them against the wheel).

use crate::common;

use std::path::Path;
use std::process::Command;

/// Runs `cmd`, asserts success, returns its stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The 10-line script of the issue: parx.imap against Pool.imap.
const SCRIPT: &str = r#"import hashlib, sys, parx
from multiprocessing import Pool
def sha1(x): return hashlib.sha1(x).hexdigest()
if __name__ == "__main__":
    items = [str(i).encode() for i in range(100_000)]
    worker = [sys.executable, "-c", "import hashlib, parx; parx.serve(lambda x: hashlib.sha1(x).hexdigest())"]
    got = list(parx.imap(worker, items, jobs=2))
    with Pool(2) as pool:
        want = list(pool.imap(sha1, items, chunksize=1000))
    print("same" if got == want else "DIFFERENT", len(got))
"#;

#[test]
fn pip_install_from_a_clone_gives_the_binary_and_the_package() {
    if !common::slow("pip_install_from_a_clone_gives_the_binary_and_the_package") {
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = common::tempdir();
    let clone = tmp.path().join("clone");
    run(Command::new("git")
        .args(["clone", "-q"])
        .arg(repo)
        .arg(&clone));
    let venv = tmp.path().join("venv");
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    let bin = venv.join("bin");
    // The release build reuses this checkout's target/ (the dependencies are built once);
    // the wheel is built from the clone's sources.
    run(Command::new(bin.join("pip"))
        .args(["install", "-q", "."])
        .current_dir(&clone)
        .env("CARGO_TARGET_DIR", repo.join("target")));
    // Outside the clone, so `import parx` is the installed package.
    let version = run(Command::new(bin.join("parx"))
        .arg("--version")
        .current_dir(tmp.path()));
    assert_eq!(version, format!("parx {}\n", env!("CARGO_PKG_VERSION")));
    let module = run(Command::new(bin.join("python"))
        .args(["-m", "parx", "--version"])
        .current_dir(tmp.path()));
    assert_eq!(module, version, "python -m parx is the binary");
    let found = run(Command::new(bin.join("python"))
        .args(["-c", "import parx; print(parx.binary())"])
        .current_dir(tmp.path()));
    assert_eq!(Path::new(found.trim()), bin.join("parx"));
    std::fs::write(tmp.path().join("same.py"), SCRIPT).unwrap();
    assert_eq!(SCRIPT.lines().count(), 10);
    let out = run(Command::new(bin.join("python"))
        .arg("same.py")
        .current_dir(tmp.path())
        .env_remove("PARX_BINARY")
        .env_remove("PYTHONPATH"));
    assert_eq!(out, "same 100000\n");
}
