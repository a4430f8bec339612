"""Access paths: which rows of a table a WHERE clause needs, and how to read them.

One responsibility: look at the top-level AND-ed conditions of a WHERE clause and pick
  1. a primary-key point lookup when every pk column is pinned by `col = constant`;
  2. a primary-key range scan when a leading pk prefix is pinned and/or the next pk
     column is bounded (<, <=, >, >=, BETWEEN);
  3. a secondary-index lookup when the leading columns of an index are pinned by
     equalities (the longest such prefix wins; unique indexes first);
  4. otherwise a full scan of the table's rows.
"constant" means no column reference (literals, parameters, constant expressions),
evaluated at execution time and coerced to the column's type; if a value cannot be
coerced (e.g. 2.5 for an INTEGER column) the path falls back to a scan, so results never
depend on the plan. The caller always applies the whole WHERE filter to the rows an
access path yields. `describe()` gives the EXPLAIN text.
"""

import re

from sqlglot import exp

from ..errors import DataError
from ..kv import prefix_successor
from . import catalog
from .catalog import index_prefix, row_prefix
from .expr import compile_expr, is_constant
from .keycodec import encode_key
from .rowcodec import decode_row

__all__ = ["choose_access", "Access"]

_FLIP = {exp.LT: exp.GT, exp.GT: exp.LT, exp.LTE: exp.GTE, exp.GTE: exp.LTE, exp.EQ: exp.EQ}
_OPS = {exp.LT: "<", exp.GT: ">", exp.LTE: "<=", exp.GTE: ">=", exp.EQ: "="}


def _conjuncts(node):
    if node is None:
        return []
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


def _column_pos(node, scope):
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Column):
        return scope.columns.get(catalog.fold(node.name))
    return None


def _analyse(where, scope):
    """{row position: {"eq": [(fn, sql)], "lo": [(fn, inclusive, sql)], "hi": [...]}}"""
    out = {}

    def add(pos, kind, item):
        out.setdefault(pos, {"eq": [], "lo": [], "hi": []})[kind].append(item)

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
            fn = compile_expr(val, scope)
            sql = val.sql(dialect="sqlite")
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
                add(pos, "lo", (compile_expr(lo, scope), True, ">=" + lo.sql(dialect="sqlite")))
                add(pos, "hi", (compile_expr(hi, scope), True, "<=" + hi.sql(dialect="sqlite")))
    return out


class _Fallback(Exception):
    pass


class Access:
    """A chosen access path: `kind` (pk_point, pk_range, index_eq, scan), `rows(txn,
    params)` yielding rows (lists aligned with table.columns), `describe()`."""

    def __init__(self, table, kind, text, eq=(), lo=None, hi=None, index=None):
        self.table, self.kind, self.text = table, kind, text
        self.eq, self.lo, self.hi, self.index = list(eq), lo, hi, index
        self._ix_base = None        # index_prefix(table.id, index.id), once known

    def describe(self):
        return re.sub(r":__p\d+", "?", self.text)

    def _coerce(self, pos, v):
        c = self.table.columns[pos]
        if v is None:
            raise _Fallback                 # col = NULL matches nothing; scan + filter
        try:
            return c.type.coerce(v, c.name)
        except DataError:
            raise _Fallback from None

    def rows(self, txn, params):
        t = self.table
        try:
            eqv = [self._coerce(pos, fn((), params)) for pos, fn in self.eq]
            lo = hi = None
            if self.lo is not None:
                pos, fn, inc = self.lo
                lo = (self._coerce(pos, fn((), params)), inc)
            if self.hi is not None:
                pos, fn, inc = self.hi
                hi = (self._coerce(pos, fn((), params)), inc)
        except _Fallback:
            return self._scan(txn)
        if self.kind == "pk_point":
            raw = txn.get(catalog.row_key(t.id, eqv, t.pk_directions))
            return iter(()) if raw is None else iter([decode_row(raw, t.columns)])
        if self.kind == "pk_range":
            base = row_prefix(t.id) + (encode_key(eqv) if eqv else b"")
            start, end = base, prefix_successor(base)
            if lo is not None:
                k = base + encode_key([lo[0]])
                start = k if lo[1] else prefix_successor(k)
            if hi is not None:
                k = base + encode_key([hi[0]])
                end = prefix_successor(k) if hi[1] else k
            if start >= end:
                return iter(())
            return (decode_row(v, t.columns) for _, v in txn.scan(start, end))
        if self.kind == "index_eq":
            return self._index_rows(txn, eqv)
        return self._scan(txn)

    def _scan(self, txn):
        cols = self.table.columns
        return (decode_row(v, cols) for _, v in txn.scan(prefix=row_prefix(self.table.id)))

    def _index_rows(self, txn, eqv):
        t, ix = self.table, self.index
        base = self._ix_base
        if base is None:
            base = self._ix_base = index_prefix(t.id, ix.id)
        prefix = base + encode_key(eqv, ix.directions[:len(eqv)]) if eqv else base
        for k, v in txn.scan(prefix=prefix):
            _, pk = catalog.decode_index_key(k, t, ix, v, base)
            raw = txn.get(catalog.row_key(t.id, pk, t.pk_directions))
            if raw is not None:
                yield decode_row(raw, t.columns)


