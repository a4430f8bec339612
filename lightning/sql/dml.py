"""Row writes: INSERT, UPDATE and DELETE, keeping every index and unique key in step.

One responsibility: turn rows (lists aligned with `table.columns`) into KV writes and
enforce the constraints on the way: types (types.py coercion, DataError), NOT NULL,
CHECK, PRIMARY KEY and UNIQUE (IntegrityError naming the constraint and table). The
row value holds every column (pk included), so a row decodes from its value alone.
Which rows UPDATE/DELETE touch is decided by plan.py, as for SELECT.
"""

import datetime as _dt
import operator
import struct
from array import array

from sqlglot import exp

from ..errors import DataError, IntegrityError, NotSupportedError, ProgrammingError
from ..kv import MAX_KEY_SIZE, MAX_VALUE_SIZE
from . import catalog
from .catalog import fold, index_key, unique_key
from .keycodec import _desc_flags, key_encoder
from .expr import AGGREGATES, Scope, compile_expr, truth
from .rowcodec import decode_row, encode_row_ids
from .types import ALWAYS as _ALWAYS

try:
    from .._speedups import insert_row as _c_insert_row
except ImportError:                 # not built: every row goes through Python
    _c_insert_row = None

__all__ = ["TableWriter", "index_entry", "table_scope", "Inserter", "Param", "Returning",
           "Upsert", "conflicts"]


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


def index_entry(table, index, row, pos=None, pk_pos=None):
    """(key, value, indexed values) of `index`'s entry for `row` (`pos`, `pk_pos`: the
    row positions of the index's and the primary key's columns, when known)."""
    if pos is None:
        pos = _positions(table, index.column_ids)
    if pk_pos is None:
        pk_pos = _positions(table, table.primary_key)
    vals = [row[i] for i in pos]
    pk = [row[i] for i in pk_pos]
    if index.unique:
        return (unique_key(table.id, index.id, vals, pk, index.directions,
                           table.pk_directions),
                catalog.encode_key(pk, table.pk_directions), vals)
    return (index_key(table.id, index.id, vals, pk, index.directions, table.pk_directions),
            b"", vals)


def _insert_spec(w):
    """The spec of _speedups.insert_row for TableWriter `w` (see its comment)."""
    t = w.table
    kinds, los, his, maxlens = zip(*(c.type.c_storable for c in t.columns))

    def flags(directions, n):
        f = _desc_flags(directions, n)
        return None if f is None else tuple(bool(x) for x in f)
    indexes = tuple((ix, prefix, tuple(pos), flags(ix.directions, len(pos)), ix.unique)
                    for ix, pos, prefix, _ in w.index_keys)
    return (kinds, los, his, maxlens,
            tuple(bool(c.not_null) for c in t.columns), w.col_ids_t, w.row_prefix,
            tuple(w.pk_pos), flags(w.pk_dirs, len(w.pk_pos)), indexes)


def _size(v):
    """A value's size in words, for messages."""
    if isinstance(v, str):
        return f"text of {len(v)} characters"
    if isinstance(v, (bytes, bytearray)):
        return f"blob of {len(v)} bytes"
    return type(v).__name__


def _same_objects(a, b, positions):
    for i in positions:
        if a[i] is not b[i]:
            return False
    return True


def _fast(sql_type):
    f = sql_type.fast_check
    if f is None:
        return None
    if f[0] is int:
        lo, hi = sql_type.int_range
        return int, None, lo, hi
    return f[0], None if f[1] is _ALWAYS else f[1], None, None


def _getter(positions):
    """f(row) -> list of row[i] for i in positions (a list: key encoders take lists)."""
    if len(positions) == 1:
        p, = positions
        return lambda row: [row[p]]
    return lambda row: [row[i] for i in positions]


def _positions(table, ids):
    return [next(i for i, c in enumerate(table.columns) if c.id == cid) for cid in ids]


def _parse_expr(sql):
    from .parse import parse
    return parse("SELECT " + sql).tree.expressions[0]


def set_target(item):
    """The column name of one `column = value` item of SET (UPDATE, DO UPDATE);
    ProgrammingError for anything else (`SET b`, `SET b = 1, 2`)."""
    if not isinstance(item, exp.EQ) or not isinstance(item.this, exp.Column):
        what = item.sql(dialect="sqlite") if isinstance(item, exp.Expression) else item
        raise ProgrammingError(f"syntax error: SET needs column = value items, not {what!r}")
    return item.this.name


