"""The date/time scalar SQL functions (SQLite's family: date, time, datetime,
julianday, unixepoch, strftime with modifiers, and EXTRACT / date_part), registered in
functions.FUNCTIONS when functions.py is imported.

One responsibility: moments in time. A moment is SQLite's iJD, integer milliseconds
since julian day 0; results are TEXT formatted as SQLite does (julianday REAL,
unixepoch INTEGER); invalid input or modifiers give NULL (see functions.py's docstring
and docs/sql.md "Functions" for the differences from SQLite).
"""

import datetime as _dt
import math
import re
from decimal import Decimal

from ..errors import DataError, NotSupportedError
from .functions import _register, to_text

__all__ = ["extract_field"]

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


def _local_ms(h, mi, sec, frac, z, sign, th, tm):
    """Milliseconds of a time of day minus its zone offset (0 without a time), or
    None when malformed."""
    t = _hms_ms(h, mi, sec, frac) if h is not None else 0
    if t is None:
        return None
    try:
        return t - _tz_ms(z, sign, th, tm)
    except ValueError:
        return None


def _parse_text(s):
    m = _ISO.match(s)
    if m:
        y, mo, d, *rest = m.groups()
        try:
            day = _dt.date(int(y), int(mo), int(d))
        except ValueError:
            return None
        t = _local_ms(*rest)
        return None if t is None else _J1 + (day.toordinal() - 1) * _MS_DAY + t
    m = _HMS.match(s)
    if m:
        t = _local_ms(*m.groups())
        return None if t is None else _from_dt(_dt.datetime(2000, 1, 1)) + t
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


# EXTRACT's fields of a datetime (EPOCH, from the moment itself, is in _extract)
_FIELD_OF = {
    "YEAR": lambda d: d.year, "MONTH": lambda d: d.month, "DAY": lambda d: d.day,
    "DOW": lambda d: (d.weekday() + 1) % 7, "ISODOW": lambda d: d.weekday() + 1,
    "DOY": lambda d: d.timetuple().tm_yday, "WEEK": lambda d: d.isocalendar()[1],
    "QUARTER": lambda d: (d.month - 1) // 3 + 1,
    "HOUR": lambda d: d.hour, "MINUTE": lambda d: d.minute, "SECOND": lambda d: d.second,
}
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
    if f == "EPOCH":
        return (ijd - _UNIX0) // 1000
    return _FIELD_OF[f](_to_dt(ijd))
