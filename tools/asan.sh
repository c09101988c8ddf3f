#!/bin/sh
# `make asan`: the unit, property and robustness tests (and the message fuzzer with 10,000
# examples) under AddressSanitizer and UndefinedBehaviorSanitizer.
#
#  1. pjproject from the same source, options and config_site.h as the normal build, compiled
#     with -fsanitize=address,undefined into a cache prefix of its own
#     (build_pjsip.py --sanitize; the normal build and ~/.cache/sipcore/current are untouched);
#  2. sipcore's cffi module compiled and linked with the same flags against it, installed (not
#     editable: the checkout's own module stays the normal one) into $ASAN_VENV (.venv-asan),
#     built from a copy of the sources in build/asan/src so no object file of the normal
#     build is reused;
#  3. the tests, by the venv's (not instrumented) Python with libasan preloaded,
#     SIPCORE_MALLOC_POOLS=1 (pjlib's malloc pool policy instead of sipcore's slabs, so ASan
#     sees every pool block; glue_pool.c) and SIPCORE_FUZZ_PROFILE=fuzz-asan.
#
# Reports go to build/asan/reports/report.<pid> (children such as the second sipcore process
# write theirs there too; UBSan's may come inline, in build/asan/pytest.log): any report fails
# the run.  Leak detection is off: the interpreter's own allocations at exit are noise
# (ASAN_SANITIZE_LEAKS=1 turns it on, for a narrower ASAN_PYTEST_ARGS).  ASAN_PYTEST_ARGS: what
# pytest runs (default: the three folders, their long forms included -- the 5,000-example
# parser fuzzers).
set -eu

PYTHON=${PYTHON:-python3}
ASAN_VENV=${ASAN_VENV:-.venv-asan}
SANITIZE=address,undefined
FLAGS="-fsanitize=$SANITIZE -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
OUT=build/asan
REPORTS=$OUT/reports

top=$PWD
pc=$($PYTHON build_pjsip.py --sanitize "$SANITIZE" --pc-path)
echo "asan: pjproject with -fsanitize=$SANITIZE: $pc"

stamp="$ASAN_VENV/.sipcore-asan-installed"
newest=$(find src pyproject.toml setup.py build_pjsip.py -newer "$stamp" -print -quit 2>/dev/null || echo all)
if [ ! -e "$stamp" ] || [ -n "$newest" ]; then
    test -x "$ASAN_VENV/bin/python" || $PYTHON -m venv "$ASAN_VENV"
    "$ASAN_VENV/bin/python" -m pip install -q --upgrade pip
    rm -rf "$OUT/src"
    mkdir -p "$OUT/src"
    cp -r src pyproject.toml setup.py README.md LICENSE MANIFEST.in build_pjsip.py "$OUT/src/"
    rm -rf "$OUT/src/src/sipcore/_pjsip"*.so "$OUT/src/src/sipcore/_pjsip.c" "$OUT/src/src/"*.egg-info
    PKG_CONFIG_PATH="$pc" CFLAGS="$FLAGS" LDFLAGS="$FLAGS" \
        "$ASAN_VENV/bin/python" -m pip install -q --no-cache-dir "$OUT/src[test]"
    touch "$stamp"
fi

# the module the tests will import is the instrumented one, on the instrumented pjproject
libasan=$(gcc -print-file-name=libasan.so)
mod=$(cd / && LD_PRELOAD="$libasan" ASAN_OPTIONS=detect_leaks=0 \
      "$top/$ASAN_VENV/bin/python" -c "import sipcore._pjsip as m; print(m.__file__)")
case "$mod" in "$PWD/$ASAN_VENV"/*|"$ASAN_VENV"/*) ;; *) echo "asan: error: sipcore._pjsip is $mod" >&2; exit 1;; esac
ldd "$mod" | grep -q libasan || { echo "asan: error: $mod is not linked with libasan" >&2; exit 1; }
ldd "$mod" | grep -q "$(dirname "$pc")/libpjsip\." ||
    { echo "asan: error: $mod does not use the pjproject in $pc" >&2; exit 1; }
echo "asan: module $mod"

rm -rf "$REPORTS"
mkdir -p "$REPORTS"
leaks=${ASAN_SANITIZE_LEAKS:-0}
start=$(date +%s)
# shellcheck disable=SC2086
env LD_PRELOAD="$libasan" \
    ASAN_OPTIONS="detect_leaks=$leaks:log_path=$top/$REPORTS/report:halt_on_error=1" \
    LSAN_OPTIONS="exitcode=0" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$top/$REPORTS/report" \
    SIPCORE_MALLOC_POOLS=1 SIPCORE_FUZZ_PROFILE=fuzz-asan PYTHONFAULTHANDLER=1 \
    "$ASAN_VENV/bin/python" -m pytest -p no:cacheprovider -s -q -rfE --durations=15 \
    ${ASAN_PYTEST_ARGS:-tests/unit tests/property tests/robustness} \
    > "$OUT/pytest.log" 2>&1 &
pid=$!
tail -n +1 -f --pid=$pid "$OUT/pytest.log"
set +e
wait $pid
rc=$?
set -e
# (UBSan writes to stderr when ASan's runtime owns the log: count both)
inline=$(grep -c -E "runtime error:|ERROR: (Address|UndefinedBehavior)Sanitizer" "$OUT/pytest.log" || true)
if [ "$leaks" = 1 ]; then
    # every Python process leaks at exit: only the leaks through pjproject/sipcore count
    files=$(grep -L "leak of" "$REPORTS"/* 2>/dev/null | wc -l)
    $PYTHON tools/lsan_ours.py "$REPORTS"/* 2>/dev/null || files=$((files + 1))
else
    files=$(find "$REPORTS" -type f | wc -l)
fi
echo "asan: pytest exit $rc in $(( $(date +%s) - start )) s; sanitizer reports: $files in" \
     "$REPORTS, $inline in $OUT/pytest.log"
[ "$leaks" = 1 ] || for f in $(find "$REPORTS" -type f | head -5); do echo "---- $f"; head -40 "$f"; done
[ "$files" -eq 0 ] && [ "$inline" -eq 0 ] && [ "$rc" -eq 0 ]
