#!/bin/sh
# bench/run at a tiny scale: the side-by-side runner works end to end.
# Asserts correctness only (exit status, the loadgen verified every spoke's
# routes and digest, per-daemon process figures present), never timings.
#   1. fanout --scale 0.01 against routehubd alone;
#   2. ingest --scale 0.01 (part of the real 2015 table) against routehubd and BIRD.
# Every run is bounded: bench/run --cap per daemon, and timeout(1) around it.
set -eu
: "${RH_BIN:?RH_BIN: directory of routehubd and routehub-loadgen}"
src=${RH_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
run="$src/bench/run"
for b in routehubd routehub-loadgen; do
	[ -x "$RH_BIN/$b" ] || { echo "SKIP: $RH_BIN/$b not built"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
bad() { echo "FAIL $*"; fail=1; }

# bench NAME ARGS...: run bench/run, results in $tmp/NAME
bench() {
	name=$1
	shift
	set +e
	timeout 900 "$run" "$@" --scale 0.01 --cap 180 --bin "$RH_BIN" --results "$tmp/$name" \
		>"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
	set -e
	if [ "$rc" -ne 0 ]; then
		bad "$name: bench/run exit $rc"
		sed 's/^/  | /' "$tmp/$name.err" "$tmp/$name.out"
		for f in "$tmp/$name"/*/loadgen.err; do
			[ -f "$f" ] && tail -n 20 "$f" | sed "s|^|  $f: |"
		done
		return 1
	fi
	echo "ok $name (exit 0)"
}

# check NAME DAEMON: the daemon's row says ok, and its loadgen JSON shows every
# phase ok with every spoke done and the expected digest held.
check() {
	python3 - "$tmp/$1/summary.json" "$2" <<'EOF' || bad "$1: $2"
import json, sys
s = json.load(open(sys.argv[1]))
row = next((r for r in s["rows"] if r["daemon"] == sys.argv[2]), None)
assert row is not None, "no row"
assert row["status"] == "ok", row["status"] + " " + str(row.get("error"))
lg = row["loadgen"]
assert lg["ok"] and lg["exit"] == 0 and lg["error"] is None, lg["error"]
routes = 0
for ph in lg["phases"]:
    assert ph["ok"], ph
    if ph["kind"] in ("announce", "withdraw"):
        assert ph["spokes"] > 0 and ph["spokes_done"] == ph["spokes"], ph
    if ph["kind"] == "announce":
        routes = ph["expected_routes"]
        assert routes > 0 and ph["expected_digest"] != "0000000000000000", ph
    if ph["kind"] == "withdraw":
        assert ph["expected_routes"] == 0, ph
assert routes > 0, "no announce phase"
assert row["cpu_s"] >= 0 and row["peak_mb"] > 0, row
assert s["ceiling"]["ok"], s["ceiling"]
EOF
}

if bench fanout fanout --daemons routehub; then
	check fanout routehub
	grep -q '^| routehubd | ok |' "$tmp/fanout.out" || bad "fanout: no ok row in the table"
fi

daemons=routehub
if command -v bird >/dev/null 2>&1 && command -v birdc >/dev/null 2>&1; then
	daemons=routehub,bird
else
	echo "note: BIRD not installed, ingest against routehubd only"
fi
if bench ingest ingest --daemons "$daemons"; then
	check ingest routehub
	case $daemons in *bird*) check ingest bird ;; esac
fi

[ "$fail" -eq 0 ] && echo "PASS test_bench_smoke"
exit "$fail"
