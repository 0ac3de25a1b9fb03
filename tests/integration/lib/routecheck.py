"""Helpers shared by the end-to-end route tests (test_routes_*.py): a check
runner that reports every failure and goes on, exact route tables keyed by
prefix and their differences, ExaBGP's recorded events, and the tests' main
(skip, lab directory, clean-up)."""
import json
import os
import shutil
import tempfile
import time

from bgpharness import Lab, Routehubd


class Runner:
    def __init__(self, lab):
        self.lab = lab
        self.passed, self.failed = [], []

    def check(self, name, fn, *args):
        t = time.monotonic()
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - every failure is reported, the run goes on
            self.failed.append(name)
            self.lab.failed = True
            print(f'FAIL {name}: {type(e).__name__}: {e}', flush=True)
            return False
        self.passed.append(name)
        print(f'PASS {name} ({time.monotonic() - t:.1f}s)', flush=True)
        return True


def norm(routes, fields):
    """{prefix: {field: value}}; a prefix seen twice is kept as a list (an error)."""
    out = {}
    for r in routes:
        v = {}
        for f in fields:
            x = r.get(f)
            v[f] = sorted(x) if f in ('communities', 'large_communities') else x
        if r['prefix'] in out:
            prev = out[r['prefix']]
            out[r['prefix']] = (prev if isinstance(prev, list) else [prev]) + [v]
        else:
            out[r['prefix']] = v
    return out


def diff(have, want):
    lines = []
    for p in sorted(set(want) - set(have)):
        lines.append(f'missing {p}: want {want[p]}')
    for p in sorted(set(have) - set(want)):
        lines.append(f'unexpected {p}: {have[p]}')
    for p in sorted(set(have) & set(want)):
        if have[p] != want[p]:
            lines.append(f'{p}: have {have[p]}, want {want[p]}')
    return '; '.join(lines)


def exa_events(exa):
    out = []
    with open(exa.events, encoding='utf-8', errors='replace') as f:
        for line in f:
            line = line.strip()
            if line.startswith('{'):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out


def lab_main(name, daemons, scenario, prefix='rh-routes-'):
    """A lab test's main: skip (77) when routehubd or one of `daemons`
    (bgpharness classes) is missing, run scenario(lab, t0) in a lab under a
    temporary directory <prefix><name>-* (kept with RH_KEEP_LAB=1, or when it
    failed), and return its exit status."""
    if Routehubd.missing():
        print(f'SKIP: routehubd not built: {", ".join(Routehubd.missing())}')
        return 77
    missing = [m for cls in daemons for m in cls.missing()]
    if missing:
        print(f'SKIP: not installed: {", ".join(missing)}')
        return 77
    keep = os.environ.get('RH_KEEP_LAB') == '1'
    labdir = tempfile.mkdtemp(prefix=f'{prefix}{name}-')
    t0 = time.monotonic()
    with Lab(tmpdir=labdir, keep=keep) as lab:
        rc = scenario(lab, t0)
    if rc == 0 and not keep:
        shutil.rmtree(labdir, ignore_errors=True)
    return rc
