"""The exceptions of Lightning (PEP 249's hierarchy plus CorruptionError) and the one
table that maps the C engine's error codes to them.

The SQL driver re-exports these classes, so `except lightning.OperationalError` catches
the same errors at every layer. Every exception raised for an engine error carries the
C code in `.code`; exceptions raised by argument checks in Python carry the code the
engine would have returned.
"""

import builtins

__all__ = [
    "Warning", "Error", "InterfaceError", "DatabaseError", "DataError",
    "OperationalError", "IntegrityError", "InternalError", "ProgrammingError",
    "NotSupportedError", "CorruptionError", "ConflictError",
]


class Warning(builtins.Exception):  # noqa: A001 - the name is fixed by PEP 249
    """Important warnings (PEP 249); not raised by the KV layer."""


class Error(builtins.Exception):
    """Base class of every Lightning error. `.code` is the C error code, or None."""

    def __init__(self, *args, code=None):
        super().__init__(*args)
        self.code = code


class InterfaceError(Error):
    """Misuse of the interface: a closed database, snapshot or iterator."""


class DatabaseError(Error):
    """Errors related to the database itself."""


class DataError(DatabaseError):
    """A key or value the database cannot store (too large)."""


class OperationalError(DatabaseError):
    """The database could not do the operation: I/O failure, disk full, locked by
    another process, missing database, read-only, out of memory."""


class ConflictError(OperationalError):
    """A transaction could not commit because another commit changed what it wrote
    (or, under "serializable", what it read or scanned) after its snapshot. Nothing of
    it was written; running it again (see `lightning.retry`) normally succeeds.
    `sqlstate` is "40001" (serialization_failure), as in PostgreSQL, so retry logic
    written for PostgreSQL recognises it."""

    sqlstate = "40001"


class IntegrityError(DatabaseError):
    """Relational integrity violated (used by the SQL layer)."""


class InternalError(DatabaseError):
    """The engine reached a state it does not expect; a bug."""


class ProgrammingError(DatabaseError):
    """A bad argument value: an unknown option value, a negative size, a bad range."""


class NotSupportedError(DatabaseError):
    """A feature that this build or database does not support."""


class CorruptionError(DatabaseError):
    """A file failed its checksum or format check. Lightning never returns data from
    a damaged block: it raises this instead."""


# C codes (lightning.h, LT_E*) -> exception class. Stable values, so they are written
# out here and checked against the compiled module by the tests.
ENOTFOUND = -30700
ECORRUPT = -30701
EIO = -30702
EINVAL = -30703
ENOMEM = -30704
ELOCKED = -30705
EREADONLY = -30706
ECLOSED = -30707
ECONFLICT = -30708
ENOENT = -30709
EVERSION = -30710
ENOSPC = -30711
EBUSY = -30712
EFORKED = -30714

ERROR_CLASSES = {
    ECORRUPT: CorruptionError,
    EIO: OperationalError,
    EINVAL: ProgrammingError,
    ENOMEM: OperationalError,     # PEP 249 lists memory allocation under OperationalError
    ELOCKED: OperationalError,
    EREADONLY: OperationalError,
    ECLOSED: InterfaceError,
    ECONFLICT: ConflictError,     # an OperationalError with sqlstate 40001
    ENOENT: OperationalError,
    EVERSION: DatabaseError,
    ENOSPC: OperationalError,
    EBUSY: OperationalError,
    # A handle inherited across fork() is misuse of the interface, like a closed one
    # (retrying cannot help; the child must open the database itself), hence
    # InterfaceError, as sqlite3 reports using a connection outside its thread.
    EFORKED: InterfaceError,
    ENOTFOUND: InternalError,     # never an error for callers; reaching here is a bug
}


def error_class(code):
    """The exception class for C error `code` (InternalError for unknown codes)."""
    return ERROR_CLASSES.get(code, InternalError)
