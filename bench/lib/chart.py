"""chart: gnuplot PNG of the headline time per daemon and scenario.

    bench/run chart --out docs/bench-convergence.png results/DIR1 results/DIR2 ...

Reads each results directory's summary.json; one cluster of bars per
scenario, one bar per daemon, log-scale seconds (churn: p50 latency in
seconds). Daemons that did not finish or failed get no bar.
"""

import json
import os
import shutil
import subprocess
import tempfile

import report
import scenarios as S

ORDER = ['routehub', 'bird', 'frr', 'gobgp', 'openbgpd']
LABEL = {'routehub': 'routehubd', 'bird': 'BIRD', 'frr': 'FRR', 'gobgp': 'GoBGP',
         'openbgpd': 'OpenBGPD'}


def load(dirs):
    out = []
    for d in dirs:
        p = os.path.join(d, 'summary.json')
        if not os.path.exists(p):
            # `bench/run all --results DIR` puts one scenario per subdirectory
            subs = sorted(os.path.join(d, x) for x in os.listdir(d)
                          if os.path.exists(os.path.join(d, x, 'summary.json')))
            out += load(subs)
            continue
        with open(p, encoding='utf-8') as f:
            out.append(json.load(f))
    return out


def convergence_png(dirs, png):
    if shutil.which('gnuplot') is None:
        print('bench/run chart: gnuplot is not installed')
        return 1
    sums = load(dirs)
    if not sums:
        print('bench/run chart: no summary.json in', ' '.join(dirs))
        return 1
    sums.sort(key=lambda s: S.ORDER.index(s['scenario']) if s['scenario'] in S.ORDER else 99)
    lines = ['scenario ' + ' '.join(LABEL[k] for k in ORDER)]
    for s in sums:
        scen = S.scenario(s['scenario'], s.get('scale', 1), '')
        vals = []
        for k in ORDER:
            row = next((r for r in s['rows'] if r['daemon'] == k), None)
            v = None
            if row and row['status'] == 'ok':
                v = report.headline(scen, row)[0]
                if v is not None and s['scenario'] == 'churn':
                    v = v / 1000.0
            vals.append('?' if v is None or v <= 0 else f'{v:.6g}')
        name = s['scenario'] + ('' if s.get('scale', 1) == 1 else f"@{s['scale']:g}")
        lines.append(f'"{name}" ' + ' '.join(vals))
    with tempfile.TemporaryDirectory() as td:
        data = os.path.join(td, 'conv.dat')
        with open(data, 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines) + '\n')
        script = f'''
set terminal pngcairo size 1100,560 font "DejaVu Sans,10"
set output "{os.path.abspath(png)}"
set title "Side-by-side route servers on loopback: headline time per scenario (lower is better)\\nno bar: did not finish in 10 min, not run, or n/a (see docs/benchmarks.md)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set format y "%g"
set ylabel "seconds (log scale; churn: p50 latency)"
set grid ytics
set key top left
set datafile missing "?"
set xtics nomirror
plot for [i=2:{len(ORDER) + 1}] "{data}" using i:xtic(1) title columnheader(i)
'''
        sp = os.path.join(td, 'conv.gp')
        with open(sp, 'w', encoding='utf-8') as f:
            f.write(script)
        r = subprocess.run(['gnuplot', sp], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            print('bench/run chart: gnuplot:', r.stderr.strip())
            return 1
    print(f'bench/run chart: wrote {png}')
    return 0
