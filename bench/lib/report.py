"""report: per-daemon figures from a loadgen JSON result, and the markdown table.

A row is a dict: daemon, label, status ('ok', 'FAILED: ...', 'did not finish in
10 min', 'crashed ...', 'n/a: ...'), and the figures that exist for the
scenario. Times are seconds unless the key ends in _ms.
"""


def phases_by_kind(lg):
    """{kind: first phase of that kind}, plus 'pause#N' for the N-th pause."""
    out, npause = {}, 0
    for ph in (lg or {}).get('phases', []):
        k = ph.get('kind')
        if k == 'pause':
            npause += 1
            out[f'pause#{npause}'] = ph
        out.setdefault(k, ph)
    return out


def figures(scen, lg):
    """The figures of one loadgen run (only what it reached)."""
    p = phases_by_kind(lg)
    f = {}
    if 'establish' in p and p['establish'].get('ok'):
        f['established_s'] = p['establish']['seconds']
    head = p.get(scen.headline if scen.headline != 'soft-in' else 'announce')
    if head and head.get('ok'):
        f['lg_busy_max'] = max(head.get('busy') or [0])
        f['lg_cpu_s'] = head.get('cpu_s')
        f['conv_s'] = head['converge_s']
        f['p50_s'] = head['spoke_p50_s']
        f['p99_s'] = head['spoke_p99_s']
        f['max_s'] = head['spoke_max_s']
        f['routes'] = head['expected_routes']
        f['rx_routes_per_s'] = head['rx_routes_per_s']
    if 'announce' in p and p['announce'].get('ok'):
        f['announce_s'] = p['announce']['converge_s']
    if 'withdraw' in p and p['withdraw'].get('ok'):
        f['withdraw_s'] = p['withdraw']['converge_s']
    if 'reset' in p and p['reset'].get('ok'):
        f['reset_s'] = p['reset']['converge_s']
    if 'churn' in p and p['churn'].get('ok'):
        lat = p['churn'].get('latency', {})
        f['churn_p50_ms'] = lat.get('p50_ms')
        f['churn_p99_ms'] = lat.get('p99_ms')
        f['churn_max_ms'] = lat.get('max_ms')
        f['churn_samples'] = lat.get('n')
        f['churn_skipped'] = p['churn'].get('churn_skipped')
    if 'refresh' in p and p['refresh'].get('ok'):
        f['refresh_out_s'] = p['refresh']['converge_s']
    if scen.soft_reset and 'pause#2' in p:
        # spokes: UPDATEs received while the daemon refreshed its feeders (should be 0);
        # feeders: what they re-sent in answer to the daemon's ROUTE-REFRESH (the
        # loadgen counts that as messages and bytes, not UPDATEs)
        f['softin_spoke_updates'] = p['pause#2']['rx_updates']
        sent, want = p['pause#2']['tx_bytes'], (p.get('announce') or {}).get('tx_bytes') or 0
        f['softin_feeders'] = ('all' if want and sent >= want else 'none' if sent < 100 * 19
                               else f'{100 * sent / want:.0f}%' if want else '?')
    if 'wait' in p:
        f['after_softin_ok'] = bool(p['wait'].get('ok'))
    return f


def headline(scen, row):
    """(value, text) of the scenario's headline figure for a row, value None if none."""
    if scen.name == 'churn':
        v = row.get('churn_p50_ms')
        if v is None:
            return None, '-'
        p99 = row.get('churn_p99_ms') or 0
        if v >= 1000:
            return v, f'{v / 1000:.1f} / {p99 / 1000:.1f} s'
        return v, f'{v:.1f} / {p99:.1f} ms'
    if scen.name == 'soft-reset':
        v = row.get('softin_s')
        return (v, f'{v:.3f} s') if v is not None else (None, row.get('softin_note', '-'))
    if scen.name == 'sessions':
        e, c = row.get('established_s'), row.get('conv_s')
        if e is None or c is None:
            return None, '-'
        return e + c, f'{e:.2f} + {c:.2f} s'
    v = row.get('conv_s')
    return (v, f'{v:.3f} s') if v is not None else (None, '-')


def _ratio(v, ref):
    if v is None or ref is None or ref <= 0:
        return '-'
    return f'{v / ref:.1f}x' if v / ref < 100 else f'{v / ref:.0f}x'


def _fmt(v, spec, unit=''):
    return '-' if v is None else format(v, spec) + unit


