"""Row writes: INSERT, UPDATE and DELETE, keeping every index and unique key in step.

One responsibility: turn rows (lists aligned with `table.columns`) into KV writes and
enforce the constraints on the way: types (types.py coercion, DataError), NOT NULL,
CHECK, PRIMARY KEY and UNIQUE (IntegrityError naming the constraint and table). The
row value holds every column (pk included), so a row decodes from its value alone.
Which rows UPDATE/DELETE touch is decided by plan.py, as for SELECT.
"""

from ..errors import IntegrityError, NotSupportedError, ProgrammingError
from . import catalog
from .catalog import fold, index_key, row_key, unique_key
from .expr import Scope, compile_expr, truth
from .rowcodec import encode_row

__all__ = ["TableWriter", "index_entry", "table_scope"]


def table_scope(table):
    """The Scope binding `table`'s column names to row positions (a declared column
    wins over the hidden rowid)."""
    cols = {}
    for i, c in enumerate(table.columns):
        if c.hidden:
            cols.setdefault(fold(c.name), i)
    for i, c in enumerate(table.columns):
        if not c.hidden:
            cols[fold(c.name)] = i
    return Scope(table.name, cols)


def index_entry(table, index, row):
    """(key, value, indexed values) of `index`'s entry for `row`."""
    pos = _positions(table, index.column_ids)
    vals = [row[i] for i in pos]
    pk = [row[i] for i in _positions(table, table.primary_key)]
    if index.unique:
        return (unique_key(table.id, index.id, vals, pk, index.directions,
                           table.pk_directions),
                catalog.encode_key(pk, table.pk_directions), vals)
    return (index_key(table.id, index.id, vals, pk, index.directions, table.pk_directions),
            b"", vals)


def _positions(table, ids):
    return [next(i for i, c in enumerate(table.columns) if c.id == cid) for cid in ids]


def _parse_expr(sql):
    from .parse import parse
    return parse("SELECT " + sql).tree.expressions[0]


class TableWriter:
    """Compiled write-side knowledge of one table: defaults, checks, key positions."""

    def __init__(self, table, db):
        self.table = table
        self.db = db
        self.scope = table_scope(table)
        self.pk_pos = _positions(table, table.primary_key)
        self.defaults = [compile_expr(_parse_expr(c.default_sql), Scope())
                         if c.default_sql else None for c in table.columns]
        self.checks = [(ck, compile_expr(_parse_expr(ck.sql), self.scope))
                       for ck in table.checks]
        rc = table.rowid_column
        self.rowid_pos = table.columns.index(rc) if rc is not None else None

    def pk(self, row):
        return [row[i] for i in self.pk_pos]

    def row_key(self, row):
        return row_key(self.table.id, self.pk(row), self.table.pk_directions)

    def default(self, i, params):
        f = self.defaults[i]
        return None if f is None else f((), params)

    def prepare_row(self, row, params, observe=True):
        """Coerce and check `row` in place (types, NOT NULL, CHECK); assigns an
        auto-increment id when the rowid column is NULL. Returns the row."""
        t = self.table
        for i, c in enumerate(t.columns):
            v = row[i]
            if v is not None:
                if c.type.family == "TEXT" and not isinstance(v, str) and \
                        hasattr(v, "isoformat") and self.defaults[i] is not None:
                    v = v.isoformat(" ")            # DEFAULT CURRENT_TIMESTAMP in TEXT
                row[i] = c.type.coerce(v, c.name)
        if self.rowid_pos is not None:
            v = row[self.rowid_pos]
            if v is None:
                row[self.rowid_pos] = catalog.allocate_rowids(self.db, t.id, 1)[0]
            elif observe:
                catalog.observe_rowid(self.db, t.id, v)
        for i, c in enumerate(t.columns):
            if c.not_null and row[i] is None:
                raise IntegrityError(f"NOT NULL constraint failed: {t.name}.{c.name}")
        for ck, f in self.checks:
            v = f(row, ())
            if v is not None and not truth(v):
                label = ck.name or ck.sql
                raise IntegrityError(f"CHECK constraint failed: {label} (table {t.name})")
        return row

    def _dup_pk(self, row):
        t = self.table
        cols = ", ".join(t.columns[i].name for i in self.pk_pos)
        raise IntegrityError(f"UNIQUE constraint failed: PRIMARY KEY of table {t.name} "
                             f"({cols}): duplicate value {tuple(self.pk(row))!r}")

    def _dup_index(self, index, vals):
        t = self.table
        cols = ", ".join(t.column_by_id(cid).name for cid in index.column_ids)
        raise IntegrityError(f"UNIQUE constraint failed: index {index.name} on table "
                             f"{t.name} ({cols}): duplicate value {tuple(vals)!r}")

    def insert(self, txn, row):
        key = self.row_key(row)
        if txn.get(key) is not None:
            self._dup_pk(row)
        for index in self.table.indexes:
            ikey, ival, vals = index_entry(self.table, index, row)
            if index.unique and None not in vals and txn.get(ikey) is not None:
                self._dup_index(index, vals)
            txn.put(ikey, ival)
        txn.put(key, encode_row({c.id: row[i] for i, c in enumerate(self.table.columns)}))

    def delete(self, txn, row):
        for index in self.table.indexes:
            txn.delete(index_entry(self.table, index, row)[0])
        txn.delete(self.row_key(row))

    def update(self, txn, old, new):
        """Replace row `old` by `new` (already prepared); True when anything changed."""
        t = self.table
        old_key, new_key = self.row_key(old), self.row_key(new)
        pk_moved = old_key != new_key
        if pk_moved and txn.get(new_key) is not None:
            self._dup_pk(new)
        for index in t.indexes:
            okey, _, _ = index_entry(t, index, old)
            nkey, nval, vals = index_entry(t, index, new)
            if okey == nkey and not pk_moved:
                continue
            txn.delete(okey)
            if index.unique and None not in vals and txn.get(nkey) is not None:
                self._dup_index(index, vals)
            txn.put(nkey, nval)
        if pk_moved:
            txn.delete(old_key)
        txn.put(new_key, encode_row({c.id: new[i] for i, c in enumerate(t.columns)}))


def insert_rows(writer, txn, column_names, value_rows, params, default_values=False):
    """INSERT: `value_rows` are lists of compiled expressions (or None for DEFAULT) for
    `column_names` (None = every visible column). Returns (rowcount, lastrowid)."""
    t = writer.table
    if column_names is None:
        targets = [i for i, c in enumerate(t.columns) if not c.hidden]
    else:
        targets, seen = [], set()
        for n in column_names:
            c = t.column(n)
            if c is None:
                raise ProgrammingError(f"table {t.name} has no column named {n}")
            i = t.columns.index(c)
            if i in seen:
                raise ProgrammingError(f"column {n} given twice in INSERT")
            seen.add(i)
            targets.append(i)
    count, last = 0, None
    for exprs in ([[]] if default_values else value_rows):
        if not default_values and len(exprs) != len(targets):
            raise ProgrammingError(f"table {t.name} has {len(targets)} target columns but "
                                   f"{len(exprs)} values were supplied")
        row = [None] * len(t.columns)
        given = set()
        for i, e in zip(targets, exprs):
            if e is not None:
                row[i] = e((), params)
                given.add(i)
        for i in range(len(t.columns)):
            if i not in given:
                row[i] = writer.default(i, params)
        writer.prepare_row(row, params)
        writer.insert(txn, row)
        count += 1
        if writer.rowid_pos is not None:
            last = row[writer.rowid_pos]
    return count, last
