#!/bin/sh
# The README's second command: install, build, and run the whole test suite.
#   1. Release build, every test through ctest (unit, integration, interop).
#   2. clang ASan+UBSan build, unit tests again.
#   3. clang TSan build, the multi-threaded tests (RIB model test, attr interning).
#   4. clang libFuzzer targets, each for RH_FUZZ_SECONDS (default 60) under ASan+UBSan.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
jobs=$(nproc)

echo "== release build and full test suite"
sh scripts/build.sh build
(cd build && ctest --output-on-failure -j "$jobs")

echo "== clang ASan+UBSan build, unit tests"
CC=clang sh scripts/build.sh build-asan -DRH_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	ctest --output-on-failure -j "$jobs" -L unit)

echo "== clang TSan build, multi-threaded tests (2 io threads, 2 shards)"
CC=clang sh scripts/build.sh build-tsan -DRH_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo
(cd build-tsan && RH_MODEL_IO=2 RH_MODEL_SHARDS=2 TSAN_OPTIONS=halt_on_error=1 \
	ctest --output-on-failure -j "$jobs" -L tsan)

echo "== libFuzzer targets"
CC=clang sh scripts/build.sh build-fuzz -DRH_SANITIZE=address,undefined -DRH_FUZZ=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo
sh tests/fuzz/run.sh build-fuzz/fuzz "${RH_FUZZ_SECONDS:-60}"
echo "== all tests passed"
