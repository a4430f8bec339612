"""The catalog: table and index schemas stored in the KV store, the DDL that changes
them, the key layout of rows and index entries, and auto-increment id allocation.

One responsibility: where schemas and table data live in the key space and how DDL
changes them, transactionally. Binding SQL text to these objects, parsing DEFAULT and
CHECK expressions and backfilling new indexes are the callers' (the SQL layer's).

Key layout (DESIGN.md, "Tables on keys"; key(...) is keycodec.encode_key)
-------------------------------------------------------------------------
    0x01 . key("table", lname)        -> schema record of a table (JSON, below)
    0x01 . key("index", lname)        -> the lname of the table owning the index
    0x01 . key("schema_version")      -> u64 big-endian; raised by every DDL statement
                                         (so two concurrent DDL transactions conflict)
                                         to a number no other transaction got
    0x01 . key("schema_version_next") -> u64 big-endian; the next unused schema
                                         version (advanced outside the user's
                                         transaction, so never rolled back)
    0x01 . key("next_table_id")       -> u64 big-endian; table ids (from 1) are never
                                         reused
    0x01 . key("rowid", table_id)     -> u64 big-endian; next unallocated rowid
                                         (kept after DROP TABLE, see drop_table)
    0x02 . int(table_id) . int(1) . key(pk values)                       -> row value
    0x02 . int(table_id) . int(index_id) . key(index values) . key(pk)   -> b""
    0x02 . int(table_id) . int(index_id) . key(index values)             -> key(pk)
                                                        (unique index; the pk is
                                                         appended to the key too when
                                                         an indexed value is NULL)
int(n) is keycodec's order-preserving integer element (tag included): table 5, rows
start 02 28 05 28 01. Index ids start at 2 (1 is the primary key), so rows and every
index of a table are one contiguous range, 0x02 . int(table_id), and DROP TABLE
deletes it by range.

Names: case-insensitive like SQLite, which folds ASCII letters only: "Users",
"USERS" and "users" name one table, while "É" and "é" differ. The declared spelling is
kept for display; keys use the folded name (`fold()`). Tables and indexes share one
namespace (as in SQLite).

Schema record format (version 1): UTF-8 JSON, an object with "format": 1 and the
fields of `Table.to_record()`; types are stored as their SQL spelling ("VARCHAR(3)")
and parsed back with types.parse_type. A record with a newer format raises
DatabaseError rather than being misread.

Implicit rowid: a table without a declared PRIMARY KEY gets a hidden INTEGER column
"rowid" (id 0) as its primary key, as in SQLite. A table whose primary key is one
INTEGER-family column (INTEGER, BIGINT, ...) auto-assigns it when an insert omits it
(`Table.rowid_column`).

Auto-increment ids (`allocate_rowids`): drawn from the table's counter key in blocks
of ROWID_BLOCK (explicit ids that keep climbing past the block reserve doubling
blocks, up to ROWID_BLOCK_MAX) by a separate short transaction (retried on conflict)
outside the user's transaction, so concurrent inserts never conflict on the counter. Ids are
unique and increasing within a process but may have gaps (a rolled-back insert, the
unused end of a block when the process exits, an explicit id observed with
`observe_rowid`). They are never reused.
"""

import json
import threading
import weakref
from dataclasses import dataclass, field

from ..errors import DatabaseError, DataError, ProgrammingError
from ..kv import prefix_successor
from ..transaction import retry
from . import keycodec
from .keycodec import encode_int, encode_key
from .types import SqlType, parse_type

__all__ = [
    "Column", "Index", "ForeignKey", "Check", "Table", "fold",
    "load_table", "find_table", "create_table", "drop_table", "rename_table",
    "add_column", "drop_column", "rename_column", "create_index", "drop_index",
    "list_tables", "schema_version", "find_index_table",
    "table_prefix", "row_prefix", "row_key", "index_prefix", "index_key", "unique_key",
    "describe_key",
    "decode_row_key", "decode_index_key", "allocate_rowids", "observe_rowid",
    "PRIMARY_INDEX_ID", "ROWID_BLOCK", "SCHEMA_FORMAT",
]

