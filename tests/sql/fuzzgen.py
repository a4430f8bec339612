"""Generators of the SQL fuzz tests (test_sql_fuzz.py): hypothesis strategies for
grammar-built statements (valid, or mutated token by token), token soup from the SQL
vocabulary, and parameter values of every Python type, odd ones included.

Statements use a small fixed set of names (tables t1..t3, columns id, a..e, indexes
i1..i4, savepoints s1, s2) so that random statements often hit objects earlier ones
created. Expressions are at most MAX_DEPTH deep and IN lists short: deeply nested SQL
and long OR chains are out of scope (Python's recursion limit; see the test module).
"""

import datetime
import decimal
import enum

from hypothesis import strategies as st

MAX_DEPTH = 3

TABLES = ("t1", "t2", "t3")
COLUMNS = ("id", "a", "b", "c", "d", "e")
INDEXES = ("i1", "i2", "i3", "i4")
SAVEPOINTS = ("s1", "s2")
TYPES = ("INTEGER", "INT", "BIGINT", "SMALLINT", "TINYINT", "REAL", "FLOAT", "DOUBLE",
         "NUMERIC", "DECIMAL(5,2)", "TEXT", "VARCHAR(3)", "CHAR(2)", "BLOB", "BOOLEAN",
         "DATE", "TIME", "TIMESTAMP", "DATETIME", "JSON", "VARBINARY(2)", "", "FOO")
FUNCS_1 = ("abs", "lower", "upper", "length", "hex", "quote", "typeof", "unicode",
           "reverse", "trim", "ltrim", "rtrim", "sqrt", "exp", "ln", "log", "log10",
           "log2", "floor", "ceil", "trunc", "round", "sign", "degrees", "radians",
           "sin", "acos", "date", "time", "datetime", "julianday", "unixepoch", "char",
           "count", "sum", "avg", "min", "max", "total", "group_concat", "zeroblob",
           "nosuchfunc")
FUNCS_N = ("substr", "replace", "instr", "printf", "format", "ifnull", "coalesce",
           "nullif", "iif", "concat", "concat_ws", "left", "right", "power", "atan2",
           "log", "max", "min", "greatest", "least", "strftime", "date", "datetime",
           "round", "trim", "char", "date_part", "substring")
BINOPS = ("+", "-", "*", "/", "%", "||", "=", "==", "!=", "<>", "<", "<=", ">", ">=",
          "AND", "OR", "IS", "IS NOT", "LIKE", "NOT LIKE", "&", "|", "<<", ">>", "GLOB")
ACTIONS = ("CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT", "NO ACTION")
EXTRACT_FIELDS = ("YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND", "DOW", "DOY",
                  "WEEK", "QUARTER", "EPOCH", "ISODOW", "CENTURY")

INT_LITERALS = ("0", "1", "-1", "2", "7", "42", "9223372036854775807",
                "-9223372036854775808", "9223372036854775808", "18446744073709551616",
                "99999999999999999999999999999", "0x10", "0xFFFFFFFFFFFFFFFF", "1_000")
REAL_LITERALS = ("0.0", "-0.0", "1.5", ".5", "2.675", "1e308", "1e309", "-1e309",
                 "5e-324", "1e-400", "3.", "1E5")
TEXT_LITERALS = ("''", "'a'", "'abc'", "'A%'", "'_b'", "'it''s'", "'é'", "'😀'",
                 "'2024-01-31'", "'2024-02-30'", "'12:00:00'", "'2024-01-31 12:00:00'",
                 "'now'", "'+1 month'", "'start of day'", "'unixepoch'", "'%Y-%m-%d'",
                 "'%d %s %f %q %Q %c %z'", "'{\"a\": 1}'", "'[1,2'", "'1'", "'1.5'",
                 "'  x  '", "'\\'", "'%'", "'%*.*f'", "'%999999999d'", "'%.999999999f'")
OTHER_LITERALS = ("NULL", "TRUE", "FALSE", "X'00FF'", "x''", "X'0'", "CURRENT_TIMESTAMP",
                  "CURRENT_DATE", "CURRENT_TIME", "DEFAULT")

