#!/bin/sh
# Install every Debian 12 package routehub needs to build, test and benchmark.
# Idempotent: apt-get install of an installed package is a no-op.
# Run as root (or with sudo available).
set -eu

PKGS="
build-essential cmake pkg-config git
liburing-dev libjemalloc-dev libck-dev
libyaml-dev libjansson-dev libmicrohttpd-dev libxxhash-dev libmnl-dev
libcmocka-dev zlib1g-dev libbz2-dev
clang libclang-rt-14-dev llvm
python3 python3-yaml
tshark bgpdump
bird2 frr gobgpd openbgpd exabgp
iproute2 procps psmisc gnuplot-nox linux-perf
"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "setup: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# Do not let package post-install scripts start bird/frr/bgpd on port 179:
	# tests start their own instances on 127.x addresses.
	policy_added=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
		$SUDO chmod +x /usr/sbin/policy-rc.d
		policy_added=1
	fi
	$SUDO apt-get update -q
	echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
	$SUDO apt-get install -y -q --no-install-recommends $missing
	if [ "$policy_added" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
else
	echo "setup: all packages present"
fi

# Distribution services would hold port 179 on every address; the project runs
# its own instances. Stop them if something started them anyway.
for svc in bird frr openbgpd gobgpd exabgp; do
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
		$SUDO systemctl stop "$svc" || true
	fi
done
exit 0
