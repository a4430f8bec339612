"""Private test hooks: in-memory and fault-injecting file systems (lt_env) to pass to
`lightning.open(..., _env=env)`. Not part of the public API.

A FaultEnv remembers what was fsync'ed; `drop_unsynced()` simulates power loss after
the database was abandoned with `Database._crash()` (or closed). It counts the file
operations of each kind (`count`) and fails the n-th one of chosen kinds (`fail`), so a
test can first count the operations of a workload, then fail each of them in turn.
"""

from ._ffi import check, ffi, lib
from .errors import ERROR_CLASSES

__all__ = ["MemEnv", "FaultEnv", "FAULT_OPS"]

# The kinds of file operation a FaultEnv counts and can fail (lightning.h LT_FAULT_*).
FAULT_OPS = {
    "append": lib.LT_FAULT_APPEND, "sync": lib.LT_FAULT_SYNC,
    "sync_dir": lib.LT_FAULT_SYNC_DIR, "rename": lib.LT_FAULT_RENAME,
    "create": lib.LT_FAULT_CREATE, "remove": lib.LT_FAULT_REMOVE,
    "truncate": lib.LT_FAULT_TRUNCATE, "mkdir": lib.LT_FAULT_MKDIR,
}

_CODES = {
    "EIO": lib.LT_EIO, "ENOSPC": lib.LT_ENOSPC, "ENOMEM": lib.LT_ENOMEM,
    "ECORRUPT": lib.LT_ECORRUPT,
}


def _code(code):
    code = _CODES[code] if isinstance(code, str) else code
    if code not in ERROR_CLASSES:
        raise ValueError(f"unknown error code {code!r}")
    return code


def _mask(ops):
    """A mask of LT_FAULT_* bits from an op name, an iterable of names, or "all"."""
    if ops == "all":
        return lib.LT_FAULT_ALL
    names = [ops] if isinstance(ops, str) else list(ops)
    unknown = [n for n in names if n not in FAULT_OPS]
    if unknown:
        raise ValueError(f"unknown fault op(s) {unknown!r}; known: {sorted(FAULT_OPS)}")
    mask = 0
    for n in names:
        mask |= FAULT_OPS[n]
    return mask


def _free_env(h, keep):
    lib.lt_env_free(h)
    del keep   # a base env is freed only after the layers over it


class MemEnv:
    """A fresh in-memory file system; persists across opens until garbage collected."""

    def __init__(self):
        out = ffi.new("lt_env **")
        check(lib.lt_env_mem_new(out), "memory env")
        self._h = ffi.gc(out[0], lambda h: _free_env(h, None))


class FaultEnv:
    """A fault-injecting layer over `base` (a MemEnv or another env object)."""

    def __init__(self, base):
        out = ffi.new("lt_env **")
        check(lib.lt_env_fault_new(base._h, out), "fault env")
        self._base = base
        self._h = ffi.gc(out[0], lambda h, keep=base: _free_env(h, keep))

    def drop_unsynced(self):
        """Simulate power loss: unsynced file data and directory changes revert.
        REQUIRES: every database on this env is closed or crashed."""
        check(lib.lt_env_fault_drop_unsynced(self._h), "drop unsynced")

    def fail_write(self, n, code="EIO"):
        """Make the n-th append from now fail with `code` ("EIO", "ENOSPC", ... or an
        LT_E* int); n = 0 disables."""
        check(lib.lt_env_fault_fail_write(self._h, n, _code(code)), "fail write")

    def fail(self, ops, n, code="EIO", *, sticky=False, partial=False):
        """Make the n-th operation from now of the kinds `ops` (a name of FAULT_OPS,
        a list of them, or "all") fail with `code`; `sticky`: every later matching one
        too (a full disk); `partial`: a failing append writes half its bytes first.
        n = 0 disarms. Replaces the fault armed before."""
        flags = (lib.LT_FAULT_STICKY if sticky else 0) | (lib.LT_FAULT_PARTIAL if partial else 0)
        check(lib.lt_env_fault_fail(self._h, _mask(ops), n, _code(code), flags), "fail")

    def clear(self):
        """Disarm the fault."""
        check(lib.lt_env_fault_fail(self._h, 0, 0, lib.LT_EIO, 0), "fail")

    def count(self, ops="all"):
        """Operations of the kinds `ops` attempted so far (failed ones included)."""
        return int(lib.lt_env_fault_count(self._h, _mask(ops)))

    @property
    def injected(self):
        """Failures injected so far."""
        return int(lib.lt_env_fault_injected(self._h))

    @property
    def syncs(self):
        """File and directory syncs so far."""
        return int(lib.lt_env_fault_syncs(self._h))