KEYWORDS = ("SELECT", "FROM", "WHERE", "INSERT", "INTO", "VALUES", "UPDATE", "SET",
            "DELETE", "CREATE", "TABLE", "INDEX", "UNIQUE", "ON", "DROP", "ALTER",
            "ADD", "COLUMN", "RENAME", "TO", "PRIMARY", "KEY", "NOT", "NULL", "DEFAULT",
            "CHECK", "REFERENCES", "FOREIGN", "GROUP", "BY", "ORDER", "HAVING", "LIMIT",
            "OFFSET", "ASC", "DESC", "NULLS", "FIRST", "LAST", "DISTINCT", "AS", "AND",
            "OR", "IN", "BETWEEN", "LIKE", "IS", "CASE", "WHEN", "THEN", "ELSE", "END",
            "CAST", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "EXPLAIN",
            "RETURNING", "CONFLICT", "DO", "NOTHING", "REPLACE", "IGNORE", "OR", "IF",
            "EXISTS", "JOIN", "UNION", "WITH", "ALL", "ESCAPE", "COLLATE", "EXTRACT",
            "TRIM", "BOTH", "LEADING", "INTERVAL", "AUTOINCREMENT", "CONSTRAINT",
            "CASCADE", "RESTRICT", "ACTION", "QUERY", "PLAN", "PRAGMA", "VACUUM",
            "ANALYZE", "ATTACH", "WINDOW", "OVER", "FILTER", "TRANSACTION", "START")
PUNCT = ("(", ")", ",", ";", ".", "*", "+", "-", "/", "%", "=", "<", ">", "<=", ">=",
         "<>", "!=", "||", "?", ":p1", ":p2", "?1", "::", "[", "]", "{", "}", "@", "$",
         "~", "!", "&", "|", "^", "'", '"', "`", "--", "/*", "*/", "\\", "#")


# ------------------------------------------------------------------------- parameters

class Color(enum.IntEnum):
    RED = 1


class SubStr(str):
    pass


class SubInt(int):
    def __index__(self):
        raise RuntimeError("not an index")


class BadBytes(bytes):
    pass


class Obj:
    def __repr__(self):
        return "<Obj>"


def _nested(depth=3):
    return st.recursive(st.none() | st.integers() | st.text(max_size=3),
                        lambda kids: st.lists(kids, max_size=3)
                        | st.dictionaries(st.text(max_size=2), kids, max_size=3),
                        max_leaves=6)


ODD_SCALARS = [
    None, True, False, 0, -1, 1, 2 ** 31, 2 ** 63 - 1, -2 ** 63, 2 ** 63, -2 ** 63 - 1,
    2 ** 64, 10 ** 30, -10 ** 400, 10 ** 5000, 0.0, -0.0, 1.5, float("nan"), float("inf"),
    float("-inf"), 1e308, 5e-324, decimal.Decimal("1.5"), decimal.Decimal("NaN"),
    decimal.Decimal("sNaN"), decimal.Decimal("Infinity"), decimal.Decimal("-0"),
    decimal.Decimal("1E+1000"), decimal.Decimal("1E-1000"), decimal.Decimal(10) ** 40,
    "", "a", "abc", "\x00", "\ud800", "a\udfffb", "😀", "é", "2024-01-31",
    "12:00:00", "2024-01-31 12:00:00", "2024-01-31T12:00:00+05:00", "{\"a\": 1}",
    "%", "_", "'", "1", "1.5", "x" * 5000, "é" * 3000,
    b"", b"\x00", b"\xff\xfe", b"x" * 5000, bytearray(b"ab"), memoryview(b"cd"),
    datetime.date(2024, 1, 31), datetime.date(1, 1, 1), datetime.date(9999, 12, 31),
    datetime.time(12, 0), datetime.time(23, 59, 59, 999999),
    datetime.time(1, 2, tzinfo=datetime.timezone(datetime.timedelta(hours=5))),
    datetime.datetime(2024, 1, 31, 12, 0), datetime.datetime(1, 1, 1),
    datetime.datetime(9999, 12, 31, 23, 59, 59, 999999),
    datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
    datetime.datetime(1, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=5))),
    datetime.timedelta(days=1), 1j, [], [1, 2], {}, {"a": 1}, (1,), {1}, frozenset(),
    Obj(), object(), type, Color.RED, SubStr("s"), SubInt(3), BadBytes(b"b"),
    Ellipsis, NotImplemented, range(3),
]


