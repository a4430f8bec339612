"""Foreign keys: validating REFERENCES at CREATE TABLE and enforcing them on writes.

One responsibility: referential integrity. Foreign keys are always enforced (SQLite
needs `PRAGMA foreign_keys=ON`; Lightning has no switch). The schema side
(`catalog.ForeignKey`: child column ids, parent table and column names, actions) is
the catalog's; dml.TableWriter calls `ForeignKeys` hooks after each row write:

  * child side (insert, or update changing the key columns): every foreign key whose
    columns are all non-NULL must find a parent row with equal referenced values
    (a point lookup: the referenced columns are the parent's primary key or a unique
    index, checked at CREATE TABLE; if such an index was dropped since, a scan);
  * parent side (delete, or update changing referenced values): the children with the
    old values get the action: RESTRICT / NO ACTION -> IntegrityError (both checked
    immediately, at the row; NO ACTION is not deferred to the statement end),
    CASCADE (delete the children / give them the new values, recursively),
    SET NULL, SET DEFAULT.
    Children are found through the child's primary key or an index whose leading
    columns are the foreign key columns when there is one, else by scanning the
    child table.

The checks run after the row is written, so a row may reference itself.
"""

from ..errors import DataError, IntegrityError, ProgrammingError
from ..kv import MAX_KEY_SIZE
from . import catalog
from .catalog import fold, row_key, row_prefix, index_prefix, unique_key
from .expr import compare
from .rowcodec import decode_row

__all__ = ["ForeignKeys", "Registry", "validate_new_table", "check_drop_table",
           "parent_pk_names"]


def parent_pk_names(txn, child_name, child_columns, child_pk, fk):
    """Names of the parent's primary key columns (REFERENCES parent without columns)."""
    if fold(fk["ref_table"]) == fold(child_name):
        if not child_pk:
            raise ProgrammingError(f"foreign key {fk['name']}: table {child_name} has no "
                                   "declared PRIMARY KEY to reference")
        return list(child_pk)
    parent = catalog.load_table(txn, fk["ref_table"])
    return [c.name for c in parent.pk_columns]


def _key_target(parent, ref_ids):
    """('pk', None) or ('index', Index) whose columns are exactly `ref_ids` (as a set),
    or None."""
    if set(ref_ids) == set(parent.primary_key) and len(ref_ids) == len(parent.primary_key):
        return ("pk", None)
    for ix in parent.indexes:
        if ix.unique and set(ix.column_ids) == set(ref_ids) and \
                len(ix.column_ids) == len(ref_ids):
            return ("index", ix)
    return None


def validate_new_table(txn, table):
    """ProgrammingError unless every foreign key of the new `table` references an
    existing table (or itself) on its primary key or a unique constraint."""
    for fk in table.foreign_keys:
        if fold(fk.ref_table) == fold(table.name):
            parent = table
        else:
            parent = catalog.find_table(txn, fk.ref_table)
            if parent is None:
                raise ProgrammingError(f"foreign key {fk.name}: no such table: "
                                       f"{fk.ref_table}")
        ids = parent._ids(fk.ref_columns, f"foreign key {fk.name}")
        if _key_target(parent, ids) is None:
            raise ProgrammingError(
                f"foreign key {fk.name}: the referenced columns {parent.name}"
                f"({', '.join(fk.ref_columns)}) are not the PRIMARY KEY or a UNIQUE "
                "constraint of that table")


def check_drop_table(txn, name):
    """IntegrityError when another table has a foreign key referencing table `name`."""
    for other in catalog._referencing(txn, name):
        if fold(other.name) != fold(name):
            fk = next(f for f in other.foreign_keys if fold(f.ref_table) == fold(name))
            raise IntegrityError(f"cannot drop table {name}: foreign key {fk.name} of "
                                 f"table {other.name} references it (drop {other.name} "
                                 "first)")


def _positions(table, ids):
    return [next(i for i, c in enumerate(table.columns) if c.id == cid) for cid in ids]


def _coerce(cols, vals):
    """`vals` coerced to the types of `cols`, or None when one cannot be."""
    try:
        return [c.type.coerce(v, c.name) for c, v in zip(cols, vals)]
    except (DataError, TypeError, ValueError):
        return None


def _describe(fk, child, parent):
    cols = ", ".join(child.column_by_id(i).name for i in fk.column_ids)
    return (f"{fk.name} (table {child.name} ({cols}) references {parent.name}"
            f"({', '.join(fk.ref_columns)}))")


