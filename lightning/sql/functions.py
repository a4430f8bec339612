"""Scalar SQL functions: name -> implementation, arity and NULL handling.

One responsibility: the scalar functions callable from SQL expressions. Each entry of
FUNCTIONS is a `Func(name, lo, hi, fn)`; `resolve(name, nargs)` checks the arity
(ProgrammingError naming the function) and unknown names (NotSupportedError naming
it). Functions marked strict return NULL when any argument is NULL without being
called; the others (IFNULL, CONCAT, PRINTF, QUOTE, HEX, CHAR, ...) handle NULL
themselves. This module knows nothing of sqlglot: expr.py maps parse-tree nodes to
a function name and argument list.

Semantics follow SQLite where SQLite's are sane (see docs/sql.md "Functions"):
  * math functions (sqrt, ln, log, pow, trig...) return REAL; a domain error (sqrt(-1),
    ln(0)) is NULL, an overflow is +-inf, as in SQLite. Text or blob arguments to a
    math function are a DataError (strict typing, like arithmetic).
  * INTEGER is a signed 64-bit value: abs(-2**63) is a DataError "integer overflow".
  * date/time functions (date, time, datetime, julianday, unixepoch, strftime) work
    on SQLite's model: a moment is an integer count of milliseconds since julian day
    0; the result is TEXT formatted as SQLite does (julianday REAL, unixepoch
    INTEGER). Inputs: date/time/datetime values, ISO-8601 text, 'now' or a julian day
    number. Invalid input or modifier -> NULL. Session time zone is UTC: 'localtime'
    and 'utc' are no-ops. Unlike SQLite, an impossible calendar date ('2024-02-30')
    and year 0000 are NULL.
"""

import datetime as _dt
import math
import random as _random
import re
from decimal import (ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal,
                     localcontext)

from ..errors import DataError, NotSupportedError, ProgrammingError

__all__ = ["Func", "FUNCTIONS", "resolve", "extract_field", "to_text", "check_int",
           "LOWER_MAP", "UPPER_MAP", "INT_MIN", "INT_MAX"]

INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1
LOWER_MAP = {c: c + 32 for c in range(65, 91)}
UPPER_MAP = {c + 32: c for c in range(65, 91)}


class Func:
    __slots__ = ("name", "lo", "hi", "fn")

    def __init__(self, name, lo, hi, fn):
        self.name, self.lo, self.hi, self.fn = name, lo, hi, fn


FUNCTIONS = {}


def _null_propagating(fn):
    def f(*args):
        for a in args:
            if a is None:
                return None
        return fn(*args)
    return f


def _register(names, lo, hi=None, strict=True):
    """Decorator: register `fn` under each of `names` with lo..hi arguments (hi None =
    no maximum). strict: any NULL argument gives NULL without calling fn."""
    if isinstance(names, str):
        names = (names,)

    def deco(fn):
        f = _null_propagating(fn) if strict else fn
        for n in names:
            FUNCTIONS[n] = Func(n, lo, hi, f)
        return fn
    return deco


def resolve(name, nargs):
    """The implementation of NAME called with `nargs` arguments."""
    spec = FUNCTIONS.get(name.upper())
    if spec is None:
        raise NotSupportedError(f"function not supported: {name.lower()}()")
    if nargs < spec.lo or (spec.hi is not None and nargs > spec.hi):
        raise ProgrammingError(f"wrong number of arguments to function {name.lower()}()")
    return spec.fn


# ---------------------------------------------------------------- conversions

def to_text(v):
    """The TEXT form of a non-NULL value (SQL's implicit conversion to text)."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, _dt.datetime):
        return v.isoformat(" ")
    return str(v)


def check_int(v, what):
    """`v` when it is not an int outside the signed 64-bit range, else DataError."""
    if type(v) is int and not INT_MIN <= v <= INT_MAX:
        raise DataError(f"integer overflow: {what}")
    return v


def _number(v, fname):
    """A numeric argument (bool -> int); text, blob, dates -> DataError."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float, Decimal)):
        return v
    raise DataError(f"{fname}() needs a number, got {v!r}")


def _float(v, fname):
    v = _number(v, fname)
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


# ---------------------------------------------------------------- text

@_register("LOWER", 1, 1)
def _lower(s):
    return to_text(s).translate(LOWER_MAP)


