"""DDL statements: CREATE/DROP TABLE and CREATE/DROP INDEX from sqlglot trees.

One responsibility: translate a DDL tree into catalog calls (catalog.py stores the
schema; this file reads column definitions and constraints, and backfills a new
index from the table's rows, enforcing uniqueness). DEFAULT and CHECK expressions
are stored as SQL text and compiled when a table is used (dml.py).
"""

from sqlglot import exp

from ..errors import IntegrityError, NotSupportedError, ProgrammingError
from . import catalog
from .catalog import Check, Column, Index, Table
from .expr import Scope, _type_name, compile_expr, is_constant
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


def create_table(txn, tree):
    schema = tree.this
    if not isinstance(schema, exp.Schema):
        raise NotSupportedError("CREATE TABLE ... AS SELECT is not supported yet")
    name = schema.this.name
    if tree.args.get("exists") and catalog.find_table(txn, name) is not None:
        return
    columns, pk, unique, checks = [], [], [], []
    for item in schema.expressions:
        if isinstance(item, exp.ColumnDef):
            col = Column(name=item.name, type=parse_type(_type_name(item.args["kind"]))
                         if item.args.get("kind") is not None else parse_type("TEXT"))
            for cc in item.args.get("constraints") or []:
                k = cc.args.get("kind")
                if isinstance(k, exp.PrimaryKeyColumnConstraint):
                    if pk:
                        raise ProgrammingError(f"table {name} has more than one primary key")
                    pk = [col.name]
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
                    checks.append(Check(sql=k.this.sql(dialect="sqlite"),
                                        name=cc.name or None))
                elif isinstance(k, exp.AutoIncrementColumnConstraint):
                    col.autoincrement = True
                elif isinstance(k, exp.NotForReplicationColumnConstraint):
                    continue
                else:
                    raise NotSupportedError(f"column constraint not supported yet: "
                                            f"{cc.sql(dialect='sqlite')}")
            columns.append(col)
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
                else:
                    raise NotSupportedError(f"table constraint not supported yet: "
                                            f"{item.sql(dialect='sqlite')}")
        else:
            raise NotSupportedError(f"table element not supported yet: "
                                    f"{item.sql(dialect='sqlite')}")
    table = Table.new(name, columns, primary_key=pk, unique=unique, checks=checks)
    # bind CHECK expressions now so a bad column name fails at CREATE time
    scope = Scope(table.name, {catalog.fold(c.name): i for i, c in enumerate(table.columns)})
    from .parse import parse
    for ck in table.checks:
        compile_expr(parse("SELECT " + ck.sql).tree.expressions[0], scope)
    catalog.create_table(txn, table)


def _names(tree):
    return [t.name for t in tree.args.get("tables") or [tree.this]]


def drop_table(txn, tree):
    for name in _names(tree):
        if tree.args.get("exists") and catalog.find_table(txn, name) is None:
            continue
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
    prefix = catalog.row_prefix(table.id)
    pos = [table.columns.index(table.column_by_id(cid)) for cid in index.column_ids]
    for _, value in list(txn.scan(prefix=prefix)):
        row = decode_row(value, table.columns)
        key, val, vals = index_entry(table, index, row)
        if index.unique and None not in vals and txn.get(key) is not None:
            raise IntegrityError(f"UNIQUE constraint failed: index {index.name} on table "
                                 f"{table.name} ({', '.join(table.columns[i].name for i in pos)})"
                                 f": duplicate value {tuple(vals)!r}")
        txn.put(key, val)
