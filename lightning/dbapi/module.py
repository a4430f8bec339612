"""The module-level DB-API glue: `connect()` and the PEP 249 globals.

apilevel = "2.0"
paramstyle = "qmark": `?` placeholders with a sequence; `:name` placeholders with a
    mapping are accepted too (one style per statement).
threadsafety = 1: threads may share the module but not connections. Connections to
    the same file share one engine (lightning.open shares it per path), so the right
    shape is one connection per thread; each has its own transaction. A connection used
    by two threads at once would interleave their statements in one transaction, so
    level 2 would be a promise in name only.
"""

import os
import time
from urllib.parse import parse_qsl, unquote, urlsplit

from .. import kv as _kv
from ..errors import ELOCKED, OperationalError, ProgrammingError
from ..transaction import DEFAULT_MAX_WRITE_BYTES
from .connection import Connection

__all__ = ["connect", "apilevel", "threadsafety", "paramstyle"]

apilevel = "2.0"
threadsafety = 1
paramstyle = "qmark"

_MODES = {"ro": dict(create=False, read_only=True),
          "rw": dict(create=False),
          "rwc": dict(create=True)}


def _parse_uri(uri):
    """(path, open options) of a `file:` URI: file:path, file:///abs/path,
    file://localhost/abs/path, file::memory:; query options mode=ro|rw|rwc|memory and
    sync=off|normal|full. Unknown options raise ProgrammingError."""
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise ProgrammingError(f"invalid URI authority {parts.netloc!r} in {uri!r}")
    path = unquote(parts.path)
    opts = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "mode":
            if value == "memory":
                path = ":memory:"
            elif value in _MODES:
                opts.update(_MODES[value])
            else:
                raise OperationalError(f"no such access mode: {value} (in {uri!r}; use "
                                       "ro, rw, rwc or memory)")
        elif key == "sync":
            opts["sync"] = value
        else:
            raise ProgrammingError(f"unknown URI option {key!r} in {uri!r}; Lightning "
                                   "knows mode and sync")
    if not path:
        raise ProgrammingError(f"no path in URI {uri!r}")
    return path, opts


def _open(path, opts, timeout):
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            return _kv.open(path, **opts)
        except OperationalError as exc:
            remaining = deadline - time.monotonic()
            if exc.code != ELOCKED or remaining <= 0:
                raise
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.05)


def connect(database, *, timeout=5.0, isolation_level="SERIALIZABLE", autocommit=None,
            sync=None, cached_statements=128, uri=None, executor=None,
            max_write_bytes=DEFAULT_MAX_WRITE_BYTES, wal_recovery=None, _env=None):
    """Open a connection to the database at `database`.

    database           a path (str, bytes or os.PathLike; a Lightning database is a
                       directory), ":memory:" (a new private in-memory database), or a
                       `file:` URI: file:path?mode=ro|rw|rwc|memory&sync=off|normal|full
                       (ro: read-only, rw: must exist, rwc: create if missing, default).
    timeout            seconds to keep retrying while another process holds the
                       database's lock (default 5.0); then OperationalError.
    isolation_level    "SERIALIZABLE" (default), "REPEATABLE READ" or "SNAPSHOT"
                       (snapshot isolation), or None for autocommit (sqlite3 legacy).
                       sqlite3's "", "DEFERRED", "IMMEDIATE", "EXCLUSIVE" mean
                       SERIALIZABLE.
    autocommit         True: each statement outside BEGIN commits at once; False:
                       implicit transactions (PEP 249). Default: True only when
                       isolation_level is None. When given, it wins over isolation_level.
    sync               "off", "normal" (default) or "full": the durability of commits
                       (see docs/durability.md).
    cached_statements  size of the per-connection plan cache (kept for the SQL layer).
    uri                None: strings starting with "file:" are URIs; True: `database`
                       is a URI; False: it is a path even if it starts with "file:".
    executor           a factory `executor(connection) -> Executor` (executor.py), for
                       the SQL layer and tests.
    max_write_bytes    the most each transaction may buffer before its commit: the
                       bytes of the keys and values it writes (rows and index
                       entries), plus 16 per write (default 64 MiB). A statement that
                       goes past it raises OperationalError and is undone; the
                       transaction stays open.
    wal_recovery       "strict" (default) or "point_in_time": what opening does about
                       a log damaged in the middle, as lightning.open(wal_recovery=...).
    _env               private, for tests: a file system of lightning._testing
                       (MemEnv, FaultEnv) passed to lightning.open.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise ProgrammingError(f"timeout must be a number of seconds >= 0, not {timeout!r}")
    opts = {}
    path = database
    if isinstance(database, str) and (uri or (uri is None and database.startswith("file:"))):
        if database.startswith("file:"):
            path, opts = _parse_uri(database)
    elif not isinstance(database, (str, bytes, os.PathLike)):
        raise TypeError(f"database must be a path or URI, not {type(database).__name__}")
    if sync is not None:
        if "sync" in opts and opts["sync"] != sync:
            raise ProgrammingError(f"sync={sync!r} contradicts the URI's sync="
                                   f"{opts['sync']}")
        opts["sync"] = sync
    if wal_recovery is not None:
        opts["wal_recovery"] = wal_recovery
    if _env is not None:
        opts["_env"] = _env
    if path == ":memory:":
        opts.pop("create", None)
        opts.pop("read_only", None)
    db = _open(path, opts, timeout)
    try:
        return Connection(db, isolation_level=isolation_level, autocommit=autocommit,
                          cached_statements=cached_statements, executor_factory=executor,
                          database=database, read_only=opts.get("read_only", False),
                          max_write_bytes=max_write_bytes)
    except BaseException:
        db.close()
        raise