SCHEMA_FORMAT = 1
PRIMARY_INDEX_ID = 1
ROWID_BLOCK = 64
ROWID_BLOCK_MAX = 65536
FK_ACTIONS = ("NO ACTION", "RESTRICT", "CASCADE", "SET NULL", "SET DEFAULT")

CATALOG = b"\x01"
DATA = b"\x02"
_K_SCHEMA_VERSION = CATALOG + encode_key(("schema_version",))
_K_NEXT_TABLE_ID = CATALOG + encode_key(("next_table_id",))
_K_VERSION_NEXT = CATALOG + encode_key(("schema_version_next",))
_TABLES_PREFIX = CATALOG + encode_key(("table",))
_INT64_MAX = (1 << 63) - 1

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def fold(name):
    """The case-folded form of an identifier: ASCII letters lowered (SQLite's rule)."""
    return name.translate(_ASCII_LOWER)


def _u64(n):
    return n.to_bytes(8, "big")


def _read_u64(txn, key, default):
    raw = txn.get(key)
    return default if raw is None else int.from_bytes(raw, "big")


# ---- schema objects -------------------------------------------------------------------

@dataclass
class Column:
    """A column: `id` (unique in its table, never reused), declared `name`, `type`
    (SqlType), `not_null`, `default_sql` / `check_sql` (SQL text, evaluated by the SQL
    layer), `hidden` (the implicit rowid), `autoincrement` (declared AUTOINCREMENT)."""
    name: str
    type: SqlType
    not_null: bool = False
    default_sql: str | None = None
    check_sql: str | None = None
    hidden: bool = False
    autoincrement: bool = False
    id: int | None = None

    def to_record(self):
        return {"id": self.id, "name": self.name, "type": str(self.type),
                "not_null": self.not_null, "default": self.default_sql,
                "check": self.check_sql, "hidden": self.hidden,
                "autoincrement": self.autoincrement}

    @classmethod
    def from_record(cls, r):
        return cls(id=r["id"], name=r["name"], type=parse_type(r["type"]),
                   not_null=r["not_null"], default_sql=r["default"],
                   check_sql=r["check"], hidden=r["hidden"],
                   autoincrement=r["autoincrement"])


@dataclass
class Index:
    """A secondary index: `id` (>= 2), `name`, `column_ids`, `unique`, `directions`
    ("ASC"/"DESC" per column), `constraint` (True when it implements a UNIQUE
    constraint; such an index cannot be dropped by DROP INDEX)."""
    name: str
    column_ids: list
    unique: bool = False
    directions: list | None = None
    constraint: bool = False
    id: int | None = None

    def __post_init__(self):
        self.column_ids = list(self.column_ids)
        if self.directions is None:
            self.directions = ["ASC"] * len(self.column_ids)
        self.directions = [d.upper() for d in self.directions]
        if len(self.directions) != len(self.column_ids):
            raise ProgrammingError(f"index {self.name}: one direction per column")
        for d in self.directions:
            if d not in ("ASC", "DESC"):
                raise ProgrammingError(f"index {self.name}: bad direction {d!r}")

    def to_record(self):
        return {"id": self.id, "name": self.name, "columns": self.column_ids,
                "unique": self.unique, "directions": self.directions,
                "constraint": self.constraint}

    @classmethod
    def from_record(cls, r):
        return cls(id=r["id"], name=r["name"], column_ids=r["columns"], unique=r["unique"],
                   directions=r["directions"], constraint=r["constraint"])


