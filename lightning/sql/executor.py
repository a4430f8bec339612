"""The DB-API executor of the SQL layer (the contract of interface.py) and
the per-connection plan cache.

One responsibility: dispatch one statement to ddl.py / dml.py / select.py and wrap the
outcome in a `Result`. Prepared statements (SELECT, INSERT, UPDATE, DELETE and their
EXPLAIN) are cached by SQL text, at most `connection.cached_statements` of them, each
tagged with the catalog's schema_version it was prepared under; a statement prepared
under another version is prepared again. DDL is never cached.
"""

import re
import weakref
from collections import OrderedDict

from sqlglot import exp

from .interface import Result
from ..errors import DatabaseError, InterfaceError, NotSupportedError, ProgrammingError
from . import catalog, ddl
from .dml import Inserter, Param, Returning, TableWriter, Upsert, set_target
from .expr import Scope, compile_expr, truth
from .parse import QMARK_PREFIX, deep_stack, parse, qmark_count
from .plan import point_params
from .rowcodec import column_ids, decode_row_ids
from .select import SelectPlan, runner_check

__all__ = ["SqlExecutor"]

_PLAN_DESC = (("plan", "TEXT", None, None, None, None, None),)
# the key in the engine's conflict message (csrc/db/txn.c conflict_msg): printable
# ASCII as is, other bytes (and ' and \) as \xNN, at most 64 bytes then "..."
_CONFLICT_KEY = re.compile(r"conflict on key '([^']*)'")


def _dead():
    return None


class _Insert:
    def __init__(self, txn, tree, db):
        target = tree.this
        cols = None
        if isinstance(target, exp.Schema):
            cols = [i.name for i in target.expressions]
            target = target.this
        table = catalog.load_table(txn, target.name)
        self.writer = TableWriter(table, db)
        default_values = bool(tree.args.get("default"))
        rows, select = [], None
        src = tree.expression
        if not default_values:
            if src is None:
                raise ProgrammingError("syntax error: INSERT needs VALUES, a SELECT or "
                                       "DEFAULT VALUES")
            if isinstance(src, exp.Select):
                select = SelectPlan(txn, src)
            elif not isinstance(src, exp.Values):
                raise NotSupportedError(f"INSERT from {src.key.upper()} is not supported")
            else:
                for tup in src.expressions:
                    vals = tup.expressions if isinstance(tup, exp.Tuple) else [tup]
                    rows.append([_value_item(v) for v in vals])
        for arg in ("where",):
            if tree.args.get(arg):
                raise NotSupportedError(f"INSERT ... {arg.upper()} is not supported yet")
        alt = str(tree.args.get("alternative") or "ABORT").upper()
        if alt not in _INSERT_OR:
            raise NotSupportedError(f"INSERT OR {alt} is not supported (OR ABORT, OR "
                                    "IGNORE and OR REPLACE are)")
        mode = _INSERT_OR[alt]
        conflict = tree.args.get("conflict")
        if conflict is not None and mode is not None:
            raise NotSupportedError(f"INSERT OR {alt} together with ON CONFLICT is not "
                                    "supported")
        self.upsert = Upsert(table, conflict) if conflict is not None else None
        ret = tree.args.get("returning")
        self.returning = Returning(table, ret) if ret is not None else None
        self.inserter = Inserter(self.writer, cols, rows, default_values, self.upsert,
                                 self.returning, select, mode)
        self.nparams = qmark_count(tree)

    def explain(self):
        mode = self.inserter.mode
        out = [f"INSERT{' OR ' + mode.upper() if mode else ''} INTO "
               f"{self.writer.table.name}"]
        if self.inserter.select is not None:
            out += ["FROM (SELECT)"] + ["  " + line for line in self.inserter.select.explain()]
        if self.upsert is not None:
            out.append("ON CONFLICT DO " + ("UPDATE" if self.upsert.update else "NOTHING"))
        return out

    def run(self, txn, params):
        n, last, rows = self.inserter.run(txn, params)
        if self.returning is not None:
            return Result(description=self.returning.description, rows=rows,
                          rowcount=n, lastrowid=last)
        return Result(rowcount=n, lastrowid=last)

    def run_many(self, txn, param_sets):
        n, last = self.inserter.run_many(txn, param_sets)
        return Result(rowcount=n, lastrowid=last)


# INSERT OR <algorithm> -> dml.Inserter mode (SQLite's FAIL and ROLLBACK are not
# offered: FAIL keeps a failed statement's earlier rows, which our statements never do)
_INSERT_OR = {"ABORT": None, "IGNORE": "ignore", "REPLACE": "replace"}


def _value_item(node):
    """A VALUES item for dml.Inserter: None for DEFAULT, a Param for a bare
    placeholder, else the compiled expression."""
    if isinstance(node, exp.Var) and node.name.upper() == "DEFAULT":
        return None
    if isinstance(node, exp.Placeholder) and node.this:
        name = node.this
        return Param(int(name[len(QMARK_PREFIX):]) if name.startswith(QMARK_PREFIX)
                     else name)
    return compile_expr(node, Scope())


