"""SQL text -> sqlglot AST: the parser wrapper of the SQL layer.

One responsibility: turn one statement into a sqlglot expression (we do not write a
SQL parser), with
  * syntax errors as ProgrammingError carrying the position ("line L, column C");
  * qmark placeholders numbered in text order: each `?` outside literals and comments
    is rewritten to the named placeholder `:__pN` (N from 0) before parsing, so
    expressions find their parameter by name whatever the AST's argument order;
  * `EXPLAIN <stmt>` recognised here (sqlglot has no node for it);
  * valid SQL this layer does not support yet (joins, subqueries, set operations,
    CTEs, window functions, ...) rejected with NotSupportedError naming the construct.
"""

import logging

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from ..dbapi.lexer import PARAM, WORD, tokenize
from ..errors import NotSupportedError, ProgrammingError

__all__ = ["parse", "Parsed", "QMARK_PREFIX", "qmark_count"]

QMARK_PREFIX = "__p"
DIALECT = "sqlite"
logging.getLogger("sqlglot").setLevel(logging.ERROR)   # no "falling back to Command"

# sqlglot node class -> the construct's name in NotSupportedError
_UNSUPPORTED = [
    (exp.Join, "JOIN"), (exp.With, "WITH (common table expressions)"),
    (exp.Union, "UNION"), (exp.Intersect, "INTERSECT"), (exp.Except, "EXCEPT"),
    (exp.Subquery, "subqueries"), (exp.Window, "window functions"),
    (exp.Exists, "EXISTS (subqueries)"), (exp.Lateral, "LATERAL"),
]


class Parsed:
    """A parsed statement: `tree` (sqlglot expression), `explain` (EXPLAIN prefix)."""

    def __init__(self, tree, explain):
        self.tree = tree
        self.explain = explain


def _position_error(err):
    errs = getattr(err, "errors", None) or []
    if errs:
        e = errs[0]
        where = f"line {e.get('line')}, column {e.get('col')}"
        desc = e.get("description") or "syntax error"
        near = e.get("highlight")
        msg = f"syntax error at {where}: {desc}" + (f" near {near!r}" if near else "")
    else:
        msg = f"syntax error: {err}"
    return ProgrammingError(msg)


def _parse_text(text):
    trees = sqlglot.parse(text, read=DIALECT)
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        raise ProgrammingError("expected exactly one SQL statement")
    return trees[0]


def _parse_replace(text, user_text):
    """SQLite's `REPLACE INTO ...` (`text`: placeholders rewritten; `user_text`: as
    written), parsed as `INSERT OR REPLACE INTO ...`. A syntax error is reported at its
    place in `user_text`."""
    prefix = "INSERT OR "
    try:
        return _parse_text(prefix + text.lstrip())
    except (ParseError, TokenError) as err:
        body = user_text.lstrip()
        try:
            _parse_text(prefix + body)
        except (ParseError, TokenError) as err2:
            err = err2
            shift = len(prefix) - (len(user_text) - len(body))   # columns added on line 1
            for e in getattr(err, "errors", None) or []:
                if e.get("line") == 1 and isinstance(e.get("col"), int):
                    e["col"] = max(e["col"] - shift, 1)
        raise _position_error(err) from None


def parse(sql):
    """The Parsed statement of `sql` (one statement, an optional trailing `;`)."""
    tokens = tokenize(sql)
    explain = False
    body_start = 0
    if tokens and tokens[0].kind == WORD and tokens[0].text.upper() == "EXPLAIN":
        explain = True
        if len(tokens) > 1 and tokens[1].kind == WORD and \
                tokens[1].text.upper() == "QUERY" and len(tokens) > 2:
            body_start = tokens[3].pos if len(tokens) > 3 else len(sql)   # QUERY PLAN
        else:
            body_start = tokens[1].pos if len(tokens) > 1 else len(sql)
    parts, last, n = [], body_start, 0
    for t in tokens:
        if t.kind == PARAM and t.text == "?" and t.pos >= body_start:
            parts.append(sql[last:t.pos])
            parts.append(f":{QMARK_PREFIX}{n}")
            n += 1
            last = t.pos + 1
    parts.append(sql[last:])
    text = "".join(parts)
    if not text.strip().rstrip(";").strip():
        raise ProgrammingError("EXPLAIN needs a statement")
    try:
        tree = _parse_text(text)
        if isinstance(tree, exp.Command) and tree.name.upper() == "REPLACE":
            tree = _parse_replace(text, sql[body_start:])
    except (ParseError, TokenError) as err:
        try:                                    # positions of the user's own text
            _parse_text(sql[body_start:])
        except (ParseError, TokenError) as err2:
            err = err2
        raise _position_error(err) from None
    if isinstance(tree, exp.Command):
        raise NotSupportedError(f"statement not supported: {tree.name.upper()}")
    check_supported(tree)
    return Parsed(tree, explain)


def check_supported(tree):
    """NotSupportedError naming the first construct of `tree` this layer lacks."""
    for node in tree.walk():
        for cls, name in _UNSUPPORTED:
            if isinstance(node, cls):
                raise NotSupportedError(f"{name} is not supported yet (single-table SQL "
                                        "only)")
        if isinstance(node, exp.Select) and node is not tree and not (
                isinstance(tree, exp.Insert) and node is tree.expression):
            raise NotSupportedError("subqueries are not supported yet")
        if isinstance(node, exp.From) and not isinstance(node.this, exp.Table):
            raise NotSupportedError("only a table name is supported in FROM")


def qmark_count(tree):
    """The number of `?` parameters of a parsed statement, or -1 when it uses named
    (`:name`) parameters."""
    names = {n.this for n in tree.find_all(exp.Placeholder)}
    if all(n and n.startswith(QMARK_PREFIX) for n in names):
        return len(names)
    return -1