@_register("UPPER", 1, 1)
def _upper(s):
    return to_text(s).translate(UPPER_MAP)


@_register("LENGTH", 1, 1)
def _length(s):
    return len(s) if isinstance(s, bytes) else len(to_text(s))


@_register(("SUBSTR", "SUBSTRING"), 2, 3)
def _substr(s, start, length=None):
    s = to_text(s) if not isinstance(s, bytes) else s
    start = int(_number(start, "substr"))
    if length is None:
        i = start - 1 if start > 0 else (len(s) + start if start < 0 else 0)
        return s[max(i, 0):]
    length = int(_number(length, "substr"))
    if start > 0:
        i = start - 1
    elif start < 0:
        i = len(s) + start
    else:
        i, length = 0, length - 1
    if length < 0:
        i, length = i + length, -length
    j = i + length
    return s[max(i, 0):max(j, 0)]


def _trimmer(name, how):
    def trim(s, chars=" "):
        s, chars = to_text(s), to_text(chars)
        if how == "L":
            return s.lstrip(chars)
        if how == "R":
            return s.rstrip(chars)
        return s.strip(chars)
    _register(name, 1, 2)(trim)


_trimmer("TRIM", "B")
_trimmer("LTRIM", "L")
_trimmer("RTRIM", "R")


@_register("REPLACE", 3, 3)
def _replace(s, old, new):
    s, old = to_text(s), to_text(old)
    return s if old == "" else s.replace(old, to_text(new))


@_register("INSTR", 2, 2)
def _instr(s, sub):
    if isinstance(s, bytes) and isinstance(sub, bytes):
        return s.find(sub) + 1
    return to_text(s).find(to_text(sub)) + 1


@_register("HEX", 1, 1, strict=False)
def _hex(v):
    if v is None:
        return ""
    b = v if isinstance(v, bytes) else to_text(v).encode("utf-8")
    return b.hex().upper()


@_register("CHAR", 0, None, strict=False)
def _char(*codes):
    out = []
    for c in codes:
        n = 0 if c is None or isinstance(c, (str, bytes)) else int(_number(c, "char"))
        out.append(chr(n) if 0 <= n <= 0x10FFFF and not 0xD800 <= n <= 0xDFFF
                   else "\ufffd")
    return "".join(out)


@_register("UNICODE", 1, 1)
def _unicode(s):
    s = to_text(s)
    return ord(s[0]) if s else None


@_register("CONCAT", 1, None, strict=False)
def _concat(*args):
    return "".join(to_text(a) for a in args if a is not None)


@_register("CONCAT_WS", 2, None, strict=False)
def _concat_ws(sep, *args):
    if sep is None:
        return None
    return to_text(sep).join(to_text(a) for a in args if a is not None)


@_register("LEFT", 2, 2)
def _left(s, n):
    s, n = to_text(s), int(_number(n, "left"))
    return s[:n] if n >= 0 else s[:max(len(s) + n, 0)]


@_register("RIGHT", 2, 2)
def _right(s, n):
    s, n = to_text(s), int(_number(n, "right"))
    if n >= 0:
        return s[max(len(s) - n, 0):] if n else ""
    return s[-n:]


@_register("REVERSE", 1, 1)
def _reverse(s):
    return s[::-1] if isinstance(s, bytes) else to_text(s)[::-1]


@_register("QUOTE", 1, 1, strict=False)
def _quote(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, Decimal)):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, bytes):
        return "X'" + v.hex().upper() + "'"
    return "'" + to_text(v).replace("'", "''") + "'"


_PRINTF = re.compile(r"%([-+ 0#,!]*)(\*|\d+)?(?:\.(\*|\d+))?([a-zA-Z%])")


