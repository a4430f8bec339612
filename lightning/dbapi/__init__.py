"""The PEP 249 (DB-API 2.0) driver of Lightning: `connect()` and its connection,
cursor, parameter and type-object pieces. Data statements are run by the SQL layer's
executor (the interface in lightning/sql/interface.py); the driver handles transaction
control itself. See docs/dbapi.md.

    module.py      connect(), apilevel, threadsafety, paramstyle
    typeobjects.py type objects and constructors
    connection.py  Connection: transactions, autocommit, close
    cursor.py      Cursor: execute, fetch, description
    params.py      placeholders and parameter checks
    statements.py  one statement: empty, transaction control, or data
    executor.py    which SQL executor connect() uses by default
"""

from ..errors import (DatabaseError, DataError, Error, IntegrityError, InterfaceError,
                      InternalError, NotSupportedError, OperationalError, ProgrammingError,
                      Warning)
from .connection import Connection
from .cursor import Cursor
from .executor import Executor, Result
from .module import apilevel, connect, paramstyle, threadsafety
from .typeobjects import (BINARY, DATETIME, NUMBER, ROWID, STRING, Binary, Date, DateFromTicks,
                    Time, TimeFromTicks, Timestamp, TimestampFromTicks)

__all__ = [
    "connect", "apilevel", "threadsafety", "paramstyle", "Connection", "Cursor",
    "Executor", "Result",
    "STRING", "BINARY", "NUMBER", "DATETIME", "ROWID",
    "Date", "Time", "Timestamp", "DateFromTicks", "TimeFromTicks", "TimestampFromTicks",
    "Binary",
    "Warning", "Error", "InterfaceError", "DatabaseError", "DataError",
    "OperationalError", "IntegrityError", "InternalError", "ProgrammingError",
    "NotSupportedError",
]
