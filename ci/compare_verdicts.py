#!/usr/bin/env python3
"""Compares two `readerlab run --json` reports scenario by scenario: every
scenario the second run did not skip must have the first run's verdict.
Prints how many agree, how many of those failed (a defect caught both
ways), how many the second skipped; exits 1 on any difference, or when
fewer than --min-run scenarios ran in the second.

    ci/compare_verdicts.py REFERENCE.json ADAPTER.json --label NAME [--min-run N]
"""

import argparse
import json
import sys


def results(path: str) -> dict:
    with open(path, encoding="utf-8") as report:
        return {(r["path"], r["line"]): r for r in json.load(report)["results"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("adapter")
    parser.add_argument("--label", default="")
    parser.add_argument("--min-run", type=int, default=1)
    args = parser.parse_args()
    reference, adapter = results(args.reference), results(args.adapter)
    if reference.keys() != adapter.keys():
        print(f"{args.label}: the two runs ran different scenarios", file=sys.stderr)
        return 1
    same = caught = skipped = 0
    differ = []
    for key, theirs in sorted(adapter.items()):
        ours = reference[key]
        if theirs["outcome"] == "skipped":
            skipped += 1
        elif theirs["outcome"] == ours["outcome"]:
            same += 1
            caught += theirs["outcome"] == "failed"
        else:
            differ.append((key, ours, theirs))
    for (path, line), ours, theirs in differ:
        print(f"{path}:{line}: in process {ours['outcome']}, through the adapter {theirs['outcome']}")
        print(f"    {(theirs['message'] or ours['message'] or '').splitlines()[:6]}")
    print(f"{args.label}: {same} scenarios with the same verdict ({caught} failed both ways), "
          f"{len(differ)} differ, {skipped} skipped by the adapter")
    if differ or same < args.min_run:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
