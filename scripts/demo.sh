#!/bin/sh
# The README's first command: install, build, and show routehub working.
#
# routehubd starts on its embedded default configuration (a demo hub on
# 127.0.0.0/8: `routehubd --print-default` shows it). The load generator then
# plays a small hub around it: the two NVAs of the default configuration
# announce the same prefixes with equal AS path lengths (an ECMP pair), and
# spoke agents connect from the spokes range and receive them; every spoke
# checks it got exactly the expected routes. While the routes are up the
# demo shows routehubctl's view; then the NVAs withdraw everything and
# routehubd stops cleanly (Cease/Administrative Shutdown to every peer).
#
# RH_DEMO_SPOKES (default 50) and RH_DEMO_PREFIXES (default 2000) size it.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
sh scripts/build.sh build

bin=build/bin
spokes=${RH_DEMO_SPOKES:-50}
prefixes=${RH_DEMO_PREFIXES:-2000}
work=$(mktemp -d /tmp/routehub-demo.XXXXXX)
sock=/tmp/routehub-demo.sock

"$bin/routehubd" >"$work/routehubd.log" 2>&1 &
pid=$!
lg=
cleanup() {
	if [ -n "$lg" ] && kill -0 "$lg" 2>/dev/null; then
		kill -TERM "$lg" 2>/dev/null || true
	fi
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT INT TERM

# Wait (bounded) for the control API: the daemon is up when it answers.
i=0
until "$bin/routehubctl" -s "$sock" show status >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "demo: routehubd did not start; its log:" >&2
		cat "$work/routehubd.log" >&2
		exit 1
	fi
	sleep 0.1
done

echo "== routehubd runs on its embedded default configuration (127.0.0.1:1179)"
echo "== load generator: 2 NVAs (an ECMP pair) x $prefixes prefixes -> $spokes spoke agents"
printf 'establish\nannounce\neor\npause:duration=3\nwithdraw\n' >"$work/scenario"
"$bin/routehub-loadgen" --target 127.0.0.1:1179 --rs-asn 65515 \
	--feeders 2 --feeder-addr 127.0.0.2 --feeder-asn 65001 --overlap 2 \
	--spokes "$spokes" --spoke-addr 127.0.1.1 --spoke-asn 4200100001 \
	--prefixes "$prefixes" --communities 2 --connect-batch 16 \
	--scenario "$work/scenario" --timeout 60 --json "$work/loadgen.json" \
	>"$work/loadgen.out" 2>&1 &
lg=$!

# While the routes are up (the pause phase), look at the daemon: wait
# (bounded) until every session is Established.
want=$((spokes + 2))
i=0
while [ $i -lt 300 ] && kill -0 "$lg" 2>/dev/null; do
	n=$("$bin/routehubctl" -s "$sock" --json show status 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["peers"]["established"])' \
		2>/dev/null || echo 0)
	[ "$n" -ge "$want" ] && break
	i=$((i + 1))
	sleep 0.1
done
echo
echo "== routehubctl show status"
"$bin/routehubctl" -s "$sock" show status || true
echo
echo "== routehubctl show peers (first lines)"
"$bin/routehubctl" -s "$sock" show peers | head -6 || true

rc=0
wait "$lg" || rc=$?
lg=
echo
echo "== load generator: announce = every route at every spoke; withdraw = all gone"
grep -v '^{' "$work/loadgen.out" || true
if [ "$rc" -ne 0 ]; then
	echo "demo: the load generator reported a failure (exit $rc)" >&2
fi

cleanup
trap - EXIT INT TERM
echo
echo "== routehubd stopped cleanly; the last lines of its log:"
tail -n 3 "$work/routehubd.log"
echo "demo: logs in $work"
exit "$rc"
