"""Scalar expressions: sqlglot nodes compiled to Python closures `f(row, params)`.

One responsibility: evaluate SQL expressions with SQL semantics. Names are bound
here against a `Scope` (column name -> position in the row tuple), so an unknown
column is a ProgrammingError naming it at prepare time.

Semantics (SQLite's where SQLite and the standard agree):
  * NULL is None; comparisons and arithmetic with NULL give NULL; AND/OR/NOT follow
    three-valued logic; WHERE/HAVING/CHECK keep a row only when the value is true
    (`truth`), and CHECK fails only when it is false.
  * integer / integer truncates toward zero; division or modulo by zero is NULL; an
    INTEGER result outside the signed 64-bit range is a DataError "integer overflow"
    (SQLite would switch to REAL).
  * values of different classes compare numbers < text < blob (SQLite's order);
    bool counts as a number, Decimal mixes with float as float.
  * LIKE is case-insensitive for ASCII letters, `%` and `_` wildcards.
  * function calls: the node is mapped to a name and arguments here (`_function`),
    the implementation, arity and NULL handling are in functions.py.
Aggregate calls are not evaluated here: the caller (select.py) maps each aggregate
node to a slot of the row (`Scope.slots`).
"""

import datetime as _dt
import math
import operator
import re
from decimal import Decimal

from sqlglot import exp

from ..errors import DataError, NotSupportedError, ProgrammingError
from .catalog import fold
from .functions import FUNCTIONS, INT_MAX, INT_MIN, check_int, extract_field, resolve
from .functions import LOWER_MAP as _LOWER
from .functions import to_text as _to_text
from .parse import CHAIN_TYPES, QMARK_PREFIX, deep_stack
from .types import parse_type, show

__all__ = ["Scope", "compile_expr", "truth", "is_constant", "literal_type",
           "AGGREGATES", "sql_type_of"]

AGGREGATES = (exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max)


class Scope:
    """What names mean while compiling: `columns` fold(name) -> row position, the
    `table` name (for qualified names and messages), `slots` id(node) -> row position
    for nodes computed elsewhere (aggregates), `aggregates_allowed`."""

    def __init__(self, table=None, columns=None, slots=None):
        self.table = table
        self.columns = columns or {}
        self.slots = slots or {}


def truth(v):
    """True when a condition's value is true (NULL and false are not)."""
    return v is not None and v is not False and v != 0 and v != ""


def value_class(v):
    """The class rank compare() orders values by: numbers < text < bytes < the rest."""
    if isinstance(v, (bool, int, float, Decimal)):
        return 0
    if isinstance(v, str):
        return 1
    if isinstance(v, bytes):
        return 2
    return 3


def _num(a, b):
    if isinstance(a, Decimal) and isinstance(b, float):
        return float(a), b
    if isinstance(b, Decimal) and isinstance(a, float):
        return a, float(b)
    return a, b


def compare(a, b):
    """-1/0/1 for non-NULL a, b (SQLite's cross-class order)."""
    ra, rb = value_class(a), value_class(b)
    if ra != rb:
        return -1 if ra < rb else 1
    a, b = _num(a, b)
    try:
        return -1 if a < b else (1 if a > b else 0)
    except TypeError:
        sa, sb = str(a), str(b)
        return -1 if sa < sb else (1 if sa > sb else 0)


def is_constant(node):
    """True when `node` references no column (literals, placeholders, functions)."""
    return not any(isinstance(n, (exp.Column, exp.Star)) for n in node.walk())


def _int_div(a, b):
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _arith(op):
    def f(a, b):
        if a is None or b is None:
            return None
        if isinstance(a, (str, bytes)) or isinstance(b, (str, bytes)):
            raise DataError(f"cannot apply {op} to {show(a)} and {show(b)}")
        a, b = _num(a, b)
        try:
            if op == "+":
                r = a + b
            elif op == "-":
                r = a - b
            elif op == "*":
                r = a * b
            elif b == 0:
                return None
            elif op == "/":
                r = _int_div(a, b) if isinstance(a, int) and isinstance(b, int) else a / b
            elif isinstance(a, int) and isinstance(b, int):
                return a - b * _int_div(a, b)
            else:
                return math.fmod(a, b)
        except TypeError:
            raise DataError(f"cannot apply {op} to {show(a)} and {show(b)}") from None
        except (ArithmeticError, ValueError) as e:    # Decimal inf - inf or overflow,
            # int -> float, fmod(inf, x)
            raise DataError(f"cannot compute {show(a)} {op} {show(b)}: "
                            f"{type(e).__name__}") from None
        # INTEGER is signed 64-bit: leaving the range is an error (SQLite would
        # silently switch to REAL)
        if type(r) is int and not INT_MIN <= r <= INT_MAX:
            raise DataError(f"integer overflow: {show(a)} {op} {show(b)}")
        return r
    return f