def markdown(scen, rows, ceiling=None):
    """The summary table: one line per daemon, ratios to routehubd. A headline
    marked '(lg)' ran at 70% or more of the loadgen's own ceiling (self-test,
    same workload), or with a loadgen thread 90% busy: the figure may be the
    harness's limit, not the daemon's."""
    ceil = (ceiling or {}).get('rx_routes_per_s') or 0
    ref = next((r for r in rows if r['daemon'] == 'routehub' and r['status'] == 'ok'), None)
    ref_h = headline(scen, ref)[0] if ref else None
    ref_cpu = ref.get('cpu_s') if ref else None
    ref_mem = ref.get('peak_mb') if ref else None
    hl = {'churn': 'latency p50 / p99', 'soft-reset': 'soft reset in done',
          'sessions': 'Established + converged', 'hard-reset': 'withdrawals seen'}.get(
        scen.name, 'convergence')
    spoke_col = scen.name != 'churn'  # churn has latencies, not per-spoke completion
    sp_name = 'announce: spoke p50 / p99 / max s' if scen.soft_reset else 'spoke p50 / p99 / max s'
    cols = ['daemon', 'status', hl, 'x routehub'] + ([sp_name] if spoke_col else [])
    extra = []
    if scen.name in ('ingest', 'fanout', 'reflect'):
        extra = [('withdraw s', lambda r: _fmt(r.get('withdraw_s'), '.3f')),
                 ('routes/s', lambda r: _fmt(r.get('rx_routes_per_s'), ',.0f'))]
    elif scen.name == 'sessions':
        extra = [('routes/s', lambda r: _fmt(r.get('rx_routes_per_s'), ',.0f'))]
    elif scen.name == 'hard-reset':
        extra = [('announce s', lambda r: _fmt(r.get('announce_s'), '.3f'))]
    elif scen.name == 'soft-reset':
        extra = [('spoke UPDATEs during', lambda r: _fmt(r.get('softin_spoke_updates'), 'd')),
                 ('feeders re-sent', lambda r: r.get('softin_feeders', '-')),
                 ('soft out (spokes refresh) s', lambda r: _fmt(r.get('refresh_out_s'), '.3f'))]
    elif scen.name == 'churn':
        extra = [('max s', lambda r: _fmt(r['churn_max_ms'] / 1000 if r.get('churn_max_ms') is not None
                                          else None, '.3f')),
                 ('samples', lambda r: _fmt(r.get('churn_samples'), ',d')),
                 ('skipped (backlog)', lambda r: _fmt(r.get('churn_skipped'), ',d'))]
    extra.append(('loadgen CPU s', lambda r: _fmt(r.get('lg_cpu_s'), '.2f')))
    cols += [c for c, _ in extra] + ['CPU s', 'x', 'peak RSS MB', 'x']
    out = ['| ' + ' | '.join(cols) + ' |', '|' + '|'.join('---' for _ in cols) + '|']
    for r in rows:
        hv, ht = headline(scen, r)
        sp = '-'
        if r.get('p50_s') is not None and scen.name != 'churn':
            sp = f"{r['p50_s']:.3f} / {r['p99_s']:.3f} / {r['max_s']:.3f}"
        if hv is not None and ((ceil and (r.get('rx_routes_per_s') or 0) >= 0.7 * ceil)
                               or (r.get('lg_busy_max') or 0) >= 0.9):
            ht += ' (lg)'
            r['loadgen_bound'] = True
        cells = [r['label'], r['status'], ht if r['status'] == 'ok' or hv is not None else '-',
                 _ratio(hv, ref_h)] + ([sp] if spoke_col else [])
        cells += [fn(r) for _c, fn in extra]
        ok = r['status'] == 'ok'  # CPU and memory ratios only for comparable (finished) runs
        cells += [_fmt(r.get('cpu_s'), '.2f'), _ratio(r.get('cpu_s'), ref_cpu) if ok else '-',
                  _fmt(r.get('peak_mb'), '.0f'), _ratio(r.get('peak_mb'), ref_mem) if ok else '-']
        out.append('| ' + ' | '.join(str(c) for c in cells) + ' |')
    return '\n'.join(out)


def phase_table(row):
    """Per-phase detail of one daemon: loadgen figures and the daemon's CPU."""
    lg = row.get('loadgen') or {}
    cpu = {p['phase']: p for p in row.get('phase_cpu', [])}
    out = ['| phase | ok | time s | conv s | spoke p50/p99/max s | rx UPDATEs | rx prefixes | '
           'daemon CPU s |', '|---|---|---|---|---|---|---|---|']
    for ph in lg.get('phases', []):
        c = cpu.get(ph['phase'], {}).get('cpu_s')
        sp = '-'
        if ph.get('spokes'):
            sp = f"{ph['spoke_p50_s']:.3f}/{ph['spoke_p99_s']:.3f}/{ph['spoke_max_s']:.3f}"
        out.append(f"| {ph['phase']} | {'yes' if ph['ok'] else 'NO'} | {ph['seconds']:.3f} | "
                   f"{ph['converge_s']:.3f} | {sp} | {ph['rx_updates']:,} | {ph['rx_prefixes']:,} | "
                   f"{'-' if c is None else format(c, '.2f')} |")
    return '\n'.join(out)
