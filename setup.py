"""setuptools hook that compiles the C engine into `lightning._lightning_ffi` with cffi
and the codec speedups (lightning/_speedups*.c, plain Python C API) into
`lightning._speedups` (all other metadata lives in pyproject.toml).
LIGHTNING_SANITIZE=1 builds both with AddressSanitizer and UndefinedBehaviorSanitizer."""

import os

from setuptools import Extension, setup

if os.environ.get("LIGHTNING_SANITIZE") == "1":
    _OPT = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all"]
    _LINK = ["-fsanitize=address,undefined"]
else:
    _OPT = ["-O2"]
    _LINK = []

setup(
    cffi_modules=["lightning/_build_ffi.py:ffibuilder"],
    ext_modules=[Extension("lightning._speedups",
                           ["lightning/_speedups.c", "lightning/_speedups_rows.c",
                            "lightning/_speedups_keys.c", "lightning/_speedups_insert.c",
                            "lightning/_speedups_txn.c"],
                           include_dirs=["csrc/include"],
                           depends=["lightning/_speedups.h", "csrc/include/lightning.h"],
                           extra_compile_args=["-std=c11", *_OPT, "-Wall", "-Wextra"],
                           extra_link_args=_LINK)],
)
