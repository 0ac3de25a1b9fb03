"""Helpers shared by the end-to-end route tests (test_routes_*.py): a check
runner that reports every failure and goes on, exact route tables keyed by
prefix and their differences, and ExaBGP's recorded events."""
import json
import time


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
