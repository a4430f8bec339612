"""Lightning: an embedded transactional key-value database for Python.

    import lightning
    with lightning.open("data.ldb", sync="full") as db:
        db.put(b"user:1", b'{"name": "Ada"}')
        assert db.get(b"user:1") == b'{"name": "Ada"}'
        for key, value in db.scan(prefix=b"user:"):
            ...

The engine is a log-structured store written in C (write-ahead log, memtable, sorted
tables of checksummed zstd-compressed blocks, leveled compaction, MVCC snapshots),
reached through cffi. `open()` returns a `Database`; its errors are the PEP 249
exceptions defined here (plus `CorruptionError`). `connect()` is the PEP 249 driver on
the same files (lightning/dbapi, docs/dbapi.md). See docs/ for the KV API, the sync
modes' crash promises and the file formats.
"""

from .errors import (
    ConflictError,
    CorruptionError,
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
)
from .kv import MAX_KEY_SIZE, MAX_VALUE_SIZE, Batch, Database, Scan, Snapshot, open, repair
from .transaction import Savepoint, Transaction, retry
from .dbapi import (BINARY, DATETIME, NUMBER, ROWID, STRING, Binary, Date, DateFromTicks,
                    Time, TimeFromTicks, Timestamp, TimestampFromTicks, apilevel, connect,
                    paramstyle, threadsafety)

__version__ = "0.1.0"

__all__ = [
    "open", "repair", "Database", "Snapshot", "Batch", "Scan", "MAX_KEY_SIZE", "MAX_VALUE_SIZE",
    "Warning", "Error", "InterfaceError", "DatabaseError", "DataError",
    "OperationalError", "IntegrityError", "InternalError", "ProgrammingError",
    "NotSupportedError", "CorruptionError", "ConflictError",
    "Transaction", "Savepoint", "retry", "__version__",
    "connect", "apilevel", "threadsafety", "paramstyle",
    "STRING", "BINARY", "NUMBER", "DATETIME", "ROWID",
    "Date", "Time", "Timestamp", "DateFromTicks", "TimeFromTicks", "TimestampFromTicks",
    "Binary",
]