def good_values():
    """A parameter value some column type accepts."""
    return st.one_of(
        typed("I"), typed("I"), typed("T"), typed("R"),
        st.sampled_from((0.5, -1.5, 2.0, "a", "b", "x", "", "2024-01-31", b"\x00", True,
                         decimal.Decimal("1.25"), datetime.date(2024, 1, 31),
                         datetime.time(12, 0), datetime.datetime(2024, 1, 31, 12, 0))),
        st.text("abAB%_", max_size=3))


def odd_values():
    """One parameter value: anything a caller might pass."""
    return st.one_of(good_values(), good_values(), good_values(),
        st.sampled_from(ODD_SCALARS),
        st.integers(),
        st.integers(-3, 3),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
        st.text(st.characters(codec=None, exclude_categories=()), max_size=4),
        st.binary(max_size=8),
        st.decimals(allow_nan=True, allow_infinity=True),
        st.dates(), st.times(), st.datetimes(),
        _nested(),
    )


@st.composite
def parameters(draw, sql):
    """Parameters for `sql`: usually the right count (or names) of odd values,
    sometimes a wrong count, wrong names, the wrong container or no container."""
    nq = sql.count("?")
    names = sorted({w[1:].rstrip(",);") for w in sql.replace("(", " ").split()
                    if w.startswith(":") and len(w) > 1 and w[1].isalpha()})
    kind = draw(st.integers(0, 9))
    if kind <= 6:
        if names and not nq:
            return {n: draw(odd_values()) for n in names}
        seq = [draw(odd_values()) for _ in range(nq)]
        return tuple(seq) if draw(st.booleans()) else seq
    if kind == 7:                                   # wrong count
        n = max(0, nq + draw(st.sampled_from((-2, -1, 1, 2))))
        return [draw(odd_values()) for _ in range(n)]
    if kind == 8:                                   # wrong names / extra names
        keys = draw(st.lists(st.sampled_from(("p1", "p2", "x", "", "1", "__p0")),
                             max_size=3))
        return {k: draw(odd_values()) for k in keys}
    return draw(st.sampled_from((None, "ab", b"ab", 5, 1.5, object(), {1, 2},
                                 iter([1]), (x for x in [1]), {"p1": 1, "p2": 2},
                                 bytearray(b"x"), [[1]], ((),))))


# ------------------------------------------------------------------------ expressions

def literals():
    return st.sampled_from(INT_LITERALS + REAL_LITERALS + TEXT_LITERALS
                           + OTHER_LITERALS[:-1])


def columns(qualified=True):
    base = st.sampled_from(COLUMNS * 4 + ("rowid", "zz"))
    if not qualified:
        return base
    return st.one_of(base, base, base, base, st.builds(
        lambda t, c: f"{t}.{c}", st.sampled_from(TABLES + ("excluded",)), base))


def params():
    return st.just("?")


def _type():
    return st.sampled_from(TYPES)


