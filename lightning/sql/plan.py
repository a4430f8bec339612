"""Access paths: which rows of a table a WHERE clause needs (reading them: access.py).

One responsibility: look at the top-level AND-ed conditions of a WHERE clause -
`col = c`, `col IN (c, ...)`, `col <|<=|>|>= c` (either side) and `col BETWEEN c AND
d`, where "c" is a constant (no column reference: literals, parameters, constant
expressions, evaluated at execution time) - and pick one key space to read:

  1. PRIMARY KEY point: every pk column `= c`                    (at most one row)
  2. UNIQUE INDEX point: every column of a unique index `= c`    (at most one row)
  3. PRIMARY KEY points or range: a leading pk prefix pinned by `=` / `IN` (several
     points when an IN list is involved) and/or a range on the next pk column
  4. INDEX: the same on a secondary index (unique or not, ASC or DESC columns); the
     index with the most usable columns (pinned prefix + a bounded column) wins,
     unique first on a tie, then the first created
  5. otherwise a full scan of the table's rows (in pk order).

On each column the first `=` is used, else the first `IN`, and the first lower and
first upper bound (the others are still applied by the filter). A pinned prefix whose
IN lists would make more than MAX_POINTS points stops before the column that would.

The caller always applies the whole WHERE to the rows a path yields, so a path may
return a superset but never misses a row (access.py says how values are coerced and
when a path falls back to a scan at execution time). Rows come out in the key order of
the key space (Access.ordered_by), which lets a SELECT skip its sort
(Access.provide_order). `describe()` gives the EXPLAIN text, e.g.
    SEARCH t USING PRIMARY KEY (id=?)          SEARCH t USING PRIMARY KEY (id IN (?, ?))
    SEARCH t USING PRIMARY KEY RANGE (a=1 AND b>?)
    SEARCH t USING UNIQUE INDEX t_u (u=?)      SEARCH t USING INDEX t_k (k>? AND k<=?)
    SCAN t                                     (" REVERSE" when read backwards)
"""

from sqlglot import exp

from . import catalog
from .access import Access
from .expr import compile_expr, is_constant
from .parse import QMARK_PREFIX

__all__ = ["choose_access", "column_position", "point_params", "Access", "MAX_POINTS"]

MAX_POINTS = 1000

_FLIP = {exp.LT: exp.GT, exp.GT: exp.LT, exp.LTE: exp.GTE, exp.GTE: exp.LTE, exp.EQ: exp.EQ}
_OPS = {exp.LT: "<", exp.GT: ">", exp.LTE: "<=", exp.GTE: ">=", exp.EQ: "="}


def _conjuncts(node):
    """The AND-ed terms of `node`, in text order (iterative: an AND chain may be as
    long as the WHERE clause)."""
    out, todo = [], [] if node is None else [node]
    while todo:
        node = todo.pop()
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.And):
            todo += [node.expression, node.this]
        else:
            out.append(node)
    return out


def _column_pos(node, scope):
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Column):
        return scope.columns.get(catalog.fold(node.name))
    return None


def _sql(node):
    return node.sql(dialect="sqlite")


def _analyse(where, scope):
    """{row position: {"eq": [(fn, sql)], "in": [([fn], [sql])],
                       "lo": [(fn, inclusive, sql)], "hi": [...]}}"""
    out = {}

    def add(pos, kind, item):
        out.setdefault(pos, {"eq": [], "in": [], "lo": [], "hi": []})[kind].append(item)

    for c in _conjuncts(where):
        t = type(c)
        if t in _OPS:
            a, b = c.this, c.expression
            pa, pb = _column_pos(a, scope), _column_pos(b, scope)
            if pa is not None and is_constant(b):
                pos, val, op = pa, b, t
            elif pb is not None and is_constant(a):
                pos, val, op = pb, a, _FLIP[t]
            else:
                continue
            fn, sql = compile_expr(val, scope), _sql(val)
            if op is exp.EQ:
                add(pos, "eq", (fn, sql))
            elif op in (exp.GT, exp.GTE):
                add(pos, "lo", (fn, op is exp.GTE, _OPS[op] + sql))
            else:
                add(pos, "hi", (fn, op is exp.LTE, _OPS[op] + sql))
        elif t is exp.Between:
            pos = _column_pos(c.this, scope)
            lo, hi = c.args["low"], c.args["high"]
            if pos is not None and is_constant(lo) and is_constant(hi):
                add(pos, "lo", (compile_expr(lo, scope), True, ">=" + _sql(lo)))
                add(pos, "hi", (compile_expr(hi, scope), True, "<=" + _sql(hi)))
        elif t is exp.In and not c.args.get("query") and not c.args.get("unnest"):
            pos = _column_pos(c.this, scope)
            items = c.expressions
            if pos is not None and items and all(is_constant(e) for e in items):
                add(pos, "in", ([compile_expr(e, scope) for e in items],
                                [_sql(e) for e in items]))
    return out


