"""Tests of lightning.sql.catalog through a real in-memory database: DDL round trips,
schema_version bumps, concurrent DDL conflicts, the key layout's sort order, range
deletes on DROP, and rowid allocation from many threads."""

import threading
from decimal import Decimal

import pytest

import lightning
from lightning import ConflictError, DatabaseError, DataError, ProgrammingError
from lightning.sql import catalog as cat
from lightning.sql.catalog import Column, Index, Table
from lightning.sql.keycodec import encode_int
from lightning.sql.rowcodec import decode_row, encode_row
from lightning.sql.types import parse_type


@pytest.fixture
def db():
    with lightning.open(":memory:") as d:
        yield d


def col(name, typ="INTEGER", **kw):
    return Column(name=name, type=parse_type(typ), **kw)


def users():
    return Table.new("Users", [col("id"), col("email", "TEXT", not_null=True),
                               col("age", check_sql="age >= 0"),
                               col("joined", "TIMESTAMP", default_sql="CURRENT_TIMESTAMP")],
                     primary_key=["id"], unique=[["email"]], checks=["age < 200"])


def test_create_load_round_trip(db):
    with db.transaction() as t:
        assert cat.schema_version(t) == 0
        created = cat.create_table(t, users())
    assert created.id == 1
    with db.transaction() as t:
        u = cat.load_table(t, "USERS")               # case-insensitive
        assert cat.schema_version(t) == 1
    assert u == created
    assert u.name == "Users"
    assert [c.name for c in u.visible_columns] == ["id", "email", "age", "joined"]
    assert u.column("EMAIL").type == parse_type("TEXT") and u.column("email").not_null
    assert u.column("age").check_sql == "age >= 0"
    assert u.column("joined").default_sql == "CURRENT_TIMESTAMP"
    assert u.primary_key == [u.column("id").id] and u.rowid_column is u.column("id")
    [ix] = u.indexes
    assert ix.unique and ix.constraint and ix.id == 2 and ix.column_ids == [2]
    assert [c.sql for c in u.checks] == ["age < 200"]


def test_record_is_versioned_json(db):
    with db.transaction() as t:
        cat.create_table(t, users())
    raw = db.get(b"\x01" + lightning.sql.keycodec.encode_key(("table", "users")))
    import json
    rec = json.loads(raw)
    assert rec["format"] == cat.SCHEMA_FORMAT and rec["name"] == "Users"
    rec["format"] = 99
    with pytest.raises(DatabaseError, match="format 99"):
        Table.decode(json.dumps(rec))


def test_implicit_rowid_and_errors(db):
    with db.transaction() as t:
        log = cat.create_table(t, Table.new("log", [col("msg", "TEXT")]))
        assert log.primary_key == [0] and log.column("rowid").hidden
        assert [c.name for c in log.visible_columns] == ["msg"]
        assert log.rowid_column.id == 0
        with pytest.raises(ProgrammingError, match="already exists"):
            cat.create_table(t, Table.new("LOG", [col("x")]))
        with pytest.raises(ProgrammingError, match="no such table: nope"):
            cat.load_table(t, "nope")
        assert cat.find_table(t, "nope") is None
    with pytest.raises(ProgrammingError, match="duplicate column"):
        Table.new("t", [col("a"), col("A")])
    with pytest.raises(ProgrammingError, match="no such column"):
        Table.new("t", [col("a")], primary_key=["b"])
    assert Table.new("t", [col("a", "TEXT")], primary_key=["a"]).rowid_column is None


def test_schema_version_bumps_on_every_ddl(db):
    steps = [
        lambda t: cat.create_table(t, users()),
        lambda t: cat.add_column(t, "users", col("nick", "TEXT")),
        lambda t: cat.rename_column(t, "users", "nick", "handle"),
        lambda t: cat.create_index(t, "users", Index("users_age", [3])),
        lambda t: cat.drop_index(t, "users_age"),
        lambda t: cat.drop_column(t, "users", "handle"),
        lambda t: cat.rename_table(t, "users", "people"),
        lambda t: cat.drop_table(t, "people"),
    ]
    for n, step in enumerate(steps, 1):
        with db.transaction() as t:
            step(t)
        with db.transaction() as t:
            assert cat.schema_version(t) == n