def _as_int(v):
    if v is None:
        return 0
    if isinstance(v, (str, bytes)):
        m = re.match(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", to_text(v))
        return int(float(m.group(0))) if m else 0
    if isinstance(v, float) and not math.isfinite(v):
        return 0
    return int(v) if isinstance(v, (int, float, Decimal)) else 0


def _as_float(v):
    if v is None:
        return 0.0
    if isinstance(v, (str, bytes)):
        m = re.match(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", to_text(v))
        return float(m.group(0)) if m else 0.0
    try:
        return float(v)
    except (TypeError, ValueError):
        return 0.0


def _printf_f(x, flags, width, prec):
    """%f as SQLite prints it: the shortest decimal of `x` rounded half up (so
    printf('%.2f', 2.675) is '2.68', as in SQLite, not '2.67')."""
    p = 6 if prec is None else int(prec)
    left = "-" in flags
    sign = "+" if "+" in flags else (" " if " " in flags else "")
    zero = "0" if "0" in flags and not left else ""
    try:
        with localcontext() as ctx:
            ctx.prec = 400
            d = Decimal(repr(x)).quantize(Decimal(1).scaleb(-p), rounding=ROUND_HALF_UP)
        s = format(d, f"{sign}{zero}{'' if left else width or ''}.{p}f")
    except (ArithmeticError, ValueError):
        s = ("%" + flags + (width or "") + "." + str(p) + "f") % x
    return s.ljust(int(width or 0)) if left else s


@_register(("PRINTF", "FORMAT"), 1, None, strict=False)
def _printf(fmt, *args):
    """SQLite's printf(): %d %i %u %f %F %e %E %g %G %x %X %o %s %z %c %q %Q %%, with
    flags, width and precision (`*` takes them from the arguments); a missing
    argument is NULL (0 or empty)."""
    if fmt is None:
        return None
    fmt = to_text(fmt)
    it = iter(args)
    out, last = [], 0
    for m in _PRINTF.finditer(fmt):
        out.append(fmt[last:m.start()])
        last = m.end()
        flags, width, prec, conv = m.groups()
        if conv == "%":
            out.append("%")
            continue
        if width == "*":
            width = str(_as_int(next(it, None)))
        if prec == "*":
            prec = str(max(_as_int(next(it, None)), 0))
        comma = "," in flags
        flags = flags.replace(",", "").replace("!", "")
        if width and width.startswith("-"):
            flags, width = flags + "-", width[1:]
        spec = "%" + flags + (width or "") + ("." + prec if prec is not None else "")
        v = next(it, None)
        if conv in "diu":
            n = _as_int(v)
            if comma:
                s = f"{n:,}"
                out.append(("%" + flags.replace("0", "") + (width or "") + "s") % s)
            else:
                out.append((spec + "d") % n)
        elif conv in "xXo":
            out.append((spec + conv) % (_as_int(v) & 0xFFFFFFFFFFFFFFFF))
        elif conv in "fF":
            out.append(_printf_f(_as_float(v), flags, width, prec))
        elif conv in "eEgG":
            out.append((spec + conv) % _as_float(v))
        elif conv in "sz":
            out.append((spec + "s") % ("" if v is None else to_text(v)))
        elif conv == "c":
            s = "" if v is None else to_text(v)[:1]
            out.append(("%" + flags + (width or "") + "s") % s)
        elif conv == "q":
            out.append((spec + "s") % ("(NULL)" if v is None else
                                       to_text(v).replace("'", "''")))
        elif conv == "Q":
            out.append((spec + "s") % ("NULL" if v is None else
                                       "'" + to_text(v).replace("'", "''") + "'"))
        else:
            out.append(m.group(0))
    out.append(fmt[last:])
    return "".join(out)


@_register("TYPEOF", 1, 1, strict=False)
def _typeof(v):
    """SQLite's type names, plus Lightning's own classes."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "real"
    if isinstance(v, str):
        return "text"
    if isinstance(v, bytes):
        return "blob"
    if isinstance(v, Decimal):
        return "numeric"
    if isinstance(v, _dt.datetime):
        return "timestamp"
    return "date" if isinstance(v, _dt.date) else "time"


@_register("IFNULL", 2, 2, strict=False)
def _ifnull(a, b):
    return a if a is not None else b


# ---------------------------------------------------------------- math

@_register("ABS", 1, 1)
def _abs(x):
    x = _number(x, "abs")
    return check_int(abs(x), f"abs({x})")


@_register("ROUND", 1, 2)
def _round(x, n=0):
    """Half away from zero, REAL result (SQLite)."""
    x = _float(x, "round")
    n = int(_number(n, "round"))
    if not math.isfinite(x):
        return x
    m = 10.0 ** n
    return math.copysign(math.floor(abs(x) * m + 0.5) / m, x)


@_register("SIGN", 1, 1)
def _sign(x):
    x = _number(x, "sign")
    if isinstance(x, float) and math.isnan(x):
        return None
    return (x > 0) - (x < 0)


def _int_like(fname, fl, dec):
    """floor/ceil/trunc: INTEGER stays INTEGER, REAL stays REAL, NUMERIC stays NUMERIC."""
    def f(x):
        x = _number(x, fname)
        if isinstance(x, int):
            return x
        if isinstance(x, Decimal):
            return x.to_integral_value(rounding=dec) if x.is_finite() else x
        return float(fl(x)) if math.isfinite(x) else x
    return f


_register("FLOOR", 1, 1)(_int_like("floor", math.floor, ROUND_FLOOR))
_register(("CEIL", "CEILING"), 1, 1)(_int_like("ceil", math.ceil, ROUND_CEILING))
_register("TRUNC", 1, 1)(_int_like("trunc", math.trunc, ROUND_DOWN))


def _real(fname, fn):
    """A REAL function of REAL arguments: NaN / domain error -> NULL, overflow -> inf."""
    def f(*args):
        xs = [_float(a, fname) for a in args]
        try:
            r = fn(*xs)
        except ValueError:
            return None
        except OverflowError:
            return math.inf
        except ZeroDivisionError:
            return None
        return None if isinstance(r, complex) or math.isnan(r) else float(r)
    return f


def _pow(x, y):
    if x == 0 and y < 0:
        return math.inf
    return math.pow(x, y)


def _log(a, b=None):
    if b is None:                       # SQLite: log(x) is the base-10 logarithm
        return math.log10(a) if a > 0 else math.nan
    if a <= 0 or a == 1 or b <= 0:
        return math.nan
    if a == 10:
        return math.log10(b)
    if a == 2:
        return math.log2(b)
    return math.log(b) / math.log(a)


for _names, _lo, _hi, _fn in [
    ("SQRT", 1, 1, lambda x: math.sqrt(x) if x >= 0 else math.nan),
    (("POWER", "POW"), 2, 2, _pow),
    ("EXP", 1, 1, math.exp),
    ("LN", 1, 1, lambda x: math.log(x) if x > 0 else math.nan),
    ("LOG", 1, 2, _log),
    ("LOG10", 1, 1, lambda x: math.log10(x) if x > 0 else math.nan),
    ("LOG2", 1, 1, lambda x: math.log2(x) if x > 0 else math.nan),
    ("DEGREES", 1, 1, math.degrees), ("RADIANS", 1, 1, math.radians),
    ("SIN", 1, 1, math.sin), ("COS", 1, 1, math.cos), ("TAN", 1, 1, math.tan),
    ("ASIN", 1, 1, math.asin), ("ACOS", 1, 1, math.acos), ("ATAN", 1, 1, math.atan),
    ("ATAN2", 2, 2, math.atan2),
]:
    _register(_names, _lo, _hi)(_real((_names if isinstance(_names, str)
                                       else _names[0]).lower(), _fn))


@_register("PI", 0, 0)
def _pi():
    return math.pi


@_register("RANDOM", 0, 0)
def _rand():
    return _random.getrandbits(64) - (1 << 63)


def _compare(a, b):
    from .expr import compare          # expr imports this module
    return compare(a, b)


@_register("MAX", 2, None)
def _max(*args):
    """Scalar max(a, b, ...) (SQLite): NULL if any argument is NULL."""
    best = args[0]
    for a in args[1:]:
        if _compare(a, best) > 0:
            best = a
    return best


@_register("MIN", 2, None)
def _min(*args):
    best = args[0]
    for a in args[1:]:
        if _compare(a, best) < 0:
            best = a
    return best


@_register("GREATEST", 1, None, strict=False)
def _greatest(*args):
    """PostgreSQL's greatest(): NULL arguments are ignored."""
    vals = [a for a in args if a is not None]
    return _max(*vals) if len(vals) > 1 else (vals[0] if vals else None)


@_register("LEAST", 1, None, strict=False)
def _least(*args):
    vals = [a for a in args if a is not None]
    return _min(*vals) if len(vals) > 1 else (vals[0] if vals else None)


# ---------------------------------------------------------------- date and time
# A moment is SQLite's iJD: integer milliseconds since julian day 0 (noon, 4714 BC).

_MS_DAY = 86400000
_J1 = 148731163200000           # 0001-01-01 00:00:00
_JMAX = 464269060799999         # 9999-12-31 23:59:59.999
_UNIX0 = 210866760000000        # 1970-01-01 00:00:00
_DT1 = _dt.datetime(1, 1, 1)

_ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(\.\d*)?)?"
                  r"\s*(?:([zZ])|([+-])(\d\d):(\d\d))?)?\s*\Z")
