"""DDL statements: CREATE/DROP TABLE and CREATE/DROP INDEX from sqlglot trees.

One responsibility: translate a DDL tree into catalog calls (catalog.py stores the
schema; this file reads column definitions and constraints, and backfills a new
index from the table's rows, enforcing uniqueness). DEFAULT and CHECK expressions
are stored as SQL text and compiled when a table is used (dml.py).
"""

from sqlglot import exp

from ..errors import IntegrityError, NotSupportedError, ProgrammingError
from . import catalog, fkeys
from .catalog import Check, Column, Index, Table
from .expr import Scope, _type_name, compile_expr, is_constant, truth
from .rowcodec import decode_row
from .types import parse_type

__all__ = ["create_table", "drop_table", "create_index", "drop_index", "backfill_index"]


def _ident_names(nodes):
    out = []
    for n in nodes:
        if isinstance(n, exp.Ordered):
            if n.args.get("desc"):
                raise NotSupportedError("DESC in a PRIMARY KEY / UNIQUE constraint is not "
                                        "supported yet")
            n = n.this
        out.append(n.name)
    return out


def _column_def(item, unique, checks, fks):
    """(Column, is_primary_key) of a column definition; its UNIQUE, CHECK and
    REFERENCES constraints are appended to `unique`, `checks` and `fks`."""
    col = Column(name=item.name, type=parse_type(_type_name(item.args["kind"]))
                 if item.args.get("kind") is not None else parse_type("TEXT"))
    is_pk = False
    for cc in item.args.get("constraints") or []:
        k = cc.args.get("kind")
        if isinstance(k, exp.PrimaryKeyColumnConstraint):
            if is_pk:
                raise ProgrammingError(f"column {col.name} has more than one PRIMARY KEY")
            is_pk = True
            if k.args.get("desc"):
                raise NotSupportedError("PRIMARY KEY DESC is not supported yet")
        elif isinstance(k, exp.NotNullColumnConstraint):
            if k.args.get("allow_null"):
                continue
            col.not_null = True
        elif isinstance(k, exp.UniqueColumnConstraint):
            unique.append([col.name])
        elif isinstance(k, exp.DefaultColumnConstraint):
            d = k.this
            if not is_constant(d):
                raise ProgrammingError(f"default value of column {col.name} is "
                                       "not constant")
            compile_expr(d, Scope())        # validate now
            col.default_sql = d.sql(dialect="sqlite")
        elif isinstance(k, exp.CheckColumnConstraint):
            checks.append(Check(sql=k.this.sql(dialect="sqlite"), name=cc.name or None))
        elif isinstance(k, exp.AutoIncrementColumnConstraint):
            col.autoincrement = True
        elif isinstance(k, exp.NotForReplicationColumnConstraint):
            continue
        elif isinstance(k, exp.Reference):
            fk = _reference(k)
            fk["columns"] = [col.name]
            fk["name"] = cc.name or None
            fks.append(fk)
        else:
            raise NotSupportedError(f"column constraint not supported yet: "
                                    f"{cc.sql(dialect='sqlite')}")
    return col, is_pk


def _reference(ref):
    """dict(ref_table, ref_columns, on_delete, on_update) of a REFERENCES clause
    (ref_columns None = the parent's primary key)."""
    target = ref.this
    if isinstance(target, exp.Schema):
        parent = target.this.name
        cols = [e.name for e in target.expressions] or None
    else:
        parent, cols = target.name, None
    out = {"ref_table": parent, "ref_columns": cols, "on_delete": "NO ACTION",
           "on_update": "NO ACTION"}
    for opt in ref.args.get("options") or []:
        words = " ".join(str(opt).upper().split())
        for what in ("ON DELETE ", "ON UPDATE "):
            if words.startswith(what):
                out[what.strip().lower().replace(" ", "_")] = words[len(what):]
                break
        else:
            if words.startswith("MATCH") or words.startswith("DEFERRABLE") or \
                    words.startswith("NOT DEFERRABLE"):
                raise NotSupportedError(f"foreign key option not supported: {words}")
            raise NotSupportedError(f"foreign key option not supported: {words}")
    return out