def _default_fn(column):
    """The compiled DEFAULT of `column` (f(row, params) -> value), or None. In a TEXT
    column a DEFAULT CURRENT_TIMESTAMP / CURRENT_DATE / CURRENT_TIME is stored as its
    ISO text ('YYYY-MM-DD HH:MM:SS'), as SQLite does."""
    if not column.default_sql:
        return None
    f = compile_expr(_parse_expr(column.default_sql), Scope())
    if column.type.family != "TEXT":
        return f

    def text_default(r, p):
        v = f(r, p)
        if isinstance(v, _dt.datetime):
            return v.isoformat(" ")
        if isinstance(v, (_dt.date, _dt.time)):
            return v.isoformat()
        return v
    return text_default


class TableWriter:
    """Compiled write-side knowledge of one table: defaults, checks, key positions."""

    def __init__(self, table, db, registry=None):
        from .fkeys import Registry
        self.table = table
        self.db = db
        self.registry = registry if registry is not None else Registry(db)
        self.registry.add(self)
        self._fks = None
        self.scope = table_scope(table)
        self.pk_pos = _positions(table, table.primary_key)
        self.defaults = [_default_fn(c) for c in table.columns]
        self.checks = [(ck, compile_expr(_parse_expr(ck.sql), self.scope))
                       for ck in table.checks]
        rc = table.rowid_column
        self.rowid_pos = table.columns.index(rc) if rc is not None else None
        self._insert_targets = {}
        self.col_ids_t = tuple(c.id for c in table.columns)
        # Precomputed for the per-row work: key prefixes and encoders, and per column a
        # fast type test that accepts the common already-right values without coerce().
        self.row_prefix = catalog.row_prefix(table.id)
        self.pk_dirs = table.pk_directions
        self.pk_values = _getter(self.pk_pos)
        self.pk_encode = key_encoder(self.pk_dirs)
        # per index: (index, row positions of its columns, key prefix, key encoder)
        self.index_keys = [(ix, _positions(table, ix.column_ids),
                            catalog.index_prefix(table.id, ix.id), key_encoder(ix.directions))
                           for ix in table.indexes]
        self.not_null = [i for i, c in enumerate(table.columns) if c.not_null]
        # per column: None, or (type, test or None, lo, hi) under which a value needs
        # no coerce(): of that exact type and passing the test / within lo..hi
        self.fast = [_fast(c.type) for c in table.columns]
        self.insert_spec = _insert_spec(self) if _c_insert_row is not None and \
            not table.checks else None

    def entry(self, k, row, pk_key):
        """(key, value, must be absent, indexed values) of the entry of index
        `self.index_keys[k]` for `row`, whose encoded primary key is `pk_key`: the
        bytes index_entry() makes, from the prefix and encoder prepared once."""
        ix, pos, prefix, encode = self.index_keys[k]
        vals = [row[i] for i in pos]
        key = prefix + encode(vals)
        if not ix.unique:
            return key + pk_key, b"", False, vals
        if None in vals:                # NULLs are distinct: the pk keeps keys apart
            return key + pk_key, pk_key, False, vals
        return key, pk_key, True, vals

    def insert_targets(self, column_names):
        """Row positions of INSERT's target `column_names` (None = every visible
        column), resolved once per list of names; ProgrammingError as insert_rows."""
        key = None if column_names is None else tuple(column_names)
        hit = self._insert_targets.get(key)
        if hit is not None:
            return hit
        t = self.table
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
        self._insert_targets[key] = targets
        return targets

    def fks(self, txn):
        """The ForeignKeys hooks of this table (bound on first use)."""
        if self._fks is None:
            from .fkeys import ForeignKeys
            self._fks = ForeignKeys(self, txn)
        return self._fks

    def current(self, txn, row):
        """The stored version of the row with `row`'s primary key, or None."""
        raw = txn.get(self.row_key(row))
        return None if raw is None else decode_row(raw, self.table.columns)

    def row_key(self, row):
        return self.row_prefix + self.pk_encode([row[i] for i in self.pk_pos])

    def default(self, i, params):
        f = self.defaults[i]
        return None if f is None else f((), params)

    def prepare_row(self, row, params, observe=True):
        """Coerce and check `row` in place (types, NOT NULL, CHECK); assigns an
        auto-increment id when the rowid column is NULL. Returns the row."""
        t = self.table
        fast = self.fast
        for i, v in enumerate(row):
            if v is None:
                continue
            f = fast[i]
            if f is not None and type(v) is f[0]:
                lo = f[2]
                if lo is None:
                    if f[1] is None or f[1](v):
                        continue
                elif lo <= v <= f[3]:
                    continue
            c = t.columns[i]
            row[i] = c.type.coerce(v, c.name)
        if self.rowid_pos is not None:
            v = row[self.rowid_pos]
            if v is None:
                row[self.rowid_pos] = catalog.allocate_rowids(self.db, t.id, 1)[0]
            elif observe:
                catalog.observe_rowid(self.db, t.id, v)
        for i in self.not_null:
            if row[i] is None:
                raise IntegrityError(f"NOT NULL constraint failed: {t.name}."
                                     f"{t.columns[i].name}")
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
                             f"({cols}): duplicate value {tuple(self.pk_values(row))!r}")

    def _dup_index(self, index, vals):
        t = self.table
        cols = ", ".join(t.column_by_id(cid).name for cid in index.column_ids)
        raise IntegrityError(f"UNIQUE constraint failed: index {index.name} on table "
                             f"{t.name} ({cols}): duplicate value {tuple(vals)!r}")

    def too_long(self, k, row, key_bytes, value_bytes=0):
        """Raise the DataError of an entry over the engine's size limits: the row
        (k = 0) or the entry of index k - 1 for `row`, whose key is `key_bytes` long
        (None: the key fits and the row's value of `value_bytes` does not)."""
        t = self.table
        if key_bytes is None:
            raise DataError(f"row too large for table {t.name}: {value_bytes} bytes "
                            f"encoded; the limit is {MAX_VALUE_SIZE} bytes")
        if k == 0:
            what, pos = f"the PRIMARY KEY of table {t.name}", self.pk_pos
        else:
            ix, pos, _, _ = self.index_keys[k - 1]
            what = f"index {ix.name} on table {t.name}"
        cols = ", ".join(f"{t.columns[i].name} ({_size(row[i])})" for i in pos)
        raise DataError(f"key too long for {what}: column{'s' if len(pos) > 1 else ''} "
                        f"{cols}; the encoded key is {key_bytes} bytes and the limit is "
                        f"{MAX_KEY_SIZE} bytes")

    def insert(self, txn, row):
        pending = _Pending()
        self.insert_items(row, pending)
        pending.flush(self, txn)
        fks = self._fks if self._fks is not None else self.fks(txn)
        if fks.outgoing:
            fks.check_parents(txn, row)

    def insert_items(self, row, pending):
        """Add the KV writes of inserting `row` (prepared) to `pending`: the row (its
        key must be absent) and its index entries (a unique entry without NULLs must
        be absent). Foreign keys are the caller's (check_parents after the flush)."""
        pending.rows.append(row)
        pk_key = self.pk_encode(self.pk_values(row))
        pending.add(self.row_prefix + pk_key, encode_row_ids(self.col_ids_t, row), True, 0)
        for k in range(len(self.index_keys)):
            key, value, absent, _ = self.entry(k, row, pk_key)
            pending.add(key, value, absent, k + 1)

    def delete(self, txn, row):
        pk_key = self.pk_encode(self.pk_values(row))
        for k in range(len(self.index_keys)):
            txn.delete(self.entry(k, row, pk_key)[0])
        txn.delete(self.row_prefix + pk_key)
        self.fks(txn).parent_deleted(txn, row, self.registry)

    def update(self, txn, old, new):
        """Replace row `old` by `new` (already prepared)."""
        old_pk = self.pk_encode(self.pk_values(old))
        if _same_objects(old, new, self.pk_pos):
            new_pk, pk_moved = old_pk, False
        else:
            new_pk = self.pk_encode(self.pk_values(new))
            pk_moved = old_pk != new_pk
        old_key, new_key = self.row_prefix + old_pk, self.row_prefix + new_pk
        if pk_moved and len(new_key) > MAX_KEY_SIZE:
            self.too_long(0, new, len(new_key))
        if pk_moved and txn.get(new_key) is not None:
            self._dup_pk(new)
        for k, (index, pos, _, _) in enumerate(self.index_keys):
            if not pk_moved and _same_objects(old, new, pos):
                continue                # same objects: same key, nothing to rewrite
            okey = self.entry(k, old, old_pk)[0]
            nkey, nval, absent, vals = self.entry(k, new, new_pk)
            if okey == nkey and not pk_moved:
                continue
            if len(nkey) > MAX_KEY_SIZE:
                self.too_long(k + 1, new, len(nkey))
            txn.delete(okey)
            if absent and txn.get(nkey) is not None:
                self._dup_index(index, vals)
            txn.put(nkey, nval)
        if pk_moved:
            txn.delete(old_key)
        txn.put(new_key, encode_row_ids(self.col_ids_t, new))
        fks = self._fks if self._fks is not None else self.fks(txn)
        if fks.incoming:
            fks.parent_updated(txn, old, new, self.registry)
        if fks.outgoing:
            fks.check_parents(txn, new, old)


