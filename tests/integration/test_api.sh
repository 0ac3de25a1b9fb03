#!/bin/sh
# The control API through the real binaries: routehubd serves it from its
# configuration, routehubctl shows status and peers (table and --json), the
# routes a raw BGP speaker (lib/rawbgp.py) announces and the RIB's counts, reloads
# (good file, broken file with FILE:LINE errors; SIGHUP in between), prints
# metrics; a second routehubd whose API socket is taken logs the error and keeps
# running; on SIGTERM the socket disappears and routehubctl says the daemon is
# not running. Everything on 127.0.0.1; every wait is a bounded poll.
set -eu
: "${RH_BIN:?RH_BIN: directory of routehubd and routehubctl}"
d="$RH_BIN/routehubd"
ctl="$RH_BIN/routehubctl"
tmp=$(mktemp -d)
pid1= pid2= spk=
cleanup() {
	for p in $spk $pid1 $pid2; do kill "$p" 2>/dev/null || true; done
	for p in $spk $pid1 $pid2; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail=0
bad() { echo "FAIL $*"; fail=1; }

# Ports the kernel just said are free on 127.0.0.1.
ports=$(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
set -- $ports
bgp1=$1 bgp2=$2 apiport=$3
sock="$tmp/run/api.sock"
token=integration-token-0123456789

# write_cfg FILE BGPPORT [extra|broken]
write_cfg() {
	cat >"$1" <<EOF
local:
  asn: 65515
  router_id: 127.0.0.1
  listen: ["127.0.0.1:$2"]
  threads: {io: 1, rib: 1}
  api: {socket: $sock, listen: "127.0.0.1:$apiport", token: $token}
peers:
  - name: nva1
    address: 127.0.0.2
    asn: 65001
    passive: true
EOF
	case "${3:-}" in
	extra) printf '  - name: nva2\n    address: 127.0.0.3\n    asn: 65002\n    passive: true\n' >>"$1" ;;
	broken) printf '  - name: nva2\n    address: 127.0.0.3\n    asn: 23456\n' >>"$1" ;;
	esac
}

# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds.
wait_for() {
	n=$(($1 * 10)); shift
	while [ $n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		n=$((n - 1))
		sleep 0.1
	done
	return 1
}

cfg="$tmp/rh.yaml"
write_cfg "$cfg" "$bgp1"
"$d" -c "$cfg" >"$tmp/d1.log" 2>&1 &
pid1=$!
wait_for 10 test -S "$sock" || { cat "$tmp/d1.log"; echo "FAIL: no API socket"; exit 1; }
[ "$(stat -c %a "$sock")" = 660 ] || bad "socket mode $(stat -c %a "$sock"), want 660"

# ---- show ---------------------------------------------------------------------
"$ctl" -s "$sock" show status >"$tmp/out" || bad "show status: status $?"
grep -q "AS 65515, router id 127.0.0.1" "$tmp/out" || bad "show status: $(cat "$tmp/out")"
"$ctl" show peers -s "$sock" >"$tmp/out" || bad "show peers: status $?"
head -1 "$tmp/out" | grep -q '^NAME  *ADDRESS  *AS  *STATE  *UPTIME  *PFX-RCVD' || bad "peers header: $(head -1 "$tmp/out")"
grep -q '^nva1  *127\.0\.0\.2  *65001 ' "$tmp/out" || bad "peers row: $(cat "$tmp/out")"
ROUTEHUB_SOCKET="$sock" "$ctl" --json show peers >"$tmp/out.json" || bad "--json show peers (env socket): status $?"
python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert [p["name"] for p in v] == ["nva1"], v
assert v[0]["state"] in ("Idle", "Active"), v[0]["state"]
' "$tmp/out.json" || bad "--json show peers: $(cat "$tmp/out.json")"
"$ctl" -H "127.0.0.1:$apiport" -t "$token" show peer nva1 >"$tmp/out" || bad "TCP show peer: status $?"
grep -q "peer nva1 (127.0.0.2)" "$tmp/out" || bad "TCP show peer: $(cat "$tmp/out")"
rc=0; ROUTEHUB_TOKEN=wrong-token-0123456789 "$ctl" -H "127.0.0.1:$apiport" show status 2>"$tmp/err" || rc=$?
[ $rc -eq 1 ] && grep -q token "$tmp/err" || bad "wrong token: status $rc, $(cat "$tmp/err")"
"$ctl" -s "$sock" metrics >"$tmp/out" || bad "metrics: status $?"
grep -q '^routehub_build_info{version="' "$tmp/out" || bad "metrics: no build_info"
grep -q '^routehub_peer_state{peer="nva1",address="127.0.0.2"} [1-6]$' "$tmp/out" || bad "metrics: no peer_state"

# ---- routes: nva1 is a raw speaker announcing two prefixes ------------------------
lib="${RH_SRC:-$(dirname "$0")/../..}/tests/integration/lib"
cat >"$tmp/speaker.py" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from rawbgp import RawSpeaker, ConnectionClosed, cap_as4, cap_mp, update
s = RawSpeaker.connect('127.0.0.1', port=int(sys.argv[2]), source='127.0.0.2', timeout=10)
s.handshake(65001, '127.0.0.2', hold_time=90, caps=[cap_mp(1, 1), cap_as4(65001)])
# IGP, AS path 65001 65100, next hop 192.0.2.1, MED 7, community 65001:100
attrs = bytes.fromhex('40010100' '40020a02020000fde90000fe4c' '400304c0000201'
                      '80040400000007' 'c00804fde90064')
s.send(update(attrs=attrs, nlri=bytes.fromhex('100a01' '180a0801')))  # 10.1/16, 10.8.1/24
print('announced', flush=True)
try:  # hold the session until the test ends (killed) or the daemon goes
    s.recv_until(lambda m: False, timeout=300)
except (ConnectionClosed, TimeoutError):
    pass
PY
python3 "$tmp/speaker.py" "$lib" "$bgp1" >"$tmp/spk.log" 2>&1 &
spk=$!
routes_in() { "$ctl" -s "$sock" show rib | grep -q '^prefixes  *2 IPv4'; }
wait_for 10 routes_in || bad "routes did not arrive: $(cat "$tmp/spk.log"; "$ctl" -s "$sock" show rib 2>&1)"
"$ctl" -s "$sock" show routes >"$tmp/out" || bad "show routes: status $?"
head -1 "$tmp/out" | grep -q '^PREFIX  *NEXT-HOP  *FROM  *BEST/ECMP  *LOCPRF  *MED  *ORIGIN  *PEER-AS  *AS-PATH$' || bad "routes header: $(head -1 "$tmp/out")"
grep -q '^10\.1\.0\.0/16  *192\.0\.2\.1  *nva1  *best  *-  *7  *igp  *65001  *65001 65100$' "$tmp/out" || bad "routes row: $(cat "$tmp/out")"
grep -qx '2 prefixes, 2 paths' "$tmp/out" || bad "routes footer: $(cat "$tmp/out")"
"$ctl" -s "$sock" show routes 10.8.1.9 >"$tmp/out" || bad "show routes ADDRESS: status $?"
grep -qx '10.8.1.0/24: 1 path, 1 in the ECMP set' "$tmp/out" || bad "longest match: $(cat "$tmp/out")"
grep -q 'communities  *65001:100$' "$tmp/out" || bad "route detail: $(cat "$tmp/out")"
"$ctl" -s "$sock" show routes --limit 1 >"$tmp/out" || bad "show routes --limit: status $?"
grep -qx '1 prefix, 1 path; more from 10.8.1.0/24 (--from 10.8.1.0/24)' "$tmp/out" || bad "paging: $(cat "$tmp/out")"
"$ctl" -s "$sock" --json show routes peer nva1 >"$tmp/out.json" || bad "--json show routes peer: status $?"
python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert v["count"] == 2 and not v["more"], v
r = v["routes"][0]
p = r["paths"][0]
got = (r["prefix"], p["peer"], p["as_path"], p["next_hop"], p["med"], p["best"], p["ecmp"])
assert got == ("10.1.0.0/16", "nva1", "65001 65100", "192.0.2.1", 7, True, True), p
assert p["communities"] == ["65001:100"] and p["local_pref"] is None, p
' "$tmp/out.json" || bad "--json show routes peer nva1: $(cat "$tmp/out.json")"
"$ctl" -s "$sock" show rib >"$tmp/out" || bad "show rib: status $?"
grep -q '^nva1  *127\.0\.0\.2  *Established  *2  *2  *2  *0$' "$tmp/out" || bad "show rib peers: $(cat "$tmp/out")"
"$ctl" -s "$sock" metrics >"$tmp/out" || bad "metrics: status $?"
grep -qx 'routehub_rib_prefixes{af="ipv4"} 2' "$tmp/out" || bad "metrics: no routehub_rib_prefixes"
grep -qx 'routehub_rib_paths 2' "$tmp/out" || bad "metrics: no routehub_rib_paths"
rc=0; "$ctl" -s "$sock" show routes --af ipx 2>"$tmp/err" || rc=$?
[ $rc -eq 1 ] && grep -q "af must be ipv4 or ipv6" "$tmp/err" || bad "bad --af: status $rc, $(cat "$tmp/err")"
rc=0; "$ctl" -s "$sock" show routes peer 2>"$tmp/err" || rc=$?
[ $rc -eq 2 ] && grep -q "which peer?" "$tmp/err" || bad "show routes peer: status $rc, $(cat "$tmp/err")"

# ---- reload ----------------------------------------------------------------------
write_cfg "$cfg" "$bgp1" extra
"$ctl" -s "$sock" reload >"$tmp/out" || bad "reload: status $?"
grep -qx "reloaded $cfg" "$tmp/out" || bad "reload: $(cat "$tmp/out")"
wait_for 10 "$ctl" -s "$sock" show peer nva2 || bad "nva2 missing after reload"
grep -q "api: reload requested" "$tmp/d1.log" || bad "daemon did not log the API reload"

write_cfg "$cfg" "$bgp1" broken
rc=0; "$ctl" -s "$sock" reload >"$tmp/out" 2>"$tmp/err" || rc=$?
[ $rc -eq 1 ] || bad "broken reload: status $rc"
grep -q "^$cfg:14: peers\[1\]\.asn: " "$tmp/err" || bad "broken reload: $(cat "$tmp/err")"
# SIGHUP with the same broken file: refused too, and the API still answers.
kill -HUP "$pid1"
wait_for 10 grep -q "SIGHUP: reloading" "$tmp/d1.log" || bad "SIGHUP not logged"
"$ctl" -s "$sock" --json show status >"$tmp/out.json" || bad "status after SIGHUP: $?"
python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["peers"]["configured"] == 2, s   # the good file with nva2 is still in force
' "$tmp/out.json" || bad "status after refused reloads: $(cat "$tmp/out.json")"

# ---- a second daemon cannot take the socket, and keeps running ------------------------
cfg2="$tmp/rh2.yaml"
write_cfg "$cfg2" "$bgp2"
sed -i "s/listen: \"127.0.0.1:$apiport\", token: $token/token: $token/" "$cfg2"
"$d" -c "$cfg2" >"$tmp/d2.log" 2>&1 &
pid2=$!
wait_for 10 grep -q "control API not started" "$tmp/d2.log" || bad "second daemon: $(cat "$tmp/d2.log")"
grep -q "keeps running" "$tmp/d2.log" && grep -q "in use" "$tmp/d2.log" || bad "second daemon log: $(cat "$tmp/d2.log")"
kill -0 "$pid2" 2>/dev/null || bad "second daemon exited"
"$ctl" -s "$sock" show status >/dev/null || bad "first daemon's API lost its socket"
kill "$pid2"; wait "$pid2" || bad "second daemon: exit status $?"
pid2=
"$ctl" -s "$sock" show status >/dev/null || bad "second daemon removed the first one's socket"

# ---- shutdown -------------------------------------------------------------------------
kill "$pid1"
rc=0; wait "$pid1" || rc=$?
pid1=
[ $rc -eq 0 ] || bad "routehubd exit status $rc"
[ ! -e "$sock" ] || bad "socket left behind"
rc=0; "$ctl" -s "$sock" show status 2>"$tmp/err" || rc=$?
[ $rc -eq 1 ] && grep -q "is routehubd running?" "$tmp/err" || bad "not running: status $rc, $(cat "$tmp/err")"

[ $fail -eq 0 ] && echo "ok: control API end to end"
exit $fail