def test_ddl_is_transactional(db):
    t = db.transaction()
    cat.create_table(t, users())
    t.rollback()
    with db.transaction() as t:
        assert cat.find_table(t, "users") is None and cat.schema_version(t) == 0


@pytest.mark.parametrize("isolation", ["snapshot", "serializable"])
def test_concurrent_ddl_conflicts(db, isolation):
    a = db.transaction(isolation)
    b = db.transaction(isolation)
    cat.create_table(a, Table.new("a", [col("x")]))
    cat.create_table(b, Table.new("b", [col("x")]))
    a.commit()
    with pytest.raises(ConflictError):
        b.commit()
    with db.transaction() as t:
        assert [x.name for x in cat.list_tables(t)] == ["a"]


def test_alter_round_trips(db):
    with db.transaction() as t:
        cat.create_table(t, users())
        c = cat.add_column(t, "users", col("nick", "VARCHAR(20)", default_sql="'x'"))
        assert c.id == 5
        with pytest.raises(ProgrammingError, match="duplicate column"):
            cat.add_column(t, "users", col("NICK"))
        with pytest.raises(ProgrammingError, match="NOT NULL"):
            cat.add_column(t, "users", col("z", not_null=True))
        cat.rename_column(t, "users", "nick", "Handle")
        with pytest.raises(ProgrammingError, match="duplicate column"):
            cat.rename_column(t, "users", "handle", "email")
        for name, why in [("id", "PRIMARY KEY"), ("email", "indexed"), ("nope", "no such")]:
            with pytest.raises(ProgrammingError, match=why):
                cat.drop_column(t, "users", name)
        cat.drop_column(t, "users", "age")
        c2 = cat.add_column(t, "users", col("age"))
        assert c2.id == 6                           # ids are never reused
    with db.transaction() as t:
        u = cat.load_table(t, "users")
    assert [(c.id, c.name) for c in u.visible_columns] == \
        [(1, "id"), (2, "email"), (4, "joined"), (5, "Handle"), (6, "age")]
    assert u.column("handle").type == parse_type("VARCHAR(20)")
    assert u.next_column_id == 7


def test_rename_table_keeps_data_and_follows_foreign_keys(db):
    with db.transaction() as t:
        u = cat.create_table(t, users())
        cat.create_table(t, Table.new(
            "orders", [col("id"), col("user_id"), col("user_age")], primary_key=["id"],
            foreign_keys=[dict(columns=["user_id"], ref_table="users", ref_columns=["id"],
                               on_delete="cascade"),
                          dict(columns=["user_age"], ref_table="USERS", ref_columns=["age"])]))
        t.put(cat.row_key(u.id, (1,)), encode_row({2: "a@b"}))
        with pytest.raises(ProgrammingError, match="already exists"):
            cat.rename_table(t, "users", "orders")
        with pytest.raises(ProgrammingError, match="references it"):
            cat.drop_column(t, "users", "age")
        cat.rename_table(t, "users", "people")
        cat.rename_column(t, "people", "id", "pid")
    with db.transaction() as t:
        assert cat.find_table(t, "users") is None
        p = cat.load_table(t, "people")
        assert p.id == u.id
        assert decode_row(t.get(cat.row_key(p.id, (1,))), [2]) == ["a@b"]
        fk, fk2 = cat.load_table(t, "orders").foreign_keys
        assert (fk.ref_table, fk.ref_columns, fk.on_delete) == ("people", ["pid"], "CASCADE")
        assert (fk2.ref_table, fk2.ref_columns, fk2.on_update) == \
            ("people", ["age"], "NO ACTION")
        # the unique constraint's index moved with the table
        assert cat.find_index_table(t, p.indexes[0].name).name == "people"


