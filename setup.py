"""setuptools hook that compiles the C engine into `lightning._lightning_ffi` with cffi
(all other metadata lives in pyproject.toml)."""

from setuptools import setup

setup(cffi_modules=["lightning/_build_ffi.py:ffibuilder"])