@dataclass
class ForeignKey:
    """FOREIGN KEY (column_ids) REFERENCES ref_table (ref_columns) with actions.
    The referenced table and columns are kept by name (renames update them)."""
    column_ids: list
    ref_table: str
    ref_columns: list
    on_delete: str = "NO ACTION"
    on_update: str = "NO ACTION"
    name: str | None = None

    def __post_init__(self):
        self.column_ids = list(self.column_ids)
        self.ref_columns = list(self.ref_columns)
        for what in ("on_delete", "on_update"):
            act = " ".join(getattr(self, what).upper().split())
            if act not in FK_ACTIONS:
                raise ProgrammingError(f"foreign key: unknown {what.replace('_', ' ')} "
                                       f"action {getattr(self, what)!r}")
            setattr(self, what, act)

    def to_record(self):
        return {"name": self.name, "columns": self.column_ids, "ref_table": self.ref_table,
                "ref_columns": self.ref_columns, "on_delete": self.on_delete,
                "on_update": self.on_update}

    @classmethod
    def from_record(cls, r):
        return cls(name=r["name"], column_ids=r["columns"], ref_table=r["ref_table"],
                   ref_columns=r["ref_columns"], on_delete=r["on_delete"],
                   on_update=r["on_update"])


@dataclass
class Check:
    """A table CHECK constraint: SQL text, optionally named."""
    sql: str
    name: str | None = None