def _neg(x):
    if x is None:
        return None
    if isinstance(x, (str, bytes)):
        raise DataError(f"cannot apply unary - to {show(x)}")
    try:
        r = -x
    except TypeError:
        raise DataError(f"cannot apply unary - to {show(x)}") from None
    if type(r) is int and not INT_MIN <= r <= INT_MAX:
        raise DataError(f"integer overflow: -({show(x)})")
    return r


_LIKE_CACHE = {}


def _like_regex(pattern, escape=None):
    key = (pattern, escape)
    r = _LIKE_CACHE.get(key)
    if r is None:
        out, i = [], 0
        while i < len(pattern):
            c = pattern[i]
            if escape is not None and c == escape and i + 1 < len(pattern):
                out.append(re.escape(pattern[i + 1]))
                i += 2
                continue
            out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
            i += 1
        r = re.compile("".join(out) + r"\Z", re.DOTALL)
        if len(_LIKE_CACHE) > 256:
            _LIKE_CACHE.clear()
        _LIKE_CACHE[key] = r
    return r


def _cast(v, type_name):
    if v is None:
        return None
    fam = parse_type(type_name).family
    try:
        if fam == "INTEGER":
            if isinstance(v, str):
                try:
                    return int(v.strip())
                except ValueError:
                    v = float(v.strip())
            if isinstance(v, (float, Decimal)) and v == v and not INT_MIN <= v <= INT_MAX:
                return INT_MAX if v > 0 else INT_MIN    # as SQLite (and fast)
            return int(v)
        if fam == "REAL":
            return float(v)
        if fam == "TEXT":
            return _to_text(v)
        if fam == "NUMERIC":
            return Decimal(str(v)) if not isinstance(v, Decimal) else v
        if fam == "BLOB":
            return v if isinstance(v, bytes) else _to_text(v).encode()
        if fam == "BOOLEAN":
            return truth(v)
        return parse_type(type_name).coerce(v, "CAST")
    except (ValueError, ArithmeticError, TypeError):
        raise DataError(f"cannot CAST {show(v)} AS {type_name}") from None


def _literal(node):
    if node.is_string:
        return node.this
    t = node.this
    try:
        return int(t)
    except ValueError:
        pass
    try:
        if t.lower().startswith("0x"):
            return int(t, 16)
        return float(t)
    except ValueError:
        raise ProgrammingError(f"malformed number: {t}") from None


def sql_type_of(node):
    """The DB-API type code of a plain-literal expression, or None."""
    return literal_type(node)


def literal_type(node):
    if isinstance(node, exp.Literal):
        v = _literal(node)
        return "TEXT" if isinstance(v, str) else "INTEGER" if isinstance(v, int) else "REAL"
    return None


_CMP = {exp.EQ: lambda c: c == 0, exp.NEQ: lambda c: c != 0, exp.LT: lambda c: c < 0,
        exp.LTE: lambda c: c <= 0, exp.GT: lambda c: c > 0, exp.GTE: lambda c: c >= 0}
# Two values of one of these exact types compare as compare() would, natively (not
# float: compare() calls NaN equal to NaN; not bool: True = 1 across types).
_NATIVE_CMP = {exp.EQ: operator.eq, exp.NEQ: operator.ne, exp.LT: operator.lt,
               exp.LTE: operator.le, exp.GT: operator.gt, exp.GTE: operator.ge}
_NATIVE_TYPES = frozenset((int, str, bytes))
_ARITH = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}


def _guarded(fn, name):
    """`fn` (a scalar function) with Python's refusals of an argument value (an
    infinity or NaN where an integer is needed, a number out of a range, a lone
    surrogate, a date out of range...) raised as DataError naming the function."""
    def call(*args):
        try:
            return fn(*args)
        except (ArithmeticError, ValueError, TypeError) as e:     # UnicodeError too
            raise DataError(f"{name.lower()}() cannot take "
                            f"{', '.join(show(a) for a in args)}: {type(e).__name__}"
                            f"{': ' + str(e)[:80] if str(e) else ''}") from None
    return call


