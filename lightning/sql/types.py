"""SQL column types: parsing type names and strict coercion of Python values to them.

One responsibility: decide what a column of a given declared type may hold, and turn
an accepted Python value into the one canonical Python type of that column (so the
codecs see one type per column). `parse_type("VARCHAR(10)")` returns a `SqlType`;
`SqlType.coerce(value, column_name)` returns the stored value or raises
`lightning.DataError` naming the column and the value.

Types (family <- accepted names) and what they hold
----------------------------------------------------
  INTEGER   <- INTEGER, INT, BIGINT, INT8, SMALLINT, INT2, TINYINT, MEDIUMINT
               int; 64-bit signed (SMALLINT: 16-bit, TINYINT: 8-bit, as in SQL).
               A float or Decimal with an integral value is accepted (3.0 -> 3);
               1.5, text and bool are rejected.
  REAL      <- REAL, FLOAT[(p)], DOUBLE, DOUBLE PRECISION, FLOAT8, FLOAT4
               float; an int is accepted when the float holds it exactly.
  NUMERIC   <- NUMERIC[(p[,s])], DECIMAL[(p[,s])], DEC
               decimal.Decimal, exact. int and Decimal accepted; a float is accepted
               as its shortest repr (0.1 -> Decimal('0.1')). With (p, s) the value
               must fit without rounding: at most s fractional digits and p - s
               integer digits; it is stored quantized to s places (1.5 -> 1.50).
               NaN and infinities are rejected.
  TEXT      <- TEXT, VARCHAR(n), CHARACTER VARYING(n), CHAR(n), CHARACTER(n),
               NVARCHAR(n), NCHAR(n), CLOB, STRING
               str; (n) limits the length in characters. CHAR(n) is not padded
               (it behaves as VARCHAR(n), like SQLite). Lone surrogates rejected.
  BLOB      <- BLOB, BYTEA, BINARY, VARBINARY[(n)]
               bytes; bytearray and memoryview accepted.
  BOOLEAN   <- BOOLEAN, BOOL
               bool; also the ints 0 and 1 exactly (SQL literals and sqlite3 habits),
               nothing else. A bool is accepted by BOOLEAN only (not by INTEGER etc.).
  DATE      <- DATE: datetime.date, or an ISO-8601 'YYYY-MM-DD' string; a datetime
               only when it is midnight (lossless).
  TIME      <- TIME: naive datetime.time, or an ISO-8601 string. Aware times are
               rejected.
  TIMESTAMP <- TIMESTAMP, DATETIME: datetime.datetime, a date (-> midnight), or an
               ISO-8601 string ('2024-05-01 12:00:00', '...T...', '...Z', offsets).
               Timezone policy: values are naive; an aware datetime or a string with
               an offset is converted to UTC and returned naive.
  JSON      <- JSON: str holding JSON text (checked with json.loads on write), or a
               dict/list/number/bool, serialised with json.dumps. Stored and returned
               as the JSON text (str).

None (SQL NULL) is accepted by every type; NOT NULL is the caller's constraint.
Unknown type names raise NotSupportedError naming the type.

DB-API: `type_code` is the family name ("INTEGER", "TEXT", ...), a string the driver
puts in cursor.description; `dbapi_type` says which PEP 249 type object it compares
equal to ("NUMBER", "STRING", "BINARY", "DATETIME"; ROWID is a column property, not a
type).
"""

import datetime as _dt
import decimal
import json
import math
import re
from decimal import Decimal

from ..errors import DataError, NotSupportedError, ProgrammingError

__all__ = ["SqlType", "parse_type", "show", "PLAIN_TYPES", "INTEGER", "REAL", "NUMERIC",
           "TEXT", "BLOB", "BOOLEAN", "DATE", "TIME", "TIMESTAMP", "JSON", "FAMILIES"]

_INT64 = (-(1 << 63), (1 << 63) - 1)
# Exact Python types of parameter values that need no conversion: the driver's and the
# fast paths' common case checks only these.
PLAIN_TYPES = frozenset((type(None), int, float, str, bytes, bool))

_UTC = _dt.timezone.utc

