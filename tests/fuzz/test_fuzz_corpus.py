"""Replays the Python fuzz targets' seed corpora and kept regression inputs
(tests/fuzz/corpus/, tests/fuzz/regressions/) through their promises
(codec_props.py), so every input that once broke a decoder stays a test. The fuzzers
themselves (atheris) run from csrc/fuzz/run.sh."""

import os

import pytest

import codec_props

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKS = {"rows": codec_props.check_row, "keys": codec_props.check_key}


def _inputs():
    for kind in ("corpus", "regressions"):
        for target in sorted(CHECKS):
            d = os.path.join(HERE, kind, target)
            for name in sorted(os.listdir(d)) if os.path.isdir(d) else ():
                yield pytest.param(target, os.path.join(d, name), id=f"{kind}/{target}/{name}")


@pytest.mark.parametrize("target,path", list(_inputs()))
def test_input_keeps_the_promises(target, path):
    with open(path, "rb") as f:
        CHECKS[target](f.read())


def test_there_are_seeds():
    assert {p.values[0] for p in _inputs()} == set(CHECKS)