def _match(table, info, keys):
    """How the conditions use a key space with columns `keys` [(pos, desc)]:
    (eq [(pos, [fn], [sql])], lo, hi, text terms); lo/hi as Access wants them."""
    eq, txt, npoints = [], [], 1
    for pos, _ in keys:
        i = info.get(pos)
        if i is None:
            break
        name = table.columns[pos].name
        if i["eq"]:
            fn, sql = i["eq"][0]
            eq.append((pos, [fn], [sql]))
            txt.append(f"{name}={sql}")
        elif i["in"] and npoints * len(i["in"][0][0]) <= MAX_POINTS:
            fns, sqls = i["in"][0]
            npoints *= len(fns)
            eq.append((pos, fns, sqls))
            txt.append(f"{name} IN ({', '.join(sqls)})")
        else:
            break
    lo = hi = None
    if len(eq) < len(keys):
        pos = keys[len(eq)][0]
        i = info.get(pos, {})
        name = table.columns[pos].name
        if i.get("lo"):
            fn, inc, sql = i["lo"][0]
            lo = (pos, fn, inc)
            txt.append(name + sql)
        if i.get("hi"):
            fn, inc, sql = i["hi"][0]
            hi = (pos, fn, inc)
            txt.append(name + sql)
    return eq, lo, hi, txt


def _keys(table, column_ids, directions):
    pos_of = {c.id: i for i, c in enumerate(table.columns)}
    return [(pos_of[cid], d in ("DESC", True)) for cid, d in zip(column_ids, directions)]


def choose_access(table, where, scope):
    """The Access for `table` filtered by `where` (a sqlglot node or None)."""
    name = table.name
    info = _analyse(where, scope)
    pk_keys = _keys(table, table.primary_key, table.pk_directions)
    # 1. pk point; 3. pk points or range
    eq, lo, hi, txt = _match(table, info, pk_keys)
    terms = " AND ".join(txt)
    if len(eq) == len(pk_keys):
        single = all(len(fns) == 1 for _, fns, _ in eq)
        if single:
            return Access(table, "pk_point", f"SEARCH {name} USING PRIMARY KEY ({terms})",
                          pk_keys, eq)
        pk_path = Access(table, "pk_multi", f"SEARCH {name} USING PRIMARY KEY ({terms})",
                         pk_keys, eq)
    elif eq or lo or hi:
        pk_path = Access(table, "pk_range", f"SEARCH {name} USING PRIMARY KEY RANGE "
                         f"({terms})", pk_keys, eq, lo, hi)
    else:
        pk_path = None
    # 2. unique index point; 4. index points or range
    best = None
    for n, ix in enumerate(table.indexes):
        keys = _keys(table, ix.column_ids, ix.directions)
        ieq, ilo, ihi, itxt = _match(table, info, keys)
        used = len(ieq) + (1 if ilo or ihi else 0)
        if not used:
            continue
        point = ix.unique and len(ieq) == len(keys) and \
            all(len(fns) == 1 for _, fns, _ in ieq)
        score = (point, used, ix.unique, -n)
        if best is None or score > best[0]:
            best = (score, ix, keys, ieq, ilo, ihi, itxt)
    if best is not None and (best[0][0] or pk_path is None):
        _, ix, keys, ieq, ilo, ihi, itxt = best
        return Access(table, "index", f"SEARCH {name} USING "
                      f"{'UNIQUE ' if ix.unique else ''}INDEX {ix.name} "
                      f"({' AND '.join(itxt)})", keys + pk_keys, ieq, ilo, ihi, index=ix)
    if pk_path is not None:
        return pk_path
    return Access(table, "scan", f"SCAN {name}", pk_keys)


def column_position(table, scope, node):
    """The row position of `node` when it is a plain column of `table` (bare or
    qualified by the table's name or alias), else None."""
    if not isinstance(node, exp.Column) or not isinstance(node.this, exp.Identifier):
        return None
    if node.table and catalog.fold(node.table) not in (
            catalog.fold(scope.table or ""), catalog.fold(table.name)):
        return None
    return scope.columns.get(catalog.fold(node.name))


def point_params(table, scope, where, column_ids=None):
    """When `where` is exactly `col = constant` for every column of `column_ids` (by
    default the primary key's; AND-ed, each once, the constant a literal or a
    parameter), so a lookup of that one point needs no filter after it: {row position:
    index of its ? parameter} for the columns pinned by a `?` (literals are left out).
    Else None."""
    if where is None:
        return None
    params, pinned, conds = {}, [], [where]
    while conds:
        c = conds.pop()
        while isinstance(c, exp.Paren):
            c = c.this
        if isinstance(c, exp.And):
            conds += [c.this, c.expression]
            continue
        if not isinstance(c, exp.EQ):
            return None
        for col, val in ((c.this, c.expression), (c.expression, c.this)):
            pos = column_position(table, scope, col)
            if pos is not None and isinstance(val, (exp.Placeholder, exp.Literal)):
                pinned.append(table.columns[pos].id)
                name = val.this if isinstance(val, exp.Placeholder) else None
                if name and name.startswith(QMARK_PREFIX):
                    params[pos] = int(name[len(QMARK_PREFIX):])
                break
        else:
            return None
    if sorted(pinned) != sorted(table.primary_key if column_ids is None else column_ids):
        return None
    return params
