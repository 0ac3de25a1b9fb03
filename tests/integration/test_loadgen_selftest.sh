#!/bin/sh
# routehub-loadgen in self-test mode (its own listener mirrors feeders to
# spokes; no daemon): small runs whose verification must pass, and corrupted
# expectations that must make it fail — so the check itself is tested.
# Assertions are on exit status and the JSON result, never on timings.
# Every run is bounded by --timeout (per phase) and by timeout(1).
set -eu
: "${RH_BIN:?RH_BIN: directory of routehub-loadgen}"
: "${RH_TEST_DATA:?RH_TEST_DATA: tests/data}"
lg="$RH_BIN/routehub-loadgen"
[ -x "$lg" ] || { echo "SKIP: $lg not built"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
bad() { echo "FAIL $*"; fail=1; }
# badout NAME WHAT: a failed check on NAME's output; show that output.
badout() {
	bad "$1: $2"
	sed 's/^/  | /' "$tmp/$1.err" "$tmp/$1.out"
}

# run NAME EXPECTED_EXIT ARGS...: run the loadgen, JSON into $tmp/NAME.json.
run() {
	name=$1 want=$2
	shift 2
	set +e
	timeout 300 "$lg" --self-test --json "$tmp/$name.json" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
	set -e
	if [ "$rc" -ne "$want" ]; then
		bad "$name: exit $rc, expected $want"
		sed 's/^/  | /' "$tmp/$name.err" "$tmp/$name.out"
		return 1
	fi
	echo "ok $name (exit $rc)"
}

# check NAME PYTHON-EXPRESSION: evaluate against the JSON result (d) and its
# phases by kind (p['announce'] is the first announce phase).
check() {
	python3 - "$tmp/$1.json" "$2" <<'EOF' || bad "$1: $2"
import json, sys
d = json.load(open(sys.argv[1]))
p = {}
for ph in d["phases"]:
    p.setdefault(ph["kind"], ph)
if not eval(sys.argv[2]):
    print(json.dumps(d, indent=1)[:3000])
    sys.exit(1)
EOF
}

# 1. 2 feeders x 1,000 routes -> 3 spokes: every spoke holds exactly the
#    2,000 routes, then none.
if run basic 0 --feeders 2 --prefixes 1000 --spokes 3 --timeout 30; then
	check basic 'd["ok"] and d["exit"] == 0 and d["error"] is None'
	check basic 'p["announce"]["expected_routes"] == 2000 and p["announce"]["spokes_done"] == 3'
	check basic 'p["announce"]["rx_prefixes"] >= 3 * 2000 and p["announce"]["tx_prefixes"] == 2000'
	check basic 'p["withdraw"]["expected_routes"] == 0 and p["withdraw"]["spokes_done"] == 3'
	check basic 'p["withdraw"]["expected_digest"] == "0000000000000000"'
	check basic 'd["ceiling"]["source"] == "self-test" and d["ceiling"]["rx_routes_per_s"] > 0'
	grep -q '^{"tool":"routehub-loadgen"' "$tmp/basic.out" && badout basic "JSON on stdout despite --json"
fi

# 2. The same with the expected digest off by one: the digest check must fail
#    the run (exit 1) although every route arrived.
if run corrupt-digest 1 --feeders 2 --prefixes 1000 --spokes 3 --timeout 30 --expect-corrupt digest; then
	check corrupt-digest 'not d["ok"] and d["exit"] == 1 and "digest" in d["error"]'
	check corrupt-digest 'p["announce"]["ok"] is False and p["announce"]["timed_out"] is False'
fi

# 3. One route more expected than the feeders announce: the phase never
#    converges and must time out (exit 2) naming what is missing.
if run corrupt-count 2 --feeders 2 --prefixes 1000 --spokes 3 --timeout 2 --expect-corrupt count; then
	check corrupt-count 'not d["ok"] and p["announce"]["timed_out"] and "3 spokes incomplete" in d["error"]'
	grep -q 'spoke 0: 2000/2001 routes' "$tmp/corrupt-count.err" || badout corrupt-count "no per-spoke detail"
fi

# 3b. The mirror alters the AS path of one UPDATE to the last spoke only.
#     With 6 spokes each thread has several, so the others share verified
#     UPDATEs (rx_updates_shared): the altered copy must still be caught by
#     the spoke that got it (exit 1), and no other spoke may report it.
if run corrupt-route 1 --feeders 2 --prefixes 1000 --spokes 6 --timeout 30 --expect-corrupt route; then
	check corrupt-route 'not d["ok"] and d["exit"] == 1 and "spoke 5 received" in d["error"]'
	grep -q 'spoke 5: wrong route for' "$tmp/corrupt-route.err" || badout corrupt-route "spoke 5 reported nothing"
	grep -q 'spoke [0-4]: wrong route' "$tmp/corrupt-route.err" && badout corrupt-route "an intact spoke reported a wrong route"
fi

# 4. Feeder pairs (ECMP groups): churn with timestamps, hard resets of one
#    member of each pair (NOTIFICATION, then TCP RST), reconnect, ROUTE-REFRESH.
#    Routes must fall back to the surviving member and come back.
if run pairs 0 --feeders 4 --overlap 2 --prefixes 500 --spokes 3 --timeout 30 --communities 2 \
	--phases establish,announce,eor,churn:rate=500:duration=1,reset:feeders=even,reconnect:feeders=even,reset:feeders=1:tcp,refresh,withdraw; then
	check pairs 'd["ok"] and [ph["ok"] for ph in d["phases"]] == [True] * 9'
	check pairs 'p["announce"]["expected_routes"] == 1000 and p["announce"]["tx_prefixes"] == 2000'
	check pairs 'p["churn"]["latency"]["n"] > 0 and p["churn"]["tx_updates"] > 0'
	check pairs 'p["reset"]["expected_routes"] == 1000 and p["refresh"]["rx_prefixes"] >= 3 * 1000'
	check pairs 'p["withdraw"]["expected_routes"] == 0'
fi

# 4b. Sharing verified UPDATEs between the spokes of a thread gives what
#     every spoke decoding every UPDATE gives: the same scenario with 8 spokes,
#     with and without --no-rx-cache, and a replay (routes replaced by later
#     ones of the same feeder) with 6.
pairs8='--feeders 4 --overlap 2 --prefixes 500 --spokes 8 --timeout 30 --communities 2
	--phases establish,announce,eor,churn:rate=500:duration=1,reset:feeders=even,reconnect:feeders=even,reset:feeders=1:tcp,refresh,withdraw'
# shellcheck disable=SC2086
run shared 0 $pairs8 && check shared 'd["ok"] and sum(ph["rx_updates_shared"] for ph in d["phases"]) > 0'
# shellcheck disable=SC2086
run unshared 0 $pairs8 --no-rx-cache &&
	check unshared 'd["ok"] and sum(ph["rx_updates_shared"] for ph in d["phases"]) == 0'
python3 - "$tmp/shared.json" "$tmp/unshared.json" <<'EOF' || bad "shared/unshared: expectations differ"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
key = lambda d: [(p["kind"], p["ok"], p["expected_routes"], p["expected_digest"]) for p in d["phases"]]
sys.exit(0 if key(a) == key(b) else 1)
EOF
if run replay-shared 0 --feeders 2 --spokes 6 --replay "$RH_TEST_DATA/mrt/updates.20160811.1600.gz" --timeout 60; then
	check replay-shared 'd["ok"] and p["announce"]["rx_updates_shared"] > 0'
fi

# 5. Replay of a real capture (IPv4 + IPv6, 4-octet ASNs): every feeder's
#    rewritten stream, verified route by route.
if run replay 0 --feeders 2 --spokes 2 --replay "$RH_TEST_DATA/mrt/updates.20160811.1600.gz" --timeout 60; then
	check replay 'd["ok"] and p["announce"]["expected_routes"] > 0'
	check replay 'p["announce"]["rx_prefixes"] >= 2 * p["announce"]["expected_routes"]'
fi

# 6. A scenario file (comments, blank-separated arguments, '+' and ',' in
#    selectors) with IPv6 prefixes and 4-octet ASNs on both sides; the JSON
#    kept with --save-ceiling is the run's own.
cat >"$tmp/scenario" <<'SCEN'
# establish everything, then the table, then take half the pairs down and up
establish
announce
eor
reset feeders=0,2 tcp
wait
reconnect feeders=0+2
withdraw feeders=odd
withdraw
SCEN
if run scenario 0 --feeders 4 --overlap 2 --prefixes 300 --ipv6 30 --spokes 2 --timeout 30 \
	--scenario "$tmp/scenario" --save-ceiling "$tmp/ceiling.json"; then
	check scenario 'd["ok"] and [ph["kind"] for ph in d["phases"]] == ["establish", "announce", "eor", "reset", "wait", "reconnect", "withdraw", "withdraw"]'
	check scenario 'p["announce"]["expected_routes"] == 600 and d["phases"][6]["expected_routes"] == 600'
	check scenario 'd["phases"][7]["expected_routes"] == 0'
	python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["ceiling"]; sys.exit(0 if c["rx_routes_per_s"] > 0 and c["cpu_ns_per_route"] > 0 else 1)' \
		"$tmp/ceiling.json" || bad "scenario: --save-ceiling"
fi

# 7. iBGP feeders (--ibgp-feeders): route-reflector clients in the mirror's AS.
#    Towards iBGP spokes (clients too) the mirror reflects: AS path, next hop
#    and LOCAL_PREF (here 200) unchanged, ORIGINATOR_ID and CLUSTER_LIST added,
#    and every spoke checks all of it route by route; towards eBGP spokes it
#    strips the iBGP-only attributes. Pairs, churn, resets, refresh; a replay.
ibgp='--ibgp-feeders --feeder-asn 65515 --spoke-asn 65515 --spoke-asn-step 0'
# shellcheck disable=SC2086
if run ibgp-reflect 0 $pairs8 $ibgp --local-pref 200; then
	check ibgp-reflect 'd["ok"] and d["ibgp_feeders"] and [ph["ok"] for ph in d["phases"]] == [True] * 9'
	check ibgp-reflect 'p["announce"]["expected_routes"] == 1000 and p["refresh"]["rx_prefixes"] >= 8 * 1000'
	check ibgp-reflect 'sum(ph["rx_updates_shared"] for ph in d["phases"]) > 0'
fi
# shellcheck disable=SC2086
if run ibgp-external 0 $pairs8 --ibgp-feeders; then
	check ibgp-external 'd["ok"] and d["ibgp_feeders"] and p["announce"]["expected_routes"] == 1000'
fi
# shellcheck disable=SC2086
if run ibgp-replay 0 --feeders 2 --spokes 6 $ibgp --replay "$RH_TEST_DATA/mrt/updates.20160811.1600.gz" --timeout 60; then
	check ibgp-replay 'd["ok"] and p["announce"]["expected_routes"] > 0 and p["announce"]["rx_updates_shared"] > 0'
fi
# shellcheck disable=SC2086
run ibgp-empty-path 0 --feeders 2 --spokes 3 $ibgp --aspath-len 0 --ipv6 30 --prefixes 500 --timeout 30 &&
	check ibgp-empty-path 'd["ok"] and p["announce"]["expected_routes"] == 1000'

# 7b. The mirror alters LOCAL_PREF, ORIGINATOR_ID or CLUSTER_LIST of one
#     reflected UPDATE to the last spoke only: that spoke must report wrong
#     routes naming the attribute (exit 1), no other spoke may.
for what in local-pref:LOCAL_PREF originator-id:ORIGINATOR_ID cluster-list:CLUSTER_LIST; do
	opt=${what%%:*} attr=${what#*:}
	# shellcheck disable=SC2086
	if run "ibgp-corrupt-$opt" 1 --feeders 2 --prefixes 1000 --spokes 6 $ibgp --timeout 30 --expect-corrupt "$opt"; then
		check "ibgp-corrupt-$opt" 'not d["ok"] and d["exit"] == 1 and "spoke 5 received" in d["error"]'
		grep -q "spoke 5: wrong route for .*: $attr" "$tmp/ibgp-corrupt-$opt.err" ||
			badout "ibgp-corrupt-$opt" "spoke 5 did not report the $attr"
		grep -q 'spoke [0-4]: wrong route' "$tmp/ibgp-corrupt-$opt.err" &&
			badout "ibgp-corrupt-$opt" "an intact spoke reported a wrong route"
	fi
done

# 7c. A feeder in the route server's AS without --ibgp-feeders (its own ASN
#     first in AS_PATH: an AS loop) fails at once, and says why.
run ibgp-unflagged 1 --feeders 1 --feeder-asn 64512 --spokes 1 --prefixes 10 --timeout 10 || true
grep -q 'an iBGP session: give --ibgp-feeders' "$tmp/ibgp-unflagged.err" || badout ibgp-unflagged "no message"

# 8. Usage errors: exit 3 with a message.
run usage 3 --feeders 3 --overlap 2 || true
grep -q 'not a multiple of --overlap' "$tmp/usage.err" || badout usage "no message"
run usage-phase 3 --phases establish,fly || true
grep -q "unknown phase 'fly'" "$tmp/usage-phase.err" || badout usage-phase "no message"
run usage-ibgp-step 3 --ibgp-feeders --feeder-asn-step 1 --feeders 2 || true
grep -q 'feeder-asn-step 0' "$tmp/usage-ibgp-step.err" || badout usage-ibgp-step "no message"
run usage-ibgp-corrupt 3 --ibgp-feeders --expect-corrupt cluster-list || true
grep -q 'need --ibgp-feeders and iBGP spokes' "$tmp/usage-ibgp-corrupt.err" || badout usage-ibgp-corrupt "no message"
run usage-empty-path 3 --aspath-len 0 || true
grep -q 'for --ibgp-feeders only' "$tmp/usage-empty-path.err" || badout usage-empty-path "no message"

exit $fail
