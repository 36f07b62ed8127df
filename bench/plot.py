#!/usr/bin/env python3
"""Draws the load run's figures (the CSV `http_bench --csv` writes) as an SVG of two panels:
requests per second and p99 latency against connections, one line per workload, connections on a
log scale. Standard library only.

    bench/plot.py results.csv docs/performance-http.svg
"""
import csv
import math
import sys

WORKLOADS = [("transitions", "#d62728"), ("reads", "#1f77b4"), ("mixed", "#9467bd"),
             ("healthz", "#7f7f7f")]
W, H = 460, 300  # one panel
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 50


def nice_max(value):
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def panel(x0, title, rows, column, unit, connections):
    out = []
    top = max((float(r[column]) for r in rows if r["workload"] in dict(WORKLOADS)), default=1)
    ymax = nice_max(top * 1.05)
    lo, hi = math.log2(min(connections)), math.log2(max(connections))
    span = hi - lo or 1

    def px(c):
        return x0 + LEFT + (math.log2(c) - lo) / span * (W - LEFT - RIGHT)

    def py(v):
        return TOP + (1 - v / ymax) * (H - TOP - BOTTOM)

    out.append(f'<text x="{x0 + W / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>')
    for i in range(6):
        v = ymax * i / 5
        y = py(v)
        out.append(f'<line x1="{x0 + LEFT}" x2="{x0 + W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                   'stroke="#ddd"/>')
        label = f"{v:,.0f}" if ymax >= 10 else f"{v:.1f}"
        out.append(f'<text x="{x0 + LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                   f'font-size="11">{label}</text>')
    for c in connections:
        out.append(f'<text x="{px(c):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle" '
                   f'font-size="11">{c}</text>')
    out.append(f'<text x="{x0 + W / 2}" y="{H - 12}" text-anchor="middle" font-size="12">'
               'connections</text>')
    out.append(f'<text x="{x0 + 16}" y="{H / 2}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 {x0 + 16} {H / 2})">{unit}</text>')
    for workload, colour in WORKLOADS:
        points = sorted((int(r["connections"]), float(r[column])) for r in rows
                        if r["workload"] == workload)
        if not points:
            continue
        path = " ".join(f"{px(c):.1f},{py(v):.1f}" for c, v in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for c, v in points:
            out.append(f'<circle cx="{px(c):.1f}" cy="{py(v):.1f}" r="3" fill="{colour}"/>')
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py RESULTS.csv OUTPUT.svg")
    with open(sys.argv[1], newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["workload"] != "sqlite"]
    if not rows:
        sys.exit("plot.py: no load figures in " + sys.argv[1])
    connections = sorted({int(r["connections"]) for r in rows})
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H + 30}" '
             'font-family="DejaVu Sans, sans-serif">',
             f'<rect width="{2 * W}" height="{H + 30}" fill="white"/>']
    parts += panel(0, "Throughput", rows, "per_second", "requests per second", connections)
    parts += panel(W, "p99 latency", rows, "p99_ms", "milliseconds", connections)
    x = LEFT
    for workload, colour in WORKLOADS:
        parts.append(f'<rect x="{x}" y="{H + 8}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 16}" y="{H + 18}" font-size="12">{workload}</text>')
        x += 130
    parts.append("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
