#!/usr/bin/env python3
"""Runs the shipped sharding manifests' own shell, locally, and checks the
result: ci/github/explore-shards.yml and ci/k8s/explore-*.yaml.

Each file is parsed (PyYAML), checked for the shape its engine needs (a
matrix over every shard and a merge job after it; an Indexed Job whose
completions and parallelism equal SHARDS, and a merge Job on the same
volume), and then the very commands it carries are run with a small
CASES: every matrix entry / every JOB_COMPLETION_INDEX as its own process,
then the merge. The merged summary must equal one unsharded run's (cases,
steps, digest, faults), as the scenarios' test checks for the command.

  check_shard_manifests.py READERLAB WORKDIR
"""
import json
import os
import pathlib
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
CASES, SEED, SHARDS = "60", "2", 3


def fail(message):
    sys.exit(f"check_shard_manifests: FAIL: {message}")


def sh(script, env, cwd):
    result = subprocess.run(["/bin/sh", "-ec", script], env=env, cwd=cwd,
                            capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout + result.stderr


def environment(readerlab, extra):
    env = dict(os.environ)
    env["PATH"] = f"{pathlib.Path(readerlab).resolve().parent}:{env['PATH']}"
    env.update(extra)
    return env


def unsharded(readerlab, work):
    out = work / "unsharded"
    subprocess.run([readerlab, "explore", "--cases", CASES, "--seed", SEED, "--out", str(out), "--json"],
                   check=True, capture_output=True)
    return json.loads((out / "summary.json").read_text())


def compare(merged, whole, what):
    for key in ("cases", "steps", "digest", "faults"):
        if merged.get(key) != whole.get(key):
            fail(f"{what}: merged {key} {merged.get(key)} differs from the unsharded run's {whole.get(key)}")
    print(f"check_shard_manifests: {what}: {merged['cases']} cases in {len(merged['shards'])} shards, "
          f"digest {merged['digest']}, the same as one unsharded run")


def github(readerlab, work, whole):
    flow = yaml.safe_load((ROOT / "ci/github/explore-shards.yml").read_text())
    jobs = flow["jobs"]
    shards = jobs["explore"]["strategy"]["matrix"]["shard"]
    declared = int(flow["env"]["SHARDS"])
    if shards != list(range(1, declared + 1)):
        fail(f"the matrix {shards} is not 1..SHARDS ({declared})")
    if jobs["merge"]["needs"] != "explore":
        fail("the merge job does not run after the explore matrix")
    explore = next(s["run"] for s in jobs["explore"]["steps"] if "--shard" in s.get("run", ""))
    merge = next(s["run"] for s in jobs["merge"]["steps"] if "explore merge" in s.get("run", ""))
    base = work / "github"
    for shard in range(1, SHARDS + 1):
        shard_dir = base / f"shards/explore-shard-{shard}"
        shard_dir.parent.mkdir(parents=True, exist_ok=True)
        script = explore.replace("${{ matrix.shard }}", str(shard)).replace("target/release/readerlab", "readerlab")
        env = environment(readerlab, {"CASES": CASES, "SEED": SEED, "SHARDS": str(SHARDS)})
        status, output = sh(script, env, base)
        if status != 0:
            fail(f"github shard {shard}: exit {status}\n{output}")
        # upload-artifact then download-artifact: shard-N lands in shards/explore-shard-N.
        (base / f"shard-{shard}").rename(shard_dir)
    status, output = sh(merge.replace("target/release/readerlab", "readerlab") + " --json",
                        environment(readerlab, {}), base)
    if status != 0:
        fail(f"github merge: exit {status}\n{output}")
    compare(json.loads(output), whole, "GitHub Actions matrix")


def kubernetes(readerlab, work, whole):
    docs = list(yaml.safe_load_all((ROOT / "ci/k8s/explore-indexed-job.yaml").read_text()))
    job = next(d for d in docs if d["kind"] == "Job")
    merge_job = yaml.safe_load((ROOT / "ci/k8s/explore-merge-job.yaml").read_text())
    spec = job["spec"]
    container = spec["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    if spec.get("completionMode") != "Indexed":
        fail("the explore Job is not an Indexed Job")
    if not spec["completions"] == spec["parallelism"] == int(env["SHARDS"]):
        fail(f"completions {spec['completions']}, parallelism {spec['parallelism']} and SHARDS "
             f"{env['SHARDS']} differ")
    claims = {v["persistentVolumeClaim"]["claimName"]
              for d in (job, merge_job) for v in d["spec"]["template"]["spec"]["volumes"]}
    if len(claims) != 1:
        fail(f"the two Jobs mount different volumes: {claims}")
    script = container["args"][0]
    if "JOB_COMPLETION_INDEX" not in script:
        fail("the explore pod does not take its shard from JOB_COMPLETION_INDEX")
    results = work / "k8s/results"
    results.mkdir(parents=True, exist_ok=True)
    for index in range(SHARDS):
        local = script.replace("/results", str(results))
        status, output = sh(local, environment(readerlab, {
            "CASES": CASES, "SEED": SEED, "SHARDS": str(SHARDS), "JOB_COMPLETION_INDEX": str(index)}), work)
        if status != 0:
            fail(f"k8s index {index}: exit {status}\n{output}")
    merge = merge_job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    status, output = sh(merge.replace("/results", str(results)) + " --json", environment(readerlab, {}), work)
    if status != 0:
        fail(f"k8s merge: exit {status}\n{output}")
    compare(json.loads(output), whole, "Kubernetes Indexed Job")


def main():
    readerlab, work = sys.argv[1], pathlib.Path(sys.argv[2]).resolve()
    readerlab = str(pathlib.Path(readerlab).resolve())
    work.mkdir(parents=True, exist_ok=True)
    whole = unsharded(readerlab, work)
    github(readerlab, work, whole)
    kubernetes(readerlab, work, whole)


if __name__ == "__main__":
    main()
