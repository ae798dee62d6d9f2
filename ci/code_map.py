#!/usr/bin/env python3
"""Regenerates ARCHITECTURE.md's code map from the tree.

Every Rust source file of the three crates (src/, tests/, build.rs) gets one
line, in path order under its crate's heading. A file keeps the description
the map already gives it; a file the map does not know yet gets the first
sentence of its `//!` comment, to be edited by hand. Files that no longer
exist drop out. `--check` only says whether the map is up to date (exit 1
with the differences), which is what `scenarios/tests/layout.rs` also
checks.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATES = [
    ("emulator/core", "### `emulator/core/` (crate `readerlab-core`)",
     "The sans-IO core: state machines, the ledger, the offline engine and the pure codecs. No runtime, socket, file or clock (`tests/purity.rs`)."),
    ("emulator", "### `emulator/` (crate `readerlab-emulator`)",
     "The shells and media around the core: disks and the store, the simulator, the servers, the Bluetooth carriers."),
    ("scenarios", "### `scenarios/` (crate `readerlab`)",
     "The harness and the `readerlab` command."),
]
START = "## Code map\n"
END = "### Data and docs\n"


def sources(crate):
    base = os.path.join(ROOT, crate)
    found = []
    for top in ("src", "tests"):
        for root, dirs, files in os.walk(os.path.join(base, top)):
            dirs[:] = [d for d in dirs if d not in ("snapshots",)]
            for name in files:
                if name.endswith(".rs"):
                    found.append(os.path.relpath(os.path.join(root, name), base))
    if os.path.exists(os.path.join(base, "build.rs")):
        found.append("build.rs")
    # emulator/core is its own crate: keep it out of emulator's list.
    return sorted(p for p in found if not p.startswith("core/"))


def first_sentence(path):
    lines = []
    for line in open(path, encoding="utf-8"):
        if line.startswith("//!"):
            text = line[3:].strip()
            if not text and lines:
                break
            lines.append(text)
        elif lines:
            break
    text = " ".join(l for l in lines if l)
    m = re.match(r"(.+?[.])(\s|$)", text)
    return (m.group(1) if m else text) or "(no module comment)"


def existing(doc):
    """Descriptions the map gives today, by crate and path."""
    known = {}
    crate = None
    for line in doc.splitlines():
        for c, heading, _ in CRATES:
            if line.startswith(heading.split(" (")[0]):
                crate = c
        m = re.match(r"- `([^`]+)`(?: \(([^)]*)\))?: (.*)", line)
        if m and crate:
            known[(crate, m.group(1))] = line[len(f"- `{m.group(1)}`"):]
    return known


def render(doc):
    known = existing(doc)
    out = [START, "\n", "One line per source file, in path order; `python3 ci/code_map.py` adds new files\n",
           "and drops removed ones, and `scenarios/tests/layout.rs` fails when the map and\n",
           "the tree disagree.\n", "\n"]
    for crate, heading, blurb in CRATES:
        out.append(f"{heading}\n\n{blurb}\n\n")
        for path in sources(crate):
            rest = known.get((crate, path))
            if rest is None:
                rest = ": " + first_sentence(os.path.join(ROOT, crate, path))
            out.append(f"- `{path}`{rest}\n")
        out.append("\n")
    return "".join(out)


def main():
    path = os.path.join(ROOT, "ARCHITECTURE.md")
    doc = open(path, encoding="utf-8").read()
    a, b = doc.index(START), doc.index(END)
    new = doc[:a] + render(doc[a:b]) + doc[b:]
    if "--check" in sys.argv:
        if new != doc:
            print("ARCHITECTURE.md's code map is out of date: run python3 ci/code_map.py", file=sys.stderr)
            return 1
        print("code map: up to date")
        return 0
    open(path, "w", encoding="utf-8").write(new)
    print("code map written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
