"""Shared fixtures and helpers of the Python test suite: database paths in temporary
directories, small-size engine options that force flushes and compactions, and the
stress-count switch (LIGHTNING_STRESS=1). It also refuses to run without the compiled
extensions: lightning._lightning_ffi (the engine) and lightning._speedups (the C codecs
and reads) are what the suite tests, so a missing one is an error, never a skip."""

import importlib
import os

import pytest


def _require_extensions():
    missing = []
    for name in ("lightning._lightning_ffi", "lightning._speedups"):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing.append(f"{name}: {exc}")
    if missing:
        raise ImportError("the compiled extension is missing (build it with "
                          "`pip install -e .[test]`): " + "; ".join(missing))


_require_extensions()

STRESS = os.environ.get("LIGHTNING_STRESS") == "1"

# Options small enough that a few thousand writes make many tables and levels.
TINY = dict(
    memtable_size=16 << 10,
    page_size=256,
    table_size=8 << 10,
    level1_size=32 << 10,
)


def stress(ci_count, stress_count):
    """A round count: `ci_count` normally, `stress_count` with LIGHTNING_STRESS=1."""
    return stress_count if STRESS else ci_count


def files_with_suffix(path, suffix):
    return sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith(suffix))


def listing(path):
    """Every file under the directory `path`: relative path -> contents (to check
    that a refused open or a failed repair changed nothing)."""
    out = {}
    for root, _, names in os.walk(path):
        for name in names:
            p = os.path.join(root, name)
            with open(p, "rb") as f:
                out[os.path.relpath(p, path)] = f.read()
    return out


@pytest.fixture
def dbpath(tmp_path):
    """A path for a new database directory (not created)."""
    return str(tmp_path / "test.ldb")


def child_env():
    """Environment for a child Python process that must import the same `lightning`
    package as this one (installed or editable)."""
    import lightning
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(lightning.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_and_kill(script, args, rnd, *, run_for=0.4, while_running=None, parse=int):
    """Run `script` in a child Python (argv = args) that prints "ready", then one
    acknowledged number per line; SIGKILL it at a random moment (sometimes during
    start-up or recovery) and return the numbers it reported completely.

    run_for        the longest time the child runs after "ready" before the kill.
    while_running  called with the child (a Popen) after the run, just before the
                   kill, while the child certainly holds the database open.
    parse          turns one complete reported line (bytes, no newline) into an item
                   of the result; int by default."""
    import signal, subprocess, sys, threading, time  # noqa: E401
    # bufsize=0: readline() must not read ahead into a buffer that the drain thread,
    # which reads the raw pipe, would then never see.
    child = subprocess.Popen([sys.executable, "-c", script, *map(str, args)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=child_env(), bufsize=0)
    out = []
    # The pipe is drained while the child runs, so a child that reports much never
    # waits for the pipe to empty.
    drain = threading.Thread(target=lambda: out.append(child.stdout.read()))
    ready = False
    try:
        if rnd.random() < 0.2:
            time.sleep(rnd.uniform(0.0, 0.3))      # may land in start-up or recovery
        else:
            line = child.stdout.readline()
            assert line == b"ready\n", (line, child.stderr.read())
            ready = True
        drain.start()
        if ready:
            time.sleep(rnd.uniform(0.0, run_for))
            if while_running is not None:
                while_running(child)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        if drain.ident is not None:
            drain.join(timeout=60)
        else:
            out.append(child.stdout.read())
        err = child.stderr.read()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL, err.decode(errors="replace")
    lines = b"".join(out).split(b"\n")[:-1]    # a line is complete only with its newline
    return [parse(x) for x in lines if x and x != b"ready"]
