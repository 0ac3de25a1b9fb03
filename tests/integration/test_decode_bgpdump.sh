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
# RFC 8050 BGP4MP ADD-PATH subtypes: BGP4MP_AP lines with the path id after the
# prefix. The expected lines are what Debian's bgpdump 1.6.2 prints for them.
python3 - "$tmp/ap.mrt" <<'PY'
import struct, sys
def bgp(t, payload):
    return b"\xff" * 16 + struct.pack(">HB", 19 + len(payload), t) + payload
wd = struct.pack(">I", 7) + bytes([16, 10, 1])
attrs = bytes([0x40, 1, 1, 0, 0x40, 2, 6, 2, 1]) + struct.pack(">I", 65001) + bytes([0x40, 3, 4, 10, 0, 0, 1])
nlri = struct.pack(">I", 9) + bytes([16, 10, 2])
upd = bgp(2, struct.pack(">H", len(wd)) + wd + struct.pack(">H", len(attrs)) + attrs + nlri)
mpu = struct.pack(">HB", 2, 1) + struct.pack(">I", 5) + bytes([32, 0x20, 0x01, 0x0d, 0xb8])
upd6 = bgp(2, struct.pack(">HH", 0, 3 + len(mpu)) + bytes([0x80, 15, len(mpu)]) + mpu)
def rec(sub, msg):
    body = struct.pack(">IIHH", 65001, 65000, 0, 1) + bytes([192, 0, 2, 1, 192, 0, 2, 2]) + msg
    return struct.pack(">IHHI", 1600000000, 16, sub, len(body)) + body
open(sys.argv[1], "wb").write(rec(9, upd) + rec(9, upd6))   # MESSAGE_AS4_ADDPATH
PY
cat >"$tmp/ap.exp" <<'EXP'
BGP4MP_AP|1600000000|W|192.0.2.1|65001|10.1.0.0/16|7
BGP4MP_AP|1600000000|A|192.0.2.1|65001|10.2.0.0/16|9|65001|IGP|10.0.0.1|0|0||NAG||
BGP4MP_AP|1600000000|W|192.0.2.1|65001|2001:db8::/32|5
EXP
"$ctl" decode --format bgpdump "$tmp/ap.mrt" >"$tmp/out"
cmp -s "$tmp/ap.exp" "$tmp/out" || { echo "FAIL BGP4MP ADD-PATH lines:"; diff "$tmp/ap.exp" "$tmp/out"; fail=1; }

[ "$fail" -eq 0 ] && echo "PASS: bgpdump output identical for $n files (+ plain and bzip2 readers, ADD-PATH)"
exit "$fail"