def test_index_create_drop_and_namespace(db):
    with db.transaction() as t:
        u = cat.create_table(t, users())
        ix = cat.create_index(t, "users", Index("by_age", [3], directions=["desc"]))
        assert ix.id == 3 and ix.directions == ["DESC"]
        with pytest.raises(ProgrammingError, match="already an index"):
            cat.create_index(t, "users", Index("BY_AGE", [4]))
        with pytest.raises(ProgrammingError, match="already an index"):
            cat.create_table(t, Table.new("by_age", [col("x")]))
        with pytest.raises(ProgrammingError, match="already exists"):
            cat.create_index(t, "users", Index("users", [4]))
        with pytest.raises(ProgrammingError, match="no column with id"):
            cat.create_index(t, "users", Index("bad", [42]))
        with pytest.raises(ProgrammingError, match="cannot be dropped"):
            cat.drop_index(t, u.indexes[0].name)
        t.put(cat.index_key(u.id, ix.id, (30,), (1,), ["DESC"]), b"")
        t.put(cat.row_key(u.id, (1,)), b"\x01")
    with db.transaction() as t:
        assert cat.load_table(t, "users").index("by_age") == ix
        cat.drop_index(t, "by_age")
        with pytest.raises(ProgrammingError, match="no such index"):
            cat.drop_index(t, "by_age")
    with db.transaction() as t:
        assert cat.load_table(t, "users").index("by_age") is None
        assert list(t.scan(prefix=cat.index_prefix(u.id, ix.id))) == []
        assert t.get(cat.row_key(u.id, (1,))) == b"\x01"     # rows untouched
    with db.transaction() as t:                            # name is free again
        cat.create_index(t, "users", Index("by_age", [3]))


def test_drop_table_deletes_rows_and_index_entries_by_range(db):
    with db.transaction() as t:
        a = cat.create_table(t, users())
        b = cat.create_table(t, Table.new("b", [col("x")]))
        for i in range(2500):
            t.put(cat.row_key(a.id, (i,)), encode_row({2: f"u{i}"}))
            t.put(cat.unique_key(a.id, 2, (f"u{i}",)), lightning.sql.keycodec.encode_key((i,)))
        t.put(cat.row_key(b.id, (1,)), b"\x01")
    cat.allocate_rowids(db, a.id, 3)
    with db.transaction() as t:
        cat.drop_table(t, "USERS")
    with db.transaction() as t:
        assert list(t.scan(prefix=cat.table_prefix(a.id))) == []
        assert t.get(cat._rowid_key(a.id)) is not None     # kept: see drop_table
        assert t.get(cat._index_name_key("lightning_autoindex_Users_1")) is None
        assert t.get(cat.row_key(b.id, (1,))) == b"\x01"   # the neighbour survives
        assert [x.name for x in cat.list_tables(t)] == ["b"]
        c = cat.create_table(t, users())
        assert c.id == 3                                   # ids are never reused


def test_list_tables_sorted_by_folded_name(db):
    with db.transaction() as t:
        for n in ["b", "A", "c"]:
            cat.create_table(t, Table.new(n, [col("x")]))
        assert [x.name for x in cat.list_tables(t)] == ["A", "b", "c"]


# ---- key layout --------------------------------------------------------------------------

def test_key_layout_bytes():
    assert cat.row_prefix(5) == b"\x02" + encode_int(5) + encode_int(1) == \
        bytes.fromhex("0228052801")
    assert cat.row_key(5, (7,)) == bytes.fromhex("02280528012807")
    assert cat.index_key(5, 2, ("a",), (7,)) == bytes.fromhex("022805280240610001" "2807")
    assert cat.unique_key(5, 2, ("a",), (7,)) == bytes.fromhex("022805280240610001")
    assert cat.unique_key(5, 2, (None,), (7,)) == bytes.fromhex("0228052802052807")
    with pytest.raises(ValueError):
        cat.unique_key(5, 2, (None,))
    # a table's rows and indexes are one range, and tables do not interleave
    assert cat.table_prefix(5) < cat.row_prefix(5) < cat.index_prefix(5, 2) \
        < cat.index_prefix(5, 300) < cat.table_prefix(6) < cat.table_prefix(256)


