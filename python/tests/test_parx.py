"""The parx package against the real parx binary and real Python workers (no mocks).

The binary is ``parx.binary()``: the one the wheel installed (CI), or ``$PARX_BINARY``
(``PARX_BINARY=target/debug/parx PYTHONPATH=python pytest python/tests`` in a clone).
"""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import time
import uuid
from multiprocessing import Pool
from pathlib import Path

import pytest

import parx

HERE = Path(__file__).resolve().parent


def worker(tmp_path: Path, body: str) -> list:
    """A worker script in tmp_path; returns its argv."""
    p = tmp_path / f"w_{uuid.uuid4().hex[:8]}.py"
    p.write_text(body)
    return [sys.executable, str(p)]


def env_with_package() -> dict:
    """The environment for a parx run started by hand: workers import this package."""
    env = dict(os.environ)
    pkg = str(Path(parx.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = pkg + os.pathsep + env.get("PYTHONPATH", "")
    return env


def frames(out: bytes) -> list:
    """parx's --framed-out stdout as (kind, task, payload)."""
    got, at = [], 0
    while at < len(out):
        kind, task, n = struct.unpack_from("<BQI", out, at)
        got.append((kind, task, out[at + 13 : at + 13 + n]))
        at += 13 + n
    return got


def sha1(x: bytes) -> str:
    return hashlib.sha1(x).hexdigest()


SHA1_WORKER = """
import hashlib, parx
parx.serve(lambda x: hashlib.sha1(x).hexdigest())
"""


def test_imap_gives_what_pool_imap_gives_in_order(tmp_path):
    items = [str(i).encode() for i in range(100_000)]
    got = list(parx.imap(worker(tmp_path, SHA1_WORKER), items, jobs=2))
    with Pool(2) as pool:
        want = list(pool.imap(sha1, items, chunksize=1000))
    assert got == want


def test_unordered_gives_every_result_once(tmp_path):
    w = worker(tmp_path, "import parx\nparx.serve(lambda x: (x, x * x))\n")
    got = list(parx.imap(w, range(5000), jobs=2, ordered=False))
    assert sorted(got) == [(i, i * i) for i in range(5000)]


# Must show 2: a worker that prints, returns newlines and NULs, and raises on 1% of records.
MIXED_WORKER = """
import os, parx
def f(v):
    print("debug: on", v)
    if int(v) % 100 == 7:
        raise ValueError(f"bad record {v}")
    return f"{v}\\nsecond line\\0{os.getpid()}"
parx.serve(f)
"""


def test_framed_worker_prints_raises_and_lives_on(tmp_path):
    w = worker(tmp_path, MIXED_WORKER)
    n = 5000
    proc = subprocess.run(
        [parx.binary(), "--pool", "process", "--framed", "--framed-out", "-j2", "-k", *w],
        input="".join(f"{i}\n" for i in range(1, n + 1)).encode(),
        capture_output=True,
        env=env_with_package(),
        timeout=120,
    )
    bad = [i for i in range(1, n + 1) if i % 100 == 7]
    assert proc.returncode == len(bad) == 50, proc.stderr[-2000:]
    got = frames(proc.stdout)
    assert [t for _, t, _ in got] == list(range(1, n + 1)), "each record once, in order"
    pids = set()
    for kind, task, payload in got:
        if task in bad:
            assert kind == parx.FAILURE
            assert b"Traceback" in payload and f"bad record {task}".encode() in payload
            continue
        assert kind == parx.RESULT
        value, rest = payload.split(b"\nsecond line\0")
        assert value == str(task).encode(), "the result is attached to its record"
        pids.add(rest)
    assert len(pids) <= 2, f"no worker restarted: {pids}"
    err = proc.stderr.decode()
    assert err.count("answered it with a failure") == 50
    assert err.count("Traceback (most recent call last)") == 50
    for i in bad:
        assert f"ValueError: bad record {i}\n" in err
    assert "debug: on 4999\n" in err, "print() in fn went to stderr"


def test_imap_raises_task_error_naming_the_record(tmp_path):
    w = worker(tmp_path, "import parx\nparx.serve(lambda x: 10 // (x - 3))\n")
    with pytest.raises(parx.TaskError) as e:
        list(parx.imap(w, range(10), jobs=2, stderr=subprocess.DEVNULL))
    assert e.value.index == 3 and e.value.item == 3
    assert "ZeroDivisionError" in e.value.message
    assert "record 3 (3) failed" in str(e.value)


def test_errors_yield_puts_the_error_in_the_records_place(tmp_path):
    w = worker(tmp_path, "import parx\nparx.serve(lambda x: 10 // (x - 3))\n")
    got = parx.map(w, range(6), jobs=2, errors="yield", stderr=subprocess.DEVNULL)
    assert [type(g).__name__ for g in got] == ["int"] * 3 + ["TaskError"] + ["int"] * 2
    assert got[3].index == 3
    assert got[4] == 10


def marker_pids(marker: str) -> list:
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    pids.append(int(d))
        except OSError:
            pass
    return pids


def test_closing_the_iterator_early_ends_parx_and_its_workers(tmp_path):
    marker = f"marker-{uuid.uuid4().hex}"
    w = worker(tmp_path, "import parx, time\nparx.serve(lambda x: x)\n") + [marker]

    def endless():
        i = 0
        while True:
            yield i
            i += 1

    it = parx.imap(w, endless(), jobs=2)
    got = [next(it) for _ in range(1000)]
    assert got == list(range(1000))
    assert marker_pids(marker), "the workers run"
    it.close()
    deadline = time.monotonic() + 10
    while marker_pids(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker_pids(marker) == [], "no orphans"


def test_initializer_runs_once_per_worker_before_any_record(tmp_path):
    w = worker(
        tmp_path,
        """
import os, parx
state = {}
def init(word):
    state["word"] = word
    state["pid"] = os.getpid()
parx.serve(lambda x: (state["word"], state["pid"], x), initializer=init, initargs=("ready",))
""",
    )
    got = parx.map(w, range(2000), jobs=2)
    assert [g[2] for g in got] == list(range(2000))
    assert {g[0] for g in got} == {"ready"}
    assert len({g[1] for g in got}) <= 2


def test_cmd_as_a_string_runs_as_parx_runs_one(tmp_path):
    w = worker(tmp_path, "import parx\nparx.serve(lambda x: x + 1)\n")
    assert parx.map(f"'{w[0]}' '{w[1]}'", range(5), jobs=1) == [1, 2, 3, 4, 5]


def test_serve_from_the_shell_takes_text_and_prints_results_with_newlines():
    proc = subprocess.run(
        [parx.binary(), "--pool", "process", "--framed", "-k", "-j2", sys.executable, "-c",
         "import parx; parx.serve(lambda v: v[::-1])"],
        input="abc\nxyz\n\n".encode(),
        capture_output=True,
        env=env_with_package(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"cba\nzyx\n\n"


def test_python_m_parx_behaves_as_the_binary():
    run = lambda argv: subprocess.run(argv, capture_output=True, timeout=60, env=env_with_package())
    for args in (["--version"], ["-k", "echo", ":::", "a", "b"], ["sh", "-c", "exit 3", ":::", "x"]):
        via_module = run([sys.executable, "-m", "parx", *args])
        direct = run([parx.binary(), *args])
        assert (via_module.returncode, via_module.stdout) == (direct.returncode, direct.stdout), args
    assert run([sys.executable, "-m", "parx", "sh", "-c", "exit 3", ":::", "x"]).returncode == 1


def test_a_worker_that_breaks_the_protocol_is_parx_error(tmp_path):
    w = worker(tmp_path, "import sys\nprint('banner', flush=True)\nsys.stdin.read()\n")
    with pytest.raises(parx.ParxError) as e:
        list(parx.imap(w, range(3), jobs=1, stderr=subprocess.DEVNULL))
    assert e.value.status == 255


def test_the_package_is_typed():
    assert (Path(parx.__file__).parent / "py.typed").exists()


def test_ci_tests_the_installed_wheel():
    """CI (.ci/run) sets PARX_EXPECT_INSTALLED=1: the package and the binary are the wheel's."""
    if os.environ.get("PARX_EXPECT_INSTALLED") != "1":
        pytest.skip("not testing an installed wheel")
    import sysconfig

    assert Path(parx.__file__).resolve().is_relative_to(Path(sys.prefix).resolve())
    assert parx.binary() == os.path.join(sysconfig.get_path("scripts"), "parx")
    assert "PARX_BINARY" not in os.environ