def _foreign_key(node, name):
    ref = node.args.get("reference")
    if ref is None:
        raise ProgrammingError("FOREIGN KEY without REFERENCES")
    fk = _reference(ref)
    fk["columns"] = [e.name for e in node.expressions]
    fk["name"] = name or None
    return fk


def create_table(txn, tree):
    schema = tree.this
    if not isinstance(schema, exp.Schema):
        raise NotSupportedError("CREATE TABLE ... AS SELECT is not supported yet")
    name = schema.this.name
    if tree.args.get("exists") and catalog.find_table(txn, name) is not None:
        return
    columns, pk, unique, checks, fks = [], [], [], [], []
    for item in schema.expressions:
        if isinstance(item, exp.ColumnDef):
            col, is_pk = _column_def(item, unique, checks, fks)
            if is_pk:
                if pk:
                    raise ProgrammingError(f"table {name} has more than one primary key")
                pk = [col.name]
            columns.append(col)
        elif isinstance(item, exp.ForeignKey):
            fks.append(_foreign_key(item, None))
        elif isinstance(item, exp.PrimaryKey):
            if pk:
                raise ProgrammingError(f"table {name} has more than one primary key")
            pk = _ident_names(item.expressions)
        elif isinstance(item, exp.UniqueColumnConstraint):
            unique.append(_ident_names(item.this.expressions))
        elif isinstance(item, exp.CheckColumnConstraint):
            checks.append(Check(sql=item.this.sql(dialect="sqlite")))
        elif isinstance(item, exp.Constraint):
            for sub in item.expressions:
                if isinstance(sub, exp.CheckColumnConstraint):
                    checks.append(Check(sql=sub.this.sql(dialect="sqlite"), name=item.name))
                elif isinstance(sub, exp.UniqueColumnConstraint):
                    unique.append((item.name, _ident_names(sub.this.expressions)))
                elif isinstance(sub, exp.PrimaryKey):
                    pk = _ident_names(sub.expressions)
                elif isinstance(sub, exp.ForeignKey):
                    fks.append(_foreign_key(sub, item.name))
                else:
                    raise NotSupportedError(f"table constraint not supported yet: "
                                            f"{item.sql(dialect='sqlite')}")
        else:
            raise NotSupportedError(f"table element not supported yet: "
                                    f"{item.sql(dialect='sqlite')}")
    for n, fk in enumerate(fks, 1):
        fk["name"] = fk["name"] or f"fk_{name}_{n}"
        if fk["ref_columns"] is None:
            fk["ref_columns"] = fkeys.parent_pk_names(txn, name, columns, pk, fk)
    table = Table.new(name, columns, primary_key=pk, unique=unique, checks=checks,
                      foreign_keys=fks)
    fkeys.validate_new_table(txn, table)
    # bind CHECK expressions now so a bad column name fails at CREATE time
    scope = Scope(table.name, {catalog.fold(c.name): i for i, c in enumerate(table.columns)})
    from .dml import _parse_expr
    for ck in table.checks:
        compile_expr(_parse_expr(ck.sql), scope)
    catalog.create_table(txn, table)


def _names(tree):
    return [t.name for t in tree.args.get("tables") or [tree.this]]


def drop_table(txn, tree):
    for name in _names(tree):
        if tree.args.get("exists") and catalog.find_table(txn, name) is None:
            continue
        fkeys.check_drop_table(txn, name)
        catalog.drop_table(txn, name)


def drop_index(txn, tree):
    for name in _names(tree):
        if tree.args.get("exists") and catalog.find_index_table(txn, name) is None:
            continue
        catalog.drop_index(txn, name)