@st.composite
def expr(draw, depth=0):
    """An expression at most MAX_DEPTH - depth levels deep."""
    if depth >= MAX_DEPTH or draw(st.integers(0, 2)) == 0:
        return draw(st.one_of(literals(), columns(), params()))
    sub = expr(depth + 1)
    k = draw(st.integers(0, 13))
    if k <= 3:
        return f"({draw(sub)} {draw(st.sampled_from(BINOPS))} {draw(sub)})"
    if k == 4:
        return f"{draw(st.sampled_from(('-', '+', 'NOT ', '~')))}{draw(sub)}"
    if k == 5:
        neg = draw(st.sampled_from(("", "NOT ")))
        return f"({draw(sub)} {neg}BETWEEN {draw(sub)} AND {draw(sub)})"
    if k == 6:
        items = draw(st.lists(sub, min_size=0, max_size=3))
        neg = draw(st.sampled_from(("", "NOT ")))
        return f"({draw(sub)} {neg}IN ({', '.join(items)}))"
    if k == 7:
        return f"({draw(sub)} IS {draw(st.sampled_from(('', 'NOT ')))}NULL)"
    if k == 8:
        whens = " ".join(f"WHEN {draw(sub)} THEN {draw(sub)}"
                         for _ in range(draw(st.integers(1, 2))))
        other = f" ELSE {draw(sub)}" if draw(st.booleans()) else ""
        base = f"{draw(sub)} " if draw(st.booleans()) else ""
        return f"(CASE {base}{whens}{other} END)"
    if k == 9:
        return f"CAST({draw(sub)} AS {draw(_type()) or 'TEXT'})"
    if k == 10:
        return f"{draw(st.sampled_from(FUNCS_1))}({draw(sub)})"
    if k == 11:
        args = draw(st.lists(sub, min_size=0, max_size=4))
        return f"{draw(st.sampled_from(FUNCS_N))}({', '.join(args)})"
    if k == 12:
        return draw(st.sampled_from((
            "COUNT(*)", f"COUNT(DISTINCT {draw(sub)})",
            f"EXTRACT({draw(st.sampled_from(EXTRACT_FIELDS))} FROM {draw(sub)})",
            f"TRIM({draw(st.sampled_from(('BOTH', 'LEADING', 'TRAILING')))} "
            f"{draw(sub)} FROM {draw(sub)})",
            f"({draw(sub)} LIKE {draw(sub)} ESCAPE {draw(sub)})",
            f"({draw(sub)} COLLATE NOCASE)", f"{draw(sub)}::INTEGER",
            f"SUBSTRING({draw(sub)} FROM {draw(sub)} FOR {draw(sub)})")))
    return f"({draw(sub)})"


# ------------------------------------------------------------------------- statements

def _cols(min_size=1, max_size=3):
    return st.lists(st.sampled_from(COLUMNS), min_size=min_size, max_size=max_size,
                    unique=True)


@st.composite
def column_def(draw, name):
    parts = [name, draw(_type())]
    for clause in draw(st.lists(st.sampled_from((
            "PRIMARY KEY", "PRIMARY KEY AUTOINCREMENT", "NOT NULL", "UNIQUE", "DEFAULT",
            "CHECK", "REFERENCES", "NULL", "COLLATE NOCASE", "PRIMARY KEY DESC")),
            max_size=3, unique=True)):
        if clause == "DEFAULT":
            clause = f"DEFAULT {draw(st.one_of(literals(), st.just('(1 + 2)')))}"
        elif clause == "CHECK":
            clause = f"CHECK ({draw(expr(1))})"
        elif clause == "REFERENCES":
            t = draw(st.sampled_from(TABLES))
            cols = draw(st.sampled_from(("", "(id)", "(a)", "(a, b)")))
            act = ""
            if draw(st.booleans()):
                act = f" ON {draw(st.sampled_from(('DELETE', 'UPDATE')))} " \
                      f"{draw(st.sampled_from(ACTIONS))}"
            clause = f"REFERENCES {t}{cols}{act}"
        parts.append(clause)
    return " ".join(parts)


@st.composite
def create_table(draw):
    t = draw(st.sampled_from(TABLES))
    cols = draw(_cols(1, 5))
    defs = [draw(column_def(c)) for c in cols]
    for clause in draw(st.lists(st.sampled_from(("PK", "UNIQUE", "CHECK", "FK")),
                                max_size=2, unique=True)):
        some = ", ".join(draw(st.lists(st.sampled_from(cols), min_size=1, max_size=2,
                                       unique=True)))
        if clause == "PK":
            defs.append(f"PRIMARY KEY ({some})")
        elif clause == "UNIQUE":
            defs.append(f"UNIQUE ({some})")
        elif clause == "CHECK":
            defs.append(f"CONSTRAINT ck CHECK ({draw(expr(1))})")
        else:
            p = draw(st.sampled_from(TABLES))
            act = draw(st.sampled_from(("",) + tuple(f" ON DELETE {a}" for a in ACTIONS)))
            defs.append(f"FOREIGN KEY ({some}) REFERENCES {p}({some}){act}")
    ine = draw(st.sampled_from(("", "IF NOT EXISTS ")))
    return f"CREATE TABLE {ine}{t} ({', '.join(defs)})"


@st.composite
def create_index(draw):
    uniq = draw(st.sampled_from(("", "UNIQUE ")))
    ine = draw(st.sampled_from(("", "IF NOT EXISTS ")))
    cols = ", ".join(c + draw(st.sampled_from(("", " ASC", " DESC")))
                     for c in draw(_cols(1, 3)))
    return (f"CREATE {uniq}INDEX {ine}{draw(st.sampled_from(INDEXES))} ON "
            f"{draw(st.sampled_from(TABLES))} ({cols})")