def choose_access(table, where, scope):
    """The Access for `table` filtered by `where` (a sqlglot node or None)."""
    name = table.name
    info = _analyse(where, scope)
    pos_of = {c.id: i for i, c in enumerate(table.columns)}
    pk_pos = [pos_of[cid] for cid in table.primary_key]
    # primary key: equality prefix, then a range on the next column
    eq, eq_txt = [], []
    for p in pk_pos:
        e = info.get(p, {}).get("eq")
        if not e:
            break
        eq.append((p, e[0][0]))
        eq_txt.append(f"{table.columns[p].name}={e[0][1]}")
    if len(eq) == len(pk_pos):
        return Access(table, "pk_point", f"SEARCH {name} USING PRIMARY KEY "
                      f"({' AND '.join(eq_txt)})", eq=eq)
    if all(d == "ASC" for d in table.pk_directions):
        nxt = pk_pos[len(eq)]
        rng = info.get(nxt, {})
        lo = rng.get("lo")[0] if rng.get("lo") else None
        hi = rng.get("hi")[0] if rng.get("hi") else None
        if eq or lo or hi:
            txt = list(eq_txt)
            cname = table.columns[nxt].name
            if lo:
                txt.append(cname + lo[2])
            if hi:
                txt.append(cname + hi[2])
            return Access(table, "pk_range", f"SEARCH {name} USING PRIMARY KEY RANGE "
                          f"({' AND '.join(txt)})", eq=eq,
                          lo=(nxt, lo[0], lo[1]) if lo else None,
                          hi=(nxt, hi[0], hi[1]) if hi else None)
    # secondary indexes: longest pinned prefix, unique first
    best = None
    for ix in table.indexes:
        ieq, itxt = [], []
        for cid in ix.column_ids:
            p = pos_of[cid]
            e = info.get(p, {}).get("eq")
            if not e:
                break
            ieq.append((p, e[0][0]))
            itxt.append(f"{table.columns[p].name}={e[0][1]}")
        if ieq:
            score = (len(ieq) == len(ix.column_ids) and ix.unique, len(ieq))
            if best is None or score > best[0]:
                best = (score, ix, ieq, itxt)
    if best is not None:
        _, ix, ieq, itxt = best
        return Access(table, "index_eq", f"SEARCH {name} USING "
                      f"{'UNIQUE ' if ix.unique else ''}INDEX {ix.name} "
                      f"({' AND '.join(itxt)})", eq=ieq, index=ix)
    return Access(table, "scan", f"SCAN {name}")