def _blob_literal(digits):
    """The bytes of X'digits': an even number of hex digits, as SQLite requires."""
    if len(digits) % 2 or not all(ch in "0123456789abcdefABCDEF" for ch in digits):
        raise ProgrammingError(f"malformed blob literal X'{digits}': it needs an even "
                               "number of hexadecimal digits")
    return bytes.fromhex(digits)


def compile_expr(node, scope):
    """A closure f(row, params) computing `node`; names bound through `scope`.
    Compiling recurses once per level of `node` (parse.MAX_EXPR_DEPTH levels at most):
    it runs under parse.deep_stack(). The closures recurse once per level too (twice
    for a function of several arguments), except along a run of binary operators on
    the left operand, which one closure evaluates in a loop (_chain)."""
    with deep_stack():
        return _compile(node, scope)


def _cmp2(test, native):
    """f(x, y): the comparison of two values (NULL when either is NULL)."""
    def cmp(x, y):
        if x is None or y is None:
            return None
        if type(x) is type(y) and type(x) in _NATIVE_TYPES:
            return native(x, y)
        return test(compare(x, y))
    return cmp


def _cat(x, y):
    if x is None or y is None:
        return None
    return _to_text(x) + _to_text(y)


_AND, _OR = "and", "or"


def _chain(node, scope):
    """The closure of a run of binary operators along the left operand, e.g.
    `a OR b OR c` or `1 + 2 - 3` (sqlglot nests them to the left): the leftmost
    operand, then each operator applied in a loop, left to right, exactly as the
    nested nodes would be (AND and OR still skip their right operand when the left
    decides)."""
    steps = []
    while type(node) in CHAIN_TYPES and scope.slots.get(id(node)) is None:
        t = type(node)
        g = _compile(node.expression, scope)
        if t is exp.And:
            steps.append((_AND, None, g))
        elif t is exp.Or:
            steps.append((_OR, None, g))
        elif t in _CMP:
            steps.append((None, _cmp2(_CMP[t], _NATIVE_CMP[t]), g))
        elif t is exp.DPipe:
            steps.append((None, _cat, g))
        else:
            steps.append((None, _arith(_ARITH[t]), g))
        node = node.this
    first = _compile(node, scope)
    steps.reverse()
    steps = tuple(steps)

    def chain(r, p):
        x = first(r, p)
        for kind, f, g in steps:
            if kind is None:
                x = f(x, g(r, p))
            elif kind is _AND:
                if x is not None and not truth(x):
                    x = False
                    continue
                y = g(r, p)
                if y is not None and not truth(y):
                    x = False
                else:
                    x = None if x is None or y is None else True
            else:
                if truth(x):
                    x = True
                    continue
                y = g(r, p)
                if truth(y):
                    x = True
                else:
                    x = None if x is None or y is None else False
        return x
    return chain