_HMS = re.compile(r"(\d\d):(\d\d)(?::(\d\d)(\.\d*)?)?\s*(?:([zZ])|([+-])(\d\d):(\d\d))?"
                  r"\s*\Z")
_NUM = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*\Z")


def _from_dt(d):
    if d.tzinfo is not None:
        d = d.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return _J1 + (d.toordinal() - 1) * _MS_DAY + \
        ((d.hour * 60 + d.minute) * 60 + d.second) * 1000 + (d.microsecond + 500) // 1000


def _to_dt(ijd):
    return _DT1 + _dt.timedelta(milliseconds=ijd - _J1)


def _now():
    return _from_dt(_dt.datetime.now(_dt.timezone.utc))


def _hms_ms(h, mi, s, frac):
    h, mi, s = int(h), int(mi), int(s or 0)
    if h > 23 or mi > 59 or s > 59:
        return None
    # milliseconds, rounded but kept inside the second ('59.9999' -> 59.999 as SQLite
    # prints it)
    ms = min(int(float("0" + frac) * 1000 + 0.5), 999) if frac and frac != "." else 0
    return ((h * 60 + mi) * 60 + s) * 1000 + ms


def _tz_ms(z, sign, th, tm):
    if sign is None:
        return 0
    if int(th) > 14 or int(tm) > 59:
        raise ValueError
    off = (int(th) * 60 + int(tm)) * 60000
    return off if sign == "+" else -off


