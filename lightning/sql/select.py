"""SELECT on one table: projection, filter, grouping and aggregates, DISTINCT,
ORDER BY, LIMIT/OFFSET, compiled once into a `SelectPlan` run per execution.

One responsibility: the row pipeline of a query. Rows come from the access path of
plan.py; the full WHERE filter is applied to them; then (if the query aggregates) rows
are grouped and each group is one "row" of the representative row's columns followed by
the aggregate values (expr.Scope.slots points aggregate nodes there); then HAVING,
projection, DISTINCT, ORDER BY (SQLite's NULL order: first ascending, last descending,
unless NULLS FIRST/LAST says otherwise) and OFFSET/LIMIT. Without aggregates, DISTINCT
or ORDER BY the pipeline is lazy.
"""

import functools
import itertools
import operator
import sys

from sqlglot import exp

from ..errors import DataError, NotSupportedError, ProgrammingError
from . import catalog
from .access import C_INDEX_LIMIT, c_index_point, c_pk_row, c_point_row
from .dml import table_scope
from .expr import AGGREGATES, Scope, compare, compile_expr, literal_type, truth
from .parse import qmark_count
from .plan import choose_access, column_position, point_params
from .rowcodec import decode_row_ids
from .types import PLAIN_TYPES, show


def _param_point(table, keys, params):
    """The `cols` of _speedups.pk_row / index_point for key columns `keys` [(row
    position, desc)] all pinned by `?` parameters (`params`: {position: ? index}, from
    plan.point_params), each of a type those take values of as they are; else None."""
    cols = []
    for pos, desc in keys:
        spec = table.columns[pos].type.c_storable
        if pos not in params or spec[0] == 0:
            return None
        cols.append((params[pos], *spec, bool(desc)))
    return tuple(cols)

__all__ = ["SelectPlan"]


class _Agg:
    """One aggregate call: a per-group accumulator factory."""

    def __init__(self, node, scope):
        self.kind = type(node)
        arg = node.this
        self.distinct = isinstance(arg, exp.Distinct)
        if self.distinct:
            if len(arg.expressions) != 1:
                raise NotSupportedError("aggregate over several DISTINCT expressions")
            arg = arg.expressions[0]
        self.star = isinstance(arg, exp.Star)
        if not self.star and arg is None:
            raise ProgrammingError(f"{node.key.upper()}() needs an argument")
        if node.expressions:
            raise NotSupportedError(f"{node.key.upper()}() with several arguments")
        self.arg = None if self.star else compile_expr(arg, scope)

    def compute(self, rows, params):
        if self.star:
            return len(rows)
        vals = [v for v in (self.arg(r, params) for r in rows) if v is not None]
        if self.distinct:
            seen, out = [], []
            for v in vals:
                if not any(compare(v, s) == 0 for s in seen):
                    seen.append(v)
                    out.append(v)
            vals = out
        k = self.kind
        if k is exp.Count:
            return len(vals)
        if not vals:
            return None
        if k is exp.Min:
            return functools.reduce(lambda a, b: b if compare(b, a) < 0 else a, vals)
        if k is exp.Max:
            return functools.reduce(lambda a, b: b if compare(b, a) > 0 else a, vals)
        if any(isinstance(v, (str, bytes)) for v in vals):
            raise DataError(f"{k.__name__.upper()}() of non-numeric values")
        try:
            if any(isinstance(v, float) for v in vals):
                vals = [float(v) for v in vals]
            total = sum(vals)
            return total if k is exp.Sum else total / len(vals)
        except (TypeError, ArithmeticError) as e:   # times, huge ints, Decimal inf - inf
            raise DataError(f"{k.__name__.upper()}() cannot add its values "
                            f"({', '.join(show(v) for v in vals[:3])}...): "
                            f"{type(e).__name__}") from None


def _position(node):
    """The output column number of a GROUP BY / ORDER BY term that is an integer
    literal, else None (another constant, such as 0.0 or 'a', is an expression, as in
    SQLite)."""
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            v = int(node.this)
        except ValueError:          # 1.5, 1e3, 0x10, or too many digits
            return None
        return v
    return None