def _compile(node, scope):
    slot = scope.slots.get(id(node))
    if slot is not None:
        return lambda r, p, i=slot: r[i]
    c = lambda n: _compile(n, scope)   # noqa: E731
    t = type(node)
    while t is exp.Paren:
        node = node.this
        slot = scope.slots.get(id(node))
        if slot is not None:
            return lambda r, p, i=slot: r[i]
        t = type(node)
    if t in CHAIN_TYPES and type(node.this) in CHAIN_TYPES and \
            scope.slots.get(id(node.this)) is None:
        return _chain(node, scope)
    if t is exp.Column:
        if node.table and scope.table is not None and fold(node.table) != fold(scope.table):
            raise ProgrammingError(f"no such column: {node.table}.{node.name}")
        i = scope.columns.get(fold(node.name))
        if i is None:
            raise ProgrammingError(f"no such column: {node.sql(dialect='sqlite')}")
        return lambda r, p, i=i: r[i]
    if t is exp.Literal:
        v = _literal(node)
        return lambda r, p: v
    if t is exp.Null:
        return lambda r, p: None
    if t is exp.Boolean:
        v = bool(node.this)
        return lambda r, p: v
    if t is exp.HexString:
        v = _blob_literal(node.this)
        return lambda r, p: v
    if t is exp.Placeholder:
        name = node.this
        if name is None:
            raise ProgrammingError("unnamed placeholder")
        if name.startswith(QMARK_PREFIX):
            idx = int(name[len(QMARK_PREFIX):])
            return lambda r, p: p[idx]
        return lambda r, p: p[name]
    if t in _CMP:
        a, b, test, native = c(node.this), c(node.expression), _CMP[t], _NATIVE_CMP[t]

        def cmp(r, p):
            x, y = a(r, p), b(r, p)
            if x is None or y is None:
                return None
            if type(x) is type(y) and type(x) in _NATIVE_TYPES:
                return native(x, y)
            return test(compare(x, y))
        return cmp
    if t is exp.And:
        a, b = c(node.this), c(node.expression)

        def and_(r, p):
            x = a(r, p)
            if x is not None and not truth(x):
                return False
            y = b(r, p)
            if y is not None and not truth(y):
                return False
            return None if x is None or y is None else True
        return and_
    if t is exp.Or:
        a, b = c(node.this), c(node.expression)

        def or_(r, p):
            x = a(r, p)
            if truth(x):
                return True
            y = b(r, p)
            if truth(y):
                return True
            return None if x is None or y is None else False
        return or_
    if t is exp.Not:
        a = c(node.this)

        def not_(r, p):
            x = a(r, p)
            return None if x is None else not truth(x)
        return not_
    if t is exp.Is:
        a = c(node.this)
        target = node.expression
        if isinstance(target, exp.Null):
            return lambda r, p: a(r, p) is None
        b = c(target)

        def is_(r, p):
            x, y = a(r, p), b(r, p)
            if x is None or y is None:
                return x is None and y is None
            return compare(x, y) == 0
        return is_
    if t in _ARITH:
        a, b, f = c(node.this), c(node.expression), _arith(_ARITH[t])
        return lambda r, p: f(a(r, p), b(r, p))
    if t is exp.Neg:
        a = c(node.this)
        return lambda r, p: _neg(a(r, p))
    if t is exp.DPipe:
        a, b = c(node.this), c(node.expression)

        def cat(r, p):
            x, y = a(r, p), b(r, p)
            if x is None or y is None:
                return None
            return _to_text(x) + _to_text(y)
        return cat
    if t is exp.In:
        if node.args.get("query") or node.args.get("unnest"):
            raise NotSupportedError("IN (subquery) is not supported yet")
        a = c(node.this)
        items = [c(e) for e in node.expressions]

        def in_(r, p):
            x = a(r, p)
            if x is None:
                return None
            unknown = False
            for it in items:
                y = it(r, p)
                if y is None:
                    unknown = True
                elif compare(x, y) == 0:
                    return True
            return None if unknown else False
        return in_
    if t is exp.Between:
        a, lo, hi = c(node.this), c(node.args["low"]), c(node.args["high"])

        def between(r, p):
            x, l, h = a(r, p), lo(r, p), hi(r, p)
            ge = None if x is None or l is None else compare(x, l) >= 0
            le = None if x is None or h is None else compare(x, h) <= 0
            if ge is False or le is False:
                return False
            return None if ge is None or le is None else True
        return between
    if t in (exp.Like, exp.ILike, exp.Escape):
        esc = None
        if t is exp.Escape:
            esc = node.expression.this if isinstance(node.expression, exp.Literal) else None
            node = node.this
        a, pat = c(node.this), c(node.expression)
        # sqlglot (>= 30) parses `x NOT LIKE y` as Like(negate=True), not Not(Like):
        # without this the NOT was silently dropped (found by test_sql_differential).
        negate = bool(node.args.get("negate"))

        def like(r, p):
            x, y = a(r, p), pat(r, p)
            if x is None or y is None:
                return None
            rx = _like_regex(_to_text(y).translate(_LOWER), esc)
            return (rx.match(_to_text(x).translate(_LOWER)) is not None) != negate
        return like
    if t is exp.Case:
        base = c(node.this) if node.this is not None else None
        ifs = [(c(i.this), c(i.args["true"])) for i in node.args.get("ifs") or []]
        default = c(node.args["default"]) if node.args.get("default") else None

        def case(r, p):
            if base is not None:
                b = base(r, p)
                for cond, val in ifs:
                    w = cond(r, p)
                    if b is not None and w is not None and compare(b, w) == 0:
                        return val(r, p)
            else:
                for cond, val in ifs:
                    if truth(cond(r, p)):
                        return val(r, p)
            return default(r, p) if default is not None else None
        return case
    if t is exp.If:
        cond, yes = c(node.this), c(node.args["true"])
        no = c(node.args["false"]) if node.args.get("false") else (lambda r, p: None)
        return lambda r, p: yes(r, p) if truth(cond(r, p)) else no(r, p)
    if t in (exp.Cast, exp.TryCast):
        a = c(node.this)
        tname = _type_name(node.to)
        return lambda r, p: _cast(a(r, p), tname)
    if t is exp.Coalesce:
        items = [c(node.this)] + [c(e) for e in node.expressions]

        def coalesce(r, p):
            for it in items:
                v = it(r, p)
                if v is not None:
                    return v
            return None
        return coalesce
    if t is exp.Nullif:
        a, b = c(node.this), c(node.expression)

        def nullif(r, p):
            x, y = a(r, p), b(r, p)
            if x is not None and y is not None and compare(x, y) == 0:
                return None
            return x
        return nullif
    if t in (exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime):
        def now(r, p, t=t):
            n = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None, microsecond=0)
            return n if t is exp.CurrentTimestamp else \
                n.date() if t is exp.CurrentDate else n.time()
        return now
    if isinstance(node, AGGREGATES):
        raise ProgrammingError(f"misuse of aggregate function {node.key.upper()}()")
    fname, args = _function(node)
    if fname is not None:
        fn = _guarded(resolve(fname, len(args)), fname)
        cargs = [c(a) for a in args]
        if not cargs:
            return lambda r, p: fn()
        if len(cargs) == 1:
            a0 = cargs[0]
            return lambda r, p: fn(a0(r, p))
        return lambda r, p: fn(*[a(r, p) for a in cargs])
    if isinstance(node, exp.Star):
        raise ProgrammingError("* is only allowed in the select list and COUNT(*)")
    raise NotSupportedError(f"expression not supported: {node.sql(dialect='sqlite')}")


