#!/usr/bin/env python3
"""Cross-check the codec's encoder with an independent decoder: Wireshark's.

test_bgp_roundtrip (built from tests/unit/) writes, when RH_BGP_SAMPLE=FILE is
set, a sample of the messages our encoder produced, each with the values the
generator meant it to carry (one JSON object per line). This script wraps them
in a TCP/179 capture with text2pcap, decodes it with tshark, and compares field
by field: type, length, withdrawn/NLRI/MP_REACH/MP_UNREACH prefixes, next hop,
origin, AS path, communities, MED, LOCAL_PREF.

Environment (set by ctest): RH_BIN (build/bin); the unit test binaries are in
its sibling tests/. RH_ROUNDTRIP_BIN overrides the path.
Skips (exit 0 with SKIP) only when tshark or text2pcap is not installed.
"""
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def find_roundtrip():
    p = os.environ.get("RH_ROUNDTRIP_BIN")
    if p:
        return p
    rh_bin = os.environ.get("RH_BIN")
    if not rh_bin:
        fail("RH_BIN not set (run through ctest) and no RH_ROUNDTRIP_BIN")
    return os.path.join(os.path.dirname(os.path.abspath(rh_bin)), "tests", "test_bgp_roundtrip")


def aslist(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def prefixes_of(d):
    """Prefixes of a tshark prefix dict {"p/len": {...}} (duplicates become a
    list under --no-duplicate-keys), as a sorted list of ip_network."""
    out = []
    if not isinstance(d, dict):
        return out
    for k, v in d.items():
        if "/" not in k:
            continue
        out.extend([ipaddress.ip_network(k)] * len(aslist(v)))
    return sorted(out, key=lambda n: (n.version, n.network_address.packed, n.prefixlen))


def want_prefixes(lst):
    return sorted((ipaddress.ip_network(p) for p in lst),
                  key=lambda n: (n.version, n.network_address.packed, n.prefixlen))


def attr_list(bgp):
    pa = bgp.get("bgp.update.path_attributes")
    if not isinstance(pa, dict):
        return []
    return aslist(pa.get("bgp.update.path_attribute"))


seen = {}


def count(field, n):
    seen[field] = seen.get(field, 0) + (1 if n else 0)


def compare_update(i, want, bgp, errs):
    def err(what, got, exp):
        errs.append("message %d: %s: tshark %r, intended %r" % (i, what, got, exp))

    for f in ("withdrawn", "nlri", "mp_reach", "mp_unreach", "as_path", "communities"):
        count(f, want.get(f))
    for f in ("next_hop", "med", "local_pref"):
        count(f, f in want)
    got = prefixes_of(bgp.get("bgp.update.withdrawn_routes"))
    if got != want_prefixes(want["withdrawn"]):
        err("withdrawn", [str(n) for n in got], want["withdrawn"])
    got = prefixes_of(bgp.get("bgp.update.nlri"))
    if got != want_prefixes(want["nlri"]):
        err("NLRI", [str(n) for n in got], want["nlri"])

    attrs = {}
    for a in attr_list(bgp):
        t = int(a.get("bgp.update.path_attribute.type_code", -1))
        if t in attrs:
            err("attribute %d" % t, "twice", "once")
        attrs[t] = a

    got = prefixes_of(attrs.get(14, {}).get("bgp.update.path_attribute.mp_reach_nlri"))
    if got != want_prefixes(want["mp_reach"]):
        err("MP_REACH_NLRI", [str(n) for n in got], want["mp_reach"])
    got = prefixes_of(attrs.get(15, {}).get("bgp.update.path_attribute.mp_unreach_nlri"))
    if got != want_prefixes(want["mp_unreach"]):
        err("MP_UNREACH_NLRI", [str(n) for n in got], want["mp_unreach"])

    if "origin" in want:
        got = attrs.get(1, {}).get("bgp.update.path_attribute.origin")
        if got is None or int(got) != want["origin"]:
            err("ORIGIN", got, want["origin"])
        segs = []
        for s in aslist(attrs.get(2, {}).get("bgp.update.path_attribute.as_path_segment")):
            ases = s.get("bgp.update.path_attribute.as_path_segment.as4")
            if ases is None:
                ases = s.get("bgp.update.path_attribute.as_path_segment.as2")
            segs.append({"type": int(s.get("bgp.update.path_attribute.as_path_segment.type", -1)),
                         "as": [int(x) for x in aslist(ases)]})
        if 2 not in attrs or segs != want["as_path"]:
            err("AS_PATH", segs, want["as_path"])
    elif set(attrs) - {15}:  # a withdrawal carries at most MP_UNREACH_NLRI
        err("attributes", sorted(attrs), "none")

    checks = [(3, "bgp.update.path_attribute.next_hop", "next_hop", str),
              (4, "bgp.update.path_attribute.multi_exit_disc", "med", int),
              (5, "bgp.update.path_attribute.local_pref", "local_pref", int)]
    for t, key, wkey, conv in checks:
        got = attrs.get(t, {}).get(key)
        got = conv(got) if got is not None else None
        if got != want.get(wkey):
            err(wkey, got, want.get(wkey))

    comm = []
    c = attrs.get(8, {}).get("bgp.update.path_attribute.communities", {})
    for e in aslist(c.get("bgp.update.path_attribute.community")):
        comm.append(int(e["bgp.update.path_attribute.community_as"]) << 16 |
                    int(e["bgp.update.path_attribute.community_value"]))
    for w in aslist(c.get("bgp.update.path_attribute.community_wellknown")):
        comm.append(int(w, 16))
    wc = [int(x.split(":")[0]) << 16 | int(x.split(":")[1]) for x in want.get("communities", [])]
    if sorted(comm) != sorted(wc):
        err("COMMUNITIES", sorted(comm), sorted(wc))


def main():
    if not shutil.which("tshark") or not shutil.which("text2pcap"):
        print("SKIP: tshark/text2pcap not installed (Debian package tshark)")
        return 0
    rt = find_roundtrip()
    if not os.access(rt, os.X_OK):
        fail("no test_bgp_roundtrip executable at %s" % rt)

    with tempfile.TemporaryDirectory() as tmp:
        sample = os.path.join(tmp, "sample.jsonl")
        env = dict(os.environ, RH_BGP_SAMPLE=sample, RH_ROUNDTRIP_CASES="3000")
        r = subprocess.run([rt], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=300)
        if r.returncode != 0:
            print(r.stdout.decode(errors="replace")[-3000:])
            fail("test_bgp_roundtrip failed while writing the sample")
        msgs = [json.loads(line) for line in open(sample)]
        if len(msgs) < 50:
            fail("only %d sample messages" % len(msgs))

        # text2pcap hexdump: one packet per message, offsets restart at 0.
        dump = os.path.join(tmp, "msgs.txt")
        with open(dump, "w") as f:
            for m in msgs:
                b = bytes.fromhex(m["hex"])
                for off in range(0, len(b), 16):
                    f.write("%06x %s\n" % (off, " ".join("%02x" % x for x in b[off:off + 16])))
        pcap = os.path.join(tmp, "msgs.pcap")
        r = subprocess.run(["text2pcap", "-q", "-T", "50000,179", dump, pcap],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if r.returncode != 0:
            print(r.stdout.decode(errors="replace"))
            fail("text2pcap failed")
        out = subprocess.run(["tshark", "-r", pcap, "-o", "bgp.asn_len:4", "-T", "json",
                              "-J", "bgp", "--no-duplicate-keys"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True,
                             timeout=300)
        pkts = json.loads(out.stdout)

    if len(pkts) != len(msgs):
        fail("%d packets decoded by tshark, %d messages written" % (len(pkts), len(msgs)))
    errs = []
    counts = {}
    for i, (want, pkt) in enumerate(zip(msgs, pkts)):
        bgp = pkt["_source"]["layers"].get("bgp")
        if isinstance(bgp, list):
            errs.append("message %d: tshark sees %d BGP messages in one packet" % (i, len(bgp)))
            continue
        if not isinstance(bgp, dict):
            errs.append("message %d: tshark does not see BGP" % i)
            continue
        t, ln = int(bgp.get("bgp.type", -1)), int(bgp.get("bgp.length", -1))
        if t != want["type"] or ln != want["length"]:
            errs.append("message %d: type/length %d/%d, intended %d/%d" %
                        (i, t, ln, want["type"], want["length"]))
            continue
        counts[t] = counts.get(t, 0) + 1
        if t == 2:
            compare_update(i, want, bgp, errs)
    print("tshark cross-check: %d messages (by type: %s)" %
          (len(msgs), ", ".join("%d: %d" % kv for kv in sorted(counts.items()))))
    if errs:
        for e in errs[:30]:
            print("FAIL: " + e)
        fail("%d differences between tshark and the intended values" % len(errs))
    print("tshark cross-check: UPDATEs with each field compared: " +
          ", ".join("%s %d" % kv for kv in sorted(seen.items())))
    if any(v == 0 for v in seen.values()) or len(seen) < 9:
        fail("the sample leaves some field never compared")
    print("tshark cross-check: all fields agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
