#!/bin/sh
# `routehubctl decode --format bgpdump` must print exactly what `bgpdump -m`
# printed for every file of tests/data/mrt (tests/data/mrt-expected/FILE.bgp.gz).
#
# One named exception, on stderr only: updates.nlri_mask_trailing_bits ends its
# NLRI with a partial prefix (RFC 7606 §5.3); we print the whole prefix before
# it, masked (RFC 4271 §4.3: 11.8.0.0/13, as expected), and warn. See
# docs/decoder.md.
set -eu
: "${RH_BIN:?RH_BIN: directory of routehubctl}"
: "${RH_TEST_DATA:?RH_TEST_DATA: tests/data}"
ctl="$RH_BIN/routehubctl"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
n=0
for f in "$RH_TEST_DATA"/mrt/*; do
	b=$(basename "$f")
	exp="$RH_TEST_DATA/mrt-expected/$b.bgp.gz"
	[ -f "$exp" ] || { echo "FAIL $b: no expected output $exp"; fail=1; continue; }
	n=$((n + 1))
	rc=0
	"$ctl" decode --format bgpdump "$f" >"$tmp/out" 2>"$tmp/err" || rc=$?
	gzip -dc "$exp" >"$tmp/exp"
	if ! cmp -s "$tmp/exp" "$tmp/out"; then
		echo "FAIL $b: output differs from bgpdump -m:"
		diff "$tmp/exp" "$tmp/out" | head -20
		fail=1
	fi
	case "$b" in
	updates.nlri_mask_trailing_bits.gz)
		grep -q 'record 1 at offset 0: warning: UPDATE NLRI: 1 trailing byte(s) are not a whole prefix' "$tmp/err" ||
			{ echo "FAIL $b: expected the partial-prefix warning, got:"; cat "$tmp/err"; fail=1; }
		;;
	*)
		[ ! -s "$tmp/err" ] || { echo "FAIL $b: unexpected stderr:"; head -5 "$tmp/err"; fail=1; }
		;;
	esac
	[ "$rc" -eq 0 ] || { echo "FAIL $b: exit status $rc"; fail=1; }
	[ "$fail" -ne 0 ] || echo "ok   $b ($(wc -l <"$tmp/out") lines)"
done
[ "$n" -ge 12 ] || { echo "FAIL: only $n files in $RH_TEST_DATA/mrt"; fail=1; }

# The same bytes through the bzip2 and plain readers.
gzip -dc "$RH_TEST_DATA/mrt/updates.20160811.1600.gz" >"$tmp/plain"
bzip2 -c "$tmp/plain" >"$tmp/plain.bz2"
gzip -dc "$RH_TEST_DATA/mrt-expected/updates.20160811.1600.gz.bgp.gz" >"$tmp/exp"
for v in plain plain.bz2; do
	"$ctl" decode --format bgpdump "$tmp/$v" >"$tmp/out"
	cmp -s "$tmp/exp" "$tmp/out" || { echo "FAIL $v reader: output differs"; fail=1; }
done
[ "$fail" -eq 0 ] && echo "PASS: bgpdump output identical for $n files (+ plain and bzip2 readers)"
exit "$fail"
