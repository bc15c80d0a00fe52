"""parx from Python: workers that speak parx's framed protocol, and maps run by parx.

Worker side (a script run by ``parx --pool process --framed``)::

    import parx
    parx.serve(fn)                      # fn(record) -> result, once per record

Caller side (runs the parx binary, feeds it from a thread, yields results)::

    import parx
    for r in parx.imap(["python3", "worker.py"], range(100_000), jobs=4):
        ...

The protocol is specified in docs/framed-protocol.md. Pure Python, no dependencies.
"""

from __future__ import annotations

import os
import struct
import sys
import time
# A worker imports only what serving needs (its start-up is paid by every worker); the
# caller's modules (subprocess, threading, pickle, ...) and typing are imported where they
# are used (type checkers read this name as typing.TYPE_CHECKING).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    import threading
    from typing import (
        Any,
        Callable,
        Dict,
        Iterable,
        Iterator,
        List,
        Optional,
        Sequence,
        Tuple,
        Union,
    )

__all__ = ["serve", "imap", "map", "binary", "TaskError", "ParxError"]

RECORD = 0xFA
RESULT = 0xFB
FAILURE = 0xFC
_HEADER = struct.Struct("<BQI")
# A worker flushes its results whenever it would wait for input, and at least this often
# while it works through records it already holds.
_FLUSH_EVERY = 0.005
_READ = 1 << 20

# How values travel between parx.imap and parx.serve: pickled, then base64 (parx reads its
# input as lines). Set by imap in the workers' environment.
_CODEC_ENV = "PARX_CODEC"


class TaskError(Exception):
    """A record whose worker answered with a failure (the worker's traceback in ``message``).

    ``index`` is the record's position in the iterable (0-based), ``item`` the record.
    """

    def __init__(self, index: int, item: Any, message: str) -> None:
        super().__init__(index, item, message)
        self.index = index
        self.item = item
        self.message = message

    def __str__(self) -> str:
        item = repr(self.item)
        if len(item) > 60:
            item = item[:57] + "..."
        return f"record {self.index} ({item}) failed:\n{self.message.rstrip()}"