def _output_name(node):
    if isinstance(node, exp.Alias):
        return node.alias
    if isinstance(node, exp.Column):
        return node.name
    return node.sql(dialect="sqlite")


class SelectPlan:
    """A prepared single-table SELECT: `description`, `run(txn, params)`, `explain()`."""

    def __init__(self, txn, tree):
        for arg in ("joins", "laterals", "pivots", "windows", "qualify", "into"):
            if tree.args.get(arg):
                raise NotSupportedError(f"{arg.upper()} is not supported yet")
        frm = tree.args.get("from_") or tree.args.get("from")
        if frm is None:
            self.table = None
            scope = Scope()
        else:
            self.table = catalog.load_table(txn, frm.this.name)
            scope = table_scope(self.table)
            alias = frm.this.alias
            if alias:
                scope.table = alias
        self.scope = scope
        ncols = len(self.table.columns) if self.table else 0
        where = tree.args.get("where")
        self.where = compile_expr(where.this, scope) if where is not None else None
        self.access = choose_access(self.table, where.this if where is not None else None,
                                    scope) if self.table else None
        # projection list (* expanded)
        items = []
        for e in tree.expressions:
            if isinstance(e, exp.Star) or (isinstance(e, exp.Column)
                                           and isinstance(e.this, exp.Star)):
                if self.table is None:
                    raise ProgrammingError("SELECT * needs a FROM clause")
                for c in self.table.visible_columns:
                    items.append((c.name, exp.column(c.name)))
            else:
                items.append((_output_name(e), e.this if isinstance(e, exp.Alias) else e))
        group = tree.args.get("group")
        having = tree.args.get("having")
        order = tree.args.get("order")
        group_nodes = []
        proj_by_alias = {catalog.fold(name): n for name, n in items}
        for g in (group.expressions if group else []):
            k = _position(g)
            if k is not None:
                if not 1 <= k <= len(items):
                    raise ProgrammingError(f"GROUP BY term out of range: {k}")
                g = items[k - 1][1]
            elif isinstance(g, exp.Column) and not g.table and \
                    catalog.fold(g.name) not in scope.columns and \
                    catalog.fold(g.name) in proj_by_alias:
                g = proj_by_alias[catalog.fold(g.name)]
            group_nodes.append(g)
        # aggregates: every aggregate call in the select list, HAVING and ORDER BY
        agg_nodes = []
        for root in [n for _, n in items] + ([having.this] if having else []) + \
                ([o.this for o in order.expressions] if order else []):
            for n in root.walk():
                if isinstance(n, AGGREGATES) and not any(n is a for a in agg_nodes):
                    agg_nodes.append(n)
        self.aggregating = bool(agg_nodes or group_nodes)
        if having is not None and not self.aggregating:
            raise ProgrammingError("HAVING clause on a non-aggregate query")
        inner = Scope(scope.table, scope.columns)
        self.aggs = [_Agg(n, inner) for n in agg_nodes]
        outer = Scope(scope.table, scope.columns,
                      {id(n): ncols + i for i, n in enumerate(agg_nodes)})
        self.group_keys = [compile_expr(g, inner) for g in group_nodes]
        self.having = compile_expr(having.this, outer) if having is not None else None
        self.proj = [compile_expr(n, outer) for _, n in items]
        self.description = [(name, self._type_code(n)) for name, n in items]
        # ORDER BY: output position, alias, or an expression
        self.order = []
        aliases = {catalog.fold(name): i for i, (name, n) in enumerate(items)
                   if isinstance(n, exp.Expression)}
        for o in (order.expressions if order else []):
            node = o.this
            desc = bool(o.args.get("desc"))
            nf = o.args.get("nulls_first")
            nulls_first = (not desc) if nf is None else bool(nf)
            k = _position(node)
            if k is not None:
                if not 1 <= k <= len(items):
                    raise ProgrammingError(f"ORDER BY term out of range: {k}")
                self.order.append(("out", k - 1, desc, nulls_first))
            elif isinstance(node, exp.Column) and not node.table and \
                    catalog.fold(node.name) in aliases and \
                    catalog.fold(node.name) not in scope.columns:
                self.order.append(("out", aliases[catalog.fold(node.name)], desc,
                                   nulls_first))
            else:
                self.order.append(("expr", compile_expr(node, outer), desc, nulls_first))
        # ORDER BY served by the access path's key order (plan.py): no sort, and LIMIT
        # can stop the scan early. Only plain columns, and not after grouping.
        if self.order and self.access is not None and not self.aggregating:
            terms = []
            for (kind, x, desc, nf), o in zip(self.order, order.expressions):
                node = items[x][1] if kind == "out" else o.this
                while isinstance(node, exp.Paren):
                    node = node.this
                pos = scope.columns.get(catalog.fold(node.name)) \
                    if isinstance(node, exp.Column) else None
                terms.append((pos, desc, nf))
            if self.access.provide_order(terms):
                self.order = []
        self.distinct = bool(tree.args.get("distinct"))
        if self.distinct and tree.args["distinct"].args.get("on"):
            raise NotSupportedError("DISTINCT ON is not supported yet")
        lim = tree.args.get("limit")
        off = tree.args.get("offset")
        if lim is not None and lim.args.get("offset") is not None:
            off = lim.args["offset"]
        empty = Scope()
        self.limit = compile_expr(lim.expression, empty) if lim is not None else None
        self.offset = compile_expr(off.expression if isinstance(off, exp.Offset) else off,
                                   empty) if off is not None else None
        self.description = tuple((name, code, None, None, None, None, None)
                                 for name, code in self.description)
        self._point = self._point_ids(items, where.this if where is not None else None)
        self._index_point = self._index_point_spec(items,
                                                   where.this if where is not None else None)
        # the number of ? parameters (-1 when :name ones are used): PointRunner's check
        self.nparams = qmark_count(tree)
        # output of plain columns only, without aggregation: a row is itemgetter()'s
        self._getter = None
        if self._plain and not self.aggregating:
            self._getter = _projector(self._plain)

    def _point_ids(self, items, where):
        """For `SELECT col, ... FROM t WHERE pk = const [AND ...]` with nothing else
        (the WHERE is exactly the primary-key equalities the access path pins): the
        column ids to decode, in output order. run() then reads one key and decodes
        just those columns. None otherwise."""
        t, scope = self.table, self.scope
        self._point_params = {}     # row position of a pinned pk column -> ? index
        self._plain = None          # row positions of the output, if all plain columns
        if t is not None:
            pos = [column_position(t, scope, node) for _, node in items]
            if None not in pos:
                self._plain = pos
        if t is None or self.access.kind != "pk_point" or self.aggregating or \
                self.distinct or self.order or self.limit is not None or \
                self.offset is not None:
            return None
        params = point_params(t, scope, where)
        if params is None:
            return None
        ids = []
        for _, node in items:
            pos = column_position(t, scope, node)
            if pos is None:
                return None
            ids.append(t.columns[pos].id)
        self._point_params = params
        return tuple(ids)

    def _index_point_spec(self, items, where):
        """For `SELECT col, ... FROM t WHERE <every column of a non-unique index> = ?`
        with nothing else, plain output columns and each indexed column of a type
        _speedups.index_point handles: (cols, output column ids) for it (see
        IndexRunner). None otherwise."""
        a, t = self.access, self.table
        if t is None or a is None or a.kind != "index" or a.index.unique or \
                not a._pinned or self._plain is None or self.aggregating or \
                self.distinct or self.order or self.limit is not None or \
                self.offset is not None:
            return None
        params = point_params(t, self.scope, where, a.index.column_ids)
        cols = None if params is None else \
            _param_point(t, a.keys[:len(a.index.column_ids)], params)
        if cols is None:
            return None
        return cols, tuple(t.columns[p].id for p in self._plain)

    def _type_code(self, node):
        if isinstance(node, exp.Column) and self.table is not None:
            c = self.table.column(node.name)
            if c is not None:
                rc = self.table.rowid_column
                return "ROWID" if rc is not None and rc is c else c.type.family
        return literal_type(node)

    def explain(self):
        lines = [self.access.describe() if self.access else "CONSTANT ROW"]
        if self.where is not None and self.access is not None:
            lines.append("FILTER (WHERE)")
        if self.aggregating:
            lines.append("AGGREGATE" + (" GROUP BY" if self.group_keys else ""))
        if self.distinct:
            lines.append("DISTINCT")
        if self.order:
            lines.append("SORT (ORDER BY)")
        if self.limit is not None or self.offset is not None:
            lines.append("LIMIT/OFFSET")
        return lines

    def point_runner(self, executor, version):
        """A PointRunner for this plan, an IndexRunner for an index equality lookup
        of plain columns, or None."""
        if self.nparams < 0:
            return None
        if self._point is not None:
            return PointRunner(self, executor, version)
        a = self.access
        if a is None or a.kind != "index" or a.lo is not None or a.hi is not None or \
                len(a.eq) != len(a.index.column_ids) or \
                any(len(fns) != 1 for _, fns, _ in a.eq) or self.aggregating or \
                self.distinct or self.order or self.limit is not None or \
                self.offset is not None or self._plain is None:
            return None
        return IndexRunner(self, executor, version)

    def run(self, txn, params):
        point = self._point
        if point is not None:
            key = self.access.point_key(params)
            if key is not None:
                raw = txn.get(key)
                return [] if raw is None else [tuple(decode_row_ids(raw, point))]
        if self.table is None:
            source = iter([[]])
        else:
            source = self.access.rows(txn, params)
        where = self.where
        if where is not None:
            source = (r for r in source if truth(where(r, params)))
        if self.aggregating:
            source = self._groups(list(source), params)
        proj, getter = self.proj, self._getter
        if not self.order and not self.distinct:
            if getter is not None:          # plain columns: no closure per value
                out = map(getter, source)
            else:
                out = (tuple(f(r, params) for f in proj) for r in source)
            return self._slice(out, params)
        pairs = []
        for r in source:
            row = getter(r) if getter is not None else tuple(f(r, params) for f in proj)
            keys = [row[x] if kind == "out" else x(r, params)
                    for kind, x, _, _ in self.order]
            pairs.append((row, keys))
        if self.distinct:
            seen, uniq = set(), []
            for row, keys in pairs:
                h = row
                if h not in seen:
                    seen.add(h)
                    uniq.append((row, keys))
            pairs = uniq
        if self.order:
            dirs = [(desc, nf) for _, _, desc, nf in self.order]

            def cmp(a, b):
                for (desc, nf), x, y in zip(dirs, a[1], b[1]):
                    if x is None or y is None:
                        if x is None and y is None:
                            continue
                        return (-1 if x is None else 1) * (1 if nf else -1)
                    c = compare(x, y)
                    if c:
                        return -c if desc else c
                return 0
            pairs.sort(key=functools.cmp_to_key(cmp))
        return self._slice((row for row, _ in pairs), params)

    def _slice(self, rows, params):
        off = self.offset(None, params) if self.offset is not None else 0
        lim = self.limit(None, params) if self.limit is not None else None
        for name, v in (("OFFSET", off), ("LIMIT", lim)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise DataError(f"{name} must be an integer, not {show(v)}")
        # a negative LIMIT is none (SQLite); beyond sys.maxsize nothing is countable
        off = min(max(off or 0, 0), sys.maxsize)
        stop = None if lim is None or lim < 0 or off + lim > sys.maxsize else off + lim
        return itertools.islice(rows, off, stop)

    def _groups(self, rows, params):
        ncols = len(self.table.columns) if self.table else 0
        if self.group_keys:
            groups = {}
            for r in rows:
                k = tuple(f(r, params) for f in self.group_keys)
                groups.setdefault(k, []).append(r)
            members = list(groups.values())
        else:
            members = [rows]
        for g in members:
            rep = list(g[0]) if g else [None] * ncols
            env = rep + [a.compute(g, params) for a in self.aggs]
            if self.having is None or truth(self.having(env, params)):
                yield env


def _projector(positions):
    """f(row) -> the tuple of row[i] for i in positions."""
    if len(positions) == 1:
        p, = positions
        return lambda r: (r[p],)
    return operator.itemgetter(*positions)


def runner_check(executor, version, nparams):
    """The common check of the fast-path runners (interface.py, `fast_path`):
    ready(txn, params) is True when `params` are a tuple of `nparams` plain values
    (what bind() passes through unchanged) and `txn` sees schema `version`, the one
    the statement was prepared under (executor: the SqlExecutor)."""
    plain, ver = PLAIN_TYPES, executor._schema_version

    def ready(txn, params):
        if type(params) is not tuple or len(params) != nparams:
            return False
        for v in params:
            if type(v) not in plain:
                return False
        if executor._ver_txn() is not txn or executor._ver_dirty or \
                executor._ver != version:
            return ver(txn) == version
        return True
    return ready


class PointRunner:
    """The one-step form of a point SELECT (see SelectPlan._point_ids) for the
    driver's fast path (interface.py, `fast_path`): run(txn, params) reads one
    key and decodes the selected columns, or returns None (the normal path then
    runs the statement) when the parameters are not a tuple of plain values of the
    right count, or `txn` sees another schema than the plan was prepared under."""

    __slots__ = ("description", "writes", "run")

    def __init__(self, plan, executor, version):
        self.description, self.writes = plan.description, False
        access, ids, nparams = plan.access, tuple(plan._point), plan.nparams
        point_key, ready = access.point_key, runner_check(executor, version, nparams)
        # one INTEGER pk column bound to a ? parameter: the key is built right here
        pk, = plan.table.primary_key if len(plan.table.primary_key) == 1 else (None,)
        pos = next((i for i, c in enumerate(plan.table.columns) if c.id == pk), None)
        k = plan._point_params.get(pos)
        direct = k is not None and plan.table.columns[pos].type.family == "INTEGER"
        prefix = access._prefix
        if direct:
            lo, hi = plan.table.columns[pos].type.int_range
            encode = access._eq_encode
        # all of run() in one C call when every pk column is a ? parameter
        cols = _param_point(plan.table, access.keys, plan._point_params) \
            if c_pk_row is not None else None
        fused, plain = cols is not None, PLAIN_TYPES

        def run(txn, params):
            if fused and executor._ver_txn() is txn and not executor._ver_dirty and \
                    executor._ver == version:   # (ready()'s schema check, inlined)
                reader = txn._reader
                if reader is not None:
                    out = c_pk_row(reader, prefix, params, nparams, cols, plain, ids)
                    if out is not NotImplemented:
                        return out
            if not ready(txn, params):
                return None
            if direct:
                v = params[k]
                key = prefix + encode([v]) if type(v) is int and lo <= v <= hi \
                    else point_key(params)
            else:
                key = point_key(params)
            if key is None:
                return None
            reader = txn._reader
            if reader is not None:
                out = c_point_row(reader, key, ids)
                if out is not NotImplemented:
                    return out
            raw = txn.get(key)
            return [] if raw is None else [tuple(decode_row_ids(raw, ids))]
        self.run = run


class IndexRunner:
    """The one-step form of `SELECT col, ... FROM t WHERE <index equality>` for the
    driver's fast path: run(txn, params) returns the lazy rows of the access path,
    filtered by the WHERE and projected, or None (checks as PointRunner)."""

    __slots__ = ("description", "writes", "run")

    def __init__(self, plan, executor, version):
        self.description, self.writes = plan.description, False
        access, where, nparams = plan.access, plan.where, plan.nparams
        ready = runner_check(executor, version, nparams)
        project = _projector(plan._plain)
        # the WHERE is exactly the index equalities on ? parameters: one C call reads
        # the rows and decodes the output columns
        fused = plan._index_point is not None and c_index_point is not None
        if fused:
            cols, out_ids = plan._index_point
            prefix, rp, plain = access._prefix, access._rows_prefix, PLAIN_TYPES

        def run(txn, params):
            if fused and executor._ver_txn() is txn and not executor._ver_dirty and \
                    executor._ver == version:   # (ready()'s schema check, inlined)
                reader = txn._reader
                if reader is not None:
                    out = c_index_point(reader, prefix, params, nparams, cols, plain, rp,
                                        out_ids, C_INDEX_LIMIT)
                    if out is not NotImplemented:
                        return out
            if not ready(txn, params):
                return None
            rows = access.rows(txn, params)
            if type(rows) is list:
                return [project(r) for r in rows if truth(where(r, params))]
            return (project(r) for r in rows if truth(where(r, params)))
        self.run = run
