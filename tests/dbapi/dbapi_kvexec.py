"""A test executor for driver-level tests: it runs tiny "statements" against the
transaction the driver hands it, so tests can observe the driver's transaction
handling through `conn.kv`. It is not SQL and never stands in for SQL results.

    PUT k v      txn.put(k, v); rowcount 1, lastrowid = len(v)
    DEL k        txn.delete(k); rowcount 1
    GET k        one row (value,) or none; description [("value", "BLOB")]
    SCAN p       rows (key, value) for keys starting with p
    PUTFAIL k v  txn.put(k, v), then IntegrityError (tests statement atomicity)

Each operand is a word, or `?` / `:name` taken from the parameters.
"""

import lightning
from lightning.dbapi import Result


class KVExecutor:
    def __init__(self, connection):
        self.connection = connection
        self.calls = []

    def execute(self, txn, sql, params):
        self.calls.append((sql, params))
        words = sql.rstrip(";").split()
        op = words[0].upper()
        pos = iter(params) if isinstance(params, tuple) else None

        def arg(w):
            if w == "?":
                v = next(pos)
            elif w.startswith(":"):
                v = params[w[1:]]
            else:
                v = w
            return v.encode() if isinstance(v, str) else bytes(v)

        args = [arg(w) for w in words[1:]]
        if op == "PUT":
            txn.put(args[0], args[1])
            return Result(rowcount=1, lastrowid=len(args[1]))
        if op == "DEL":
            txn.delete(args[0])
            return Result(rowcount=1)
        if op == "GET":
            v = txn.get(args[0])
            return Result(description=[("value", "BLOB")], rows=iter([] if v is None else [(v,)]))
        if op == "SCAN":
            return Result(description=[("key", "BLOB"), ("value", "BLOB", None, None, None, None, True)],
                          rows=txn.scan(prefix=args[0]))
        if op == "PUTFAIL":
            txn.put(args[0], args[1])
            raise lightning.IntegrityError("PUTFAIL always fails")
        raise lightning.ProgrammingError(f"unknown test statement {op}")
