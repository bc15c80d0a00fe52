//! `--shard K/N` and `--shard auto` (docs/CONTRACT.md, "Job control"): every shard run with the
//! variables each scheduler really sets, the shards' outputs disjoint and together the
//! unsharded output; `--pipe-part` shards as contiguous byte ranges in shard order, like
//! `split -n l/K/N`; arrays and environments that give no share refused in one line.

use crate::common;

use std::fs;
use std::path::Path;

use common::{parx, sorted_lines};

/// Every variable `--shard auto` reads: removed from each test command, so that a CI runner
/// inside a scheduler cannot leak its own.
const SCHEDULER_VARS: &[&str] = &[
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_STEP",
    "AWS_BATCH_JOB_ARRAY_INDEX",
    "AWS_BATCH_JOB_ARRAY_SIZE",
    "JOB_COMPLETION_INDEX",
    "SGE_TASK_ID",
    "SGE_TASK_FIRST",
    "SGE_TASK_LAST",
    "SGE_TASK_STEPSIZE",
];

/// Runs parx with exactly these scheduler variables; returns (status, stdout, stderr).
fn run_env(vars: &[(String, String)], args: &[&str], stdin: &[u8]) -> (i32, Vec<u8>, String) {
    let mut c = parx();
    for v in SCHEDULER_VARS {
        c.env_remove(v);
    }
    for (k, v) in vars {
        c.env(k, v);
    }
    let o = c.args(args).write_stdin(stdin.to_vec()).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        o.stdout,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn kv(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The variables Slurm sets in each task of `sbatch --array=IDS` (ids in order). STEP is set
/// wrong on purpose: parx must not trust it.
fn slurm(ids: &[i64]) -> Vec<Vec<(String, String)>> {
    ids.iter()
        .map(|id| {
            kv(&[
                ("SLURM_ARRAY_TASK_ID", id.to_string()),
                ("SLURM_ARRAY_TASK_COUNT", ids.len().to_string()),
                ("SLURM_ARRAY_TASK_MIN", ids[0].to_string()),
                ("SLURM_ARRAY_TASK_MAX", ids.last().unwrap().to_string()),
                ("SLURM_ARRAY_TASK_STEP", "1".into()),
            ])
        })
        .collect()
}

/// The variables of one array task.
type Vars = Vec<(String, String)>;

/// Each scheduler's array of `n` tasks, as (name, shard option, per-task variables).
fn arrays(n: i64) -> Vec<(String, String, Vec<Vars>)> {
    let range = |lo: i64, step: i64| (0..n).map(|i| lo + i * step).collect::<Vec<_>>();
    let idx = |name: &'static str, extra: Vec<(&'static str, String)>| {
        (0..n)
            .map(|i| {
                let mut v = vec![(name, i.to_string())];
                v.extend(extra.clone());
                kv(&v)
            })
            .collect::<Vec<_>>()
    };
    let sge = |first: i64, step: i64| {
        range(first, step)
            .into_iter()
            .map(|id| {
                kv(&[
                    ("SGE_TASK_ID", id.to_string()),
                    ("SGE_TASK_FIRST", first.to_string()),
                    ("SGE_TASK_LAST", (first + (n - 1) * step).to_string()),
                    ("SGE_TASK_STEPSIZE", step.to_string()),
                ])
            })
            .collect::<Vec<_>>()
    };
    let auto = || "auto".to_string();
    let mut slurm_auto = vec![
        // --array=0-(n-1), --array=1-n, --array=1-(..):4, --array=0-(n-1)%2 (the throttle is
        // not in the variables). A one-task array is refused under plain auto (a resubmitted
        // index would run everything).
        (format!("slurm 0-{}", n - 1), auto(), slurm(&range(0, 1))),
        (format!("slurm 1-{n}"), auto(), slurm(&range(1, 1))),
        (format!("slurm 1-..:4 x{n}"), auto(), slurm(&range(1, 4))),
        (format!("slurm 0-{}%2", n - 1), auto(), slurm(&range(0, 1))),
    ];
    if n == 1 {
        slurm_auto.clear();
    }
    // auto/N: the 0-based index alone, each index submitted as an array of its own
    // (sbatch --array=i, as when indices are resubmitted one by one).
    let one_by_one = (0..n).map(|i| slurm(&[i])[0].clone()).collect::<Vec<_>>();
    slurm_auto.push((
        format!("slurm auto/{n} one by one"),
        format!("auto/{n}"),
        one_by_one,
    ));
    slurm_auto.extend(vec![
        (
            "aws".into(),
            auto(),
            idx(
                "AWS_BATCH_JOB_ARRAY_INDEX",
                vec![("AWS_BATCH_JOB_ARRAY_SIZE", n.to_string())],
            ),
        ),
        (
            "kubernetes".into(),
            format!("auto/{n}"),
            idx("JOB_COMPLETION_INDEX", vec![]),
        ),
        ("sge 1-n".into(), auto(), sge(1, 1)),
        ("sge 3-..:5".into(), auto(), sge(3, 5)),
        (
            "explicit".into(),
            String::new(),
            (1..=n).map(|_| Vec::new()).collect(),
        ),
    ]);
    slurm_auto
}

/// For every scheduler and shard count: the shards' outputs are disjoint and their union is
/// the unsharded output; `{#}` keeps the global number.
fn union_equals_unsharded(args: &[&str], stdin: &[u8]) {
    let (code, whole, err) = run_env(&[], args, stdin);
    assert_eq!(code, 0, "{err}");
    let want = sorted_lines(&whole);
    assert!(!want.is_empty());
    for n in [1, 2, 3, 5, 8] {
        for (name, spec, tasks) in arrays(n) {
            let mut got = Vec::new();
            for (i, vars) in tasks.iter().enumerate() {
                let spec = if spec.is_empty() {
                    format!("{}/{n}", i + 1)
                } else {
                    spec.clone()
                };
                let mut a = vec!["--shard", &spec];
                a.extend_from_slice(args);
                let (code, out, err) = run_env(vars, &a, stdin);
                assert_eq!(code, 0, "{name} n={n} task {i}: {err}");
                got.extend(sorted_lines(&out));
            }
            got.sort();
            // Equal as multisets: nothing lost, nothing run twice.
            assert_eq!(got, want, "{name} n={n}");
        }
    }
}

#[test]
fn argument_tasks_union_is_the_unsharded_run() {
    let values: Vec<String> = (1..=23).map(|i| format!("v{i}")).collect();
    let mut args = vec!["-j2", "echo", "{#}", "{}", ":::"];
    args.extend(values.iter().map(String::as_str));
    union_equals_unsharded(&args, b"");
}

#[test]
fn stdin_and_batched_tasks_union_is_the_unsharded_run() {
    let input: String = (1..=40).map(|i| format!("line {i}\n")).collect();
    union_equals_unsharded(&["-n", "3", "echo", "{#}"], input.as_bytes());
}

#[test]
fn walk_tasks_union_is_the_unsharded_run() {
    let d = common::tempdir();
    for i in 0..17 {
        let sub = d.path().join(format!("d{}", i % 4));
        fs::create_dir_all(&sub).unwrap();
        fs::write(sub.join(format!("f{i}.txt")), "x").unwrap();
    }
    let root = d.path().to_str().unwrap();
    union_equals_unsharded(&["--walk", root, "echo", "{#}"], b"");
}

#[test]
fn pipe_chunks_union_is_the_unsharded_run() {
    let input: String = (1..=300).map(|i| format!("record {i}\n")).collect();
    // Every shard reads all of stdin and runs every N-th chunk.
    union_equals_unsharded(&["--pipe", "--block", "200", "cat"], input.as_bytes());
}

/// `--pipe-part --shard K/N`: the outputs in shard order are the unsharded output.
fn pipe_part_in_shard_order(extra: &[&str], files: &[&Path]) {
    let mut args: Vec<&str> = vec!["--pipe-part", "-k"];
    args.extend_from_slice(extra);
    for f in files {
        args.extend(["-a", f.to_str().unwrap()]);
    }
    args.extend(["tr", "a-z", "A-Z"]);
    let (code, whole, err) = run_env(&[], &args, b"");
    assert_eq!(code, 0, "{err}");
    assert!(!whole.is_empty());
    for n in 1..=7 {
        let mut joined = Vec::new();
        for k in 1..=n {
            let shard = format!("{k}/{n}");
            let mut a = vec!["--shard", shard.as_str()];
            a.extend_from_slice(&args);
            let (code, out, err) = run_env(&[], &a, b"");
            assert_eq!(code, 0, "{shard}: {err}");
            joined.extend(out);
        }
        assert!(joined == whole, "{extra:?} n={n}");
    }
}

fn records(n: usize, seed: usize) -> String {
    (0..n)
        .map(|i| format!("rec {i} {}\n", "abc".repeat((i * 7 + seed) % 13)))
        .collect()
}

#[test]
fn pipe_part_shards_are_contiguous_ranges_in_order() {
    let d = common::tempdir();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    fs::write(&a, records(400, 1)).unwrap();
    fs::write(&b, records(150, 5)).unwrap();
    pipe_part_in_shard_order(&["--block", "300"], &[&a]);
    pipe_part_in_shard_order(&["--block", "1k"], &[&a, &b]);
    pipe_part_in_shard_order(&["--block", "-2", "-j2"], &[&a, &b]);
    pipe_part_in_shard_order(&["--block", "500", "--recstart", "rec 1"], &[&a]);
}

#[test]
fn pipe_part_header_goes_to_every_shard() {
    let d = common::tempdir();
    let f = d.path().join("h.csv");
    fs::write(&f, format!("name,n\n{}", records(200, 2))).unwrap();
    let out = |shard: &str| {
        let (code, out, err) = run_env(
            &[],
            &[
                "--shard",
                shard,
                "--pipe-part",
                "-k",
                "--header",
                "1",
                "--block",
                "400",
                "-a",
                f.to_str().unwrap(),
                "head",
                "-n",
                "1",
            ],
            b"",
        );
        assert_eq!(code, 0, "{err}");
        String::from_utf8(out).unwrap()
    };
    for k in 1..=3 {
        let o = out(&format!("{k}/3"));
        assert!(!o.is_empty() && o.lines().all(|l| l == "name,n"), "{o}");
    }
}

#[test]
fn pipe_part_shard_is_split_n_l_k_n() {
    // `cat` of shard K is exactly GNU split's l/K/N of the same file.
    let d = common::tempdir();
    let f = d.path().join("data");
    fs::write(&f, records(1000, 3)).unwrap();
    for n in [2, 3, 7] {
        for k in 1..=n {
            let split = std::process::Command::new("split")
                .args(["-n", &format!("l/{k}/{n}"), f.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(split.status.success());
            let (code, out, err) = run_env(
                &[],
                &[
                    "--shard",
                    &format!("{k}/{n}"),
                    "--pipe-part",
                    "-k",
                    "--block",
                    "2k",
                    "-a",
                    f.to_str().unwrap(),
                    "cat",
                ],
                b"",
            );
            assert_eq!(code, 0, "{err}");
            assert!(
                out == split.stdout,
                "shard {k}/{n} differs from split -n l/{k}/{n}"
            );
        }
    }
}

/// A refusal: status 255 and one `parx:` line naming the problem.
fn refused(vars: &[(String, String)], spec: &str, needle: &str) {
    let (code, out, err) = run_env(vars, &["--shard", spec, "echo", ":::", "a"], b"");
    assert_eq!(code, 255, "{err}");
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("parx: ") && err.contains(needle), "{err}");
}

#[test]
fn uneven_slurm_list_refused() {
    // sbatch --array=1,2,9: MIN 1, MAX 9, COUNT 3; task 2 is not on an even step.
    let tasks = slurm(&[1, 2, 9]);
    refused(&tasks[1], "auto", "evenly stepped");
    // --array=1,2,4 cannot be a range at all.
    refused(&slurm(&[1, 2, 4])[0], "auto", "evenly stepped");
}

#[test]
fn no_array_refused() {
    refused(&[], "auto", "no array-job variables");
    // SGE outside an array job says "undefined".
    let sge = kv(&[
        ("SGE_TASK_ID", "undefined".into()),
        ("SGE_TASK_FIRST", "undefined".into()),
        ("SGE_TASK_LAST", "undefined".into()),
        ("SGE_TASK_STEPSIZE", "undefined".into()),
    ]);
    refused(&sge, "auto", "no array-job variables");
    // A Kubernetes index without the count.
    refused(
        &kv(&[("JOB_COMPLETION_INDEX", "0".into())]),
        "auto",
        "auto/N",
    );
}

#[test]
fn two_schedulers_refused() {
    let mut v = slurm(&[0, 1, 2])[2].clone();
    v.extend(kv(&[
        ("AWS_BATCH_JOB_ARRAY_INDEX", "0".into()),
        ("AWS_BATCH_JOB_ARRAY_SIZE", "3".into()),
    ]));
    refused(&v, "auto", "disagree");
    let aws = kv(&[
        ("AWS_BATCH_JOB_ARRAY_INDEX", "0".into()),
        ("AWS_BATCH_JOB_ARRAY_SIZE", "3".into()),
    ]);
    refused(&aws, "auto/4", "3 tasks");
}

#[test]
fn resubmitted_slurm_index_never_runs_everything() {
    // sbatch --array=3 of a --shard auto script: refused, naming auto/N.
    refused(&slurm(&[3])[0], "auto", "auto/N");
    // With auto/10, index 10 is not a share.
    refused(&slurm(&[10])[0], "auto/10", "0 to 9");
    // Kubernetes index 8 of auto/8: said as an index, not as "share 9 of 8".
    refused(
        &kv(&[("JOB_COMPLETION_INDEX", "8".into())]),
        "auto/8",
        "0 to 7",
    );
}