def _parse_text(s):
    m = _ISO.match(s)
    if m:
        y, mo, d, h, mi, sec, frac, z, sign, th, tm = m.groups()
        try:
            day = _dt.date(int(y), int(mo), int(d))
        except ValueError:
            return None
        t = _hms_ms(h, mi, sec, frac) if h is not None else 0
        if t is None:
            return None
        try:
            off = _tz_ms(z, sign, th, tm)
        except ValueError:
            return None
        return _J1 + (day.toordinal() - 1) * _MS_DAY + t - off
    m = _HMS.match(s)
    if m:
        h, mi, sec, frac, z, sign, th, tm = m.groups()
        t = _hms_ms(h, mi, sec, frac)
        if t is None:
            return None
        try:
            off = _tz_ms(z, sign, th, tm)
        except ValueError:
            return None
        return _from_dt(_dt.datetime(2000, 1, 1)) + t - off
    return None


def _moment(v, mods):
    """(iJD, subsec) of a time value and its modifiers, or None when invalid."""
    num = None
    if isinstance(v, _dt.datetime):
        ijd = _from_dt(v)
    elif isinstance(v, _dt.date):
        ijd = _J1 + (v.toordinal() - 1) * _MS_DAY
    elif isinstance(v, _dt.time):
        ijd = _from_dt(_dt.datetime.combine(_dt.date(2000, 1, 1), v))
    elif isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        num = float(v)
    elif isinstance(v, str):
        if v.strip().lower() == "now":
            ijd = _now()
        elif _NUM.match(v):
            num = float(v)
        else:
            ijd = _parse_text(v)
            if ijd is None:
                return None
    else:
        return None
    subsec = False
    for i, mod in enumerate(mods):
        if mod is None:
            return None
        if not isinstance(mod, str):
            return None
        m = mod.strip().lower()
        if m == "unixepoch":
            if i != 0 or num is None:
                return None
            if not -1e15 < num < 1e15:
                return None
            ijd, num = int(math.floor(num * 1000 + _UNIX0 + 0.5)), None
            continue
        if num is not None:
            if not 0 <= num < 5373484.5:
                return None
            ijd, num = int(math.floor(num * _MS_DAY + 0.5)), None
        if m in ("subsec", "subsecond"):
            subsec = True
        elif m in ("localtime", "utc"):
            pass                            # the session time zone is UTC
        else:
            ijd = _modify(ijd, m)
            if ijd is None:
                return None
    if num is not None:
        if not 0 <= num < 5373484.5:
            return None
        ijd = int(math.floor(num * _MS_DAY + 0.5))
    if not _J1 <= ijd <= _JMAX:
        return None
    return ijd, subsec


