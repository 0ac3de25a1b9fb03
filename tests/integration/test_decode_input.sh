#!/bin/sh
# routehubctl decode on other inputs: the lab MRT dumps of tests/data/mrt-lab
# (BIRD, Quagga, OpenBGPD), hex-per-line text, valid JSON, --summary, and
# malformed MRT (truncated record, impossible length, bad record body, garbage):
# each gives an error naming the record number and byte offset, and decoding
# continues where the record length is known.
set -eu
: "${RH_BIN:?RH_BIN: directory of routehubctl}"
: "${RH_TEST_DATA:?RH_TEST_DATA: tests/data}"
ctl="$RH_BIN/routehubctl"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
bad() { echo "FAIL $*"; fail=1; }

# Every line of a JSON output file is one JSON object with a "type".
json_ok() {
	python3 - "$1" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    assert isinstance(o, dict) and "type" in o, line
    n += 1
assert n > 0, "no JSON objects"
PY
}

# ---- lab dumps: no errors, in both formats ----------------------------------
for f in "$RH_TEST_DATA"/mrt-lab/*; do
	b=$(basename "$f")
	for fmt in json bgpdump; do
		rc=0
		"$ctl" decode --format $fmt "$f" >"$tmp/out" 2>"$tmp/err" || rc=$?
		[ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] || { bad "$b ($fmt): status $rc"; cat "$tmp/err"; }
		[ -s "$tmp/out" ] || bad "$b ($fmt): no output"
	done
	"$ctl" decode "$f" >"$tmp/out.json"
	json_ok "$tmp/out.json" || bad "$b: invalid JSON"
done
# BIRD 1.x wrote ADD-PATH UPDATEs with plain subtypes: path ids are inferred.
"$ctl" decode "$RH_TEST_DATA/mrt-lab/bird_bgp" >"$tmp/out.json"
grep -q '"addpath_inferred":true' "$tmp/out.json" || bad "bird_bgp: ADD-PATH not inferred"
grep -q '{"prefix":"172.17.0.0/24","path_id":1}' "$tmp/out.json" || bad "bird_bgp: path id missing"
# TABLE_DUMP_V2 RIB entries and the peer index table in JSON.
"$ctl" decode "$RH_TEST_DATA/mrt/bview.ipv6_unicast_add_path.gz" >"$tmp/out.json"
json_ok "$tmp/out.json" || bad "bview.ipv6_unicast_add_path: invalid JSON"
grep -q '"type":"PEER_INDEX_TABLE".*"view":"master"' "$tmp/out.json" || bad "peer index table not shown"
grep -q '"type":"RIB".*"prefix":"2001:db8:28::/48","path_id":59' "$tmp/out.json" || bad "RIB entry not shown"

# ---- JSON of BGP4MP messages: fields from the codec -------------------------------
"$ctl" decode "$RH_TEST_DATA/mrt/updates.20071015.1505.gz" >"$tmp/out.json"
json_ok "$tmp/out.json" || bad "updates.20071015: invalid JSON"
python3 - "$tmp/out.json" <<'PY' || bad "updates.20071015: first UPDATE decoded wrongly"
import json, sys
o = json.loads(open(sys.argv[1]).readline())
assert o["type"] == "UPDATE" and o["peer"] == "213.200.87.254" and o["asn"] == 3257, o
a = o["attributes"]
assert a["as_path"] == "3257 3356 2516 4651 4651 4651 4651 4651 7470 9835 9835 9835 9835", a
assert a["aggregator"] == {"asn": 9835, "id": "164.115.26.130"}, a
assert a["med"] == 10 and "3257:5010" in a["communities"], a
assert o["announce"][0]["prefixes"] == ["203.157.152.0/24"], o
PY

# ---- hex text input -------------------------------------------------------------------
cat >"$tmp/msgs.hex" <<'HEX'
# one BGP message per line; comments and blank lines are skipped

FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF001304
ffffffffffffffffffffffffffffffff003c020000001c4001010040020040030465016501800404000000c840050400000064000000002001010101
FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00510104FFFD00B40A000002340206010400010001020641040000FFFD02224B201F4578614247502F6D61696E2D633261326561386562642D3230323430373135
ffffffffffffffffffffffffffffffff 0015 03 06 02
HEX
"$ctl" decode "$tmp/msgs.hex" >"$tmp/out.json" 2>"$tmp/err" || bad "hex input: status $?"
json_ok "$tmp/out.json" || bad "hex input: invalid JSON"
python3 - "$tmp/out.json" <<'PY' || bad "hex input decoded wrongly"
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
assert [o["type"] for o in objs] == ["KEEPALIVE", "UPDATE", "OPEN", "NOTIFICATION"], objs
u = objs[1]
assert u["line"] == 4 and u["action"] == "ok", u
# As ExaBGP decodes it (tests/data/exabgp-decoding/ipv4-unicast-1).
assert u["announce"] == [{"next_hop": "101.1.101.1",
                          "prefixes": ["0.0.0.0/0"] * 4 + ["1.1.1.1/32"]}], u
assert u["attributes"]["as_path"] == "", u
assert u["attributes"]["med"] == 200 and u["attributes"]["local_pref"] == 100, u
o = objs[2]
assert o["open_asn"] == 65533 and o["hold_time"] == 180 and o["router_id"] == "10.0.0.2", o
n = objs[3]
assert n["code"] == 6 and n["subcode"] == 2, n
PY
# ExaBGP's QA files (a family line, a hex message, a JSON line) decode too.
"$ctl" decode --summary "$RH_TEST_DATA"/exabgp-decoding/ipv4-unicast-1 >"$tmp/sum" ||
	bad "exabgp QA file: status $?"
grep -q 'UPDATE 1,' "$tmp/sum" || { bad "exabgp QA file: no UPDATE"; cat "$tmp/sum"; }

# ---- summary of the full-table capture (the README's demo) -------------------------------
"$ctl" decode --summary "$RH_TEST_DATA/mrt/updates.et-header.2015.gz" >"$tmp/sum" ||
	bad "summary: status $?"
grep -q '^records            89686 ' "$tmp/sum" || bad "summary: record count"
grep -q 'UPDATE 89679,' "$tmp/sum" || bad "summary: UPDATE count"
grep -q '^prefixes           announced 577737, withdrawn 3$' "$tmp/sum" || bad "summary: prefixes"
grep -q '^peers              1$' "$tmp/sum" || bad "summary: peers"
grep -q '^elapsed .* prefixes/s)$' "$tmp/sum" || bad "summary: elapsed"
[ "$fail" -eq 0 ] || cat "$tmp/sum"

# ---- malformed MRT ----------------------------------------------------------------------------
gzip -dc "$RH_TEST_DATA/mrt/updates.20020722.2238.gz" >"$tmp/good"
python3 - "$tmp" <<'PY'
import struct, sys
d = sys.argv[1]
raw = open(d + "/good", "rb").read()
recs, off = [], 0
while off < len(raw):
    ln = struct.unpack(">I", raw[off + 8:off + 12])[0]
    recs.append(raw[off:off + 12 + ln]); off += 12 + ln
head = b"".join(recs[:5])              # records 1..5, offsets known
open(d + "/truncated", "wb").write(head + recs[5][:30])
big = bytearray(recs[5]); big[8:12] = struct.pack(">I", 0x7fffffff)
open(d + "/badlen", "wb").write(head + bytes(big) + b"".join(recs[6:10]))
body = bytearray(recs[5]); body[12 + 6:12 + 8] = b"\x00\x07"   # BGP4MP AFI 7
open(d + "/badbody", "wb").write(head + bytes(body) + b"".join(recs[6:10]))
short = bytearray(recs[5]); short[8:12] = struct.pack(">I", 10)  # too short for its body
open(d + "/shortlen", "wb").write(head + bytes(short[:22]) + b"".join(recs[6:10]))
unk = struct.pack(">IHHI", 0, 99, 0, 4) + b"abcd"                 # unknown type, framed
open(d + "/unknown", "wb").write(head + unk + b"".join(recs[6:10]))
open(d + "/garbage", "wb").write(bytes((i * 37 + 11) & 0xff for i in range(5000)))
open(d + "/offset5", "w").write(str(len(head)))
PY
off5=$(cat "$tmp/offset5")
"$ctl" decode --format bgpdump "$tmp/good" >"$tmp/good.out"
check_err() { # file expected-status stderr-pattern
	rc=0
	"$ctl" decode --format bgpdump "$tmp/$1" >"$tmp/$1.out" 2>"$tmp/$1.err" || rc=$?
	[ "$rc" -eq "$2" ] || bad "$1: exit status $rc, expected $2"
	if [ -z "$3" ]; then
		[ ! -s "$tmp/$1.err" ] || { bad "$1: unexpected stderr:"; cat "$tmp/$1.err"; }
	else
		grep -q "$3" "$tmp/$1.err" || { bad "$1: stderr lacks '$3':"; cat "$tmp/$1.err"; }
	fi
}
check_err truncated 1 "truncated: record 6 at offset $off5: truncated record at end of file"
check_err badlen 1 "badlen: record 6 at offset $off5: record length too large"
check_err badbody 1 "badbody: record 6 at offset $off5: BGP4MP: unknown address family"
check_err shortlen 1 "shortlen: record 6 at offset $off5: BGP4MP: truncated"
check_err unknown 0 ""
check_err garbage 1 "garbage: record 1 at offset 0: "
# Decoding went on after the bad body / the short record / the unknown record:
# records 7..10 (and 1..5) are printed as in the intact file.
for v in badbody shortlen unknown; do
	n=$(wc -l <"$tmp/$v.out")
	[ "$n" -gt 5 ] || bad "$v: decoding did not continue after the bad record ($n lines)"
	tail -1 "$tmp/$v.out" | grep -qF -f - "$tmp/good.out" || bad "$v: last line not from the file"
done
# Records before a fatal framing error are printed.
[ "$(wc -l <"$tmp/truncated.out")" -ge 1 ] || bad "truncated: records before the cut lost"
"$ctl" decode --summary "$tmp/unknown" >"$tmp/sum"
grep -q 'records skipped 1' "$tmp/sum" || bad "unknown record type not counted as skipped"
# Nothing crashes on nonsense: every byte of a real file flipped in turn is
# too slow here; the fuzz target (tests/fuzz/fuzz_mrt.c) covers that.
"$ctl" decode /nonexistent/file >/dev/null 2>"$tmp/err" && bad "missing file: status 0"
grep -q '/nonexistent/file' "$tmp/err" || bad "missing file: no message"

[ "$fail" -eq 0 ] && echo "PASS: lab dumps, hex input, JSON, summary and malformed input"
exit "$fail"