def create_index(txn, tree):
    idx = tree.this
    name = idx.name
    tname = idx.args["table"].name
    if tree.args.get("exists") and (catalog.find_index_table(txn, name) is not None
                                    or catalog.find_table(txn, name) is not None):
        return
    table = catalog.load_table(txn, tname)
    params = idx.args.get("params")
    cols = params.args.get("columns") if params is not None else None
    if not cols:
        raise ProgrammingError(f"index {name} has no columns")
    ids, dirs = [], []
    for o in cols:
        node = o.this if isinstance(o, exp.Ordered) else o
        if not isinstance(node, exp.Column):
            raise NotSupportedError("indexes on expressions are not supported yet")
        c = table.column(node.name)
        if c is None:
            raise ProgrammingError(f"no such column: {node.name} (table {table.name})")
        ids.append(c.id)
        dirs.append("DESC" if isinstance(o, exp.Ordered) and o.args.get("desc") else "ASC")
    if params.args.get("where") is not None or idx.args.get("where") is not None:
        raise NotSupportedError("partial indexes (CREATE INDEX ... WHERE) are not supported yet")
    index = catalog.create_index(txn, table.name,
                                 Index(name=name, column_ids=ids, unique=bool(
                                     tree.args.get("unique")), directions=dirs))
    table = catalog.load_table(txn, table.name)
    backfill_index(txn, table, table.index(index.name))


def backfill_index(txn, table, index):
    """Write the entries of `index` for every existing row of `table` (IntegrityError
    when a unique index meets a duplicate)."""
    from .dml import index_entry
    from .rowcodec import column_ids, decode_row_ids
    prefix = catalog.row_prefix(table.id)
    pos = [table.columns.index(table.column_by_id(cid)) for cid in index.column_ids]
    pk_pos = [table.columns.index(table.column_by_id(cid)) for cid in table.primary_key]
    ids = column_ids(table.columns)
    for _, value in list(txn.scan(prefix=prefix)):
        row = decode_row_ids(value, ids)
        key, val, vals = index_entry(table, index, row, pos, pk_pos)
        if index.unique and None not in vals and txn.get(key) is not None:
            raise IntegrityError(f"UNIQUE constraint failed: index {index.name} on table "
                                 f"{table.name} ({', '.join(table.columns[i].name for i in pos)})"
                                 f": duplicate value {tuple(vals)!r}")
        txn.put(key, val)


# ---- ALTER TABLE ------------------------------------------------------------------------

def alter_table(txn, tree):
    """ALTER TABLE t ADD [COLUMN] / DROP [COLUMN] / RENAME [COLUMN] a TO b / RENAME TO
    (several comma-separated actions run in order). Each is a catalog change in `txn`
    (schema_version bumped), except ADD COLUMN with a non-NULL default, which also
    rewrites the existing rows to hold it (rows store NULL as an absent column, so an
    added default cannot be told apart from a stored NULL otherwise)."""
    name = tree.this.name
    if tree.args.get("exists") and catalog.find_table(txn, name) is None:
        return
    for action in tree.args.get("actions") or []:
        table = catalog.load_table(txn, name)
        if isinstance(action, exp.ColumnDef):
            _add_column(txn, table, action)
        elif isinstance(action, exp.Drop) and (action.args.get("kind") or "").upper() \
                == "COLUMN":
            for c in action.args.get("tables") or [action.this]:
                if c is None:
                    raise ProgrammingError("syntax error: ALTER TABLE DROP COLUMN needs "
                                           "a column name")
                _drop_column(txn, catalog.load_table(txn, name), c.name,
                             bool(action.args.get("exists")))
        elif isinstance(action, exp.Command) and action.name.upper() == "DROP":
            words = str(action.expression.name if isinstance(action.expression,
                                                             exp.Expression)
                        else action.expression).split()
            if len(words) != 1:
                raise NotSupportedError(f"ALTER TABLE DROP {' '.join(words)} is not "
                                        "supported")
            _drop_column(txn, table, words[0].strip('"`[]'), False)
        elif isinstance(action, exp.RenameColumn):
            _rename_column(txn, table, action.this.name, action.args["to"].name)
        elif isinstance(action, exp.AlterRename):
            catalog.rename_table(txn, table.name, action.this.name)
            name = action.this.name
        else:
            raise NotSupportedError(f"ALTER TABLE action not supported: "
                                    f"{action.sql(dialect='sqlite')}")


