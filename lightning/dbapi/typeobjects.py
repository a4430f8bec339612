"""PEP 249 type objects and constructors.

The type objects STRING, BINARY, NUMBER, DATETIME and ROWID compare equal to the
type-code strings found in `cursor.description` (see lightning/sql/interface.py's TYPE_CODES):
`cur.description[0][1] == lightning.NUMBER`. Comparison is case-insensitive and
ignores a parenthesised suffix, so "varchar(20)" == STRING. ROWID's code ("ROWID")
is also a NUMBER, because its values are integers.

The constructors return the Python values the driver binds: `datetime.date`,
`datetime.time`, `datetime.datetime` and `bytes` (the *FromTicks forms use local
time, as `time.localtime` does and as sqlite3's do).
"""

import datetime
import time

__all__ = ["DBAPITypeObject", "STRING", "BINARY", "NUMBER", "DATETIME", "ROWID",
           "Date", "Time", "Timestamp", "DateFromTicks", "TimeFromTicks",
           "TimestampFromTicks", "Binary"]


def _base(code):
    if not isinstance(code, str):
        return None
    return code.split("(", 1)[0].strip().upper()


class DBAPITypeObject:
    """A set of type codes; equal to each of them (PEP 249 "Type Objects")."""

    __slots__ = ("name", "values")

    def __init__(self, name, *values):
        self.name = name
        self.values = frozenset(values)

    def __eq__(self, other):
        if isinstance(other, DBAPITypeObject):
            return self is other
        base = _base(other)
        return base is not None and base in self.values

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f"<lightning type object {self.name}>"


STRING = DBAPITypeObject("STRING", "TEXT", "VARCHAR", "CHAR", "CHARACTER", "CLOB",
                         "NVARCHAR", "NCHAR", "STRING", "JSON")
BINARY = DBAPITypeObject("BINARY", "BLOB", "BINARY", "VARBINARY", "BYTEA")
NUMBER = DBAPITypeObject("NUMBER", "INTEGER", "INT", "BIGINT", "SMALLINT", "TINYINT",
                         "REAL", "FLOAT", "DOUBLE", "DOUBLE PRECISION", "NUMERIC",
                         "DECIMAL", "BOOLEAN", "BOOL", "ROWID")
DATETIME = DBAPITypeObject("DATETIME", "DATE", "TIME", "TIMESTAMP", "DATETIME")
ROWID = DBAPITypeObject("ROWID", "ROWID")

Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime


def DateFromTicks(ticks):
    """The local date of `ticks` seconds since the epoch."""
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks):
    """The local time of day of `ticks` seconds since the epoch (whole seconds)."""
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks):
    """The local date and time of `ticks` seconds since the epoch (whole seconds)."""
    return Timestamp(*time.localtime(ticks)[:6])


Binary = bytes