# declared name (upper case, single spaces) -> (family, integer range or None)
_NAMES = {
    "INTEGER": "INTEGER", "INT": "INTEGER", "BIGINT": "INTEGER", "INT8": "INTEGER",
    "SMALLINT": "INTEGER", "INT2": "INTEGER", "TINYINT": "INTEGER",
    "MEDIUMINT": "INTEGER", "INT4": "INTEGER",
    "REAL": "REAL", "FLOAT": "REAL", "DOUBLE": "REAL", "DOUBLE PRECISION": "REAL",
    "FLOAT8": "REAL", "FLOAT4": "REAL",
    "NUMERIC": "NUMERIC", "DECIMAL": "NUMERIC", "DEC": "NUMERIC",
    "TEXT": "TEXT", "VARCHAR": "TEXT", "CHARACTER VARYING": "TEXT", "CHAR": "TEXT",
    "CHARACTER": "TEXT", "NVARCHAR": "TEXT", "NCHAR": "TEXT", "CLOB": "TEXT",
    "STRING": "TEXT",
    "BLOB": "BLOB", "BYTEA": "BLOB", "BINARY": "BLOB", "VARBINARY": "BLOB",
    "BOOLEAN": "BOOLEAN", "BOOL": "BOOLEAN",
    "DATE": "DATE", "TIME": "TIME",
    "TIMESTAMP": "TIMESTAMP", "DATETIME": "TIMESTAMP",
    "JSON": "JSON",
}
_INT_RANGES = {"SMALLINT": (-(1 << 15), (1 << 15) - 1), "INT2": (-(1 << 15), (1 << 15) - 1),
               "TINYINT": (-128, 127)}
# How many parameters each declared name takes (max); names absent take none.
_MAX_PARAMS = {"NUMERIC": 2, "DECIMAL": 2, "DEC": 2, "VARCHAR": 1, "CHARACTER VARYING": 1,
               "CHAR": 1, "CHARACTER": 1, "NVARCHAR": 1, "NCHAR": 1, "VARBINARY": 1,
               "BINARY": 1, "FLOAT": 1}

FAMILIES = {
    # family: (python type, dbapi type)
    "INTEGER": (int, "NUMBER"), "REAL": (float, "NUMBER"), "NUMERIC": (Decimal, "NUMBER"),
    "TEXT": (str, "STRING"), "BLOB": (bytes, "BINARY"), "BOOLEAN": (bool, "NUMBER"),
    "DATE": (_dt.date, "DATETIME"), "TIME": (_dt.time, "DATETIME"),
    "TIMESTAMP": (_dt.datetime, "DATETIME"), "JSON": (str, "STRING"),
}

_TYPE_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*(?:\s+[A-Za-z_][A-Za-z0-9_]*)*)\s*"
                      r"(?:\(\s*([^)]*?)\s*\))?\s*$")

# Decimal arithmetic for coercion: exact (never rounds silently; Inexact traps).
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX,
                         Emin=decimal.MIN_EMIN, traps=[decimal.Inexact,
                                                       decimal.InvalidOperation])


_C_KINDS = {"INTEGER": 1, "REAL": 2, "TEXT": 3, "BLOB": 4}


def ALWAYS(v):
    """The fast_check test of types whose every value of the exact type is stored."""
    return True


def show(value):
    """A value as an error message shows it (repr, shortened; an integer too long for
    Python to print is described)."""
    if isinstance(value, int) and value.bit_length() > 14000:
        return f"<an integer of {value.bit_length()} bits>"   # (repr may refuse it)
    r = repr(value)
    return r if len(r) <= 80 else r[:77] + "..."