def _add_column(txn, table, item):
    unique, checks, fks = [], [], []
    col, is_pk = _column_def(item, unique, checks, fks)
    if is_pk or unique:
        raise ProgrammingError(f"cannot add a {'PRIMARY KEY' if is_pk else 'UNIQUE'} "
                               f"column: {col.name} (table {table.name})")
    if fks:
        raise NotSupportedError("REFERENCES in ALTER TABLE ADD COLUMN is not supported "
                                "yet")
    default = None
    if col.default_sql is not None:
        from .dml import _parse_expr
        default = compile_expr(_parse_expr(col.default_sql), Scope())((), ())
        if default is not None:
            if hasattr(default, "isoformat") and col.type.family == "TEXT":
                default = default.isoformat(" ")
            default = col.type.coerce(default, col.name)
    if col.not_null and default is None:
        raise ProgrammingError(f"cannot add a NOT NULL column without a non-NULL default "
                               f"value: {col.name} (table {table.name})")
    col = catalog.add_column(txn, table.name, col)
    table = catalog.load_table(txn, table.name)
    if checks:
        scope = Scope(table.name, {catalog.fold(c.name): i
                                   for i, c in enumerate(table.columns)})
        from .dml import _parse_expr
        for ck in checks:
            compile_expr(_parse_expr(ck.sql), scope)
        table.checks.extend(checks)
        catalog._put(txn, table)
    if default is not None or checks:
        from .dml import TableWriter
        from .rowcodec import decode_row_dict, encode_row
        writer = TableWriter(table, None)
        for key, value in list(txn.scan(prefix=catalog.row_prefix(table.id))):
            if default is not None:
                d = decode_row_dict(value)
                d[col.id] = default
                value = encode_row(dict(sorted(d.items())))
                txn.put(key, value)
            row = decode_row(value, table.columns)
            for ck, f in writer.checks:
                v = f(row, ())
                if v is not None and not truth(v):
                    raise IntegrityError(f"CHECK constraint failed: {ck.name or ck.sql} "
                                         f"(table {table.name})")


def _check_columns(sql):
    from .dml import _parse_expr
    return {catalog.fold(c.name) for c in
            _parse_expr(sql).find_all(exp.Column)}


def _drop_column(txn, table, cname, if_exists):
    c = table.column(cname)
    if (c is None or c.hidden) and if_exists:
        return
    if c is not None and not c.hidden:
        for ck in table.checks:
            if catalog.fold(c.name) in _check_columns(ck.sql):
                raise ProgrammingError(f"cannot drop column {c.name} of table {table.name}"
                                       f": CHECK constraint {ck.name or ck.sql} uses it")
    catalog.drop_column(txn, table.name, cname)


def _rename_column(txn, table, old, new):
    c = table.column(old)
    if c is not None and not c.hidden:
        old = c.name
    t = catalog.rename_column(txn, table.name, old, new)
    changed = False
    from .dml import _parse_expr
    for ck in t.checks:
        if catalog.fold(old) in _check_columns(ck.sql):
            node = _parse_expr(ck.sql)
            for col in list(node.find_all(exp.Column)):
                if catalog.fold(col.name) == catalog.fold(old):
                    col.set("this", exp.to_identifier(new))
            ck.sql = node.sql(dialect="sqlite")
            changed = True
    if changed:
        catalog._put(txn, t)
