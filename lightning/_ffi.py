"""The only module that touches the compiled engine: exports `ffi` and `lib`, the zstd
codec table handed to the engine, and `check`/`raise_error`, which turn a C error code
into the mapped exception with the engine's message. No other logic lives here.
"""

from ._lightning_ffi import ffi, lib
from .errors import NotSupportedError, error_class

__all__ = ["ffi", "lib", "check", "raise_error", "error_message", "zstd_codec", "NULL"]

NULL = ffi.NULL


def error_message(code):
    """The engine's message for the failure this thread just saw (or its strerror)."""
    msg = ffi.string(lib.lt_errmsg())
    if not msg:
        msg = ffi.string(lib.lt_strerror(code))
    return msg.decode("utf-8", "replace")


def raise_error(code, op):
    """Raise the exception mapped to C error `code`, message "<op>: <engine message>"
    (the engine's own leading "<op>: " is not repeated)."""
    msg = error_message(code)
    verb = op.split(" ", 1)[0] + ": "
    if msg.startswith(verb):
        msg = msg[len(verb):]
    raise error_class(code)(f"{op}: {msg}", code=code)


def check(rc, op):
    """Raise the mapped exception unless `rc` is LT_OK."""
    if rc:
        raise_error(rc, op)


# ---- zstd codec ---------------------------------------------------------------------
# The engine is codec-agnostic: it calls zstd through an lt_codec of function pointers.
# They come from the `zstandard` package's bundled libzstd (its cffi backend), so no
# system zstd headers or library are needed. `_zstd_module` stays referenced for the
# life of the process so the library providing those functions is never unloaded.

_ZSTD_FUNCS = {
    "create_cctx": "ZSTD_createCCtx",
    "free_cctx": "ZSTD_freeCCtx",
    "compress": "ZSTD_compressCCtx",
    "create_dctx": "ZSTD_createDCtx",
    "free_dctx": "ZSTD_freeDCtx",
    "decompress": "ZSTD_decompressDCtx",
    "is_error": "ZSTD_isError",
    "compress_bound": "ZSTD_compressBound",
}
ZSTD_DEFAULT_LEVEL = 3

_zstd_module = None
_zstd_codecs = {}
_zstd_error = None


def _load_zstd():
    global _zstd_module, _zstd_error
    try:
        import zstandard._cffi as zmod
    except ImportError as exc:  # a zstandard build without its cffi backend
        _zstd_error = f"zstd compression needs the zstandard package's cffi backend: {exc}"
        return
    _zstd_module = zmod


def zstd_codec(level=ZSTD_DEFAULT_LEVEL):
    """A `const lt_codec *` for zstd at `level`, built once per level, alive forever."""
    codec = _zstd_codecs.get(level)
    if codec is not None:
        return codec
    if _zstd_module is None and _zstd_error is None:
        _load_zstd()
    if _zstd_module is None:
        raise NotSupportedError(_zstd_error)
    zffi, zlib = _zstd_module.ffi, _zstd_module.lib
    codec = ffi.new("lt_codec *")
    for field, name in _ZSTD_FUNCS.items():
        addr = int(zffi.cast("uintptr_t", zffi.addressof(zlib, name)))
        setattr(codec, field, ffi.cast(ffi.typeof(getattr(codec, field)), addr))
    codec.level = level
    _zstd_codecs[level] = codec
    return codec
