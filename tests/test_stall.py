"""Write stalls with compaction in the foreground: with background_compaction=False
nothing compacts behind the writers' backs, so when level 0 reaches l0_stop_trigger
files the writer that would wait compacts itself, and writes go on. Run in a child
process with a timeout, so a writer that waits forever fails the test instead of
hanging the run."""

import json
import subprocess
import sys

import pytest

import lightning

from conftest import TINY, child_env

WRITER = r"""
import json, sys, lightning
opts = json.loads(sys.argv[2])
db = lightning.open(sys.argv[1], sync="off", background_compaction=False, **opts)
for i in range(int(sys.argv[3])):
    db.put(b"k%07d" % i, b"v%07d" % i + b"." * 200)
st = db.stats()
db.close()
print(json.dumps(st))
"""

N = 3000   # with 16 KiB memtables: about 40 flushes, past the 12 of l0_stop_trigger


def run_writer(path, n, **opts):
    r = subprocess.run([sys.executable, "-c", WRITER, path, json.dumps(opts),
                        str(n)], capture_output=True, env=child_env(), timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    return json.loads(r.stdout)


@pytest.mark.timeout(300)
def test_writes_past_the_stop_trigger_without_background_compaction(dbpath):
    opts = dict(TINY)   # default level-0 triggers: compaction 4, slowdown 8, stop 12
    try:
        st = run_writer(dbpath, N, **opts)
    except subprocess.TimeoutExpired:
        pytest.fail("a writer waited forever for a compaction that never runs")
    assert st["flushes"] > 2 * 12, st
    assert st["compactions"] > 0, st
    with lightning.open(dbpath, background_compaction=False, **opts) as db:
        for i in range(N):
            assert db.get(b"k%07d" % i) == b"v%07d" % i + b"." * 200, i
        assert sum(1 for _ in db.scan()) == N
