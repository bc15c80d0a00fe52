//! What the machine can take, read from the kernel: available memory (`/proc/meminfo`'s
//! `MemAvailable` and, where parx runs inside a memory cgroup, that cgroup's limit minus its
//! usage), the number of running processes (`/proc/stat`), the CPUs this process may use
//! (its affinity mask and the cgroup CPU quota, v1 and v2), and the resident memory of a task's
//! process group (`/proc/<pid>/stat`). The parsers are pure functions over the files' text,
//! tested on samples below; the readers around them return `None` where a file is missing.

use std::fs;
use std::path::{Path, PathBuf};

/// A cgroup v1/v2 "no limit" reads as a huge number; anything at or above this is no limit.
const NO_LIMIT: u64 = 1 << 60;

// ---- /proc/meminfo ---------------------------------------------------------------------------

/// `MemAvailable` from `/proc/meminfo` text, in bytes.
pub(crate) fn parse_meminfo_available(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("MemAvailable:")?;
        let mut it = rest.split_whitespace();
        let n: u64 = it.next()?.parse().ok()?;
        match it.next() {
            Some("kB") | None => Some(n * 1024),
            _ => None,
        }
    })
}

// ---- /proc/stat ------------------------------------------------------------------------------

/// `procs_running + procs_blocked` from `/proc/stat` text: the tasks (threads) that are
/// runnable or in uninterruptible sleep right now (GNU parallel's `--load` counts processes in
/// state R or D).
pub(crate) fn parse_procs_running(text: &str) -> Option<u64> {
    let field = |name: &str| {
        text.lines().find_map(|l| {
            let rest = l.strip_prefix(name)?;
            rest.trim().parse::<u64>().ok()
        })
    };
    Some(field("procs_running ")? + field("procs_blocked ").unwrap_or(0))
}

/// Pages swapped in and out since boot (`pswpin` + `pswpout` of /proc/vmstat).
pub(crate) fn swapped_pages() -> Option<u64> {
    let text = fs::read_to_string("/proc/vmstat").ok()?;
    let mut total = 0;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        if let (Some("pswpin" | "pswpout"), Some(n)) = (f.next(), f.next()) {
            total += n.parse::<u64>().ok()?;
        }
    }
    Some(total)
}

/// The number of runnable and blocked tasks on the machine, not counting the caller.
pub(crate) fn running_processes() -> Option<u64> {
    let text = fs::read_to_string("/proc/stat").ok()?;
    // The reading thread is itself running.
    Some(parse_procs_running(&text)?.saturating_sub(1))
}

// ---- cgroups ---------------------------------------------------------------------------------

/// A cgroup filesystem mount from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupMount {
    /// The path inside the hierarchy that is mounted (field 4, usually `/`).
    pub root: String,
    /// Where it is mounted.
    pub point: PathBuf,
    /// cgroup v2 (`cgroup2`) rather than v1.
    pub v2: bool,
    /// v1: the controllers of this hierarchy (from the super options, e.g. `memory`).
    pub controllers: Vec<String>,
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|o| o.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(o) if b[i] == b'\\' => {
                out.push(o.iter().fold(0u8, |v, c| v.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup mounts in `/proc/self/mountinfo` text.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let mut post = post.split(' ');
            let fstype = post.next()?;
            let _source = post.next()?;
            let opts = post.next().unwrap_or("");
            let v2 = match fstype {
                "cgroup2" => true,
                "cgroup" => false,
                _ => return None,
            };
            Some(CgroupMount {
                root: unescape(pre.get(3)?),
                point: PathBuf::from(unescape(pre.get(4)?)),
                v2,
                controllers: if v2 {
                    Vec::new()
                } else {
                    opts.split(',').map(str::to_owned).collect()
                },
            })
        })
        .collect()
}

/// This process's cgroup paths from `/proc/self/cgroup` text: `(controllers, path)` per line
/// (v2's line has no controllers).
pub(crate) fn parse_proc_cgroup(text: &str) -> Vec<(Vec<String>, String)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let ctl = it.next()?;
            let path = it.next()?;
            let ctls = ctl
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            Some((ctls, path.to_owned()))
        })
        .collect()
}