@dataclass
class Table:
    """A table's schema. Build new ones with `Table.new`; the catalog assigns `id`."""
    name: str
    columns: list
    primary_key: list                       # column ids
    pk_directions: list = field(default_factory=list)
    indexes: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    foreign_keys: list = field(default_factory=list)
    next_column_id: int = 1
    next_index_id: int = 2
    id: int | None = None

    # -- construction --

    @classmethod
    def new(cls, name, columns, primary_key=(), pk_directions=None, unique=(),
            checks=(), foreign_keys=()):
        """A new table named `name` with `columns` (Column objects; ids assigned
        1, 2, ... in order). `primary_key`: column names (none = implicit rowid);
        `unique`: sequences of column names, or (constraint name, names) pairs;
        `checks`: SQL texts or Check objects; `foreign_keys`: dicts with keys
        columns, ref_table, ref_columns (names) and optional on_delete, on_update,
        name. Raises ProgrammingError for duplicate or unknown column names."""
        t = cls(name=name, columns=[], primary_key=[])
        seen = set()
        for c in columns:
            if fold(c.name) in seen:
                raise ProgrammingError(f"duplicate column name: {c.name}")
            seen.add(fold(c.name))
            c.id = t.next_column_id
            t.next_column_id += 1
            t.columns.append(c)
        if not t.columns:
            raise ProgrammingError(f"table {name} must have at least one column")
        if primary_key:
            ids = t._ids(primary_key, "PRIMARY KEY")
            if len(set(ids)) != len(ids):
                raise ProgrammingError(f"table {name}: a column appears twice in the "
                                       "PRIMARY KEY")
            t.primary_key = ids
            for cid in ids:
                t.column_by_id(cid).not_null = True
        else:
            t.columns.insert(0, Column(name="rowid", type=parse_type("INTEGER"),
                                       not_null=True, hidden=True, id=0))
            t.primary_key = [0]
        t.pk_directions = [d.upper() for d in (pk_directions or ["ASC"] * len(t.primary_key))]
        if len(t.pk_directions) != len(t.primary_key):
            raise ProgrammingError(f"table {name}: one direction per PRIMARY KEY column")
        for n, u in enumerate(unique, 1):
            cname = None
            if isinstance(u, tuple) and len(u) == 2 and not isinstance(u[1], str):
                cname, u = u
            ids = t._ids(u, "UNIQUE")
            if ids == t.primary_key or any(i.unique and i.column_ids == ids
                                           for i in t.indexes):
                continue                    # redundant: already unique
            t._add_index(Index(name=cname or f"lightning_autoindex_{name}_{n}",
                               column_ids=ids, unique=True, constraint=True))
        t.checks = [c if isinstance(c, Check) else Check(sql=c) for c in checks]
        for fk in foreign_keys:
            fk = dict(fk)
            t.foreign_keys.append(ForeignKey(
                column_ids=t._ids(fk.pop("columns"), "FOREIGN KEY"), **fk))
            if len(t.foreign_keys[-1].column_ids) != len(t.foreign_keys[-1].ref_columns):
                raise ProgrammingError(f"table {name}: foreign key has "
                                       f"{len(t.foreign_keys[-1].column_ids)} columns but "
                                       f"references {len(t.foreign_keys[-1].ref_columns)}")
        return t

    def _ids(self, names, what):
        ids = []
        for n in names:
            c = self.column(n)
            if c is None:
                raise ProgrammingError(f"{what}: no such column in table {self.name}: {n}")
            ids.append(c.id)
        return ids

    def _add_index(self, index):
        index.id = self.next_index_id
        self.next_index_id += 1
        self.indexes.append(index)
        return index

    # -- lookups --

    def column(self, name):
        """The column named `name` (case-insensitive; a declared column wins over the
        hidden rowid), or None."""
        f = fold(name)
        hidden = None
        for c in self.columns:
            if fold(c.name) == f:
                if not c.hidden:
                    return c
                hidden = c
        return hidden

    def column_by_id(self, cid):
        for c in self.columns:
            if c.id == cid:
                return c
        return None

    def index(self, name):
        f = fold(name)
        for i in self.indexes:
            if fold(i.name) == f:
                return i
        return None

    @property
    def visible_columns(self):
        """The columns of `SELECT *`, in declaration order (the hidden rowid left out)."""
        return [c for c in self.columns if not c.hidden]

    @property
    def pk_columns(self):
        return [self.column_by_id(cid) for cid in self.primary_key]

    @property
    def rowid_column(self):
        """The column auto-assigned from the rowid counter when an insert omits it
        (the implicit rowid, or a single INTEGER-family primary key column), or None."""
        if len(self.primary_key) == 1:
            c = self.column_by_id(self.primary_key[0])
            if c.type.family == "INTEGER":
                return c
        return None

    # -- record --

    def to_record(self):
        return {
            "format": SCHEMA_FORMAT, "id": self.id, "name": self.name,
            "columns": [c.to_record() for c in self.columns],
            "primary_key": self.primary_key, "pk_directions": self.pk_directions,
            "indexes": [i.to_record() for i in self.indexes],
            "checks": [{"name": c.name, "sql": c.sql} for c in self.checks],
            "foreign_keys": [f.to_record() for f in self.foreign_keys],
            "next_column_id": self.next_column_id, "next_index_id": self.next_index_id,
        }

    def encode(self):
        return json.dumps(self.to_record(), sort_keys=True,
                          separators=(",", ":")).encode("utf-8")

    @classmethod
    def decode(cls, raw):
        r = json.loads(raw)
        fmt = r.get("format")
        if fmt != SCHEMA_FORMAT:
            raise DatabaseError(f"schema record of table {r.get('name')!r} has format "
                                f"{fmt}; this Lightning reads format {SCHEMA_FORMAT}")
        return cls(id=r["id"], name=r["name"],
                   columns=[Column.from_record(c) for c in r["columns"]],
                   primary_key=r["primary_key"], pk_directions=r["pk_directions"],
                   indexes=[Index.from_record(i) for i in r["indexes"]],
                   checks=[Check(name=c["name"], sql=c["sql"]) for c in r["checks"]],
                   foreign_keys=[ForeignKey.from_record(f) for f in r["foreign_keys"]],
                   next_column_id=r["next_column_id"], next_index_id=r["next_index_id"])


# ---- catalog keys -----------------------------------------------------------------------

def _table_key(name):
    return CATALOG + encode_key(("table", fold(name)))


def _index_name_key(name):
    return CATALOG + encode_key(("index", fold(name)))


def _rowid_key(table_id):
    return CATALOG + encode_key(("rowid", table_id))


def schema_version(txn):
    """The schema version as `txn` sees it (0 for a new database)."""
    return _read_u64(txn, _K_SCHEMA_VERSION, 0)


