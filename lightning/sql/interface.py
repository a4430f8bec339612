"""The interface the SQL layer offers the DB-API driver (lightning/dbapi): the
`Executor` protocol it implements (SqlExecutor, executor.py) and the `Result` it
returns. The driver is written against this module; the SQL layer never imports the
driver.

Contract (the driver's side):

- One executor per connection: the driver calls `factory(connection)` once in
  `connect()`; `connection.cached_statements` is the plan-cache size the user asked
  for. Without `executor=`, `connect()` uses lightning/dbapi/executor.py's
  `default_factory`, which returns this layer's SqlExecutor.
- `execute(txn, sql, params)` is called for each data statement, with:
    txn     the open `lightning.Transaction` the statement runs in (the connection's
            current transaction, or in autocommit mode one made for this statement).
            The driver begins, commits and rolls it back; the executor never does.
    sql     the statement exactly as the user wrote it: one statement, never empty,
            never transaction control (BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE are
            handled by the driver); a trailing `;` may be present.
    params  () when the statement has no placeholders; a tuple with one value per `?`
            in order (qmark); or a dict name -> value with exactly the names of its
            `:name` placeholders (named). Styles are never mixed, counts and names
            have been checked, and values are None, bool, int, float, str, bytes,
            Decimal, date, time or datetime (see params.py). Values are not range- or
            type-checked against columns: that is the executor's DataError.
- The driver wraps each call for a statement other than SELECT and EXPLAIN in a
  savepoint of `txn`: if `execute` raises, the writes it made are undone and the
  exception propagates to the user unchanged. So every write must happen inside
  `execute`, and a SELECT or EXPLAIN must never write; `Result.rows` may be lazy only
  for reads (a RETURNING clause computes its rows before returning).
- Optional: `execute_many(txn, sql, param_sets)` runs `sql` once per parameter set (an
  iterator of bound parameters, as above) and returns one Result whose rowcount is the
  total, or None to have the driver call execute() once per set (it then refuses a
  statement that returns rows). executemany() uses it when present (inside one
  savepoint), so the executor can prepare once.
- Optional: `fast_path(sql)` -> None, or a runner for a statement the executor has
  already executed and can run in one step. `runner.writes` False: a read;
  `runner.run(txn, parameters)` returns the row tuples, a list or a lazy iterable
  read from `txn` as execute()'s Result.rows may be (description:
  `runner.description`, a tuple of 7-tuples), and runs without a savepoint.
  `runner.writes` True: a statement without a result set; `run` returns a Result
  (rowcount, lastrowid) and the driver wraps it in a statement savepoint. Either may
  return None to send this execution down the normal path. `parameters` are the
  user's, unchecked: a runner returns None unless they are exactly what bind() would
  pass through (a tuple of plain values of the right length) and the statement is
  still prepared under the schema `txn` sees. The driver asks after each normal
  execution of a SELECT, INSERT, UPDATE or DELETE and keeps at most
  `cached_statements` runners per connection.
- Optional: `conflict_message(message)` -> None, or the message of a ConflictError
  raised by a commit (the engine's, naming a raw key) rewritten in the executor's
  terms (e.g. the table and key values); the driver raises a ConflictError with it.
- Errors are the PEP 249 classes of lightning.errors: ProgrammingError (syntax with
  its position, unknown names), IntegrityError, DataError, NotSupportedError naming
  the construct, OperationalError (ConflictError is raised by the commit, not here).
- Rows are read lazily by the cursor while the transaction is open; before the
  transaction ends (commit, rollback, autocommit) the driver reads the rest of every
  open result set into memory, so the rows iterator never outlives `txn`.

Type codes (`Result.description`): the second item of each column is a type-code
string, compared case-insensitively (and ignoring a "(n, m)" suffix) with the type
objects of lightning/dbapi/typeobjects.py. The SQL layer reports one of TYPE_CODES:
the column's declared base type, or "ROWID" for an INTEGER PRIMARY KEY column; expressions report the type
of their value, or None when unknown.
"""

from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

__all__ = ["Result", "Executor", "TYPE_CODES"]

TYPE_CODES = ("INTEGER", "BIGINT", "SMALLINT", "REAL", "FLOAT", "DOUBLE", "NUMERIC",
              "DECIMAL", "BOOLEAN", "TEXT", "VARCHAR", "CHAR", "JSON", "BLOB", "DATE",
              "TIME", "TIMESTAMP", "DATETIME", "ROWID")


@dataclass
class Result:
    """What executing one data statement returns.

    description  for a statement that returns rows (SELECT, EXPLAIN, ... RETURNING):
                 a list with one (name, type_code) pair per column -- or a longer
                 tuple, up to PEP 249's 7 items (name, type_code, display_size,
                 internal_size, precision, scale, null_ok); the driver pads with None.
                 A *tuple* of 7-tuples is taken as already padded and used as is.
                 None for a statement that returns no rows.
    rows         an iterable of tuples, consumed once and lazily (empty without rows).
    rowcount     rows inserted, updated or deleted by DML; -1 otherwise.
    lastrowid    the rowid of the last row inserted, or None.
    """

    description: list[tuple] | None = None
    rows: Iterable[tuple] = field(default=())
    rowcount: int = -1
    lastrowid: int | None = None


class Executor(Protocol):
    def execute(self, txn: Any, sql: str, params: tuple | dict) -> Result:
        """Run one data statement inside `txn` (see the module docstring)."""
        ...
