#!/usr/bin/env python3
"""The module graph of every crate: no import circle, no upward import.

For each crate it reads every source file, takes every path that starts at
`crate::`, `super::` or `self::` (in `use` lines and in code, comments and
strings left out), resolves it to the module file it lands in (following a
parent's `pub use child::Name` re-exports down to the child that defines the
name), and draws an edge from file to file. A path into the file's own
ancestors' own items is no edge (a child may use its parent); a path into its
own descendants neither. Then:

- import circles: any strongly connected set of two or more modules fails;
- upward imports: within a crate, the top-level modules are in floors
  (FLOORS below); a module may import from its own floor or any floor below,
  never from above.

Run by ci/lint.sh; `python3 ci/module_graph.py --edges` prints the graph.
"""
import collections
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Per crate, its top-level modules from the lowest floor up. A module not
# listed fails the lint, so a new one has to be placed on purpose.
FLOORS = {
    "emulator/core/src": [
        ["time", "money", "error", "data_file", "invariant", "fault"],
        ["profile", "defect"],
        ["cards"],
        ["event", "offline", "backend", "reader", "discovery"],
        ["wire"],
    ],
    "emulator/src": [
        ["core", "wire"],
        ["disk", "fixtures", "history", "ble"],
        ["store", "hw"],
        ["device"],
        ["sim"],
        ["serve"],
    ],
    "scenarios/src": [
        ["check"],
        ["driver", "timeline"],
        ["rig"],
        ["steps"],
        ["run"],
        ["explore"],
        ["commands", "report", "simulate", "bench", "bench_ble", "serve_bench", "serve", "scan",
         "proxy", "readers", "defects"],
        ["cli"],
    ],
}

# Within a floor, modules may use each other (no circle still holds).


def modules(src):
    mods = {}
    for root, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src)[:-3].split(os.sep)
            if rel in (["lib"], ["main"]):
                key = ()
            elif rel[-1] == "mod":
                key = tuple(rel[:-1])
            else:
                key = tuple(rel)
            mods[key] = path
    return mods


def strip(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    return text


PATH = re.compile(
    r"\b(crate|super(?:::super)*|self)::((?:[A-Za-z_][A-Za-z0-9_]*::)*)"
    r"(\{[^;]*?\}|[A-Za-z_][A-Za-z0-9_]*)"
)
REEXPORT = re.compile(
    r"pub(?:\([^)]*\))?\s+use\s+(?:self::)?([a-z_][a-z0-9_]*)::(\{[^;]*\}|[A-Za-z_0-9]+)\s*;"
)


def graph(src):
    mods = modules(src)
    texts = {m: strip(open(p, encoding="utf-8").read()) for m, p in mods.items()}
    reexports = {}
    for m, text in texts.items():
        names = {}
        for g in REEXPORT.finditer(text):
            child = m + (g.group(1),)
            if child in mods:
                for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", g.group(2)):
                    names[name] = child
        reexports[m] = names

    def resolve(path):
        for i in range(len(path), -1, -1):
            if tuple(path[:i]) in mods:
                best, rest = tuple(path[:i]), list(path[i:])
                break
        while rest and rest[0] in reexports.get(best, {}):
            best, rest = reexports[best][rest[0]], rest[1:]
        return best

    edges = set()
    for m, text in texts.items():
        for g in PATH.finditer(text):
            base = g.group(1)
            if base == "crate":
                start = ()
            elif base == "self":
                start = m
            else:
                up = base.count("super")
                start = m[: len(m) - up] if up <= len(m) else ()
            segs = [s for s in g.group(2).split("::") if s]
            last = g.group(3)
            items = re.split(r",(?![^{]*\})", last.strip("{}")) if last.startswith("{") else [last]
            for item in items:
                tail = [re.sub(r"[^A-Za-z0-9_].*", "", s) for s in item.strip().split("::")]
                tail = [s for s in tail if s]
                target = resolve(tuple(start) + tuple(segs) + tuple(tail))
                if target == m or m[: len(target)] == target or target[: len(m)] == m:
                    continue
                edges.add((m, target))
    return mods, edges


def circles(edges):
    succ = collections.defaultdict(set)
    for a, b in edges:
        succ[a].add(b)
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(100000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in succ[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in list(succ):
        if v not in index:
            visit(v)
    return found


def name(m):
    return "::".join(m) or "crate"


def main():
    failures = []
    for src, floors in FLOORS.items():
        mods, edges = graph(os.path.join(ROOT, src))
        if "--edges" in sys.argv:
            for a, b in sorted(edges):
                print(f"{src}: {name(a)} -> {name(b)}")
        for comp in circles(edges):
            failures.append(f"{src}: import circle: {' <-> '.join(name(m) for m in comp)}")
        floor_of = {m: i for i, floor in enumerate(floors) for m in floor}
        for m in {k[0] for k in mods if k}:
            if m not in floor_of:
                failures.append(f"{src}: top-level module `{m}` is on no floor (ci/module_graph.py FLOORS)")
        for a, b in sorted(edges):
            if not a or not b or a[0] == b[0]:
                continue
            fa, fb = floor_of.get(a[0]), floor_of.get(b[0])
            if fa is not None and fb is not None and fb > fa:
                failures.append(f"{src}: upward import: {name(a)} uses {name(b)} (floor {fa} uses floor {fb})")
    for f in failures:
        print(f, file=sys.stderr)
    if failures:
        print(f"module graph: {len(failures)} problem(s)", file=sys.stderr)
        return 1
    total = sum(len(graph(os.path.join(ROOT, s))[1]) for s in FLOORS)
    print(f"module graph: {total} edges in {len(FLOORS)} crates, no circle, no upward import")
    return 0


if __name__ == "__main__":
    sys.exit(main())