class _Pending:
    """KV writes of inserts, packed for one Transaction.put_packed call: `bufs` =
    (keys, klens, values, vlens, absent, entry_row, entry_index), bytearrays (see
    _speedups.insert_row, which appends to them as add() does), and `rows`, the rows
    the entries belong to (for the error message of a duplicate)."""

    __slots__ = ("bufs", "rows")

    def __init__(self):
        self.bufs = tuple(bytearray() for _ in range(7))
        self.rows = []

    def __len__(self):
        return len(self.bufs[4])

    def add(self, key, value, absent, index_no):
        """One entry of the last row in `rows` (index_no 0: the row, k: index k-1)."""
        keys, klens, vals, vlens, ab, erow, eix = self.bufs
        keys += key
        klens += _U32.pack(len(key))
        vals += value
        vlens += _U32.pack(len(value))
        ab.append(1 if absent else 0)
        erow += _U32.pack(len(self.rows) - 1)
        eix += _U32.pack(index_no)

    def flush(self, writer, txn):
        """Write everything; IntegrityError for the first key that already exists.
        The entries are dropped even when the write raises (e.g. OperationalError at
        the transaction's write limit), so a second flush does not write them again
        and the first error is the one reported."""
        keys, klens, vals, vlens, ab, erow, eix = self.bufs
        if not ab:
            return
        try:
            try:
                i = txn.put_packed(keys, klens, vals, vlens, ab)
            except DataError:               # a key or value over the engine's limit
                self._too_long(writer)
                raise
            if i is not None:
                row = self.rows[_U32.unpack_from(erow, 4 * i)[0]]
                k = _U32.unpack_from(eix, 4 * i)[0]
        finally:
            for b in self.bufs:
                del b[:]
            self.rows.clear()
        if i is not None:
            if k == 0:
                writer._dup_pk(row)
            index, pos, _, _ = writer.index_keys[k - 1]
            writer._dup_index(index, [row[p] for p in pos])


    def _too_long(self, writer):
        """Raise the DataError naming the table and columns of the first entry whose
        key or value is over the engine's limit (none found: return)."""
        keys, klens, vals, vlens, ab, erow, eix = self.bufs
        kl, vl = array("I", bytes(klens)), array("I", bytes(vlens))
        for j, (k, v) in enumerate(zip(kl, vl)):
            if k > MAX_KEY_SIZE or v > MAX_VALUE_SIZE:
                row = self.rows[_U32.unpack_from(erow, 4 * j)[0]]
                writer.too_long(_U32.unpack_from(eix, 4 * j)[0], row,
                                k if k > MAX_KEY_SIZE else None, v)