class SqlType:
    """A column type: `name` (declared name, upper case), `params` (tuple of ints),
    `family`, `python_type`, `type_code`, `dbapi_type`. Immutable; equal when the
    declarations are equal. `str()` gives the SQL spelling, which `parse_type` reads
    back (the catalog stores types that way)."""

    __slots__ = ("name", "params", "family", "python_type", "dbapi_type", "_lo", "_hi",
                 "_coerce")

    def __init__(self, name, params=()):
        name = " ".join(name.upper().split())
        family = _NAMES.get(name)
        if family is None:
            raise NotSupportedError(f"unsupported column type: {name}")
        params = tuple(params)
        if len(params) > _MAX_PARAMS.get(name, 0):
            raise ProgrammingError(f"type {name} takes at most {_MAX_PARAMS.get(name, 0)} "
                                   f"parameter(s), got {len(params)}")
        for p in params:
            if isinstance(p, bool) or not isinstance(p, int) or p < 0:
                raise ProgrammingError(f"bad parameter for type {name}: {p!r}")
        if family == "NUMERIC" and params:
            p = params[0]
            s = params[1] if len(params) > 1 else 0
            if not 1 <= p <= 1000 or s > p:
                raise ProgrammingError(f"NUMERIC precision must be 1..1000 and scale "
                                       f"0..precision, not ({p}, {s})")
        if family == "TEXT" and params and params[0] < 1:
            raise ProgrammingError(f"length of {name} must be at least 1")
        self.name = name
        self.params = params
        self.family = family
        self.python_type, self.dbapi_type = FAMILIES[family]
        self._lo, self._hi = _INT_RANGES.get(name, _INT64)
        self._coerce = getattr(self, "_c_" + family.lower())

    @property
    def type_code(self):
        """The DB-API type code of this type (the family name)."""
        return self.family

    @property
    def int_range(self):
        """(lowest, highest) value of an INTEGER-family column."""
        return self._lo, self._hi

    @property
    def fast_check(self):
        """(exact Python type, test) under which coerce(v) would return v unchanged
        (the stored type, in range), so hot paths can skip coerce(); None when every
        value needs coerce()."""
        fam = self.family
        if fam == "INTEGER":
            lo, hi = self._lo, self._hi
            return int, lambda v: lo <= v <= hi
        if fam == "REAL":
            return float, ALWAYS
        if fam == "TEXT" and not self.params:
            return str, str.isascii        # other text is checked for UTF-8 by coerce()
        if fam == "BLOB" and not self.params:
            return bytes, ALWAYS
        return None

    @property
    def c_storable(self):
        """(kind, lo, hi, maxlen) of lightning._speedups' test for values it stores or
        looks up as they are (ltsp_storable): kind 1 INTEGER in [lo, hi], 2 REAL, 3 TEXT,
        4 BLOB, 0 any other family (always Python); maxlen -1 when there is no limit."""
        kind = _C_KINDS.get(self.family, 0)
        lo, hi = (self._lo, self._hi) if kind == 1 else (0, 0)
        return kind, lo, hi, -1 if self.length is None else self.length

    @property
    def length(self):
        """Maximum length of TEXT/BLOB(n), else None."""
        if self.family in ("TEXT", "BLOB") and self.params:
            return self.params[0]
        return None

    @property
    def precision(self):
        return self.params[0] if self.family == "NUMERIC" and self.params else None

    @property
    def scale(self):
        if self.family != "NUMERIC" or not self.params:
            return None
        return self.params[1] if len(self.params) > 1 else 0

    def __str__(self):
        if self.params:
            return f"{self.name}({', '.join(map(str, self.params))})"
        return self.name

    def __repr__(self):
        return f"SqlType({str(self)!r})"

    def __eq__(self, other):
        return (isinstance(other, SqlType) and self.name == other.name
                and self.params == other.params)

    def __hash__(self):
        return hash((self.name, self.params))

    # -- coercion --

    def coerce(self, value, column_name="?"):
        """The value to store for `value` in a column of this type named
        `column_name`; None stays None. Raises DataError naming column and value."""
        if value is None:
            return None
        return self._coerce(value, column_name)

    def _reject(self, value, column, why=None):
        msg = (f"column {column!r} of type {self}: cannot store {type(value).__name__} "
               f"value {show(value)}")
        if why:
            msg += f" ({why})"
        raise DataError(msg)

    def _c_integer(self, v, col):
        if type(v) is not int:
            if isinstance(v, bool) or not isinstance(v, int):
                if isinstance(v, Decimal) and v.is_finite() and v.adjusted() > 19:
                    self._reject(v, col, f"out of range {self._lo}..{self._hi}")
                if isinstance(v, (float, Decimal)) and _is_integral(v):
                    v = int(v)        # 3.0 -> 3 is lossless (a huge Decimal: slow)
                else:
                    self._reject(v, col)
            else:
                v = int(v)
        if not self._lo <= v <= self._hi:
            self._reject(v, col, f"out of range {self._lo}..{self._hi}")
        return v

    def _c_real(self, v, col):
        t = type(v)
        if t is float:
            return v
        if t is bool:
            self._reject(v, col)
        if isinstance(v, int):
            try:
                f = float(v)
            except OverflowError:
                self._reject(v, col, "too large for REAL")
            if int(f) != v:
                self._reject(v, col, "not exactly representable as REAL")
            return f
        if isinstance(v, float):
            return float(v)
        if isinstance(v, Decimal):
            if v.is_finite():
                f = float(v)
                if not math.isinf(f) and Decimal(f) == v:
                    return f
                self._reject(v, col, "not exactly representable as REAL")
            self._reject(v, col)
        self._reject(v, col)

    def _c_numeric(self, v, col):
        t = type(v)
        if t is Decimal:
            d = v
        elif t is bool:
            self._reject(v, col)
        elif isinstance(v, int):
            d = Decimal(int(v))
        elif isinstance(v, float):
            if not math.isfinite(v):
                self._reject(v, col)
            d = Decimal(repr(float(v)))
        elif isinstance(v, Decimal):
            d = Decimal(v)
        else:
            self._reject(v, col)
        if not d.is_finite():
            self._reject(v, col, "NaN and infinity are not allowed")
        if d.is_zero() and d.is_signed():
            d = d.copy_abs()
        if not self.params:
            return d
        p, s = self.precision, self.scale
        try:
            q = d.quantize(Decimal(1).scaleb(-s), context=_EXACT)
        except (decimal.Inexact, decimal.InvalidOperation):
            self._reject(v, col, f"more than {s} digits after the decimal point")
        if q.adjusted() >= p - s and not q.is_zero():
            self._reject(v, col, f"more than {p - s} digits before the decimal point")
        return q

    def _c_text(self, v, col):
        if type(v) is not str:
            if not isinstance(v, str):
                self._reject(v, col)
            v = str(v)
        if self.params and len(v) > self.params[0]:
            self._reject(v, col, f"longer than {self.params[0]} characters")
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            self._reject(v, col, "not encodable as UTF-8")
        return v

    def _c_blob(self, v, col):
        if type(v) is not bytes:
            if not isinstance(v, (bytes, bytearray, memoryview)):
                self._reject(v, col)
            v = bytes(v)
        if self.params and len(v) > self.params[0]:
            self._reject(v, col, f"longer than {self.params[0]} bytes")
        return v

    def _c_boolean(self, v, col):
        if type(v) is bool:
            return v
        if type(v) is int and v in (0, 1):
            return v == 1
        self._reject(v, col)

    def _c_date(self, v, col):
        if type(v) is _dt.date:
            return v
        if isinstance(v, _dt.datetime):
            if v.tzinfo is None and v.time() == _dt.time():
                return v.date()
            self._reject(v, col, "has a time of day")
        if isinstance(v, _dt.date):
            return _dt.date(v.year, v.month, v.day)
        if isinstance(v, str):
            try:
                return _dt.date.fromisoformat(v.strip())
            except ValueError:
                self._reject(v, col, "not an ISO-8601 date")
        self._reject(v, col)

    def _c_time(self, v, col):
        if isinstance(v, str):
            try:
                v = _dt.time.fromisoformat(v.strip())
            except ValueError:
                self._reject(v, col, "not an ISO-8601 time")
        elif not isinstance(v, _dt.time):
            self._reject(v, col)
        if v.utcoffset() is not None:
            self._reject(v, col, "a time with a timezone cannot be stored")
        return v.replace(tzinfo=None, fold=0)

    def _c_timestamp(self, v, col):
        orig = v
        if isinstance(v, str):
            try:
                v = _dt.datetime.fromisoformat(v.strip())
            except ValueError:
                self._reject(v, col, "not an ISO-8601 timestamp")
        elif not isinstance(v, _dt.datetime):
            if isinstance(v, _dt.date):
                return _dt.datetime(v.year, v.month, v.day)
            self._reject(v, col)
        if v.tzinfo is not None and v.utcoffset() is not None:
            try:
                v = v.astimezone(_UTC)
            except OverflowError:
                self._reject(orig, col, "out of range after conversion to UTC")
        return v.replace(tzinfo=None, fold=0)

    def _c_json(self, v, col):
        if isinstance(v, str):
            try:
                json.loads(v)
            except ValueError as e:
                self._reject(v, col, f"not valid JSON: {e}")
            return str(v)
        if isinstance(v, (dict, list, int, float, bool)):
            try:
                return json.dumps(v, allow_nan=False)
            except (TypeError, ValueError) as e:
                self._reject(v, col, f"not serialisable as JSON: {e}")
        self._reject(v, col)


def _is_integral(v):
    if isinstance(v, float):
        return math.isfinite(v) and v == int(v)
    return v.is_finite() and v == v.to_integral_value()


def parse_type(text, params=None):
    """The SqlType of a declared type, e.g. "VARCHAR(10)", "numeric(10, 2)",
    "double precision"; or of a name plus a separate `params` sequence."""
    if params is not None:
        return SqlType(text, params)
    m = _TYPE_RE.match(text) if isinstance(text, str) else None
    if m is None:
        raise ProgrammingError(f"malformed type name: {text!r}")
    name, args = m.group(1), m.group(2)
    params = ()
    if args is not None:
        try:
            params = tuple(int(a) for a in args.split(","))
        except ValueError:
            raise ProgrammingError(f"malformed type parameters: {text!r}") from None
    return SqlType(name, params)


INTEGER = SqlType("INTEGER")
REAL = SqlType("REAL")
NUMERIC = SqlType("NUMERIC")
TEXT = SqlType("TEXT")
BLOB = SqlType("BLOB")
BOOLEAN = SqlType("BOOLEAN")
DATE = SqlType("DATE")
TIME = SqlType("TIME")
TIMESTAMP = SqlType("TIMESTAMP")
JSON = SqlType("JSON")