# sqlglot node class -> our function name (functions.py), where sqlglot's own name
# (`sql_name()`) is not the SQL spelling
_FUNC_NAMES = {exp.StrPosition: "INSTR", exp.Chr: "CHAR", exp.ConcatWs: "CONCAT_WS",
               exp.Rand: "RANDOM", exp.Pow: "POWER", exp.Substring: "SUBSTR",
               exp.TimeToStr: "STRFTIME"}


def _function(node):
    """(NAME, argument nodes) of a scalar function call node, else (None, None).
    sqlglot turns many calls into typed nodes (instr -> StrPosition, max(a, b) ->
    Greatest, ltrim -> Trim(position=LEADING), strftime -> TimeToStr, ...)."""
    if isinstance(node, exp.Anonymous):
        return node.name.upper(), list(node.expressions)
    if not isinstance(node, exp.Func):
        return None, None
    t = type(node)
    if t is exp.Trim:
        pos = (node.args.get("position") or "").upper()
        name = {"LEADING": "LTRIM", "TRAILING": "RTRIM"}.get(pos, "TRIM")
        return name, [node.this] + ([node.expression] if node.expression else [])
    if t in (exp.Greatest, exp.Least):
        # SQLite's scalar max(a, b, ...) propagates NULL; GREATEST/LEAST skip NULLs
        ignore = node.args.get("ignore_nulls")
        name = ("GREATEST" if ignore else "MAX") if t is exp.Greatest else \
            ("LEAST" if ignore else "MIN")
        return name, [node.this] + list(node.expressions)
    if t is exp.TimeToStr:
        v = node.this
        if isinstance(v, exp.TsOrDsToTimestamp):
            v = v.this
        return "STRFTIME", [node.args["format"], v]
    if t is exp.Extract:
        field = node.this.name if isinstance(node.this, (exp.Var, exp.Identifier,
                                                         exp.Literal)) else None
        if not field:
            raise NotSupportedError(f"EXTRACT field not supported: {node.this.sql()}")
        extract_field(field)
        return "EXTRACT", [exp.Literal.string(field), node.expression]
    name = _FUNC_NAMES.get(t) or node.sql_name().upper()
    if name not in FUNCTIONS:               # name the function as the user spelled it
        said = node.sql(dialect="sqlite").split("(")[0].strip().upper()
        if said.replace("_", "").isalnum():
            name = said
    args = []
    for key in t.arg_types:
        v = node.args.get(key)
        if isinstance(v, exp.Expression):
            args.append(v)
        elif isinstance(v, list):
            args.extend(e for e in v if isinstance(e, exp.Expression))
    return name, args


_TYPE_FIX = {"INT": "INTEGER", "DOUBLE": "REAL", "VARBINARY": "BLOB"}


def _type_name(dt):
    """Our type spelling of a sqlglot DataType (sqlglot normalises INTEGER to INT,
    REAL to DOUBLE, BLOB to VARBINARY)."""
    s = dt.sql(dialect=None)
    base = s.split("(")[0].strip().upper()
    if base in _TYPE_FIX:
        s = _TYPE_FIX[base] + s[len(base):]
    try:
        parse_type(s)
    except ProgrammingError:
        raise
    return s