def _bump(txn):
    """Give `txn` a new schema version: larger than the one it sees, and never given to
    another transaction, even one rolled back. (Plan caches trust equal versions to
    mean equal schemas; a number reused after a rollback made a connection run a plan
    prepared under the rolled-back schema.) Drawn from a counter advanced in short
    transactions of their own, as rowids are."""
    at_least = schema_version(txn) + 1
    db = getattr(txn, "_db", None)
    if db is None:
        version = at_least
    else:
        def attempt():
            with db.transaction(isolation="snapshot") as t:
                raw = t.get(_K_VERSION_NEXT)
                v = max(at_least, 0 if raw is None else int.from_bytes(raw, "big"))
                t.put(_K_VERSION_NEXT, _u64(v + 1))
                return v
        version = retry(attempt, retries=100)
    txn.put(_K_SCHEMA_VERSION, _u64(version))


def _put(txn, table):
    txn.put(_table_key(table.name), table.encode())


def find_table(txn, name):
    """The Table named `name` (case-insensitive), or None."""
    raw = txn.get(_table_key(name))
    return None if raw is None else Table.decode(raw)


def load_table(txn, name):
    """The Table named `name`; ProgrammingError "no such table" if there is none."""
    t = find_table(txn, name)
    if t is None:
        raise ProgrammingError(f"no such table: {name}")
    return t


def find_index_table(txn, index_name):
    """The Table owning index `index_name`, or None."""
    owner = txn.get(_index_name_key(index_name))
    return None if owner is None else find_table(txn, owner.decode("utf-8"))


def list_tables(txn):
    """Every table, ordered by folded name."""
    return [Table.decode(v) for _, v in txn.scan(prefix=_TABLES_PREFIX)]


def _check_name_free(txn, name):
    if txn.get(_table_key(name)) is not None:
        raise ProgrammingError(f"table {name} already exists")
    if txn.get(_index_name_key(name)) is not None:
        raise ProgrammingError(f"there is already an index named {name}")


def create_table(txn, table):
    """Store the new `table` (from Table.new) in `txn`, assigning its id; returns it.
    ProgrammingError if the name is taken by a table or an index."""
    _check_name_free(txn, table.name)
    for i in table.indexes:
        _check_name_free(txn, i.name)
    table.id = _read_u64(txn, _K_NEXT_TABLE_ID, 1)
    txn.put(_K_NEXT_TABLE_ID, _u64(table.id + 1))
    for i in table.indexes:
        txn.put(_index_name_key(i.name), fold(table.name).encode("utf-8"))
    _put(txn, table)
    _bump(txn)
    return table


def _delete_prefix(txn, prefix):
    """Delete every key starting with `prefix`, in batches."""
    start, end = prefix, prefix_successor(prefix)
    while True:
        keys = [k for k, _ in txn.scan(start, end, limit=1024)]
        for k in keys:
            txn.delete(k)
        if len(keys) < 1024:
            return
        start = keys[-1] + b"\x00"


def drop_table(txn, name):
    """Remove table `name`: its schema record, index names, and every row and index
    entry (deleted by range in `txn`). Foreign keys of other tables that reference it
    are the caller's to check. Returns the dropped Table.

    The table's rowid counter stays (one small key; table ids are never reused, so
    nothing reads it again): the allocator advances it in transactions of its own, so
    deleting it in `txn` would make `txn` conflict with every allocation since its
    snapshot, including those of its own INSERTs."""
    t = load_table(txn, name)
    _delete_prefix(txn, table_prefix(t.id))
    for i in t.indexes:
        txn.delete(_index_name_key(i.name))
    txn.delete(_table_key(t.name))
    _bump(txn)
    return t


def _referencing(txn, name):
    """Tables (other than none) with a foreign key referencing table `name`."""
    f = fold(name)
    return [t for t in list_tables(txn)
            if any(fold(fk.ref_table) == f for fk in t.foreign_keys)]