def test_rows_sort_by_pk_and_index_entries_by_values_then_pk(db):
    t_ = Table.new("t", [col("a"), col("b", "TEXT"), col("c", "NUMERIC")],
                   primary_key=["a"])
    with db.transaction() as t:
        t_ = cat.create_table(t, t_)
        ix = cat.create_index(t, "t", Index("ix", [2, 3], directions=["ASC", "DESC"]))
        rows = [(5, "x", Decimal("1.5")), (-3, "x", Decimal("10")), (12, None, None),
                (0, "w", Decimal("-2")), (1 << 40, "x", Decimal("10")), (-(1 << 40), "", None)]
        for pk, b, c in rows:
            t.put(cat.row_key(t_.id, (pk,)), encode_row({2: b, 3: c}))
            t.put(cat.index_key(t_.id, ix.id, (b, c), (pk,), ix.directions), b"")
    with db.transaction() as t:
        pks = [cat.decode_row_key(k, t_)[0] for k, _ in t.scan(prefix=cat.row_prefix(t_.id))]
        assert pks == sorted(r[0] for r in rows)
        entries = [cat.decode_index_key(k, t_, ix) for k, _ in
                   t.scan(prefix=cat.index_prefix(t_.id, ix.id))]
        # NULL first; b ascending; c descending; then pk ascending
        assert entries == [([None, None], [12]), (["", None], [-(1 << 40)]),
                           (["w", Decimal(-2)], [0]), (["x", Decimal(10)], [-3]),
                           (["x", Decimal(10)], [1 << 40]), (["x", Decimal("1.5")], [5])]
        eq = [cat.decode_index_key(k, t_, ix)[1] for k, _ in
              t.scan(prefix=cat.index_prefix(t_.id, ix.id, ("x",), ix.directions))]
        assert eq == [[-3], [1 << 40], [5]]


def test_unique_entries_decode_pk_from_value(db):
    t_ = Table.new("t", [col("a"), col("b", "TEXT")], primary_key=["a"], unique=[["b"]])
    t_.id = 9
    ix = t_.indexes[0]
    k = cat.unique_key(9, ix.id, ("q",), (4,))
    assert cat.decode_index_key(k, t_, ix, lightning.sql.keycodec.encode_key((4,))) == \
        (["q"], [4])
    assert cat.decode_index_key(cat.unique_key(9, ix.id, (None,), (4,)), t_, ix) == \
        ([None], [4])


# ---- rowid allocation --------------------------------------------------------------------

def test_rowids_unique_and_increasing_across_threads(db):
    out = {}

    def worker(n):
        got = []
        for i in range(300):
            got.extend(cat.allocate_rowids(db, 7, 1 + i % 3))
        out[n] = got

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    all_ids = [i for ids in out.values() for i in ids]
    assert len(all_ids) == len(set(all_ids)) == 6 * sum(1 + i % 3 for i in range(300))
    assert min(all_ids) >= 1
    for ids in out.values():
        assert ids == sorted(ids)


def test_rowids_from_two_handles_and_blocks_persist(db):
    first = cat.allocate_rowids(db, 1, 2)
    assert list(first) == [1, 2]
    cat._blocks.pop(db)                       # as if the process restarted
    nxt = cat.allocate_rowids(db, 1)
    assert nxt[0] == 1 + cat.ROWID_BLOCK      # the rest of the old block is a gap
    big = cat.allocate_rowids(db, 1, 1000)
    assert len(big) == 1000 and big[0] > nxt[0]


def test_observe_rowid(db):
    assert cat.allocate_rowids(db, 2)[0] == 1
    cat.observe_rowid(db, 2, 10)              # inside the cached block
    assert cat.allocate_rowids(db, 2)[0] == 11
    cat.observe_rowid(db, 2, 5)               # below: nothing changes
    assert cat.allocate_rowids(db, 2)[0] == 12
    cat.observe_rowid(db, 2, 10_000)          # beyond the block: a new block, persisted
    assert cat.allocate_rowids(db, 2)[0] == 10_001
    cat._blocks.pop(db)
    # the block reserved for 10_000 was the table's second one: twice ROWID_BLOCK
    assert cat.allocate_rowids(db, 2)[0] == 10_001 + 2 * cat.ROWID_BLOCK


def test_observe_rowid_climbing_ids_reserve_doubling_blocks(db, monkeypatch):
    calls = []
    real = cat._reserve

    def counting(*a, **kw):
        calls.append(a)
        return real(*a, **kw)
    monkeypatch.setattr(cat, "_reserve", counting)
    for v in range(1, 100_001):
        cat.observe_rowid(db, 3, v)
    assert len(calls) <= 20             # 64, 128, ... 65536, then 65536-sized blocks
    assert cat.allocate_rowids(db, 3)[0] == 100_001
    cat._blocks.pop(db)                 # another process: beyond every reserved id
    assert cat.allocate_rowids(db, 3)[0] > 100_001
    cat.observe_rowid(db, 2, (1 << 63) - 1)
    with pytest.raises(DataError, match="exhausted"):
        cat.allocate_rowids(db, 2)
