"""Crash safety of SQL transactions: a child process runs SQL transactions (inserts,
updates, deletes, a refused duplicate) with sync="full" on a table with a UNIQUE index
and a secondary index, printing each transaction's number only after commit() returns;
it is SIGKILLed at random moments. After each kill the parent reopens the database and
checks that the committed transactions are exactly 1..M with M >= every acknowledged
number (each whole: the table equals a replay of transactions 1..M), that constraints
hold and that every index entry agrees with the rows."""

import random

import pytest

import lightning
from conftest import run_and_kill, stress
from sqlcheck import indexed_rows

OPS = r'''
def txn_ops(n):
    """The statements of transaction n (deterministic, replayed by the parent)."""
    ops = [("INSERT INTO acct (email, grp, bal) VALUES (?, ?, ?)", (f"e{n}_{j}", (n + j) % 7, n))
           for j in range(3)]
    ops.append(("UPDATE acct SET bal = bal + 1, grp = ? WHERE email = ?", (n % 7, f"e{n - 1}_0")))
    ops.append(("DELETE FROM acct WHERE email = ?", (f"e{n - 2}_1",)))
    ops.append(("UPDATE acct SET email = email || 'x' WHERE email = ?", (f"e{n - 3}_2",)))
    ops.append(("UPDATE acct SET bal = bal * 2 WHERE grp = ? AND bal < 50", ((n * 3) % 7,)))
    ops.append(("INSERT INTO log (n) VALUES (?)", (n,)))
    return ops
'''

SCRIPT = r'''
import sys
import lightning
''' + OPS + r'''
path = sys.argv[1]
con = lightning.connect(path, sync="full")
con.execute("CREATE TABLE IF NOT EXISTS acct (id INTEGER PRIMARY KEY, "
            "email TEXT NOT NULL UNIQUE, grp INTEGER, bal INTEGER)")
con.execute("CREATE INDEX IF NOT EXISTS acct_grp ON acct (grp, bal)")
con.execute("CREATE TABLE IF NOT EXISTS log (n INTEGER PRIMARY KEY)")
con.commit()
n = (con.execute("SELECT max(n) FROM log").fetchone()[0] or 0) + 1
con.rollback()
print("ready", flush=True)
while True:
    for sql, params in txn_ops(n):
        con.execute(sql, params)
    try:   # a refused duplicate leaves the transaction open and intact
        con.execute("INSERT INTO acct (email, grp, bal) VALUES (?, 0, 0)", (f"e{n}_0",))
        raise SystemExit("duplicate email accepted")
    except lightning.IntegrityError:
        pass
    con.commit()
    print(n, flush=True)
    n += 1
'''

namespace = {}
exec(OPS, namespace)
txn_ops = namespace["txn_ops"]


def replay(m):
    """The acct rows {email: (grp, bal)} after transactions 1..m, computed in Python."""
    rows = {}
    for n in range(1, m + 1):
        for sql, params in txn_ops(n):
            if sql.startswith("INSERT INTO acct"):
                email, grp, bal = params
                rows[email] = (grp, bal)
            elif sql.startswith("UPDATE acct SET bal = bal + 1"):
                grp, email = params
                if email in rows:
                    rows[email] = (grp, rows[email][1] + 1)
            elif sql.startswith("DELETE"):
                rows.pop(params[0], None)
            elif sql.startswith("UPDATE acct SET email"):
                if params[0] in rows:
                    rows[params[0] + "x"] = rows.pop(params[0])
            elif sql.startswith("UPDATE acct SET bal = bal * 2"):
                for e, (g, b) in list(rows.items()):
                    if g == params[0] and b < 50:
                        rows[e] = (g, b * 2)
    return rows


def check_indexes(con, name):
    return indexed_rows(con, name)


def test_replay_model_is_not_trivial():
    """The model the crash test compares against changes with every transaction and
    exercises every kind of statement."""
    states = [replay(m) for m in range(8)]
    assert all(states[i] != states[i + 1] for i in range(7))
    assert "e1_2x" in states[4] and "e1_1" not in states[3]
    assert states[3]["e2_0"][0] == 3                      # updated grp


@pytest.mark.stress
def test_sql_transactions_survive_sigkill(dbpath):
    rnd = random.Random(4242)
    acked_max = 0
    total_acked = 0
    for _ in range(stress(10, 60)):
        acked = run_and_kill(SCRIPT, [dbpath], rnd)
        assert acked == sorted(acked) and all(a > acked_max for a in acked), acked
        total_acked += len(acked)
        if acked:
            acked_max = acked[-1]
        con = lightning.connect(dbpath)
        try:
            try:
                logged = [r[0] for r in con.execute("SELECT n FROM log ORDER BY n")]
            except lightning.ProgrammingError:      # killed before the schema committed
                assert acked_max == 0
                continue
            m = len(logged)
            # committed transactions: exactly 1..m, including every acknowledged one
            assert logged == list(range(1, m + 1))
            assert m >= acked_max
            # each committed transaction is whole and none other left a trace
            got = {e: (g, b) for e, g, b in con.execute("SELECT email, grp, bal FROM acct")}
            assert got == replay(m)
            # constraints: emails unique, not null
            emails = [r[0] for r in con.execute("SELECT email FROM acct")]
            assert len(emails) == len(set(emails)) and None not in emails
            con.rollback()
            t, rows = check_indexes(con, "acct")
            assert len(t.indexes) >= 2 and any(ix.unique for ix in t.indexes)
            assert len(rows) == len(got)
            # the reopened database takes new writes and enforces the unique index
            if got:
                with pytest.raises(lightning.IntegrityError):
                    con.execute("INSERT INTO acct (email, grp, bal) VALUES (?, 0, 0)",
                                (next(iter(got)),))
            con.rollback()
        finally:
            con.close()
        acked_max = max(acked_max, m)
    assert total_acked > 0, "the child never acknowledged a transaction"