@st.composite
def drop(draw):
    what = draw(st.sampled_from(("TABLE", "INDEX")))
    name = draw(st.sampled_from(TABLES if what == "TABLE" else INDEXES))
    return f"DROP {what} {draw(st.sampled_from(('', 'IF EXISTS ')))}{name}"


@st.composite
def alter(draw):
    t = draw(st.sampled_from(TABLES))
    k = draw(st.integers(0, 3))
    if k == 0:
        c = draw(column_def(draw(st.sampled_from(COLUMNS))))
        return f"ALTER TABLE {t} ADD {draw(st.sampled_from(('', 'COLUMN ')))}{c}"
    if k == 1:
        return f"ALTER TABLE {t} DROP COLUMN {draw(st.sampled_from(COLUMNS))}"
    if k == 2:
        return (f"ALTER TABLE {t} RENAME COLUMN {draw(st.sampled_from(COLUMNS))} TO "
                f"{draw(st.sampled_from(COLUMNS))}")
    return f"ALTER TABLE {t} RENAME TO {draw(st.sampled_from(TABLES))}"


@st.composite
def returning(draw):
    if draw(st.integers(0, 3)):
        return ""
    items = draw(st.lists(st.one_of(st.just("*"), expr(1)), min_size=1, max_size=3))
    return " RETURNING " + ", ".join(items)


@st.composite
def insert(draw):
    t = draw(st.sampled_from(TABLES))
    verb = draw(st.sampled_from(("INSERT", "INSERT", "INSERT OR IGNORE",
                                 "INSERT OR REPLACE", "INSERT OR ABORT", "REPLACE",
                                 "INSERT OR FAIL")))
    cols = draw(st.one_of(st.none(), _cols(1, 4)))
    target = f"{t} ({', '.join(cols)})" if cols else t
    n = len(cols) if cols else draw(st.integers(1, 4))
    k = draw(st.integers(0, 5))
    if k == 0:
        src = "DEFAULT VALUES"
    elif k == 1:
        src = draw(select(simple=True))
    else:
        def value():
            return draw(st.one_of(params(), params(), literals(), expr(1),
                                  st.just("DEFAULT")))
        rows = []
        for _ in range(draw(st.integers(1, 3))):
            m = n if draw(st.integers(0, 9)) else n + draw(st.sampled_from((-1, 1)))
            rows.append("(" + ", ".join(value() for _ in range(max(m, 0))) + ")")
        src = "VALUES " + ", ".join(rows)
    conflict = ""
    if verb == "INSERT" and draw(st.booleans()):
        tgt = draw(st.sampled_from(("", "(id)", "(a)", "(a, b)", "(b)", "(zz)")))
        if draw(st.booleans()):
            conflict = f" ON CONFLICT {tgt} DO NOTHING"
        else:
            sets = ", ".join(f"{c} = {draw(expr(1))}" for c in draw(_cols(1, 2)))
            where = f" WHERE {draw(expr(1))}" if draw(st.booleans()) else ""
            conflict = f" ON CONFLICT {tgt} DO UPDATE SET {sets}{where}"
    return f"{verb} INTO {target} {src}{conflict}{draw(returning())}"


@st.composite
def update(draw):
    sets = ", ".join(f"{c} = {draw(expr(1))}" for c in draw(_cols(1, 3)))
    where = f" WHERE {draw(expr())}" if draw(st.integers(0, 3)) else ""
    return f"UPDATE {draw(st.sampled_from(TABLES))} SET {sets}{where}{draw(returning())}"


@st.composite
def delete(draw):
    where = f" WHERE {draw(expr())}" if draw(st.integers(0, 3)) else ""
    return f"DELETE FROM {draw(st.sampled_from(TABLES))}{where}{draw(returning())}"


