//! findutils' own xargs test suite (`xargs/testsuite`, DejaGnu cases in xargs.gnu, xargs.posix
//! and xargs.sysv) run against parx's `xargs` personality: parx linked as `xargs`.
//!
//! The suite is GNU's (GPL), so it is not copied here: the test reads it from findutils 4.9.0's
//! source, the version of the GNU xargs it is calibrated against, at `$PARX_FINDUTILS_SRC` (the
//! unpacked `findutils-4.9.0` directory; `.ci/run` fetches it with `apt-get source findutils`).
//! Without it the test says so and passes, except under `CI=true`, where it fails.
//!
//! Each `.exp` file is one call `xargs_start PASSFAIL OPTIONS [INFILE [ERRH [COMMAND]]]`, run as
//! `config/unix.exp` runs it: `$XARGS OPTIONS < inputs/INFILE`, the words parsed as Tcl's `exec`
//! parses them; it passes when the exit status is PASSFAIL (`p`: 0, `f`: 1, or the number),
//! stdout equals `.xo` (or is empty) and, unless ERRH starts with `s`, stderr equals `.xe` (or is
//! empty).
//!
//! Calibration: `PARX_XARGS_ORACLE=/usr/bin/xargs cargo test --test it -- xargs_suite
//! --nocapture` runs the suite against that xargs instead and prints the cases it passes;
//! `fixtures/xargs-suite/calibrated.txt` holds them for GNU xargs 4.9.0 on this project's
//! machines. Every case listed there must pass through parx.

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One case of the suite.
#[derive(Debug)]
struct Case {
    name: String,
    status: i32,
    options: String,
    infile: Option<PathBuf>,
    check_stderr: bool,
    command: Option<String>,
    out: Option<Vec<u8>>,
    err: Option<Vec<u8>>,
}

/// Tcl's word parsing, as `exec` and a command's arguments see it: braces group literally
/// (nested), double quotes group with backslash and `$name` substitution, a backslash outside
/// braces escapes the next character (`\n` is a newline).
fn tcl_words(s: &str, vars: &BTreeMap<&str, String>) -> Vec<String> {
    let c: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < c.len() {
        while i < c.len() && c[i].is_whitespace() {
            i += 1;
        }
        if i >= c.len() {
            break;
        }
        let mut w = String::new();
        if c[i] == '{' {
            let mut depth = 1;
            i += 1;
            while i < c.len() {
                match c[i] {
                    '\\' if i + 1 < c.len() => {
                        w.push(c[i]);
                        w.push(c[i + 1]);
                        i += 2;
                        continue;
                    }
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                w.push(c[i]);
                i += 1;
            }
            words.push(w);
            continue;
        }
        let quoted = c[i] == '"';
        if quoted {
            i += 1;
        }
        while i < c.len() {
            let ch = c[i];
            if quoted && ch == '"' {
                i += 1;
                break;
            }
            if !quoted && ch.is_whitespace() {
                break;
            }
            if ch == '\\' && i + 1 < c.len() {
                let n = c[i + 1];
                w.push(match n {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'f' => '\x0c',
                    'v' => '\x0b',
                    other => other,
                });
                i += 2;
                continue;
            }
            if ch == '$' {
                let start = i + 1;
                let mut end = start;
                while end < c.len() && (c[end].is_alphanumeric() || c[end] == '_') {
                    end += 1;
                }
                let name: String = c[start..end].iter().collect();
                if let Some(v) = vars.get(name.as_str()) {
                    w.push_str(v);
                    i = end;
                    continue;
                }
            }
            w.push(ch);
            i += 1;
        }
        words.push(w);
    }
    words
}

/// Every case of the suite under `src` (the unpacked findutils source), by name
/// (`xargs.posix/n3`).
fn cases(src: &Path, vars: &BTreeMap<&str, String>) -> Vec<Case> {
    let suite = src.join("xargs/testsuite");
    let mut out = Vec::new();
    for group in ["xargs.gnu", "xargs.posix", "xargs.sysv"] {
        let dir = suite.join(group);
        let mut names: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "exp"))
            .collect();
        names.sort();
        for exp in names {
            let text = fs::read_to_string(&exp).unwrap();
            let Some(line) = text
                .lines()
                .find(|l| l.trim_start().starts_with("xargs_start"))
            else {
                continue;
            };
            let w = tcl_words(line.trim_start(), vars);
            let status = match w[1].as_str() {
                p if p.starts_with('p') => 0,
                f if f.starts_with('f') => 1,
                n => n.parse().expect("a numeric PASSFAIL"),
            };
            let base = exp.with_extension("");
            let read = |ext: &str| fs::read(base.with_extension(ext)).ok();
            let arg = |k: usize| w.get(k).filter(|s| !s.is_empty()).cloned();
            out.push(Case {
                name: format!("{group}/{}", base.file_name().unwrap().to_string_lossy()),
                status,
                options: w.get(2).cloned().unwrap_or_default(),
                infile: arg(3).map(|f| suite.join("inputs").join(f)),
                check_stderr: !arg(4).is_some_and(|e| e.starts_with('s')),
                command: arg(5),
                out: read("xo"),
                err: read("xe"),
            });
        }
    }
    out
}