/// The directories of this process's cgroup for `controller` (`memory` or `cpu`), innermost
/// first, up to the hierarchy's mount point: a limit set on any of them applies. v1 is used
/// where it has the controller, else v2 (the unified hierarchy).
pub(crate) fn cgroup_dirs_in(
    mounts: &[CgroupMount],
    cgroups: &[(Vec<String>, String)],
    controller: &str,
) -> Vec<(PathBuf, bool)> {
    let v1 = cgroups
        .iter()
        .find(|(c, _)| c.iter().any(|c| c == controller))
        .and_then(|(_, path)| {
            let m = mounts
                .iter()
                .find(|m| !m.v2 && m.controllers.iter().any(|c| c == controller))?;
            Some((m, path))
        });
    let v2 = || {
        let (_, path) = cgroups.iter().find(|(c, _)| c.is_empty())?;
        let m = mounts.iter().find(|m| m.v2)?;
        Some((m, path))
    };
    let Some((m, path)) = v1.or_else(v2) else {
        return Vec::new();
    };
    // The mount shows the hierarchy from m.root down; a path outside it is not visible.
    let Some(rel) = path.strip_prefix(m.root.trim_end_matches('/')) else {
        return Vec::new();
    };
    let mut dir = m.point.join(rel.trim_start_matches('/'));
    let mut dirs = Vec::new();
    loop {
        dirs.push((dir.clone(), m.v2));
        if dir == m.point || !dir.pop() || !dir.starts_with(&m.point) {
            break;
        }
    }
    dirs
}

/// The directories of this process's cgroup for `controller`, innermost first.
pub(crate) fn cgroup_dirs(controller: &str) -> Vec<(PathBuf, bool)> {
    let cgroups = parse_proc_cgroup(&fs::read_to_string("/proc/self/cgroup").unwrap_or_default());
    // Reading /proc/self/mountinfo costs a pass over every mount of the system (a good part
    // of parx's start-up where there are many): the usual places are tried first.
    if let Some(dirs) = usual_cgroup_dirs(&cgroups, controller, std::path::Path::exists) {
        return dirs;
    }
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    cgroup_dirs_in(&parse_mountinfo(&mounts), &cgroups, controller)
}

/// Where systemd and container runtimes mount the cgroup hierarchies: v1's `controller` at
/// `/sys/fs/cgroup/<controller>`, v2 at `/sys/fs/cgroup`, each showing the whole hierarchy.
const USUAL_ROOT: &str = "/sys/fs/cgroup";

/// [`cgroup_dirs_in`] with the hierarchy for `controller` where it usually is, if this
/// process's cgroup is there (`exists` says whether a path does): `None` when it is not (a
/// container may mount only its own part of the hierarchy there), and then only
/// `/proc/self/mountinfo` can tell.
fn usual_cgroup_dirs(
    cgroups: &[(Vec<String>, String)],
    controller: &str,
    exists: impl Fn(&Path) -> bool,
) -> Option<Vec<(PathBuf, bool)>> {
    let root = Path::new(USUAL_ROOT);
    let v1 = cgroups
        .iter()
        .any(|(c, _)| c.iter().any(|c| c == controller));
    let mount = if v1 {
        CgroupMount {
            root: "/".into(),
            point: root.join(controller),
            v2: false,
            controllers: vec![controller.to_owned()],
        }
    } else {
        if !exists(&root.join("cgroup.controllers")) {
            return None;
        }
        CgroupMount {
            root: "/".into(),
            point: root.to_path_buf(),
            v2: true,
            controllers: Vec::new(),
        }
    };
    let dirs = cgroup_dirs_in(&[mount], cgroups, controller);
    dirs.first().is_some_and(|(d, _)| exists(d)).then_some(dirs)
}

/// A number from a cgroup file; `max` (v2's "no limit") and v1's huge values are `None`.
pub(crate) fn parse_limit(text: &str) -> Option<u64> {
    let t = text.trim();
    if t == "max" {
        return None;
    }
    t.parse::<u64>().ok().filter(|&n| n < NO_LIMIT)
}

/// The page cache the kernel can drop at once (`inactive_file`; v1 with hierarchy:
/// `total_inactive_file`) from a cgroup's `memory.stat` text.
pub(crate) fn parse_inactive_file(text: &str, v2: bool) -> u64 {
    let key = if v2 {
        "inactive_file "
    } else {
        "total_inactive_file "
    };
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
        .unwrap_or(0)
}

