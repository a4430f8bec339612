"""SQL text -> sqlglot AST: the parser wrapper of the SQL layer.

One responsibility: turn one statement into a sqlglot expression (we do not write a
SQL parser), with
  * syntax errors as ProgrammingError carrying the position ("line L, column C");
  * qmark placeholders numbered in text order: each `?` outside literals and comments
    is rewritten to the named placeholder `:__pN` (N from 0) before parsing, so
    expressions find their parameter by name whatever the AST's argument order;
  * `EXPLAIN <stmt>` recognised here (sqlglot has no node for it);
  * valid SQL this layer does not support yet (joins, subqueries, set operations,
    CTEs, window functions, ...) rejected with NotSupportedError naming the construct;
  * expression depth bounded (MAX_EXPR_DEPTH, docs/sql.md "Limits"), so that parsing,
    compiling and evaluating a statement never meets Python's recursion limit:
      1. before parsing, nesting of parentheses and CASE ... END in the token stream,
         plus each run of prefix operators (NOT, unary - + ~), must stay within
         MAX_TEXT_DEPTH (ProgrammingError naming it and the line and column): a
         coarse bound that keeps the parser's recursion within STACK_BUDGET;
      2. sqlglot's parser is recursive (about 25 Python frames per level), so it runs
         under `deep_stack()`, which raises the recursion limit by STACK_BUDGET
         frames while any thread is inside it (Python-to-Python calls of CPython 3.11+
         use no C stack; the C-recursive paths of sqlglot, e.g. generating the text
         of nested function calls, are bounded by the depth limit);
      3. after parsing, the depth of the tree must stay within the limit, where a
         level is a node whose operand is another expression, except parentheses,
         the WHEN arms of a CASE and a run of binary operators along its left operand
         (`a OR b OR c`, `1 + 2 - 3`: expr.py evaluates such a run in a loop), so
         chains are as long as memory allows.
    A RecursionError inside deep_stack() becomes a ProgrammingError.
"""

import contextlib
import logging
import sys
import threading

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from .lexer import PARAM, PUNCT, WORD, tokenize
from ..errors import NotSupportedError, ProgrammingError

__all__ = ["parse", "Parsed", "QMARK_PREFIX", "qmark_count", "MAX_EXPR_DEPTH",
           "MAX_TEXT_DEPTH", "deep_stack", "CHAIN_TYPES"]

# The deepest expression a statement may hold (see the module comment). Evaluating
# one level takes at most two Python frames at run time, outside deep_stack(), so this
# keeps a query well within Python's default recursion limit of 1000.
MAX_EXPR_DEPTH = 300
# The deepest nesting of parentheses, CASE and prefix operators in the text (step 1):
# twice the above, as a parenthesis or a CASE's arms need not make a level.
MAX_TEXT_DEPTH = 2 * MAX_EXPR_DEPTH
# Frames added to the recursion limit inside deep_stack(): parsing takes about 25
# frames per level of text nesting, compiling 3, generating sqlglot text about 10.
STACK_BUDGET = 30 * MAX_TEXT_DEPTH

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


_stack_lock = threading.Lock()
_stack_users = 0            # threads inside deep_stack()
_stack_saved = None         # the recursion limit the first of them found


@contextlib.contextmanager
def deep_stack():
    """Run the block with STACK_BUDGET more frames of recursion limit; a
    RecursionError in it becomes ProgrammingError. Nests, and is shared by threads:
    the first to enter raises the limit, the last to leave restores it."""
    global _stack_users, _stack_saved
    with _stack_lock:
        if _stack_users == 0:
            _stack_saved = sys.getrecursionlimit()
            sys.setrecursionlimit(_stack_saved + STACK_BUDGET)
        _stack_users += 1
    try:
        yield
    except RecursionError:
        raise too_deep() from None
    finally:
        with _stack_lock:
            _stack_users -= 1
            if _stack_users == 0:
                sys.setrecursionlimit(_stack_saved)


def too_deep():
    """The ProgrammingError of a statement deeper than MAX_EXPR_DEPTH."""
    return ProgrammingError(f"expression nested too deeply: the limit is "
                            f"{MAX_EXPR_DEPTH} levels (operators, function calls, CASE "
                            "and NOT whose operand is another expression)")


def _line_col(sql, pos):
    line = sql.count("\n", 0, pos) + 1
    return line, pos - (sql.rfind("\n", 0, pos) + 1) + 1


_PREFIX_WORDS = frozenset(("NOT",))
_PREFIX_PUNCT = frozenset(("-", "+", "~"))


def _check_nesting(sql, tokens):
    """ProgrammingError when parentheses, CASE ... END and runs of prefix operators
    nest deeper than MAX_TEXT_DEPTH at some token (step 1 of the module comment)."""
    depth = run = 0
    for t in tokens:
        kind, text = t.kind, t.text
        if kind == WORD:
            up = text.upper()
            if up == "CASE":
                depth += 1
            elif up == "END":
                depth -= 1
            run = run + 1 if up in _PREFIX_WORDS else 0
        elif kind == PUNCT:
            if text == "(":
                depth += 1
            elif text == ")":
                depth -= 1
            run = run + 1 if text in _PREFIX_PUNCT else 0
        else:
            run = 0
        if depth + run > MAX_TEXT_DEPTH:
            line, col = _line_col(sql, t.pos)
            raise ProgrammingError(f"SQL nested too deeply at line {line}, column {col}: "
                                   f"the limit is {MAX_TEXT_DEPTH} levels of parentheses, "
                                   "CASE and prefix operators")


# the binary operators whose runs along the left operand expr.py evaluates in a loop
CHAIN_TYPES = frozenset((exp.And, exp.Or, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod,
                         exp.DPipe, exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE))


def check_depth(tree):
    """ProgrammingError when `tree` is deeper than MAX_EXPR_DEPTH levels (step 3 of
    the module comment). Iterative."""
    chain = CHAIN_TYPES
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_EXPR_DEPTH:
            raise too_deep()
        t = type(node)
        for key, v in node.args.items():
            for child in (v if type(v) is list else (v,)):
                if not isinstance(child, exp.Expression):
                    continue
                tc = type(child)
                same = tc is exp.Paren or (t is exp.Case and tc is exp.If) or \
                    (key == "this" and t in chain and tc in chain)
                stack.append((child, depth if same else depth + 1))


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
    _check_nesting(sql, tokens)
    with deep_stack():
        try:
            tree = _parse_text(text)
            if isinstance(tree, exp.Command) and tree.name.upper() == "REPLACE":
                tree = _parse_replace(text, sql[body_start:])
        except (ParseError, TokenError) as err:
            try:                                # positions of the user's own text
                _parse_text(sql[body_start:])
            except (ParseError, TokenError) as err2:
                err = err2
            raise _position_error(err) from None
    check_depth(tree)
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