class _Modify:
    """UPDATE or DELETE: rows chosen like SELECT (plan.py), then rewritten."""

    def __init__(self, txn, tree, db):
        from .plan import choose_access
        for arg in ("joins", "from", "from_", "using", "order", "limit"):
            if tree.args.get(arg):
                raise NotSupportedError(f"{arg.upper()} in {tree.key.upper()} is not "
                                        "supported yet")
        target = tree.this
        if not isinstance(target, exp.Table):
            raise ProgrammingError(f"syntax error: {tree.key.upper()} needs "
                                   f"{'FROM ' if isinstance(tree, exp.Delete) else ''}"
                                   "a table name")
        if isinstance(tree, exp.Update) and not tree.expressions:
            raise ProgrammingError("syntax error: UPDATE needs SET column = value")
        table = catalog.load_table(txn, target.name)
        self.writer = w = TableWriter(table, db)
        where = tree.args.get("where")
        cond = where.this if where is not None else None
        self.where = compile_expr(cond, w.scope) if cond is not None else None
        self.access = choose_access(table, cond, w.scope)
        # a pk point whose WHERE is exactly the pk equalities: one get, no filter
        self.point = self.access.kind == "pk_point" and \
            point_params(table, w.scope, cond) is not None
        self.ids = column_ids(table.columns)
        self.nparams = qmark_count(tree)
        ret = tree.args.get("returning")
        self.returning = Returning(table, ret) if ret is not None else None
        self.sets = None
        if isinstance(tree, exp.Update):
            self.sets = []
            for eq in tree.expressions:
                col = table.column(set_target(eq))
                if col is None:
                    raise ProgrammingError(f"no such column: {eq.this.name}")
                self.sets.append((table.columns.index(col), compile_expr(eq.expression,
                                                                         w.scope)))

    def explain(self):
        verb = "UPDATE" if self.sets is not None else "DELETE FROM"
        return [f"{verb} {self.writer.table.name}", self.access.describe()]

    def run(self, txn, params):
        w, where = self.writer, self.where
        key = self.access.point_key(params) if self.point else None
        if key is not None:
            raw = txn.get(key)
            rows = [] if raw is None else [decode_row_ids(raw, self.ids)]
        else:
            rows = [r for r in self.access.rows(txn, params)
                    if where is None or truth(where(r, params))]
        out, count = [], 0
        # only foreign-key actions (cascades into a table that references this one,
        # which may lead back here) change rows this loop has not reached yet
        reread = bool(w.fks(txn).incoming)
        for n, row in enumerate(rows):
            if reread and n:
                row = w.current(txn, row)       # a cascade may have changed or deleted it
                if row is None:
                    continue
            if self.sets is None:
                w.delete(txn, row)
                new = row
            else:
                new = list(row)
                for i, f in self.sets:
                    new[i] = f(row, params)
                changed_id = w.rowid_pos is not None and new[w.rowid_pos] != row[w.rowid_pos]
                w.prepare_row(new, params, observe=changed_id)
                w.update(txn, row, new)
            count += 1
            if self.returning is not None:
                out.append(self.returning.row(new, params))
        if self.returning is not None:
            return Result(description=self.returning.description, rows=out,
                          rowcount=count)
        return Result(rowcount=count)

    def run_many(self, txn, param_sets):
        total = 0
        for params in param_sets:
            total += self.run(txn, params).rowcount
        return Result(rowcount=total)


class _Select:
    def __init__(self, txn, tree, db):
        self.plan = SelectPlan(txn, tree)

    def explain(self):
        return self.plan.explain()

    def run(self, txn, params):
        return Result(description=self.plan.description,
                      rows=self.plan.run(txn, params))


_PREPARED = {exp.Select: _Select, exp.Insert: _Insert, exp.Update: _Modify,
             exp.Delete: _Modify}


class WriteRunner:
    """The one-step form of a prepared INSERT, UPDATE or DELETE without RETURNING for
    the driver's fast path: run(txn, params) -> Result, or None (the normal path then
    runs it) unless the parameters are a tuple of plain values of the right count and
    `txn` sees the schema the statement was prepared under. The driver wraps it in a
    statement savepoint like any write."""

    __slots__ = ("description", "writes", "run")

    def __init__(self, prepared, executor, version):
        self.description, self.writes = None, True
        ready, execute = runner_check(executor, version, prepared.nparams), prepared.run

        def run(txn, params):
            return execute(txn, params) if ready(txn, params) else None
        self.run = run