@st.composite
def select(draw, simple=False):
    items = draw(st.lists(st.one_of(st.just("*"), expr(1),
                                    st.builds(lambda e, a: f"{e} AS {a}", expr(1),
                                              st.sampled_from(("x", "y", "a")))),
                          min_size=1, max_size=3))
    distinct = draw(st.sampled_from(("", "", "DISTINCT ")))
    out = f"SELECT {distinct}{', '.join(items)}"
    if draw(st.integers(0, 5)):
        out += f" FROM {draw(st.sampled_from(TABLES))}"
    if draw(st.booleans()):
        out += f" WHERE {draw(expr())}"
    if draw(st.integers(0, 3)) == 0:
        out += " GROUP BY " + ", ".join(draw(st.lists(
            st.one_of(columns(False), st.sampled_from(("1", "2", "x"))), min_size=1,
            max_size=2)))
        if draw(st.booleans()):
            out += f" HAVING {draw(expr(1))}"
    if draw(st.booleans()):
        keys = []
        for _ in range(draw(st.integers(1, 2))):
            key = draw(st.one_of(columns(False), st.sampled_from(("1", "2", "0", "x")),
                                 expr(2)))
            key += draw(st.sampled_from(("", " ASC", " DESC")))
            key += draw(st.sampled_from(("", "", " NULLS FIRST", " NULLS LAST")))
            keys.append(key)
        out += " ORDER BY " + ", ".join(keys)
    if draw(st.booleans()):
        out += f" LIMIT {draw(st.one_of(st.sampled_from(INT_LITERALS), params()))}"
        if draw(st.booleans()):
            out += f" OFFSET {draw(st.one_of(st.sampled_from(INT_LITERALS), params()))}"
    return out


@st.composite
def control(draw):
    sp = draw(st.sampled_from(SAVEPOINTS))
    return draw(st.sampled_from((
        "BEGIN", "BEGIN TRANSACTION", "BEGIN IMMEDIATE", "COMMIT", "END", "ROLLBACK",
        f"SAVEPOINT {sp}", f"RELEASE {sp}", f"RELEASE SAVEPOINT {sp}",
        f"ROLLBACK TO {sp}", f"ROLLBACK TO SAVEPOINT {sp}", "START TRANSACTION")))


def valid_statement():
    """A statement built from the grammar (it may still fail: names, types,
    constraints)."""
    return st.one_of(
        create_table(), create_index(), drop(), alter(), insert(), insert(), update(),
        delete(), select(), select(), control(),
        select().map(lambda s: "EXPLAIN " + s), update().map(lambda s: "EXPLAIN " + s),
        insert().map(lambda s: "EXPLAIN QUERY PLAN " + s))


def vocabulary():
    return st.one_of(st.sampled_from(KEYWORDS), st.sampled_from(PUNCT),
                     st.sampled_from(TABLES + COLUMNS + INDEXES), literals(),
                     st.sampled_from(FUNCS_1 + FUNCS_N), st.sampled_from(TYPES))


@st.composite
def mutated(draw, base):
    """`base` changed a few times: a token dropped, repeated, swapped with its
    neighbour or replaced with a vocabulary token; or the text cut anywhere."""
    sql = draw(base)
    if draw(st.integers(0, 5)) == 0:
        return sql[:draw(st.integers(0, len(sql)))]
    toks = sql.split(" ")
    for _ in range(draw(st.integers(1, 3))):
        if not toks:
            break
        i = draw(st.integers(0, len(toks) - 1))
        op = draw(st.integers(0, 3))
        if op == 0:
            del toks[i]
        elif op == 1:
            toks.insert(i, toks[i])
        elif op == 2 and i + 1 < len(toks):
            toks[i], toks[i + 1] = toks[i + 1], toks[i]
        else:
            toks[i] = draw(vocabulary())
    return " ".join(toks)


def token_soup():
    return st.lists(vocabulary(), min_size=1, max_size=12).map(" ".join)


def _named(sql, names):
    """`sql` with its `?` placeholders replaced by `:name`s drawn from `names` (the
    generated literals hold no `?`)."""
    parts = sql.split("?")
    out = [parts[0]]
    for k, part in enumerate(parts[1:]):
        out.append(":" + names[k % len(names)] + part)
    return "".join(out)


@st.composite
def statements(draw):
    """Any statement: mostly grammar-valid ones, then mutated ones and token soup;
    a quarter of them with named placeholders."""
    sql = draw(st.one_of(valid_statement(), valid_statement(), valid_statement(),
                         mutated(valid_statement()), token_soup()))
    if "?" in sql and draw(st.integers(0, 3)) == 0:
        sql = _named(sql, draw(st.permutations(("p1", "p2", "p3")))[:draw(
            st.integers(1, 3))])
    return sql