class Returning:
    """A compiled RETURNING list over rows of `table`: `description`, `row(r, params)`."""

    def __init__(self, table, node):
        from sqlglot import exp
        from .expr import literal_type
        scope = table_scope(table)
        items = []
        for e in node.expressions:
            if isinstance(e, exp.Star) or (isinstance(e, exp.Column)
                                           and isinstance(e.this, exp.Star)):
                items += [(c.name, exp.column(c.name)) for c in table.visible_columns]
            elif isinstance(e, exp.Alias):
                items.append((e.alias, e.this))
            else:
                items.append((e.name if isinstance(e, exp.Column)
                              else e.sql(dialect="sqlite"), e))
        for _, n in items:
            for sub in n.walk():
                if isinstance(sub, AGGREGATES):
                    raise ProgrammingError("aggregate functions are not allowed in "
                                           "RETURNING")
        self.proj = [compile_expr(n, scope) for _, n in items]
        rc = table.rowid_column
        self.description = []
        for name, n in items:
            code = literal_type(n)
            if isinstance(n, exp.Column):
                c = table.column(n.name)
                if c is not None:
                    code = "ROWID" if rc is not None and rc is c else c.type.family
            self.description.append((name, code))
        self.description = tuple((name, code, None, None, None, None, None)
                                 for name, code in self.description)

    def row(self, r, params):
        return tuple(f(r, params) for f in self.proj)