/// Runs one case with `xargs` (the path of the binary under test, named `xargs`) in `dir`;
/// `Err` says how it failed.
fn run(case: &Case, xargs: &Path, dir: &Path, vars: &BTreeMap<&str, String>) -> Result<(), String> {
    let line = match &case.command {
        Some(c) => c.clone(),
        None => format!("xargs {}", case.options),
    };
    let words = tcl_words(&line, vars);
    let stdin = match &case.infile {
        Some(f) => fs::File::open(f).map_err(|e| format!("{}: {e}", f.display()))?,
        None => fs::File::open("/dev/null").unwrap(),
    };
    let mut cmd = Command::new(&words[0]);
    cmd.args(&words[1..])
        .current_dir(dir)
        .stdin(Stdio::from(stdin))
        .env("PATH", path_with(xargs));
    common::default_signals(&mut cmd);
    let out = common::Timed::timed_output(&mut cmd).map_err(|e| format!("spawn: {e}"))?;
    let status = out.status.code().unwrap_or(-1);
    if status != case.status {
        return Err(format!(
            "status {status}, expected {}; stderr: {}",
            case.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ));
    }
    let want = case.out.clone().unwrap_or_default();
    if out.stdout != want {
        return Err(format!(
            "stdout {:?}, expected {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&want)
        ));
    }
    if case.check_stderr {
        let want = case.err.clone().unwrap_or_default();
        if out.stderr != want {
            return Err(format!(
                "stderr {:?}, expected {:?}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&want)
            ));
        }
    }
    Ok(())
}

/// `$PATH` with the directory of `xargs` first (the suite's commands find `echo`, `sh`, ...).
fn path_with(xargs: &Path) -> std::ffi::OsString {
    let mut p = xargs.parent().unwrap().as_os_str().to_owned();
    p.push(":");
    p.push(std::env::var_os("PATH").unwrap_or_default());
    p
}

fn calibrated() -> Vec<String> {
    let list = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/xargs-suite/calibrated.txt");
    fs::read_to_string(list)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[test]
fn findutils_xargs_suite() {
    let Some(src) = std::env::var_os("PARX_FINDUTILS_SRC").map(PathBuf::from) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set PARX_FINDUTILS_SRC (see .ci/run)"
        );
        eprintln!(
            "findutils_xargs_suite: skipped, PARX_FINDUTILS_SRC is not set (README, Development)"
        );
        return;
    };
    let tmp = common::tempdir();
    // Run by the name `xargs` from $PATH, as a user types it (GNU xargs names itself by
    // argv[0] in its messages, and so does parx's personality).
    let oracle = std::env::var_os("PARX_XARGS_ORACLE").map(PathBuf::from);
    let xargs = tmp.path().join("bin/xargs");
    fs::create_dir_all(xargs.parent().unwrap()).unwrap();
    let target = oracle.clone().unwrap_or_else(|| PathBuf::from(common::BIN));
    std::os::unix::fs::symlink(&target, &xargs).unwrap();
    let oracle = oracle.is_some();
    let vars = BTreeMap::from([("XARGS", "xargs".to_owned()), ("XARGSFLAGS", String::new())]);
    let all = cases(&src, &vars);
    assert!(
        all.len() > 80,
        "only {} cases found under {}",
        all.len(),
        src.display()
    );
    let work = tmp.path().join("work");
    fs::create_dir_all(&work).unwrap();
    let mut passed = Vec::new();
    let mut failed = Vec::new();
    for case in &all {
        match run(case, &xargs, &work, &vars) {
            Ok(()) => passed.push(case.name.clone()),
            Err(why) => failed.push(format!("{}: {why}", case.name)),
        }
    }
    println!("{} passed, {} failed", passed.len(), failed.len());
    if oracle {
        for f in &failed {
            println!("# fails: {f}");
        }
        println!("# cases {} passes:", target.display());
        for p in &passed {
            println!("{p}");
        }
        return;
    }
    let must = calibrated();
    let broken: Vec<_> = failed
        .iter()
        .filter(|f| must.iter().any(|m| f.starts_with(&format!("{m}: "))))
        .collect();
    for f in &failed {
        eprintln!("FAIL {f}");
    }
    assert!(
        broken.is_empty(),
        "{} of the {} cases GNU xargs passes fail through parx",
        broken.len(),
        must.len()
    );
}