def rename_table(txn, old, new):
    """ALTER TABLE old RENAME TO new: same id, so no data moves; foreign keys that
    reference the table follow the new name. Returns the Table."""
    t = load_table(txn, old)
    if fold(old) != fold(new):
        _check_name_free(txn, new)
    referencing = _referencing(txn, old)
    txn.delete(_table_key(t.name))
    t.name = new
    for other in referencing:
        if other.id == t.id:
            other = t
        for fk in other.foreign_keys:
            if fold(fk.ref_table) == fold(old):
                fk.ref_table = new
        if other is not t:
            _put(txn, other)
    for i in t.indexes:
        txn.put(_index_name_key(i.name), fold(new).encode("utf-8"))
    _put(txn, t)
    _bump(txn)
    return t


def add_column(txn, table_name, column):
    """ALTER TABLE ADD COLUMN: assigns the column its id (rows are not touched: they
    read it as NULL or its default). A NOT NULL column needs a default, as in
    SQLite. Returns the Column."""
    t = load_table(txn, table_name)
    existing = t.column(column.name)
    if existing is not None and not existing.hidden:
        raise ProgrammingError(f"duplicate column name: {column.name}")
    if column.not_null and column.default_sql is None:
        raise ProgrammingError(f"cannot add a NOT NULL column without a default value: "
                               f"{column.name}")
    column.id = t.next_column_id
    t.next_column_id += 1
    t.columns.append(column)
    _put(txn, t)
    _bump(txn)
    return column


def drop_column(txn, table_name, column_name):
    """ALTER TABLE DROP COLUMN: a catalog change (rows keep the bytes, which readers
    skip). Refused for a primary key column, an indexed column, a column of a foreign
    key (either side), and the last column. CHECK expressions naming the column are
    the caller's to check. Returns the Table."""
    t = load_table(txn, table_name)
    c = t.column(column_name)
    if c is None or c.hidden:
        raise ProgrammingError(f"no such column: {column_name}")
    why = None
    if c.id in t.primary_key:
        why = "it is part of the PRIMARY KEY"
    elif any(c.id in i.column_ids for i in t.indexes):
        why = "it is indexed"
    elif any(c.id in fk.column_ids for fk in t.foreign_keys):
        why = "it is part of a foreign key"
    elif len(t.visible_columns) == 1:
        why = "no other columns exist"
    else:
        for other in _referencing(txn, t.name):
            for fk in other.foreign_keys:
                if fold(fk.ref_table) == fold(t.name) and \
                        fold(c.name) in map(fold, fk.ref_columns):
                    why = f"a foreign key of table {other.name} references it"
    if why:
        raise ProgrammingError(f"cannot drop column {c.name} of table {t.name}: {why}")
    t.columns.remove(c)
    _put(txn, t)
    _bump(txn)
    return t


def rename_column(txn, table_name, old, new):
    """ALTER TABLE RENAME COLUMN: foreign keys referencing it follow the new name;
    DEFAULT/CHECK SQL texts naming it are the caller's to rewrite. Returns the Table."""
    t = load_table(txn, table_name)
    c = t.column(old)
    if c is None or c.hidden:
        raise ProgrammingError(f"no such column: {old}")
    other = t.column(new)
    if other is not None and other is not c and not other.hidden:
        raise ProgrammingError(f"duplicate column name: {new}")
    for ref in _referencing(txn, t.name):
        if ref.id == t.id:
            ref = t
        for fk in ref.foreign_keys:
            if fold(fk.ref_table) == fold(t.name):
                fk.ref_columns = [new if fold(rc) == fold(old) else rc
                                  for rc in fk.ref_columns]
        if ref is not t:
            _put(txn, ref)
    c.name = new
    _put(txn, t)
    _bump(txn)
    return t


def create_index(txn, table_name, index):
    """Add `index` (an Index with column ids; its id is assigned) to table
    `table_name`. Returns the Index; the caller backfills its entries in `txn`."""
    t = load_table(txn, table_name)
    _check_name_free(txn, index.name)
    if not index.column_ids:
        raise ProgrammingError(f"index {index.name} has no columns")
    for cid in index.column_ids:
        if t.column_by_id(cid) is None:
            raise ProgrammingError(f"index {index.name}: table {t.name} has no column "
                                   f"with id {cid}")
    t._add_index(index)
    txn.put(_index_name_key(index.name), fold(t.name).encode("utf-8"))
    _put(txn, t)
    _bump(txn)
    return index