_UNITS = {"second": 1000, "minute": 60000, "hour": 3600000, "day": _MS_DAY,
          "month": 30 * _MS_DAY, "year": 365 * _MS_DAY}
_AMOUNT = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?) +([a-z]+?)s?\Z")
_SHIFT = re.compile(r"([+-]?)(\d\d):(\d\d)(?::(\d\d)(\.\d*)?)?\Z")


def _modify(ijd, m):
    if not _J1 <= ijd <= _JMAX:
        return None
    if m.startswith("start of "):
        d = _to_dt(ijd)
        what = m[9:]
        if what == "day":
            d = d.replace(hour=0, minute=0, second=0, microsecond=0)
        elif what == "month":
            d = _dt.datetime(d.year, d.month, 1)
        elif what == "year":
            d = _dt.datetime(d.year, 1, 1)
        else:
            return None
        return _from_dt(d)
    if m.startswith("weekday "):
        try:
            r = float(m[8:])
        except ValueError:
            return None
        if r != int(r) or not 0 <= r < 7:
            return None
        n = int(r)
        z = ((ijd + 129600000) // _MS_DAY) % 7        # 0 = Sunday
        if z > n:
            z -= 7
        return ijd + (n - z) * _MS_DAY
    a = _AMOUNT.match(m)
    if a:
        r, unit = float(a.group(1)), a.group(2)
        if unit not in _UNITS or not math.isfinite(r):
            return None
        if unit in ("month", "year"):
            d = _to_dt(ijd)
            whole = int(r)
            y, mo = d.year, d.month
            if unit == "month":
                mo += whole
                x = (mo - 1) // 12
                y, mo = y + x, mo - 12 * x
            else:
                y += whole
            if not 1 <= y <= 9999:
                return None
            base = _dt.datetime(y, mo, 1, d.hour, d.minute, d.second, d.microsecond)
            ijd = _from_dt(base) + (d.day - 1) * _MS_DAY
            r -= whole
        delta = r * _UNITS[unit]
        if abs(delta) > 1e16:
            return None
        return ijd + int(delta + (0.5 if delta >= 0 else -0.5))
    s = _SHIFT.match(m)
    if s:
        sign, h, mi, sec, frac = s.groups()
        t = _hms_ms(h, mi, sec, frac)
        if t is None:
            return None
        return ijd - t if sign == "-" else ijd + t
    return None


def _date_fn(name, render):
    """date(), time(), ...: no argument means 'now'; a NULL value or modifier is
    NULL."""
    def call(*args):
        if not args:
            mo = _moment("now", ())
            return None if mo is None else render(*mo)
        if args[0] is None:
            return None
        mo = _moment(args[0], args[1:])
        return None if mo is None else render(*mo)
    _register(name, 0, None, strict=False)(call)


def _fmt_time(ijd, subsec):
    d = _to_dt(ijd)
    if subsec:
        return "%02d:%02d:%06.3f" % (d.hour, d.minute,
                                     d.second + (ijd % 1000) / 1000.0)
    return "%02d:%02d:%02d" % (d.hour, d.minute, d.second)


def _fmt_date(ijd, subsec=False):
    d = _to_dt(ijd)
    return "%04d-%02d-%02d" % (d.year, d.month, d.day)


def _unixepoch(ijd, subsec):
    if subsec:
        return (ijd - _UNIX0) / 1000.0
    return (ijd - _UNIX0) // 1000


_date_fn("DATE", _fmt_date)
_date_fn("TIME", _fmt_time)
_date_fn("DATETIME", lambda ijd, sub: _fmt_date(ijd) + " " + _fmt_time(ijd, sub))
_date_fn("JULIANDAY", lambda ijd, sub: ijd / _MS_DAY)
_date_fn("UNIXEPOCH", _unixepoch)


def _strftime_one(c, ijd, d):
    if c == "d":
        return "%02d" % d.day
    if c == "e":
        return "%2d" % d.day
    if c == "f":
        s = d.second + (ijd % 1000) / 1000.0
        return "%06.3f" % min(s, 59.999)
    if c == "F":
        return "%04d-%02d-%02d" % (d.year, d.month, d.day)
    if c == "H":
        return "%02d" % d.hour
    if c == "k":
        return "%2d" % d.hour
    if c in "Il":
        h = d.hour % 12 or 12
        return ("%02d" if c == "I" else "%2d") % h
    if c == "j":
        return "%03d" % d.timetuple().tm_yday
    if c == "J":
        return "%.16g" % (ijd / _MS_DAY)
    if c == "m":
        return "%02d" % d.month
    if c == "M":
        return "%02d" % d.minute
    if c == "p":
        return "PM" if d.hour >= 12 else "AM"
    if c == "P":
        return "pm" if d.hour >= 12 else "am"
    if c == "R":
        return "%02d:%02d" % (d.hour, d.minute)
    if c == "s":
        return "%d" % ((ijd - _UNIX0) // 1000)
    if c == "S":
        return "%02d" % d.second
    if c == "T":
        return "%02d:%02d:%02d" % (d.hour, d.minute, d.second)
    if c == "u":
        return "%d" % (d.weekday() + 1)
    if c == "w":
        return "%d" % ((d.weekday() + 1) % 7)
    if c == "W":
        return "%02d" % ((d.timetuple().tm_yday - 1 + 7 - d.weekday()) // 7)
    if c == "U":
        return "%02d" % ((d.timetuple().tm_yday - 1 + 7 - (d.weekday() + 1) % 7) // 7)
    if c == "V":
        return "%02d" % d.isocalendar()[1]
    if c == "G":
        return "%04d" % d.isocalendar()[0]
    if c == "g":
        return "%02d" % (d.isocalendar()[0] % 100)
    if c == "Y":
        return "%04d" % d.year
    if c == "%":
        return "%"
    return None


@_register("STRFTIME", 1, None, strict=False)
def _strftime(fmt, v="now", *mods):
    """SQLite's strftime(): %d %e %f %F %H %I %j %J %k %l %m %M %p %P %R %s %S %T %u
    %V %G %g %w %W %U %Y %%; an unknown conversion gives NULL."""
    if fmt is None or v is None:
        return None
    mo = _moment(v, mods)
    if mo is None:
        return None
    ijd = mo[0]
    d = _to_dt(ijd)
    fmt = to_text(fmt)
    out, i = [], 0
    while i < len(fmt):
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(fmt):
            return None
        piece = _strftime_one(fmt[i + 1], ijd, d)
        if piece is None:
            return None
        out.append(piece)
        i += 2
    return "".join(out)


_DATE_FIELDS = ("YEAR", "MONTH", "DAY", "DOW", "ISODOW", "DOY", "WEEK", "QUARTER")


def extract_field(name):
    """The canonical EXTRACT field of `name`; NotSupportedError naming it if unknown."""
    f = name.upper()
    f = {"YEARS": "YEAR", "MONTHS": "MONTH", "DAYS": "DAY", "HOURS": "HOUR",
         "MINUTES": "MINUTE", "SECONDS": "SECOND", "DAYOFWEEK": "DOW",
         "DAYOFYEAR": "DOY"}.get(f, f)
    if f not in _DATE_FIELDS + ("HOUR", "MINUTE", "SECOND", "EPOCH"):
        raise NotSupportedError(f"EXTRACT field not supported: {name}")
    return f


@_register(("EXTRACT", "DATE_PART"), 2, 2)
def _extract(field, v):
    """EXTRACT(field FROM v) / date_part('field', v): an INTEGER (SECOND and EPOCH in
    whole seconds). A TIME value has only HOUR, MINUTE, SECOND and EPOCH (seconds
    since midnight)."""
    f = extract_field(to_text(field))
    if isinstance(v, _dt.time):
        if f in _DATE_FIELDS:
            raise DataError(f"cannot EXTRACT {f} from a TIME value")
        if f == "EPOCH":
            return (v.hour * 60 + v.minute) * 60 + v.second
    mo = _moment(v, ())
    if mo is None:
        return None
    ijd = mo[0]
    d = _to_dt(ijd)
    if f == "YEAR":
        return d.year
    if f == "MONTH":
        return d.month
    if f == "DAY":
        return d.day
    if f == "HOUR":
        return d.hour
    if f == "MINUTE":
        return d.minute
    if f == "SECOND":
        return d.second
    if f == "DOW":
        return (d.weekday() + 1) % 7
    if f == "ISODOW":
        return d.weekday() + 1
    if f == "DOY":
        return d.timetuple().tm_yday
    if f == "WEEK":
        return d.isocalendar()[1]
    if f == "QUARTER":
        return (d.month - 1) // 3 + 1
    return (ijd - _UNIX0) // 1000                     # EPOCH