class SqlExecutor:
    """One per connection (`SqlExecutor(connection)`)."""

    def __init__(self, connection=None):
        self._db = connection.kv if connection is not None else None
        self._size = getattr(connection, "cached_statements", 128)
        self._cache = OrderedDict()
        # The schema_version read by the current transaction's first statement: a
        # transaction reads a fixed snapshot, so only its own DDL can change the version
        # it sees; after DDL (which may also be undone by ROLLBACK TO) it is read again
        # for every statement of that transaction.
        self._ver_txn = _dead       # weakref to that transaction (none held alive)
        self._ver = None
        self._ver_dirty = False

    def _schema_version(self, txn):
        if txn is self._ver_txn():
            if not self._ver_dirty:
                return self._ver
            return catalog.schema_version(txn)
        version = catalog.schema_version(txn)
        self._ver_txn, self._ver, self._ver_dirty = weakref.ref(txn), version, False
        return version

    def _prepared(self, txn, sql):
        """(explain, prepared) for a cacheable statement, or (None, tree) for DDL."""
        version = self._schema_version(txn)
        cache = self._cache
        hit = cache.get(sql)
        if hit is not None and hit[0] == version:
            cache.move_to_end(sql)
            return hit[1], hit[2]
        parsed = parse(sql)
        tree = parsed.tree
        cls = _PREPARED.get(type(tree))
        if cls is None:
            if parsed.explain:
                raise NotSupportedError(f"EXPLAIN of {tree.key.upper()} statements is "
                                        "not supported")
            return None, tree
        with deep_stack():          # binding recurses once per level of the tree
            prepared = cls(txn, tree, self._db)
        if self._size > 0:
            cache[sql] = (version, parsed.explain, prepared)
            cache.move_to_end(sql)
            while len(cache) > self._size:
                cache.popitem(last=False)
        return parsed.explain, prepared

    def execute(self, txn, sql, params):
        explain, prepared = self._prepared(txn, sql)
        if explain is None:
            if txn is self._ver_txn():
                self._ver_dirty = True
            with deep_stack():
                return self._ddl(txn, prepared)
        if explain:
            return Result(description=_PLAN_DESC,
                          rows=[(line,) for line in prepared.explain()])
        return prepared.run(txn, params)

    def fast_path(self, sql):
        """The driver's optional protocol method: a one-step runner for `sql` when it
        is a cached point SELECT (select.PointRunner) or an INSERT, UPDATE or DELETE
        without RETURNING (WriteRunner), else None."""
        hit = self._cache.get(sql)
        if hit is None or hit[1]:
            return None
        version, _, prepared = hit
        runner = getattr(prepared, "runner", _dead)     # built once per prepared form
        if runner is _dead:
            if isinstance(prepared, _Select):
                runner = prepared.plan.point_runner(self, version)
            elif prepared.returning is None and prepared.nparams >= 0:
                runner = WriteRunner(prepared, self, version)
            else:
                runner = None
            prepared.runner = runner
        return runner

    def execute_many(self, txn, sql, param_sets):
        """execute() once per parameter set, preparing once (the driver's optional
        protocol method): one Result with the summed rowcount, or None for DDL (it may
        change the schema between sets) and statements with rows, which the driver
        then runs set by set with execute()."""
        explain, prepared = self._prepared(txn, sql)
        if explain is None or explain or isinstance(prepared, _Select) or \
                getattr(prepared, "returning", None) is not None:
            return None
        return prepared.run_many(txn, param_sets)

    def conflict_message(self, message):
        """The driver's optional protocol method: `message` (a ConflictError's, from
        the engine: "... conflict on key '<key, bytes as \\xNN>' (...) ...") with the
        raw key replaced by the table or index and key values it belongs to, e.g.
        "conflict on table users, id=5 (...)"; None when the key is not one of this
        layer's or the database is gone."""
        m = _CONFLICT_KEY.search(message)
        if m is None or self._db is None:
            return None
        raw = re.sub(r"\\x([0-9a-fA-F]{2})", lambda h: chr(int(h.group(1), 16)),
                     m.group(1)).encode("latin-1")
        try:
            with self._db.transaction("snapshot", read_only=True) as txn:
                words = catalog.describe_key(txn, raw)
        except (DatabaseError, InterfaceError):
            return None
        if words is None:
            return None
        return message[:m.start()] + "conflict on " + words + message[m.end():]

    def _ddl(self, txn, tree):
        kind = tree.args.get("kind")
        kind = kind.upper() if isinstance(kind, str) else ""     # (COPY: a bool)
        if isinstance(tree, exp.Create) and kind == "TABLE":
            ddl.create_table(txn, tree)
        elif isinstance(tree, exp.Create) and kind == "INDEX":
            ddl.create_index(txn, tree)
        elif isinstance(tree, exp.Drop) and kind == "TABLE":
            ddl.drop_table(txn, tree)
        elif isinstance(tree, exp.Drop) and kind == "INDEX":
            ddl.drop_index(txn, tree)
        elif isinstance(tree, exp.Alter) and kind == "TABLE":
            ddl.alter_table(txn, tree)
        else:
            what = f"{tree.key.upper()} {kind}".strip()
            raise NotSupportedError(f"statement not supported yet: {what}")
        return Result()