def typed(kind):
    """Values a column of type `kind` accepts (NULL included)."""
    base = {
        "I": st.one_of(st.integers(-5, 5), st.integers(-2 ** 63, 2 ** 63 - 1)),
        "T": st.text("abAB%_", max_size=3),
        "R": st.one_of(st.integers(-8, 8).map(lambda k: k / 4),
                       st.floats(allow_nan=False, width=32)),
        "B": st.binary(max_size=3),
        "N": st.decimals(-100, 100, places=2),
        "D": st.dates(),
        "S": st.datetimes(),
        "M": st.times(),
        "O": st.booleans(),
        "J": st.sampled_from(("1", "[1, 2]", '{"a": null}')),
    }[kind]
    return st.one_of(st.none(), base, base, base)


# table -> (CREATE TABLE, value kinds of columns a..e) variants
TABLE_DEFS = {
    "t1": (("CREATE TABLE t1 (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL, "
            "d BLOB, e NUMERIC)", "ITRBN"),
           ("CREATE TABLE t1 (id INTEGER PRIMARY KEY, a INTEGER UNIQUE, b TEXT NOT NULL "
            "DEFAULT 'x', c REAL CHECK (c > 0), d INTEGER DEFAULT 7, e TEXT)", "ITRIT"),
           ("CREATE TABLE t1 (id INTEGER, a TEXT, b INTEGER, c BLOB, d NUMERIC(6,2), "
            "e INTEGER, PRIMARY KEY (a, b))", "TIBNI")),
    "t2": (("CREATE TABLE t2 (id INTEGER PRIMARY KEY, a INTEGER REFERENCES t2(id) ON "
            "DELETE CASCADE, b VARCHAR(3), c JSON, d DATE, e TIMESTAMP)", "ITJDS"),
           ("CREATE TABLE t2 (id BIGINT PRIMARY KEY, a REAL, b TIME, c TEXT, d BOOLEAN, "
            "e INTEGER REFERENCES t2(id) ON DELETE SET NULL, UNIQUE (a, b))", "RMTOI"),
           ("CREATE TABLE t2 (id INTEGER, a INTEGER, b TEXT, c REAL, d INTEGER, e TEXT)",
            "ITRIT")),
    "t3": (("CREATE TABLE t3 (id INTEGER PRIMARY KEY AUTOINCREMENT, a TEXT UNIQUE, "
            "b INTEGER NOT NULL DEFAULT 0, c INTEGER, d TEXT, e REAL)", "TIITR"),
           ("CREATE TABLE t3 (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER, c TEXT, "
            "d TIMESTAMP DEFAULT CURRENT_TIMESTAMP, e BLOB, CHECK (a <> b))", "IITSB")),
}
INDEX_DEFS = (
    "CREATE INDEX i1 ON t1 (a)",
    "CREATE INDEX i2 ON t1 (b DESC, a)",
    "CREATE UNIQUE INDEX i3 ON t1 (c)",
    "CREATE INDEX i4 ON t2 (a DESC)",
    "CREATE UNIQUE INDEX i1 ON t2 (b, a DESC)",
    "CREATE INDEX i2 ON t3 (c, d DESC, e)",
    "CREATE UNIQUE INDEX i4 ON t3 (b DESC, c)",
)


@st.composite
def schema(draw):
    """(statements creating t1..t3 (columns id, a..e; some tables left out) and some
    indexes, {table: value kinds of its columns a..e})."""
    out, kinds = [], {}
    for t, defs in TABLE_DEFS.items():
        if draw(st.integers(0, 5)):
            sql, kinds[t] = draw(st.sampled_from(defs))
            out.append(sql)
    out += draw(st.lists(st.sampled_from(INDEX_DEFS), max_size=4, unique=True))
    return out, kinds


def rows(kinds):
    """Parameter sets for INSERT INTO t (a, b, c, d, e) VALUES (?, ?, ?, ?, ?) of a
    table whose columns a..e hold `kinds`."""
    return st.lists(st.tuples(*[typed(k) for k in kinds]), max_size=8)
