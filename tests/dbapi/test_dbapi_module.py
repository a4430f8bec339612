"""The module level of the driver: PEP 249 globals, type objects, constructors, the
exception classes on the module and the connection, and connect() variants (path,
:memory:, file: URIs and their modes, timeout on a database locked by a process)."""

import datetime
import os
import subprocess
import sys
import time

import pytest

import lightning
import lightning.dbapi as dbapi
from conftest import child_env
from dbapi_kvexec import KVExecutor


def test_globals():
    assert lightning.apilevel == "2.0"
    assert lightning.threadsafety == 1
    assert lightning.paramstyle == "qmark"
    assert lightning.connect is dbapi.connect


def test_exceptions_on_module_and_connection():
    names = ["Warning", "Error", "InterfaceError", "DatabaseError", "DataError",
             "OperationalError", "IntegrityError", "InternalError", "ProgrammingError",
             "NotSupportedError"]
    con = lightning.connect(":memory:")
    for name in names:
        assert getattr(con, name) is getattr(lightning, name) is getattr(dbapi, name)
    assert issubclass(lightning.Warning, Exception)
    assert issubclass(lightning.ConflictError, con.OperationalError)
    con.close()


@pytest.mark.parametrize("code, obj", [
    ("TEXT", lightning.STRING), ("varchar(20)", lightning.STRING), ("JSON", lightning.STRING),
    ("BLOB", lightning.BINARY), ("INTEGER", lightning.NUMBER), ("BIGINT", lightning.NUMBER),
    ("REAL", lightning.NUMBER), ("DECIMAL(10, 2)", lightning.NUMBER),
    ("BOOLEAN", lightning.NUMBER), ("DATE", lightning.DATETIME), ("TIME", lightning.DATETIME),
    ("TIMESTAMP", lightning.DATETIME), ("DATETIME", lightning.DATETIME),
    ("ROWID", lightning.ROWID), ("ROWID", lightning.NUMBER),
])
def test_type_objects_equal_their_codes(code, obj):
    assert code == obj and obj == code
    assert not (code != obj)
    others = {lightning.STRING, lightning.BINARY, lightning.NUMBER, lightning.DATETIME,
              lightning.ROWID} - {obj}
    matching = [o for o in others if o == code]
    assert matching in ([], [lightning.NUMBER], [lightning.ROWID])


def test_type_objects_do_not_equal_other_things():
    assert lightning.STRING != "BLOB"
    assert lightning.NUMBER != None  # noqa: E711 - the comparison is the point
    assert lightning.NUMBER != 5
    assert lightning.STRING != lightning.BINARY
    assert lightning.STRING == lightning.STRING
    assert len({lightning.STRING, lightning.BINARY}) == 2


def test_constructors():
    assert lightning.Date(2024, 2, 29) == datetime.date(2024, 2, 29)
    assert lightning.Time(1, 2, 3) == datetime.time(1, 2, 3)
    assert lightning.Timestamp(2024, 2, 29, 1, 2, 3) == datetime.datetime(2024, 2, 29, 1, 2, 3)
    ticks = time.mktime((2024, 2, 29, 13, 14, 15, 0, 0, -1))
    assert lightning.DateFromTicks(ticks) == datetime.date(2024, 2, 29)
    assert lightning.TimeFromTicks(ticks) == datetime.time(13, 14, 15)
    assert lightning.TimestampFromTicks(ticks) == datetime.datetime(2024, 2, 29, 13, 14, 15)
    assert lightning.Binary(b"ab") == b"ab" and type(lightning.Binary(bytearray(b"x"))) is bytes


def test_connect_path_creates_and_reopens(dbpath):
    con = lightning.connect(dbpath, executor=KVExecutor)
    assert os.path.isdir(dbpath) and con.database == dbpath
    con.execute("PUT a 1")
    con.commit()
    con.close()
    con = lightning.connect(os.fsencode(dbpath), executor=KVExecutor)
    assert con.execute("GET a").fetchall() == [(b"1",)]
    con.close()


