"""Placeholders: finding them in a statement and checking the parameters bound to them.

`scan(tokens)` lists the placeholders of one statement (from `sql/lexer.tokenize`, so a
`?` or `:name` inside a string literal, a quoted identifier or a comment is not a
placeholder). A statement uses one style:

  qmark  `?`      parameters are a sequence, one value per `?`, in order
  named  `:name`  parameters are a mapping with a value for every name used (a name
                  may appear several times; extra keys are ignored, as in sqlite3)

`bind(placeholders, params)` checks the parameters against them and returns what the
executor receives (see executor.py): a tuple for qmark, a dict holding exactly the
names used for named, or () when the statement has no placeholders. Every mistake is a
ProgrammingError that says what was expected: mixed styles, numbered `?NNN`, a wrong
count, a mapping for `?` or a sequence for `:name`, a missing name, or a value of a
type the database cannot store (naming the parameter and the type), or a NaN
Decimal (Python refuses to compare or hash one; NUMERIC cannot store it). bytearray and
memoryview values are copied to bytes, so later changes to the caller's buffer do not
reach the statement.
"""

import datetime
import decimal
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from ..errors import NotSupportedError, ProgrammingError
from ..sql.lexer import PARAM
from ..sql.types import PLAIN_TYPES

__all__ = ["Placeholder", "Placeholders", "scan", "bind", "bind_each", "SUPPORTED_TYPES"]

# The Python types a parameter may have (subclasses included, so bool and IntEnum pass
# as int, datetime as date).
SUPPORTED_TYPES = (type(None), int, float, str, bytes, bytearray, memoryview,
                   decimal.Decimal, datetime.date, datetime.time, datetime.datetime)


class Placeholder(NamedTuple):
    pos: int          # character offset in the SQL text
    key: int | str    # 0-based index for `?`, the name (without the colon) for `:name`


class Placeholders(NamedTuple):
    style: str | None              # "qmark", "named", or None when there are none
    items: tuple[Placeholder, ...]

    @property
    def names(self):
        """The distinct names of a named-style statement, in order of first use."""
        return tuple(dict.fromkeys(p.key for p in self.items if isinstance(p.key, str)))


def scan(tokens):
    """The `Placeholders` of a tokenized statement."""
    items = []
    style = None
    for tok in tokens:
        if tok.kind != PARAM:
            continue
        if tok.text.startswith("?"):
            if len(tok.text) > 1:
                raise NotSupportedError(f"numbered parameter {tok.text} at position "
                                        f"{tok.pos} is not supported; use ? or :name")
            this, key = "qmark", len(items)
        else:
            this, key = "named", tok.text[1:]
        if style is not None and this != style:
            raise ProgrammingError(
                f"mixed parameter styles: {tok.text} at position {tok.pos} after "
                f"{'?' if style == 'qmark' else ':name'} placeholders; use one style")
        style = this
        items.append(Placeholder(tok.pos, key))
    return Placeholders(style, tuple(items))


def _value(value, label):
    if isinstance(value, SUPPORTED_TYPES):
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, decimal.Decimal) and value.is_nan():
            raise ProgrammingError(f"parameter {label} is {value!r}: a NaN Decimal can "
                                   "be neither stored nor compared; use float('nan')")
        return value
    raise ProgrammingError(f"parameter {label} has unsupported type "
                           f"{type(value).__name__}; use None, int, float, str, bytes, "
                           f"bool, Decimal, date, time or datetime")




try:        # bind()'s common case in C, for executemany's many rows
    from .._speedups import plain_params as _c_plain_params
except ImportError:
    _c_plain_params = None


def bind_each(placeholders, param_sets):
    """bind() of every parameter set of an iterable, lazily (executemany)."""
    if placeholders[0] == "qmark" and _c_plain_params is not None:
        n, plain, fast = len(placeholders[1]), PLAIN_TYPES, _c_plain_params
        for p in param_sets:
            q = fast(p, n, plain)
            yield bind(placeholders, p) if q is NotImplemented else q
    else:
        for p in param_sets:
            yield bind(placeholders, p)


def bind(placeholders, params):
    """The checked parameters for the executor (tuple, dict, or () when none)."""
    t = type(params)
    if t is tuple or t is list:
        style, items = placeholders
        if style == "qmark" and len(params) == len(items):
            for v in params:
                if type(v) not in PLAIN_TYPES:
                    break
            else:
                return params if t is tuple else tuple(params)
    if params is None:
        params = ()
    if isinstance(params, (str, bytes, bytearray)):
        raise ProgrammingError(f"parameters must be a sequence or a mapping, not "
                               f"{type(params).__name__}")
    style, items = placeholders
    if isinstance(params, Mapping):
        if style == "qmark":
            raise ProgrammingError(f"the statement uses ? placeholders ({len(items)}) and "
                                   "needs a sequence of parameters, not a mapping")
        if style is None:
            return ()
        out = {}
        for name in placeholders.names:
            try:
                value = params[name]
            except KeyError:
                pos = next(p.pos for p in items if p.key == name)
                raise ProgrammingError(f"no value supplied for parameter :{name} at "
                                       f"position {pos}") from None
            out[name] = _value(value, f":{name}")
        return out
    if not isinstance(params, Sequence):
        raise ProgrammingError(f"parameters must be a sequence or a mapping, not "
                               f"{type(params).__name__}")
    if style == "named":
        raise ProgrammingError(f"the statement uses named placeholders "
                               f"({', '.join(':' + n for n in placeholders.names)}) and "
                               "needs a mapping of parameters, not a sequence")
    if len(params) != len(items):
        raise ProgrammingError(f"incorrect number of parameters: the statement has "
                               f"{len(items)} placeholder(s), {len(params)} supplied")
    if not items:
        return ()
    return tuple(_value(v, f"{i + 1} (the ? at position {items[i].pos})")
                 for i, v in enumerate(params))