def drop_index(txn, name):
    """DROP INDEX: removes it from its table and deletes its entries by range.
    Indexes implementing a UNIQUE constraint cannot be dropped. Returns the Table."""
    t = find_index_table(txn, name)
    if t is None:
        raise ProgrammingError(f"no such index: {name}")
    i = t.index(name)
    if i.constraint:
        raise ProgrammingError(f"index {i.name} implements a UNIQUE constraint of table "
                               f"{t.name} and cannot be dropped")
    _delete_prefix(txn, index_prefix(t.id, i.id))
    t.indexes.remove(i)
    txn.delete(_index_name_key(name))
    _put(txn, t)
    _bump(txn)
    return t


# ---- key helpers --------------------------------------------------------------------------

def table_prefix(table_id):
    """Prefix of every row and index entry of the table: 0x02 . int(table_id)."""
    return DATA + encode_int(table_id)


def row_prefix(table_id):
    """Prefix of the table's rows: 0x02 . int(table_id) . int(1)."""
    return DATA + encode_int(table_id) + encode_int(PRIMARY_INDEX_ID)


def row_key(table_id, pk_values, directions=None):
    """Key of the row with primary key `pk_values` (a tuple)."""
    return row_prefix(table_id) + encode_key(pk_values, directions)


def index_prefix(table_id, index_id, idx_values=(), directions=None):
    """Prefix of the index's entries whose leading indexed values are `idx_values`
    (directions: of the whole index; only the first len(idx_values) are used)."""
    p = DATA + encode_int(table_id) + encode_int(index_id)
    if idx_values:
        p += encode_key(idx_values, None if directions is None
                        else directions[:len(idx_values)])
    return p


def index_key(table_id, index_id, idx_values, pk_values, directions=None,
              pk_directions=None):
    """Key of a non-unique index entry: indexed values, then the pk."""
    return (index_prefix(table_id, index_id, idx_values, directions)
            + encode_key(pk_values, pk_directions))


def unique_key(table_id, index_id, idx_values, pk_values=None, directions=None,
               pk_directions=None):
    """Key of a unique index entry: the indexed values only (so concurrent duplicate
    inserts write one key and conflict), plus the pk when any indexed value is NULL
    (NULLs are distinct). Its value is encode_key(pk_values)."""
    key = index_prefix(table_id, index_id, idx_values, directions)
    if any(v is None for v in idx_values):
        if pk_values is None:
            raise ValueError("unique_key: a NULL indexed value needs the pk")
        key += encode_key(pk_values, pk_directions)
    return key


def describe_key(txn, key):
    """Words for the KV `key` of this layer, as `txn` sees the catalog: "table users,
    id=5" (a row), "index users_email, email='a@x'" (an index entry; a non-unique
    one's pk follows), "the schema of the database" (catalog keys), else None (not a
    key of the SQL layer). Values that do not decode (a key cut short by the engine's
    message) are left out."""
    if key.startswith(CATALOG):
        return "the schema of the database (a concurrent CREATE, DROP or ALTER)"
    if not key.startswith(DATA):
        return None
    try:
        tid, off = keycodec.decode_value(key, len(DATA))
        iid, off = keycodec.decode_value(key, off)
    except (ValueError, IndexError, DatabaseError):
        return None
    table = next((t for t in list_tables(txn) if t.id == tid), None)
    if table is None:
        return f"a table dropped since (id {tid})"

    def terms(col_ids, directions, at):
        names = [table.column_by_id(c).name for c in col_ids]
        try:
            vals, at = keycodec.decode_key(key, len(names), directions, offset=at)
        except (ValueError, IndexError, DatabaseError):
            return [], at
        return [f"{n}={v!r}" for n, v in zip(names, vals)], at

    if iid == PRIMARY_INDEX_ID:
        pk, _ = terms(table.primary_key, table.pk_directions, off)
        return ", ".join([f"table {table.name}"] + pk)
    ix = next((i for i in table.indexes if i.id == iid), None)
    if ix is None:
        return f"an index dropped since of table {table.name}"
    vals, off = terms(ix.column_ids, ix.directions, off)
    pk = terms(table.primary_key, table.pk_directions, off)[0] if off < len(key) else []
    return ", ".join([f"index {ix.name}"] + vals + pk)