def test_connect_uri_modes(tmp_path):
    path = str(tmp_path / "u.ldb")
    with pytest.raises(lightning.OperationalError):
        lightning.connect(f"file:{path}?mode=ro")
    with pytest.raises(lightning.OperationalError):
        lightning.connect(f"file:{path}?mode=rw")
    assert not os.path.exists(path)
    con = lightning.connect(f"file://{path}?mode=rwc", executor=KVExecutor)
    con.execute("PUT a 1")
    con.commit()
    con.close()
    ro = lightning.connect(f"file:{path}?mode=ro", executor=KVExecutor)
    assert ro.execute("GET a").fetchall() == [(b"1",)]
    with pytest.raises(lightning.OperationalError, match="read-only"):
        ro.execute("PUT b 1")
    ro.commit()
    ro.close()
    rw = lightning.connect(f"file://localhost{path}?mode=rw&sync=full", executor=KVExecutor)
    assert rw.execute("GET a").fetchall() == [(b"1",)]
    rw.close()


def test_connect_uri_percent_decoding_and_uri_flag(tmp_path):
    path = str(tmp_path / "a b.ldb")
    con = lightning.connect("file:" + path.replace(" ", "%20"))
    con.close()
    assert os.path.isdir(path)
    os.chdir(tmp_path)
    con = lightning.connect("file:literal", uri=False)
    con.close()
    assert os.path.isdir(tmp_path / "file:literal")


def test_connect_uri_errors(tmp_path):
    with pytest.raises(lightning.OperationalError, match="no such access mode: rx"):
        lightning.connect(f"file:{tmp_path}/x?mode=rx")
    with pytest.raises(lightning.ProgrammingError, match="unknown URI option 'cache'"):
        lightning.connect(f"file:{tmp_path}/x?cache=shared")
    with pytest.raises(lightning.ProgrammingError, match="authority"):
        lightning.connect(f"file://host/{tmp_path}/x")
    with pytest.raises(lightning.ProgrammingError, match="contradicts"):
        lightning.connect(f"file:{tmp_path}/x?sync=off", sync="full")
    assert not os.path.exists(tmp_path / "x")


def test_connect_memory_variants():
    for target in (":memory:", "file::memory:", "file:whatever?mode=memory"):
        con = lightning.connect(target, executor=KVExecutor, autocommit=True)
        con.execute("PUT a 1")
        assert con.kv.get(b"a") == b"1"
        con.close()


def test_connect_option_errors(dbpath):
    with pytest.raises(lightning.ProgrammingError, match="sync"):
        lightning.connect(dbpath, sync="sometimes")
    with pytest.raises(lightning.ProgrammingError, match="isolation_level"):
        lightning.connect(dbpath, isolation_level="READ UNCOMMITTED")
    with pytest.raises(lightning.ProgrammingError, match="timeout"):
        lightning.connect(dbpath, timeout=-1)
    with pytest.raises(lightning.ProgrammingError, match="cached_statements"):
        lightning.connect(dbpath, cached_statements=-1)
    with pytest.raises(TypeError):
        lightning.connect(dbpath, detect_types=1)
    with pytest.raises(TypeError):
        lightning.connect(42)
    # a failed connect leaves the database closed: it opens again
    con = lightning.connect(dbpath, cached_statements=7)
    assert con.cached_statements == 7
    con.close()


HOLDER = r"""
import sys, time, lightning
db = lightning.open(sys.argv[1])
print("ready", flush=True)
time.sleep(float(sys.argv[2]))
db.close()
"""


def test_timeout_on_locked_database(dbpath):
    child = subprocess.Popen([sys.executable, "-c", HOLDER, dbpath, "1.0"],
                             stdout=subprocess.PIPE, env=child_env(), text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        t0 = time.monotonic()
        with pytest.raises(lightning.OperationalError, match="locked"):
            lightning.connect(dbpath, timeout=0.2)
        assert 0.2 <= time.monotonic() - t0 < 0.9
        con = lightning.connect(dbpath, timeout=30)   # waits for the holder to exit
        assert time.monotonic() - t0 >= 0.5
        con.close()
    finally:
        child.wait(timeout=30)
        child.stdout.close()