def _rows_by_key(txn, table, ids, vals):
    """The rows of `table` whose columns `ids` equal `vals` (no NULLs): a point or
    prefix lookup on the primary key or an index led by those columns, else a scan.
    A key or prefix longer than MAX_KEY_SIZE names no stored entry: no rows."""
    k = len(ids)
    get, scan = txn.get, txn.scan

    def txn_get(key):
        return None if len(key) > MAX_KEY_SIZE else get(key)

    def txn_scan(prefix):
        return [] if len(prefix) > MAX_KEY_SIZE else list(scan(prefix=prefix))

    want = dict(zip(ids, vals))
    if set(table.primary_key[:k]) == set(ids):
        pkvals = [want[i] for i in table.primary_key[:k]]
        if k == len(table.primary_key):
            raw = txn_get(row_key(table.id, pkvals, table.pk_directions))
            return [] if raw is None else [decode_row(raw, table.columns)]
        prefix = row_prefix(table.id) + catalog.encode_key(
            pkvals, table.pk_directions[:k])
        return [decode_row(v, table.columns) for _, v in txn_scan(prefix)]
    for ix in table.indexes:
        if set(ix.column_ids[:k]) == set(ids):
            ivals = [want[i] for i in ix.column_ids[:k]]
            if ix.unique and k == len(ix.column_ids):
                pkraw = txn_get(unique_key(table.id, ix.id, ivals, None, ix.directions))
                pks = [] if pkraw is None else [catalog.keycodec.decode_key(
                    pkraw, len(table.primary_key), table.pk_directions)[0]]
            else:
                pks = [catalog.decode_index_key(key, table, ix, value)[1] for key, value
                       in txn_scan(index_prefix(table.id, ix.id, ivals,
                                                ix.directions))]
            out = []
            for pk in pks:
                raw = txn_get(row_key(table.id, pk, table.pk_directions))
                if raw is not None:
                    out.append(decode_row(raw, table.columns))
            return out
    pos = _positions(table, ids)
    out = []
    for _, v in list(txn.scan(prefix=row_prefix(table.id))):
        row = decode_row(v, table.columns)
        if all(row[p] is not None and compare(row[p], x) == 0 for p, x in zip(pos, vals)):
            out.append(row)
    return out


class Registry:
    """The TableWriters of one prepared statement, by table: cascades reuse them."""

    def __init__(self, db):
        self.db = db
        self.writers = {}

    def add(self, writer):
        self.writers.setdefault(fold(writer.table.name), writer)

    def writer(self, txn, name):
        from .dml import TableWriter
        w = self.writers.get(fold(name))
        if w is None:
            w = TableWriter(catalog.load_table(txn, name), self.db, registry=self)
        return w


class ForeignKeys:
    """The foreign keys touching one table (as child: `outgoing`; as parent:
    `incoming`), bound at first use in a transaction (the schema is fixed for the
    prepared statement's schema_version)."""

    def __init__(self, writer, txn):
        t = writer.table
        self.writer = writer
        self.outgoing = []          # (fk, parent table, child positions, parent cols)
        for fk in t.foreign_keys:
            parent = t if fold(fk.ref_table) == fold(t.name) else \
                catalog.load_table(txn, fk.ref_table)
            pcols = [parent.column(n) for n in fk.ref_columns]
            self.outgoing.append((fk, parent, _positions(t, fk.column_ids), pcols))
        self.incoming = []          # (fk, child table, parent positions, child positions)
        for child in catalog._referencing(txn, t.name):
            if child.id == t.id:
                child = t
            for fk in child.foreign_keys:
                if fold(fk.ref_table) != fold(t.name):
                    continue
                ppos = [t.columns.index(t.column(n)) for n in fk.ref_columns]
                self.incoming.append((fk, child, ppos, _positions(child, fk.column_ids)))

    # -- child side --

    def check_parents(self, txn, row, old=None):
        """IntegrityError unless every foreign key of `row` finds its parent (skipped
        for keys whose values did not change from `old`)."""
        for fk, parent, pos, pcols in self.outgoing:
            vals = [row[i] for i in pos]
            if any(v is None for v in vals):
                continue
            if old is not None and [old[i] for i in pos] == vals:
                continue
            cv = _coerce(pcols, vals)
            if cv is None or not _rows_by_key(txn, parent, [c.id for c in pcols], cv):
                raise IntegrityError(
                    f"FOREIGN KEY constraint failed: {_describe(fk, self.writer.table, parent)}"
                    f": no row of {parent.name} has ({', '.join(fk.ref_columns)}) = "
                    f"{tuple(vals)!r}")

    # -- parent side --

    def _children(self, txn, child, cpos, vals):
        cv = _coerce([child.columns[i] for i in cpos], vals)
        if cv is None:
            return []
        return _rows_by_key(txn, child, [child.columns[i].id for i in cpos], cv)

    def parent_deleted(self, txn, row, registry):
        self._parent_changed(txn, row, None, registry)

    def parent_updated(self, txn, old, new, registry):
        self._parent_changed(txn, old, new, registry)

    def _parent_changed(self, txn, old, new, registry):
        t = self.writer.table
        for fk, child, ppos, cpos in self.incoming:
            vals = [old[i] for i in ppos]
            if any(v is None for v in vals):
                continue
            if new is not None:
                nvals = [new[i] for i in ppos]
                if all(a is not None and b is not None and compare(a, b) == 0
                       and type(a) is type(b) for a, b in zip(vals, nvals)):
                    continue
            children = self._children(txn, child, cpos, vals)
            if not children:
                continue
            action = fk.on_delete if new is None else fk.on_update
            if action in ("RESTRICT", "NO ACTION"):
                verb = "delete" if new is None else "update"
                raise IntegrityError(
                    f"FOREIGN KEY constraint failed: {_describe(fk, child, t)}: cannot "
                    f"{verb} the row of {t.name} with ({', '.join(fk.ref_columns)}) = "
                    f"{tuple(vals)!r}: {len(children)} row(s) of {child.name} reference it")
            cw = registry.writer(txn, child.name)
            for crow in children:
                if cw.current(txn, crow) is None:
                    continue                        # already gone (cascade cycle)
                if action == "CASCADE" and new is None:
                    cw.delete(txn, crow)
                    continue
                cnew = list(crow)
                for k, i in enumerate(cpos):
                    if action == "CASCADE":
                        cnew[i] = new[ppos[k]]
                    elif action == "SET NULL":
                        cnew[i] = None
                    else:                           # SET DEFAULT
                        cnew[i] = cw.default(i, ())
                cw.prepare_row(cnew, (), observe=False)
                cw.update(txn, crow, cnew)