/// What a cgroup with limit `limit` and usage `usage` (page cache included, as the kernel
/// counts it) still has room for: the limit minus what is in use, the droppable page cache
/// counted as free (as `MemAvailable` counts it).
pub(crate) fn cgroup_headroom(limit: u64, usage: u64, inactive_file: u64) -> u64 {
    limit.saturating_sub(usage.saturating_sub(inactive_file))
}

/// The memory cgroup directories parx runs in that have a limit, read once at start.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemProbe {
    dirs: Vec<(PathBuf, bool)>,
}

impl MemProbe {
    /// Finds this process's memory cgroup and its ancestors that have a limit.
    pub(crate) fn new() -> MemProbe {
        let dirs = cgroup_dirs("memory")
            .into_iter()
            .filter(|(d, v2)| Self::limit(d, *v2).is_some())
            .collect();
        MemProbe { dirs }
    }

    fn limit(dir: &Path, v2: bool) -> Option<u64> {
        let name = if v2 {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        parse_limit(&fs::read_to_string(dir.join(name)).ok()?)
    }

    /// Bytes available to start work in: `MemAvailable`, or less where a cgroup's limit says so.
    pub(crate) fn available(&self) -> Option<u64> {
        let mut avail = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| parse_meminfo_available(&t));
        for (dir, v2) in &self.dirs {
            let Some(limit) = Self::limit(dir, *v2) else {
                continue;
            };
            let usage_file = if *v2 {
                "memory.current"
            } else {
                "memory.usage_in_bytes"
            };
            let Some(usage) = fs::read_to_string(dir.join(usage_file))
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
            else {
                continue;
            };
            let inactive = fs::read_to_string(dir.join("memory.stat"))
                .map(|t| parse_inactive_file(&t, *v2))
                .unwrap_or(0);
            let room = cgroup_headroom(limit, usage, inactive);
            avail = Some(avail.map_or(room, |a| a.min(room)));
        }
        avail
    }
}

// ---- CPUs ------------------------------------------------------------------------------------

/// `(quota, period)` from a v2 `cpu.max` text (`max 100000` is no quota: `None`).
pub(crate) fn parse_cpu_max(text: &str) -> Option<(u64, u64)> {
    let mut it = text.split_whitespace();
    let quota = it.next()?;
    let period: u64 = it.next()?.parse().ok()?;
    if quota == "max" {
        return None;
    }
    Some((quota.parse().ok()?, period))
}

/// The CPUs a quota of `quota` µs per `period` µs amounts to, rounded up (at least 1).
pub(crate) fn quota_cpus(quota: u64, period: u64) -> Option<usize> {
    if period == 0 || quota == 0 {
        return None;
    }
    Some((quota.div_ceil(period) as usize).max(1))
}

