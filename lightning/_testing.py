"""Private test hooks: in-memory and fault-injecting file systems (lt_env) to pass to
`lightning.open(..., _env=env)`. Not part of the public API.

A FaultEnv remembers what was fsync'ed; `drop_unsynced()` simulates power loss after
the database was abandoned with `Database._crash()` (or closed).
"""

from ._ffi import check, ffi, lib
from .errors import ERROR_CLASSES

__all__ = ["MemEnv", "FaultEnv"]

_CODES = {
    "EIO": lib.LT_EIO, "ENOSPC": lib.LT_ENOSPC, "ENOMEM": lib.LT_ENOMEM,
    "ECORRUPT": lib.LT_ECORRUPT,
}


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
        code = _CODES[code] if isinstance(code, str) else code
        if code not in ERROR_CLASSES:
            raise ValueError(f"unknown error code {code!r}")
        check(lib.lt_env_fault_fail_write(self._h, n, code), "fail write")

    @property
    def syncs(self):
        """File and directory syncs so far."""
        return int(lib.lt_env_fault_syncs(self._h))
