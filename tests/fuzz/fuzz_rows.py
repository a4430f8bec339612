"""atheris fuzz target: the SQL row decoders on arbitrary bytes (promises in
codec_props.py). Run by csrc/fuzz/run.sh, or by hand with libFuzzer's flags:
    python tests/fuzz/fuzz_rows.py -max_total_time=60 tests/fuzz/corpus/rows
Seeds: tests/fuzz/corpus/rows/ (written by make_seeds.py); inputs that once broke a
promise: tests/fuzz/regressions/rows/ (test_fuzz_corpus.py replays both)."""

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

with atheris.instrument_imports(include=["lightning", "codec_props"]):
    import codec_props


def test_one_input(data):
    codec_props.check_row(data)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