EXCLUDED = "excluded"


class Upsert:
    """ON CONFLICT [(cols)] DO NOTHING | DO UPDATE SET ... [WHERE ...] of an INSERT into
    `table`. SET and WHERE see the existing row's columns (plain or qualified by the
    table name) and the proposed row as `excluded.col`."""

    def __init__(self, table, node):
        from sqlglot import exp
        self.table = table
        keys = node.args.get("conflict_keys") or []
        self.target = None
        if keys:
            ids = []
            for k in keys:
                k = k.this if isinstance(k, exp.Ordered) else k
                c = table.column(k.name) if isinstance(k, (exp.Column, exp.Identifier)) \
                    else None
                if c is None:
                    raise ProgrammingError(f"ON CONFLICT: no such column: "
                                           f"{k.sql(dialect='sqlite')}")
                ids.append(c.id)
            if set(ids) == set(table.primary_key) and len(ids) == len(table.primary_key):
                self.target = ("pk", None)
            else:
                for ix in table.indexes:
                    if ix.unique and set(ix.column_ids) == set(ids) and \
                            len(ids) == len(ix.column_ids):
                        self.target = ("index", ix)
                        break
                else:
                    raise ProgrammingError("ON CONFLICT clause does not match any PRIMARY "
                                           f"KEY or UNIQUE constraint of table {table.name}")
        if node.args.get("constraint"):
            raise NotSupportedError("ON CONFLICT ON CONSTRAINT is not supported")
        action = " ".join(str(node.args.get("action") or "").upper().split())
        if node.args.get("duplicate"):
            raise NotSupportedError("ON DUPLICATE KEY is not supported")
        n = len(table.columns)
        scope = table_scope(table)
        for i, c in enumerate(table.columns):
            key = fold(EXCLUDED + "\x00" + c.name)
            if not c.hidden or key not in scope.columns:
                scope.columns[key] = n + i

        def rewrite(e):
            def swap(node):
                if isinstance(node, exp.Column) and node.table and \
                        fold(node.table) == EXCLUDED:
                    return exp.column(EXCLUDED + "\x00" + node.name)
                return node
            return e.copy().transform(swap)
        self.sets, self.where = [], None
        if action == "DO NOTHING":
            self.update = False
        elif action == "DO UPDATE":
            self.update = True
            for eq in node.expressions:
                col = table.column(set_target(eq))
                if col is None:
                    raise ProgrammingError(f"no such column: {eq.this.name}")
                self.sets.append((table.columns.index(col),
                                  compile_expr(rewrite(eq.expression), scope)))
            w = node.args.get("where")
            if w is not None:
                self.where = compile_expr(rewrite(w.this if isinstance(w, exp.Where)
                                                  else w), scope)
        else:
            raise NotSupportedError(f"ON CONFLICT {action} is not supported")

    def existing(self, writer, txn, row):
        """The stored row the proposed `row` conflicts with on the target (or on any
        PRIMARY KEY / UNIQUE constraint without a target), or None."""
        return next(conflicts(writer, txn, row, self.target), None)


