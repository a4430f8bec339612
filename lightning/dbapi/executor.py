"""Which SQL executor `connect()` gives a connection when no `executor=` is passed.
The executor interface itself (`Executor`, `Result`, the contract between the driver
and the SQL layer) is lightning/sql/interface.py."""

from ..sql.interface import Executor, Result

__all__ = ["Executor", "Result", "default_factory"]


def default_factory(connection):
    """The executor `connect()` gives a connection when no `executor=` is passed:
    the SQL layer's (lightning/sql/executor.py)."""
    from ..sql.executor import SqlExecutor
    return SqlExecutor(connection)
