"""The database lock: another process opening the same path gets OperationalError that
says the database is locked and names the holder's pid; after the holder exits, the
path opens again."""

import subprocess
import sys

import pytest

import lightning
from lightning._ffi import lib

from conftest import child_env

HOLDER = r"""
import sys, lightning
db = lightning.open(sys.argv[1])
db.put(b"holder", b"1")
print("ready", flush=True)
sys.stdin.read()
db.close()
"""


def test_second_process_gets_locked_error(dbpath):
    child = subprocess.Popen([sys.executable, "-c", HOLDER, dbpath], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, env=child_env(), text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        for kw in ({}, {"read_only": True}):
            with pytest.raises(lightning.OperationalError) as ei:
                lightning.open(dbpath, **kw)
            msg = str(ei.value)
            assert "locked" in msg, msg
            assert str(child.pid) in msg, msg
            assert ei.value.code == lib.LT_ELOCKED
    finally:
        child.stdin.close()
        assert child.wait(timeout=30) == 0
    with lightning.open(dbpath) as db:
        assert db.get(b"holder") == b"1"


def test_lock_released_when_holder_is_killed(dbpath):
    child = subprocess.Popen([sys.executable, "-c", HOLDER, dbpath], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, env=child_env(), text=True)
    assert child.stdout.readline().strip() == "ready"
    child.kill()
    child.wait(timeout=30)
    child.stdin.close()
    child.stdout.close()
    with lightning.open(dbpath) as db:
        assert db.get(b"holder") == b"1"