def conflicts(writer, txn, row, target=None):
    """The stored rows the proposed `row` conflicts with, each once: on its PRIMARY
    KEY, then on each UNIQUE index without NULLs in `row` (or only on `target`,
    ("pk", None) or ("index", index)). A key too long to be stored has no row."""
    t = writer.table
    if target:
        ks = [None] if target[0] == "pk" else \
            [k for k, e in enumerate(writer.index_keys) if e[0] is target[1]]
    else:
        ks = [None] + [k for k, e in enumerate(writer.index_keys) if e[0].unique]
    pk_key = writer.pk_encode(writer.pk_values(row))
    seen = set()
    for k in ks:
        if k is None:
            key = writer.row_prefix + pk_key
        else:
            ikey, _, absent, _ = writer.entry(k, row, pk_key)
            if not absent or len(ikey) > MAX_KEY_SIZE:
                continue                # a NULL in the values, or no such key: none
            stored_pk = txn.get(ikey)
            if stored_pk is None:
                continue
            key = writer.row_prefix + stored_pk
        if key in seen or len(key) > MAX_KEY_SIZE:
            continue
        raw = txn.get(key)
        if raw is not None:
            seen.add(key)
            yield decode_row(raw, t.columns)


_BATCH = 1024         # KV writes per put_packed call in executemany() inserts
_U32 = struct.Struct("=I")


class Param:
    """A VALUES item that is a bare placeholder: the row takes `params[key]`."""
    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key


