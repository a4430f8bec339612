#!/usr/bin/env bash
# run.sh: run every fuzz target for FUZZ_SECONDS seconds each (default 60), one after
# the other, and fail if any of them finds a crash, a leak, undefined behaviour or a
# broken promise. C targets: csrc/fuzz/fuzz_*.c under libFuzzer (built here with
# `make -C csrc fuzz`, clang needed); Python targets: tests/fuzz/fuzz_*.py under
# atheris (run with $PYTHON, default python3, which must import lightning and
# atheris). Each target starts from its seed corpus and kept regression inputs.
#
#   FUZZ_SECONDS=600 csrc/fuzz/run.sh            longer runs
#   csrc/fuzz/run.sh table log                   only these targets
#   FUZZ_OUT=/tmp/fz csrc/fuzz/run.sh            keep logs, new inputs and crashes there
#
# A crashing input is written to $FUZZ_OUT/<target>/crash-* (or leak-*, timeout-*);
# once the bug is fixed, keep it as csrc/fuzz/regressions/<target>/<name> (C) or
# tests/fuzz/regressions/<target>/<name> (Python), where `make check` / pytest
# replay it.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CSRC="$(dirname "$HERE")"
ROOT="$(dirname "$CSRC")"
SECS="${FUZZ_SECONDS:-60}"
PYTHON="${PYTHON:-python3}"
OUT="${FUZZ_OUT:-}"
if [ -z "$OUT" ]; then
    OUT="$(mktemp -d)"
    trap 'rm -rf "$OUT"' EXIT
fi

c_targets=$(cd "$HERE" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
py_targets=$(cd "$ROOT/tests/fuzz" 2>/dev/null && ls fuzz_*.py 2>/dev/null | sed 's/^fuzz_//; s/\.py$//')
want="${*:-$c_targets $py_targets}"

# Longest input per target: a log needs more than one 32 KiB block.
max_len() {
    case "$1" in
        log) echo 40000 ;;
        table) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

if [ -n "$(comm -12 <(echo "$want" | tr ' ' '\n' | sort) <(echo "$c_targets" | tr ' ' '\n' | sort))" ]; then
    make -s -C "$CSRC" fuzz >"$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; echo "fuzz: build failed"; exit 1; }
fi

failed=0
for t in $want; do
    mkdir -p "$OUT/$t/new"
    if echo "$c_targets" | grep -qx "$t"; then
        cmd=("$CSRC/build-fuzz/fuzz/fuzz_$t")
        seeds=("$HERE/corpus/$t" "$HERE/regressions/$t")
    elif echo "$py_targets" | grep -qx "$t"; then
        cmd=("$PYTHON" "$ROOT/tests/fuzz/fuzz_$t.py")
        seeds=("$ROOT/tests/fuzz/corpus/$t" "$ROOT/tests/fuzz/regressions/$t")
    else
        echo "fuzz: no target named $t"; failed=1; continue
    fi
    dirs=("$OUT/$t/new")
    for d in "${seeds[@]}"; do [ -d "$d" ] && dirs+=("$d"); done
    "${cmd[@]}" -max_total_time="$SECS" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -max_len="$(max_len "$t")" -artifact_prefix="$OUT/$t/" "${dirs[@]}" >"$OUT/$t/log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$t/log" | tail -n 1)
    if [ $rc -ne 0 ]; then
        failed=1
        echo "fuzz $t: FAILED (exit $rc) after ${execs:-?} executions; the end of its log:"
        tail -n 40 "$OUT/$t/log"
        ls "$OUT/$t"/crash-* "$OUT/$t"/leak-* "$OUT/$t"/timeout-* "$OUT/$t"/oom-* 2>/dev/null
    else
        echo "fuzz $t: ok, ${execs:-?} executions in ${SECS} s"
    fi
done
exit $failed