class ParxError(RuntimeError):
    """parx itself failed (status 255: a worker broke the protocol, could not start, ...)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"parx exited with status {status} (its stderr says why)")
        self.status = status


def binary() -> str:
    """The parx binary: ``$PARX_BINARY``, else the one the wheel installed beside this
    interpreter, else ``parx`` on PATH."""
    import shutil
    import sysconfig

    env = os.environ.get("PARX_BINARY")
    if env:
        return env
    for d in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        if d:
            p = os.path.join(d, "parx")
            if os.access(p, os.X_OK) and not os.path.isdir(p):
                return p
    found = shutil.which("parx")
    if found:
        return found
    raise FileNotFoundError(
        "the parx binary was not found: pip install parx (it carries it), or set PARX_BINARY"
    )


# ---- worker side ------------------------------------------------------------------------


def _encode_text(r: Any) -> bytes:
    if isinstance(r, (bytes, bytearray, memoryview)):
        return bytes(r)
    if r is None:
        return b""
    return str(r).encode("utf-8", "surrogateescape")


def _decode_text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def _codec(name: str) -> "tuple[Optional[Callable[[bytes], Any]], Callable[[Any], bytes]]":
    """How records reach fn (None: as bytes) and how its results are written."""
    if name == "text":
        return _decode_text, _encode_text
    if name == "bytes":
        return None, _encode_text
    if name == "pickle":
        import base64
        import pickle

        return (
            lambda b: pickle.loads(base64.b64decode(b)),
            lambda r: pickle.dumps(r, pickle.HIGHEST_PROTOCOL),
        )
    raise ValueError(f"unknown codec {name!r}: use 'text', 'bytes' or 'pickle'")


def _write_all(fd: int, data: "bytes | bytearray") -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def serve(
    fn: Callable[[Any], Any],
    initializer: Optional[Callable[..., Any]] = None,
    initargs: Sequence[Any] = (),
    *,
    codec: Optional[str] = None,
) -> None:
    """Answers the records parx sends this worker (``parx --pool process --framed``), each with
    ``fn(record)``, until its input ends.

    ``initializer(*initargs)`` runs once first (a model load, say). ``print()`` inside ``fn``
    goes to stderr (the frames own stdout). An exception in ``fn`` becomes that record's
    failure, with its traceback; the worker goes on. Results are written framed, flushed
    whenever the worker would wait for input and at least every 5 ms.

    ``codec``: ``"text"`` (records as ``str``; a result ``str``/``bytes`` is printed as it is,
    anything else as ``str()``), ``"bytes"`` (records as ``bytes``) or ``"pickle"`` (what
    ``parx.imap`` sends; set for the workers it starts). Default: ``$PARX_CODEC``, else text.
    """
    decode, encode = _codec(codec or os.environ.get(_CODEC_ENV) or "text")
    # The frames get the real stdout; fd 1 (print, C extensions, child processes) goes to
    # stderr, and fd 0 is /dev/null: nothing fn does can touch the protocol.
    out_fd = os.dup(1)
    in_fd = os.dup(0)
    sys.stdout.flush()
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = sys.stderr
    sys.stdin = open(os.devnull)
    if initializer is not None:
        initializer(*initargs)

    unpack = _HEADER.unpack_from
    pack = _HEADER.pack
    size = _HEADER.size
    now = time.monotonic
    text_out = encode is _encode_text
    out = bytearray()
    buf = b""
    pos = 0
    while True:
        # The whole frames read so far (ids, where their payloads are), then their answers:
        # two plain loops cost less per record than one.
        spans: List[Tuple[int, int, int]] = []
        span = spans.append
        n = len(buf)
        while pos + size <= n:
            kind, rid, length = unpack(buf, pos)
            end = pos + size + length
            if end > n:
                break
            if kind != RECORD:
                sys.stderr.write(
                    f"parx.serve: not a record frame (kind 0x{kind:02X}): is this worker run "
                    "by parx --pool process --framed?\n"
                )
                raise SystemExit(2)
            span((rid, pos + size, end))
            pos = end
        last = now()
        for rid, start, end in spans:
            try:
                r = fn(buf[start:end]) if decode is None else fn(decode(buf[start:end]))
                if not text_out:
                    r = encode(r)
                elif r.__class__ is str:
                    r = r.encode("utf-8", "surrogateescape")
                elif r.__class__ is not bytes:
                    r = encode(r)
            except Exception as e:
                import traceback

                # The traceback from fn on (serve's own frame left out).
                tb = e.__traceback__.tb_next if e.__traceback__ else None
                text = "".join(traceback.format_exception(type(e), e, tb))
                msg = text.encode("utf-8", "replace")
                out += pack(FAILURE, rid, len(msg))
                out += msg
            else:
                out += pack(RESULT, rid, len(r))
                out += r
            t = now()
            if t - last >= _FLUSH_EVERY:
                _write_all(out_fd, out)
                out.clear()
                last = t
        if out:
            _write_all(out_fd, out)
            out.clear()
        chunk = os.read(in_fd, _READ)
        if not chunk:
            if pos < len(buf):
                sys.stderr.write("parx.serve: input ended inside a frame\n")
                raise SystemExit(2)
            return
        buf = buf[pos:] + chunk if pos < len(buf) else chunk
        pos = 0


# ---- caller side ------------------------------------------------------------------------


def _read_exact(f: Any, n: int) -> bytes:
    data: bytes = f.read(n)
    if len(data) != n:
        raise EOFError
    return data


def imap(
    cmd: Union[str, Sequence[str]],
    iterable: Iterable[Any],
    jobs: Optional[int] = None,
    ordered: bool = True,
    errors: str = "raise",
    *,
    args: Sequence[str] = (),
    stderr: Any = None,
    parx: Optional[str] = None,
) -> Iterator[Any]:
    """Runs ``cmd`` (a worker calling ``parx.serve``) as parx's ``--pool process`` workers over
    ``iterable``, and yields each item's result as it comes (in input order when
    ``ordered``).

    ``cmd``: an argv list, or a string parx runs as it runs one (through ``sh -c`` when it
    holds shell syntax). ``jobs``: workers (parx's ``-j``; default: the CPUs). Items and
    results are pickled. A record whose worker answered with a failure raises
    :class:`TaskError` naming it (``errors="yield"``: the ``TaskError`` is yielded in its
    place). Closing the iterator early (``break``, an exception) ends parx and its workers.
    ``args``: more parx options (``["--retries", "3"]``); ``stderr``: where parx's stderr
    goes (as ``subprocess``'s; default: inherited); ``parx``: the binary.
    """
    if errors not in ("raise", "yield"):
        raise ValueError("errors must be 'raise' or 'yield'")
    argv = [parx or binary(), "--pool", "process", "--framed", "--framed-out"]
    if jobs is not None:
        argv += ["-j", str(jobs)]
    if ordered:
        argv.append("-k")
    argv += list(args)
    argv += [cmd] if isinstance(cmd, str) else list(cmd)
    env = dict(os.environ)
    env[_CODEC_ENV] = "pickle"
    return _run(argv, env, iterable, errors, stderr)


def _run(
    argv: List[str], env: Dict[str, str], iterable: Iterable[Any], errors: str, stderr: Any
) -> Iterator[Any]:
    import base64
    import pickle
    import subprocess
    import threading

    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env,
        bufsize=1 << 16,
    )
    items: Dict[int, Any] = {}
    stop = threading.Event()
    feed_error: List[BaseException] = []

    def feed() -> None:
        w = proc.stdin
        assert w is not None
        try:
            seq = 0
            for item in iterable:
                if stop.is_set():
                    break
                seq += 1
                items[seq] = item
                w.write(base64.b64encode(pickle.dumps(item, pickle.HIGHEST_PROTOCOL)) + b"\n")
        except (BrokenPipeError, OSError, ValueError):
            pass  # parx ended (or was ended): nothing more to feed
        except BaseException as e:  # the iterable raised: re-raised in the caller
            feed_error.append(e)
        finally:
            try:
                w.close()
            except (BrokenPipeError, OSError, ValueError):
                pass

    feeder = threading.Thread(target=feed, name="parx-feed", daemon=True)
    feeder.start()
    r = proc.stdout
    assert r is not None
    failed = 0
    finished = False
    try:
        while True:
            try:
                kind, seq, length = _HEADER.unpack(_read_exact(r, _HEADER.size))
                payload = _read_exact(r, length)
            except EOFError:
                break
            item = items.pop(seq, None)
            if kind == RESULT:
                yield pickle.loads(payload)
                continue
            failed += 1
            err = TaskError(seq - 1, item, payload.decode("utf-8", "replace"))
            if errors == "raise":
                raise err
            yield err
        status = proc.wait()
        feeder.join()
        finished = True
        if feed_error:
            raise feed_error[0]
        if status != 0 and status != min(failed, 101):
            raise ParxError(status)
    finally:
        if not finished:
            _end(proc, stop, feeder)


def _end(proc: subprocess.Popen[bytes], stop: threading.Event, feeder: threading.Thread) -> None:
    """Ends a run left early: parx gets TERM (it ends its workers' process groups), then KILL."""
    import signal
    import subprocess

    stop.set()
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
    feeder.join(timeout=5)


def map(
    cmd: Union[str, Sequence[str]],
    iterable: Iterable[Any],
    jobs: Optional[int] = None,
    errors: str = "raise",
    **kw: Any,
) -> List[Any]:
    """``list(imap(cmd, iterable, jobs, ordered=True, errors=errors, ...))``."""
    return list(imap(cmd, iterable, jobs, True, errors, **kw))
