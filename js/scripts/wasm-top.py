#!/usr/bin/env python3
"""Lists the largest functions of a .wasm that still has its `name` section (js/pkg/ output
before wasm-opt): `python3 js/scripts/wasm-top.py js/pkg/footfall_bg.wasm [N]`. A stand-in for
`twiggy top` that needs nothing installed."""
import sys, re, collections

def leb(b, i):
    r = s = 0
    while True:
        x = b[i]; i += 1
        r |= (x & 0x7f) << s; s += 7
        if x < 0x80: return r, i

data = open(sys.argv[1], 'rb').read()
n_top = int(sys.argv[2]) if len(sys.argv) > 2 else 40
i = 8; imports = 0; bodies = []; names = {}; sections = collections.Counter()
while i < len(data):
    sid = data[i]; i += 1
    size, i = leb(data, i); end = i + size
    if sid == 2:
        cnt, j = leb(data, i)
        for _ in range(cnt):
            for _ in range(2):
                l, j = leb(data, j); j += l
            kind = data[j]; j += 1
            if kind == 0: _, j = leb(data, j); imports += 1
            elif kind == 1: j += 1; fl, j = leb(data, j); _, j = leb(data, j); j = leb(data, j)[1] if fl & 1 else j
            elif kind == 2: fl, j = leb(data, j); _, j = leb(data, j); j = leb(data, j)[1] if fl & 1 else j
            elif kind == 3: j += 2
    if sid == 10:
        cnt, j = leb(data, i)
        for _ in range(cnt):
            l, j = leb(data, j); bodies.append(l); j += l
    if sid == 0:
        l, j = leb(data, i); nm = data[j:j+l].decode(); j += l
        sections['custom:' + nm] += size
        if nm == 'name':
            while j < end:
                sub = data[j]; j += 1
                sl, j = leb(data, j); se = j + sl
                if sub == 1:
                    cnt, j = leb(data, j)
                    for _ in range(cnt):
                        idx, j = leb(data, j); l, j = leb(data, j)
                        names[idx] = data[j:j+l].decode('utf8', 'replace'); j += l
                j = se
    else:
        sections[sid] += size
    i = end
print('sections:', dict(sections))
total = sum(bodies)
print(f'code: {total} bytes in {len(bodies)} functions')
rows = sorted(((s, names.get(imports + k, f'func{imports + k}')) for k, s in enumerate(bodies)), reverse=True)
for s, n in rows[:n_top]:
    print(f'{s:8d} {100*s/total:5.1f}%  {n[:150]}')
by_crate = collections.Counter()
for s, n in rows:
    m = re.match(r'[<&]*(?:_<)?([a-z_0-9]+)::', n)
    by_crate[m.group(1) if m else '?'] += s
print('by crate:', by_crate.most_common(25))