/// The CPU quota of one cgroup directory, as a CPU count.
fn dir_quota(dir: &Path, v2: bool) -> Option<usize> {
    let (quota, period) = if v2 {
        parse_cpu_max(&fs::read_to_string(dir.join("cpu.max")).ok()?)?
    } else {
        let q: i64 = fs::read_to_string(dir.join("cpu.cfs_quota_us"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let p: u64 = fs::read_to_string(dir.join("cpu.cfs_period_us"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        // -1: no quota.
        (u64::try_from(q).ok()?, p)
    };
    quota_cpus(quota, period)
}

/// The CPUs this process may use: its affinity mask (`sched_getaffinity`), capped by the CPU
/// quota of its cgroup and the cgroup's ancestors; the machine's count where neither is
/// known. At least 1.
/// The machine's CPU sockets, physical cores and hardware threads, from /proc/cpuinfo (as GNU
/// parallel's `--number-of-*` count them); the usable CPUs for each where it cannot be read.
pub(crate) fn cpu_topology() -> (usize, usize, usize) {
    let Ok(text) = std::fs::read_to_string("/proc/cpuinfo") else {
        let n = usable_cpus();
        return (1, n, n);
    };
    let mut sockets = std::collections::BTreeSet::new();
    let mut cores = std::collections::BTreeSet::new();
    let (mut threads, mut socket) = (0, String::new());
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k.trim() {
            "processor" => threads += 1,
            "physical id" => {
                socket = v.trim().to_owned();
                sockets.insert(socket.clone());
            }
            "core id" => {
                cores.insert((socket.clone(), v.trim().to_owned()));
            }
            _ => {}
        }
    }
    let threads = threads.max(1);
    (
        sockets.len().max(1),
        if cores.is_empty() {
            threads
        } else {
            cores.len()
        },
        threads,
    )
}

/// The machine's facts the options are relative to, gathered once for
/// [`crate::config::Config::from_cli`]: the usable CPUs, the process's slot limits, the
/// environment.
pub(crate) fn machine() -> crate::config::Machine {
    crate::config::Machine {
        cpus: usable_cpus(),
        slot_limit: crate::sys::slot_limit(),
        max_slots: crate::sys::max_slots(),
        env: |k| std::env::var(k).ok(),
    }
}

pub(crate) fn usable_cpus() -> usize {
    let affinity = crate::sys::affinity_cpus()
        .or_else(|| {
            std::thread::available_parallelism()
                .ok()
                .map(std::num::NonZero::get)
        })
        .unwrap_or(1);
    let quota = cgroup_dirs("cpu")
        .iter()
        .filter_map(|(d, v2)| dir_quota(d, *v2))
        .min();
    quota.map_or(affinity, |q| q.min(affinity)).max(1)
}

// ---- per-task memory -------------------------------------------------------------------------

/// `(pgrp, rss in pages)` from a `/proc/<pid>/stat` line. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted after its last `)`.
pub(crate) fn parse_stat(text: &str) -> Option<(i32, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) pgrp(5) ... rss(24).
    let pgrp = f.get(2)?.parse().ok()?;
    let rss = f.get(21)?.parse().ok()?;
    Some((pgrp, rss))
}

/// The resident memory, in bytes, of every process in each of the process groups `pgids`
/// (0 for a group with no process), from one pass over `/proc`.
pub(crate) fn group_rss(pgids: &[i32]) -> Vec<u64> {
    let mut sums = vec![0u64; pgids.len()];
    if pgids.iter().all(|&p| p <= 0) {
        return sums;
    }
    let page = crate::sys::page_size() as u64;
    let Ok(dir) = fs::read_dir("/proc") else {
        return sums;
    };
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(text) = fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        if let Some((pgrp, rss)) = parse_stat(&text) {
            if let Some(i) = pgids.iter().position(|&p| p == pgrp && p > 0) {
                sums[i] += rss * page;
            }
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usual_cgroup_places_are_used_only_when_this_cgroup_is_there() {
        let v1 = parse_proc_cgroup("4:memory:/job/7\n1:cpu,cpuacct:/\n0::/\n");
        let all = |_: &Path| true;
        assert_eq!(
            usual_cgroup_dirs(&v1, "memory", all).unwrap(),
            [
                (PathBuf::from("/sys/fs/cgroup/memory/job/7"), false),
                (PathBuf::from("/sys/fs/cgroup/memory/job"), false),
                (PathBuf::from("/sys/fs/cgroup/memory"), false),
            ]
        );
        assert_eq!(
            usual_cgroup_dirs(&v1, "cpu", all).unwrap(),
            [(PathBuf::from("/sys/fs/cgroup/cpu"), false)]
        );
        // A container that mounts only its own part: the host's path is not there.
        let none = |p: &Path| !p.starts_with("/sys/fs/cgroup/memory/job");
        assert_eq!(usual_cgroup_dirs(&v1, "memory", none), None);
        // v2: only where /sys/fs/cgroup is the unified hierarchy.
        let v2 = parse_proc_cgroup("0::/user.slice/a.scope\n");
        assert_eq!(
            usual_cgroup_dirs(&v2, "cpu", all).unwrap()[0],
            (PathBuf::from("/sys/fs/cgroup/user.slice/a.scope"), true)
        );
        let tmpfs = |p: &Path| !p.ends_with("cgroup.controllers");
        assert_eq!(usual_cgroup_dirs(&v2, "cpu", tmpfs), None);
    }

    #[test]
    fn meminfo() {
        let t = "MemTotal:       24683656 kB\nMemFree:        19603192 kB\n\
                 MemAvailable:   23362996 kB\nBuffers:          123 kB\n";
        assert_eq!(parse_meminfo_available(t), Some(23362996 * 1024));
        assert_eq!(parse_meminfo_available("MemTotal: 1 kB\n"), None);
    }

    #[test]
    fn procs_running() {
        let t = "cpu  1 2 3\nintr 5 6\nctxt 99\nbtime 1\nprocesses 4242\n\
                 procs_running 3\nprocs_blocked 2\nsoftirq 1 2\n";
        assert_eq!(parse_procs_running(t), Some(5));
        assert_eq!(parse_procs_running("procs_running 1\n"), Some(1));
        assert_eq!(parse_procs_running("cpu 1\n"), None);
    }

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:40 / /mnt/with\\040space rw - ext4 /dev/sda1 rw
";

    #[test]
    fn mountinfo() {
        let m = parse_mountinfo(MOUNTINFO);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].point, PathBuf::from("/sys/fs/cgroup/cpu"));
        assert_eq!(m[0].controllers, vec!["rw", "cpu"]);
        assert!(m[2].v2);
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/a\\b"), "/a\\b");
    }

    #[test]
    fn cgroup_v1_memory_dirs() {
        let mounts = parse_mountinfo(MOUNTINFO);
        let cg = parse_proc_cgroup("4:memory:/process_api/abc\n1:cpu:/\n0::/\n");
        let d = cgroup_dirs_in(&mounts, &cg, "memory");
        let paths: Vec<_> = d.iter().map(|(p, v2)| (p.to_str().unwrap(), *v2)).collect();
        assert_eq!(
            paths,
            vec![
                ("/sys/fs/cgroup/memory/process_api/abc", false),
                ("/sys/fs/cgroup/memory/process_api", false),
                ("/sys/fs/cgroup/memory", false),
            ]
        );
        let d = cgroup_dirs_in(&mounts, &cg, "cpu");
        assert_eq!(d, vec![(PathBuf::from("/sys/fs/cgroup/cpu"), false)]);
    }

    #[test]
    fn cgroup_v2_dirs() {
        let mounts =
            parse_mountinfo("30 20 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        let cg = parse_proc_cgroup("0::/user.slice/job-1\n");
        let d = cgroup_dirs_in(&mounts, &cg, "memory");
        assert_eq!(
            d[0],
            (PathBuf::from("/sys/fs/cgroup/user.slice/job-1"), true)
        );
        assert_eq!(d.last().unwrap().0, PathBuf::from("/sys/fs/cgroup"));
        // A container sees its own cgroup as the mount's root.
        let mounts = parse_mountinfo("30 20 0:26 /pod7 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        let cg = parse_proc_cgroup("0::/pod7\n");
        assert_eq!(
            cgroup_dirs_in(&mounts, &cg, "memory"),
            vec![(PathBuf::from("/sys/fs/cgroup"), true)]
        );
        assert!(cgroup_dirs_in(&[], &cg, "memory").is_empty());
    }

    #[test]
    fn limits_and_headroom() {
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("9223372036854771712\n"), None);
        assert_eq!(parse_limit("2147483648\n"), Some(2 << 30));
        let v1 = "cache 100\nrss 200\ntotal_inactive_file 4096\ninactive_file 1\n";
        assert_eq!(parse_inactive_file(v1, false), 4096);
        assert_eq!(parse_inactive_file("anon 5\ninactive_file 77\n", true), 77);
        assert_eq!(cgroup_headroom(1000, 900, 100), 200);
        assert_eq!(cgroup_headroom(1000, 1200, 0), 0);
    }

    #[test]
    fn cpu_quota() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("150000 100000\n"), Some((150000, 100000)));
        assert_eq!(quota_cpus(150000, 100000), Some(2));
        assert_eq!(quota_cpus(50000, 100000), Some(1));
        assert_eq!(quota_cpus(400000, 100000), Some(4));
        assert_eq!(quota_cpus(1, 0), None);
    }

    #[test]
    fn stat_line() {
        let t = "4242 (my (odd) name) S 1 4240 4240 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                 55 1000000 250 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(parse_stat(t), Some((4240, 250)));
        assert_eq!(parse_stat("garbage"), None);
    }
}
