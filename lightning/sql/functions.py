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
  * date/time functions (date, time, datetime, julianday, unixepoch, strftime; in
    datetime_functions.py, registered here when this module is imported) work
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
from .types import show

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
    if isinstance(v, int) and v.bit_length() > 14000:      # str() refuses ~4300 digits
        raise DataError(f"{show(v)} is too long to convert to text")
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
    raise DataError(f"{fname}() needs a number, got {show(v)}")


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
    start = int_arg(start, "substr")
    if length is None:
        i = start - 1 if start > 0 else (len(s) + start if start < 0 else 0)
        return s[max(i, 0):]
    length = int_arg(length, "substr")
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
        n = 0 if c is None or isinstance(c, (str, bytes)) else int_arg(c, "char")
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
    s, n = to_text(s), int_arg(n, "left")
    return s[:n] if n >= 0 else s[:max(len(s) + n, 0)]


@_register("RIGHT", 2, 2)
def _right(s, n):
    s, n = to_text(s), int_arg(n, "right")
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


def int_arg(v, fname):
    """The integer of a numeric argument of `fname` (truncated), clamped to the
    signed 64-bit range: converting a Decimal like 1E+999999 exactly takes seconds."""
    v = _number(v, fname)
    if isinstance(v, int):
        return v
    if v == v and not INT_MIN <= v <= INT_MAX:         # (NaN: int() refuses it)
        return INT_MAX if v > 0 else INT_MIN
    return int(v)


def _as_int(v):
    """printf's integer of an argument: a signed 64-bit value (clamped, as SQLite
    converts), 0 for NULL, infinities and non-numbers."""
    if v is None:
        return 0
    if isinstance(v, (str, bytes)):
        m = re.match(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", to_text(v))
        v = float(m.group(0)) if m else 0
    if not isinstance(v, (int, float, Decimal)) or \
            (not isinstance(v, int) and not math.isfinite(v)):
        return 0
    if not isinstance(v, int) and v == v and not INT_MIN <= v <= INT_MAX:
        return INT_MAX if v > 0 else INT_MIN
    return min(max(int(v), INT_MIN), INT_MAX)


# printf field widths and precisions above this are a DataError (SQLite makes a
# string of up to 10**9 characters or returns NULL)
PRINTF_MAX_WIDTH = 100000


def _printf_size(what, text):
    if len(text) > 12 or int(text) > PRINTF_MAX_WIDTH:
        raise DataError(f"printf(): {what} {text[:12]}{'...' if len(text) > 12 else ''} "
                        f"is too large (at most {PRINTF_MAX_WIDTH})")
    return text


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
        if width:
            width = _printf_size("width", width)
        if prec is not None:
            prec = _printf_size("precision", prec)
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
    r = abs(x)
    if type(r) is int and r > INT_MAX:
        raise DataError(f"integer overflow: abs({show(x)})")
    return r


@_register("ROUND", 1, 2)
def _round(x, n=0):
    """Half away from zero, REAL result (SQLite): n is taken in 0..30, and a value
    with no binary digits below 10**-n (|x| * 10**n beyond 2**52) is returned as it
    is."""
    x = _float(x, "round")
    n = min(max(int_arg(n, "round"), 0), 30)
    m = 10.0 ** n
    if not math.isfinite(x) or abs(x) * m > 4503599627370496.0:
        return x
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


# The date/time functions live in their own module; importing it registers them.
from .datetime_functions import extract_field  # noqa: E402  (needs _register above)
