"""Shared helpers of the SQL tests: a table's indexes agree with its rows, read
straight from the KV store through the catalog's key helpers; callables run in
threads with their exceptions re-raised."""

import threading

from lightning.sql import catalog
from lightning.sql.rowcodec import decode_row


def indexed_rows(con, name):
    """Assert that every index entry of table `name` matches a row and every row has
    its entries; return (table, rows). Reads committed data only."""
    with con.kv.transaction() as txn:
        t = catalog.load_table(txn, name)
        rows = [decode_row(v, t.columns) for _, v in txn.scan(prefix=catalog.row_prefix(t.id))]
        pkpos = [t.columns.index(t.column_by_id(c)) for c in t.primary_key]
        for ix in t.indexes:
            pos = [t.columns.index(t.column_by_id(c)) for c in ix.column_ids]
            want = sorted(((tuple(r[i] for i in pos), tuple(r[i] for i in pkpos))
                           for r in rows), key=repr)
            got = []
            for k, v in txn.scan(prefix=catalog.index_prefix(t.id, ix.id)):
                vals, pk = catalog.decode_index_key(k, t, ix, v)
                got.append((tuple(vals), tuple(pk)))
            assert sorted(got, key=repr) == want, ix.name
        return t, rows


def run_threads(*targets):
    """Run each callable in a thread; re-raise the first exception any of them hit."""
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as e:     # noqa: BLE001 - reported to the test
                errors.append(e)
        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
        assert not t.is_alive(), "thread hung"
    if errors:
        raise errors[0]