def decode_row_key(key, table):
    """The pk values (list) of a row key of `table`."""
    p = row_prefix(table.id)
    if not key.startswith(p):
        raise ValueError("not a row key of table " + table.name)
    values, _ = keycodec.decode_key(key, len(table.primary_key), table.pk_directions,
                                    offset=len(p))
    return values


def decode_index_key(key, table, index, value=None, prefix=None):
    """(indexed values, pk values) of an entry of `index`; for a unique index without
    NULLs the pk comes from the entry's `value` (`prefix`: index_prefix(table.id,
    index.id), when the caller has it)."""
    p = index_prefix(table.id, index.id) if prefix is None else prefix
    if not key.startswith(p):
        raise ValueError(f"not a key of index {index.name}")
    n = len(index.column_ids)
    values, off = keycodec.decode_key(key, n, index.directions, offset=len(p))
    npk = len(table.primary_key)
    if off < len(key):
        pk, _ = keycodec.decode_key(key, npk, table.pk_directions, offset=off)
    elif value is not None:
        pk, _ = keycodec.decode_key(value, npk, table.pk_directions)
    else:
        pk = None
    return values, pk


# ---- auto-increment ids -------------------------------------------------------------------

_alloc_lock = threading.Lock()
_blocks = weakref.WeakKeyDictionary()      # Database -> {table_id: [next, end)}


def _reserve(db, table_id, count, at_least=1):
    """Advance the table's counter by `count` (after raising it to `at_least`) in a
    short transaction of its own, retried on conflict; returns the first id."""
    key = _rowid_key(table_id)

    def attempt():
        with db.transaction(isolation="snapshot") as t:
            raw = t.get(key)
            cur = max(1 if raw is None else int.from_bytes(raw, "big"), at_least)
            if cur + count - 1 > _INT64_MAX:
                raise DataError(f"table {table_id}: the 64-bit rowid space is exhausted")
            t.put(key, _u64(cur + count))
            return cur
    return retry(attempt, retries=100)


def allocate_rowids(db, table_id, n=1):
    """`n` new consecutive ids for table `table_id` (a range). Thread-safe; ids are
    unique and increasing in this process, and may have gaps (see the module doc)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, not {n}")
    with _alloc_lock:
        per_db = _blocks.setdefault(db, {})
        block = per_db.get(table_id)
        if block is None or block[1] - block[0] < n:
            size = max(n, ROWID_BLOCK)
            start = _reserve(db, table_id, size)
            block = per_db[table_id] = [start, start + size, ROWID_BLOCK]
        first = block[0]
        block[0] += n
        return range(first, first + n)


def observe_rowid(db, table_id, value):
    """Record that id `value` was stored explicitly, so later allocations for the table
    return only larger ids (SQLite's max(rowid) + 1 behaviour, made monotonic)."""
    with _alloc_lock:
        per_db = _blocks.setdefault(db, {})
        block = per_db.get(table_id)
        if block is not None and value < block[0]:
            return
        if block is not None and value < block[1] - 1:
            block[0] = value + 1
            return
        # Explicit ids that keep climbing past the block (a bulk load with ids) reserve
        # doubling blocks, so a load of n rows makes O(log n) counter commits.
        grow = min(2 * block[2], ROWID_BLOCK_MAX) if block is not None else ROWID_BLOCK
        count = max(0, min(grow, _INT64_MAX - value))
        start = _reserve(db, table_id, count, at_least=value + 1)
        per_db[table_id] = [start, start + count, grow]