class Inserter:
    """A compiled INSERT into one table. Rows come from `value_rows` (lists of VALUES
    items for `column_names` (None = every visible column), each a compiled
    expression, a `Param`, or None for DEFAULT) or from `select` (a prepared
    select.SelectPlan whose rows are read in full before the first insert, so an
    INSERT ... SELECT from the same table never sees its own rows). `mode`: None
    (abort on a constraint violation), "ignore" (skip the row that violates NOT NULL,
    CHECK, PRIMARY KEY or UNIQUE, as SQLite's INSERT OR IGNORE) or "replace" (delete
    the stored rows a PRIMARY KEY or UNIQUE conflict names, then insert: INSERT OR
    REPLACE). `run(txn, params)` returns (rowcount, lastrowid, returned rows):
    rowcount counts rows inserted or updated by DO UPDATE."""

    def __init__(self, writer, column_names, value_rows, default_values=False,
                 upsert=None, returning=None, select=None, mode=None):
        t = writer.table
        targets = writer.insert_targets(column_names)
        self.writer, self.upsert, self.returning = writer, upsert, returning
        self.select, self.mode = select, mode
        self.ncols = len(t.columns)
        self.builders = []
        if select is not None:
            if len(select.description) != len(targets):
                raise ProgrammingError(f"table {t.name} has {len(targets)} target columns "
                                       f"but the SELECT returns {len(select.description)}")
            self.targets = targets
            self.select_defaults = [(i, f) for i, f in enumerate(writer.defaults)
                                    if i not in set(targets) and f is not None]
            return
        for items in ([[]] if default_values else value_rows):
            if not default_values and len(items) != len(targets):
                raise ProgrammingError(f"table {t.name} has {len(targets)} target columns "
                                       f"but {len(items)} values were supplied")
            given = {i for i, e in zip(targets, items) if e is not None}
            pslots = [(i, e.key) for i, e in zip(targets, items) if type(e) is Param]
            eslots = [(i, e) for i, e in zip(targets, items) if e is not None
                      and type(e) is not Param]
            dslots = [(i, f) for i, f in enumerate(writer.defaults)
                      if i not in given and f is not None]
            # every column from a parameter: the row is the parameters, reordered
            whole = None
            if not eslots and not dslots and sorted(i for i, _ in pslots) == \
                    list(range(self.ncols)):
                keys = [k for _, k in sorted(pslots)]
                whole = operator.itemgetter(*keys) if len(keys) > 1 else \
                    (lambda p, k=keys[0]: (p[k],))
            self.builders.append((pslots, eslots, dslots, whole))

    def _rows(self, txn, params):
        """The new rows (lists aligned with the table's columns), before checks."""
        n = self.ncols
        if self.select is not None:
            targets, dslots = self.targets, self.select_defaults
            for vals in list(self.select.run(txn, params)):
                row = [None] * n
                for i, v in zip(targets, vals):
                    row[i] = v
                for i, f in dslots:
                    row[i] = f((), params)
                yield row
            return
        for builder in self.builders:
            yield self._build(builder, params)

    def _build(self, builder, params):
        """The new row of one VALUES row (a list aligned with the table's columns)."""
        pslots, eslots, dslots, whole = builder
        if whole is not None:
            return list(whole(params))
        row = [None] * self.ncols
        for i, k in pslots:
            row[i] = params[k]
        for i, e in eslots:
            row[i] = e((), params)
        for i, f in dslots:
            row[i] = f((), params)
        return row

    def run(self, txn, params):
        w, upsert, returning, mode = self.writer, self.upsert, self.returning, self.mode
        count, last, out = 0, None, []
        for row in self._rows(txn, params):
            if mode == "ignore":
                try:
                    w.prepare_row(row, params)
                except IntegrityError:              # NOT NULL or CHECK: skip the row
                    continue
                if next(conflicts(w, txn, row), None) is not None:
                    continue
            else:
                w.prepare_row(row, params)
            if mode == "replace":
                for cur in list(conflicts(w, txn, row)):
                    cur = w.current(txn, cur)       # a cascade may have changed it
                    if cur is not None:
                        w.delete(txn, cur)
            cur = upsert.existing(w, txn, row) if upsert is not None else None
            if cur is not None:
                if not upsert.update:
                    continue
                both = list(cur) + list(row)
                if upsert.where is not None and not truth(upsert.where(both, params)):
                    continue
                new = list(cur)
                for i, f in upsert.sets:
                    new[i] = f(both, params)
                changed_id = w.rowid_pos is not None and \
                    new[w.rowid_pos] != cur[w.rowid_pos]
                w.prepare_row(new, params, observe=changed_id)
                w.update(txn, cur, new)
                row = new
            else:
                w.insert(txn, row)
                if w.rowid_pos is not None:
                    last = row[w.rowid_pos]
            count += 1
            if returning is not None:
                out.append(returning.row(row, params))
        return count, last, out

    def run_many(self, txn, param_sets):
        """run() once per parameter set: (total rowcount, last rowid)."""
        total, last = 0, None
        w = self.writer
        if self.upsert is None and self.returning is None and len(self.builders) == 1 \
                and self.mode is None and self.select is None and not w.fks(txn).outgoing:
            # The KV writes of many rows go to the engine in one call per _BATCH rows.
            # A row that fails its checks first flushes the rows before it, so the
            # error reported is the first one in row order, as row by row.
            builder, = self.builders
            rowid_pos, build = w.rowid_pos, self._build
            prepare, items = w.prepare_row, w.insert_items
            # Rows whose values are all storable as they are go through one C call
            # (checks + keys + value: _speedups.insert_row); explicit rowids of those
            # rows are observed (catalog.observe_rowid) before any id is allocated
            # and before each flush, as prepare_row would have done row by row.
            spec, c_insert = w.insert_spec, _c_insert_row
            db, tid = w.db, w.table.id
            top = None                      # highest explicit rowid not yet observed
            pending = _Pending()
            bufs, prows, pabsent = pending.bufs, pending.rows, pending.bufs[4]
            try:
                for params in param_sets:
                    row = build(builder, params)
                    if spec is not None:
                        rid = None
                        if rowid_pos is not None:
                            rid = row[rowid_pos]
                            if rid is None:
                                if top is not None:
                                    catalog.observe_rowid(db, tid, top)
                                    top = None
                                row[rowid_pos] = catalog.allocate_rowids(db, tid, 1)[0]
                        if c_insert(spec, row, bufs, len(prows)):
                            prows.append(row)
                            if rid is not None and (top is None or rid > top):
                                top = rid
                        else:
                            if top is not None:
                                catalog.observe_rowid(db, tid, top)
                                top = None
                            prepare(row, params)
                            items(row, pending)
                    else:
                        prepare(row, params)
                        items(row, pending)
                    if rowid_pos is not None:
                        last = row[rowid_pos]
                    total += 1
                    if len(pabsent) >= _BATCH:
                        if top is not None:
                            catalog.observe_rowid(db, tid, top)
                            top = None
                        pending.flush(w, txn)
            except Exception:
                pending.flush(w, txn)       # an earlier row's duplicate comes first
                raise
            if top is not None:
                catalog.observe_rowid(db, tid, top)
            pending.flush(w, txn)
            return total, last
        for params in param_sets:
            n, lr, _ = self.run(txn, params)
            total += n
            if lr is not None:
                last = lr
        return total, last
