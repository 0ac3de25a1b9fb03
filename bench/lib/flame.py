"""flame: a flame graph (SVG) from `perf script` output, standard library only.

Debian 12 packages no flame graph scripts, so this does the two steps of
Brendan Gregg's FlameGraph itself: fold each sampled call chain into one line
"thread;outermost;...;innermost count", then draw the folded stacks as nested
rectangles (width = share of samples; children sorted by name, as flamegraph.pl
does). Hover a box for its name, samples and share.
"""

import html
import re
import subprocess
import zlib

_FRAME = re.compile(r'^\s+[0-9a-f]+\s+(.+?)\s+\((.*)\)\s*$')


def _clean(sym, dso):
    sym = re.sub(r'\+0x[0-9a-f]+$', '', sym)
    if sym in ('[unknown]', ''):
        base = dso.rsplit('/', 1)[-1] if dso else '?'
        return f'[{base}]'
    return sym


def fold(lines):
    """perf script text lines -> {stack: samples}."""
    stacks = {}
    head, frames = None, []

    def flush():
        if head is not None:
            key = ';'.join([head] + list(reversed(frames)))
            stacks[key] = stacks.get(key, 0) + 1

    for line in lines:
        if not line.strip():
            flush()
            head, frames = None, []
            continue
        if head is None and not line.startswith((' ', '\t')):
            head = line.split()[0]  # the thread (comm)
            frames = []
            continue
        m = _FRAME.match(line)
        if m and head is not None:
            frames.append(_clean(m.group(1), m.group(2)))
    flush()
    return stacks


def _color(name):
    h = zlib.crc32(name.encode())
    r = 205 + h % 50
    g = 80 + (h >> 8) % 130
    b = (h >> 16) % 55
    return f'rgb({r},{g},{b})'


def svg(stacks, title='flame graph', width=1200, row=16, minfrac=0.0005):
    total = sum(stacks.values())
    if not total:
        return None
    tree = {}
    for st, n in stacks.items():
        node = tree
        for fr in st.split(';'):
            e = node.setdefault(fr, [0, {}])
            e[0] += n
            node = e[1]

    def depth(node):
        return 1 + max((depth(c[1]) for c in node.values()), default=0)

    rows = depth(tree)
    height = (rows + 3) * row
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="monospace" font-size="11">',
           f'<rect width="100%" height="100%" fill="#f8f8f0"/>',
           f'<text x="{width // 2}" y="{row}" text-anchor="middle" font-size="14">'
           f'{html.escape(title)} ({total:,} samples)</text>']
    scale = (width - 20) / total

    def draw(node, x, level):
        for name in sorted(node):
            n, kids = node[name]
            w = n * scale
            if n / total >= minfrac:
                y = height - (level + 2) * row
                label = html.escape(name)
                out.append(f'<g><title>{label} ({n:,} samples, {100 * n / total:.2f}%)</title>'
                           f'<rect x="{x:.1f}" y="{y}" width="{max(w - 0.5, 0.1):.1f}" '
                           f'height="{row - 1}" fill="{_color(name)}" rx="2"/>')
                chars = int(w / 7)
                if chars >= 3:
                    txt = name if len(name) <= chars else name[:chars - 2] + '..'
                    out.append(f'<text x="{x + 3:.1f}" y="{y + row - 4}">{html.escape(txt)}</text>')
                out.append('</g>')
                draw(kids, x, level + 1)
            x += w

    draw(tree, 10.0, 0)
    out.append('</svg>')
    return '\n'.join(out)


def from_perf(data, folded_path, svg_path, title='flame graph', timeout=900):
    """perf.data -> folded stacks file and SVG; returns the number of samples."""
    p = subprocess.run(['perf', 'script', '-i', data, '-F', 'comm,ip,sym,dso'],
                       capture_output=True, text=True, timeout=timeout)
    stacks = fold(p.stdout.splitlines())
    with open(folded_path, 'w', encoding='utf-8') as f:
        for st, n in sorted(stacks.items(), key=lambda kv: -kv[1]):
            f.write(f'{st} {n}\n')
    doc = svg(stacks, title=title)
    if doc is None:
        return 0
    with open(svg_path, 'w', encoding='utf-8') as f:
        f.write(doc)
    return sum(stacks.values())
