#!/usr/bin/env python3
"""The measurements behind docs/performance.md; run through scripts/bench.sh, which
installs the tools and enters the mount namespace where the AWS endpoint names resolve
to the lab's front on 127.0.0.10:443. Both helpers run with the same environment, the
same endpoint and the same fake ECR (moto behind tests/support/lab.py)."""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

REGISTRY = "111111111111.dkr.ecr.us-east-1.amazonaws.com"
FRONT_ADDRESS = "127.0.0.10"
ENDPOINT_NAMES = ["api.ecr.us-east-1.amazonaws.com", "sts.us-east-1.amazonaws.com",
                  "sts.amazonaws.com"]
BURST_LATENCY_MS = 200


class Lab:
    """tests/support/lab.py, alive while our end of its stdin is open."""

    def __init__(self, scratch):
        lab_dir = os.path.join(scratch, "lab")
        os.mkdir(lab_dir)
        self.proc = subprocess.Popen(
            [sys.executable, "tests/support/lab.py", "--dir", lab_dir],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        hello = json.loads(self.proc.stdout.readline())
        self.control, self.ca = hello["control"], hello["ca"]
        front = self.call("POST", "/fronts", {"tls": True, "bind": FRONT_ADDRESS, "port": 443,
                                              "cert_names": ENDPOINT_NAMES})
        self.front = front["id"]

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.control + path, data=data, method=method)
        return json.loads(urllib.request.urlopen(request).read() or b"null")

    def calls(self):
        return self.call("GET", f"/fronts/{self.front}/calls")

    def reset(self, **faults):
        self.call("POST", f"/fronts/{self.front}/reset")
        if faults:
            self.call("POST", f"/fronts/{self.front}/faults", faults)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


class Helper:
    def __init__(self, name, path, env):
        self.name, self.path, self.env = name, path, env

    def get(self, extra_env=None):
        env = dict(self.env, **(extra_env or {}))
        return subprocess.run([self.path, "get"], input=REGISTRY + "\n", env=env,
                              capture_output=True, text=True)


def helpers(args, scratch, ca):
    base = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_CA_BUNDLE": ca,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    home = os.path.join(scratch, "home")
    os.makedirs(os.path.join(home, ".aws"))
    env = dict(base, HOME=home, AWS_ECR_CACHE_DIR=os.path.join(home, "cache"))
    return [Helper(name, os.path.abspath(path), env)
            for name, path in (("ours", args.ours), ("reference", args.reference))]


def hyperfine(args, scratch, label, commands, env, runs, warmup):
    """commands: [(name, argv)]; every command reads the registry on stdin."""
    stdin = os.path.join(scratch, "stdin")
    with open(stdin, "w") as f:
        f.write(REGISTRY + "\n")
    export = os.path.join(args.out, f"{label}.json")
    argv = [args.hyperfine, "-N", "--input", stdin, "--warmup", str(warmup),
            "--runs", str(runs), "--export-json", export, "--style", "none"]
    for name, command in commands:
        argv += ["--command-name", name, " ".join(command)]
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    with open(export) as f:
        return {r["command"]: r for r in json.load(f)["results"]}


def instructions(argv, env):
    """User-space instructions from callgrind: the same count every run."""
    return callgrind(argv, env)[0]


def callgrind(argv, env, top=0):
    """(total instructions, [(share, function)] for the `top` costliest functions by
    self cost). Names need an unstripped binary."""
    # Go's asynchronous preemption signals trip an assertion in callgrind; the setting
    # means nothing to the other programs.
    env = dict(env, GODEBUG="asyncpreemptoff=1")
    with tempfile.NamedTemporaryFile(prefix="callgrind-") as profile:
        out = subprocess.run(["valgrind", "--tool=callgrind",
                              f"--callgrind-out-file={profile.name}", *argv],
                             input=REGISTRY + "\n", env=env, capture_output=True, text=True)
        total = int(re.search(r"Collected : (\d+)", out.stderr).group(1))
        if not top:
            return total, []
        annotated = subprocess.run(["callgrind_annotate", profile.name], check=True,
                                   capture_output=True, text=True).stdout
    functions = []
    for line in annotated.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+[^:\s]*:(.*?)(?: \[[^\]]*\])?$", line)
        if m:
            functions.append((int(m.group(1).replace(",", "")) / total, m.group(2)))
    return total, functions[:top]


def cold_profile(argv, env):
    """A cold get's instructions: the total, the share in aws-lc's CPU-jitter entropy
    seeding (jent_*), and the ten costliest functions."""
    total, functions = callgrind(argv, env, top=100_000)
    jent = sum(share for share, name in functions if "jent_" in name)
    return {"total": total, "jent_share": jent, "top": functions[:10]}


def peak_rss_kib(argv, env, runs=10):
    samples = []
    for _ in range(runs):
        out = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], input=REGISTRY + "\n",
                             env=env, capture_output=True, text=True)
        samples.append(int(out.stderr.strip().splitlines()[-1]))
    return statistics.median(samples)


def syscalls(argv, env, scratch):
    trace = os.path.join(scratch, "strace.txt")
    subprocess.run(["strace", "-f", "-c", "-o", trace, *argv], input=REGISTRY + "\n",
                   env=env, capture_output=True, text=True, check=True)
    counts = {}
    for line in open(trace):
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
            counts[parts[-1]] = int(parts[3])
    return counts


def burst(lab, helper, processes, scratch):
    """N cold gets at once against a 200 ms API: calls, answers, per-process wall."""
    lab.reset(latency_ms=BURST_LATENCY_MS)
    cache = tempfile.mkdtemp(prefix=f"burst-{helper.name}-", dir=scratch)
    env = dict(helper.env, AWS_ECR_CACHE_DIR=cache)
    barrier = threading.Barrier(processes)

    def one(_):
        barrier.wait()
        started = time.perf_counter()
        out = subprocess.run([helper.path, "get"], input=REGISTRY + "\n", env=env,
                             capture_output=True, text=True)
        return time.perf_counter() - started, out.returncode, out.stdout

    with ThreadPoolExecutor(max_workers=processes) as pool:
        results = list(pool.map(one, range(processes)))
    walls = sorted(r[0] for r in results)
    return {
        "processes": processes,
        "api_calls": sum(1 for c in lab.calls() if c["service"] == "ecr"),
        "failures": sum(1 for r in results if r[1] != 0),
        "distinct_answers": len({r[2] for r in results}),
        "median_ms": statistics.median(walls) * 1000,
        "max_ms": walls[-1] * 1000,
    }


def assume_role_calls(lab, helper, scratch):
    """Calls of any kind made by a first and a second get through an assume-role profile."""
    home = helper.env["HOME"]
    with open(os.path.join(home, ".aws", "credentials"), "w") as f:
        f.write(f"[base]\naws_access_key_id = {helper.env['AWS_ACCESS_KEY_ID']}\n"
                f"aws_secret_access_key = {helper.env['AWS_SECRET_ACCESS_KEY']}\n")
    with open(os.path.join(home, ".aws", "config"), "w") as f:
        f.write("[profile deploy]\nrole_arn = arn:aws:iam::111111111111:role/deploy\n"
                "source_profile = base\nregion = us-east-1\n")
    env = {k: v for k, v in helper.env.items()
           if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    env.update(AWS_PROFILE="deploy",
               AWS_ECR_CACHE_DIR=tempfile.mkdtemp(prefix="role-", dir=scratch))
    role = Helper(helper.name, helper.path, env)
    lab.reset()
    first = role.get()
    after_first = len(lab.calls())
    second = role.get()
    assert first.returncode == 0 and second.returncode == 0, (first, second)
    return after_first, len(lab.calls()) - after_first


def summary(result):
    return {k: result[k] * 1000 for k in ("median", "min", "max", "mean", "user", "system")}


def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), "unknown")
    return f"{os.cpu_count()} × {model}, Linux {platform.release()}"


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--ours", "--reference", "--hyperfine", "--out"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=PATH",
                        help="another build of ours, measured beside the two helpers")
    args = parser.parse_args()
    variants = [(name, os.path.abspath(path))
                for name, path in (v.split("=", 1) for v in args.variant)]
    scratch = tempfile.mkdtemp(prefix="dce-bench-")
    lab = Lab(scratch)
    ours, reference = helpers(args, scratch, lab.ca)
    results = {"machine": machine(), "runs": args.runs}
    try:
        # Both must give the same, correct answer before anything is timed.
        answers = {h.name: h.get() for h in (ours, reference)}
        for name, out in answers.items():
            assert out.returncode == 0 and "111111111111-auth-token" in out.stdout, (name, out)
        results["endpoint_hosts"] = sorted({c["host"] for c in lab.calls()})

        # One hyperfine run per row, the commands one after another with the same warm-up.
        # Both helpers read the same environment: one AWS_ECR_CACHE_DIR holds our entry
        # files and the reference's cache.json.
        warm = hyperfine(args, scratch, "warm", [
            ("true", ["/bin/true"]),
            ("ours", [ours.path, "get"]),
            ("reference", [reference.path, "get"]),
            *((name, [path, "get"]) for name, path in variants),
        ], ours.env, args.runs, 20)
        results["warm"] = {name: summary(r) for name, r in warm.items()}

        lab.reset()
        cold = hyperfine(args, scratch, "cold", [
            ("ours", [ours.path, "get"]),
            ("reference", [reference.path, "get"]),
            *((name, [path, "get"]) for name, path in variants),
        ], dict(ours.env, AWS_ECR_DISABLE_CACHE="1"), max(10, args.runs // 8), 3)
        results["cold"] = {name: summary(r) for name, r in cold.items()}

        results["bursts"] = {h.name: [burst(lab, h, n, scratch) for n in (32, 128)]
                             for h in (ours, reference)}
        results["assume_role"] = {h.name: assume_role_calls(lab, h, scratch)
                                  for h in (ours, reference)}
        results["peak_rss_kib"] = {
            "true": peak_rss_kib(["/bin/true"], ours.env),
            "ours": peak_rss_kib([ours.path, "get"], ours.env),
            "reference": peak_rss_kib([reference.path, "get"], reference.env),
        }
        results["size_bytes"] = {h.name: os.path.getsize(h.path) for h in (ours, reference)}
        for name, path in variants:
            stripped = os.path.join(scratch, f"{name}.stripped")
            subprocess.run(["strip", "-o", stripped, path], check=True)
            results["size_bytes"][name] = os.path.getsize(stripped)
        if "unstripped" in dict(variants):
            results["size_bytes"]["unstripped"] = os.path.getsize(dict(variants)["unstripped"])
            # Where a warm get's instructions go: the hot path, function by function.
            results["warm_profile"] = callgrind([dict(variants)["unstripped"], "get"],
                                                ours.env, top=15)[1]
        cold_env = dict(ours.env, AWS_ECR_DISABLE_CACHE="1")
        results["cold_profiles"] = {
            name: cold_profile([path, "get"], cold_env)
            for name, path in variants if name in ("unstripped", "aws-lc")}
        results["instructions"] = {
            "true": instructions(["/bin/true"], ours.env),
            "ours": instructions([ours.path, "get"], ours.env),
            "reference": instructions([reference.path, "get"], reference.env),
        }
        results["warm_syscalls"] = syscalls([ours.path, "get"], ours.env, scratch)
    finally:
        lab.close()
        shutil.rmtree(scratch)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    report = render(results)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(report)
    print(report)


def render(r):
    w, c = r["warm"], r["cold"]

    def cpu(data, name):
        return data[name]["user"] + data[name]["system"]

    def timing(data, name):
        d = data[name]
        return f"{d['median']:.2f} ({d['min']:.2f}–{d['max']:.2f})"

    lines = [
        f"Machine: {r['machine']}; warm runs: {r['runs']}; endpoint called: "
        f"{', '.join(r['endpoint_hosts'])}",
        "",
        "| measurement | ours | reference | ratio (ours/ref) | floor (/bin/true) |",
        "| --- | --- | --- | --- | --- |",
        f"| warm get: median (min–max) ms | {timing(w, 'ours')} | {timing(w, 'reference')} "
        f"| {w['ours']['median'] / w['reference']['median']:.2f} | {timing(w, 'true')}, "
        f"ours = {w['ours']['median'] / w['true']['median']:.2f}× |",
        f"| cold get over HTTPS: median (min–max) ms | {timing(c, 'ours')} "
        f"| {timing(c, 'reference')} | {c['ours']['median'] / c['reference']['median']:.2f} | |",
        f"| cold get: CPU (user + system, mean) ms | {cpu(c, 'ours'):.2f} "
        f"| {cpu(c, 'reference'):.2f} | {cpu(c, 'ours') / cpu(c, 'reference'):.2f} | |",
    ]
    for ours_b, ref_b in zip(r["bursts"]["ours"], r["bursts"]["reference"]):
        n = ours_b["processes"]
        lines.append(
            f"| {n} concurrent cold gets, API +{BURST_LATENCY_MS} ms: ECR calls / failures / "
            f"distinct answers | {ours_b['api_calls']} / {ours_b['failures']} / "
            f"{ours_b['distinct_answers']} | {ref_b['api_calls']} / {ref_b['failures']} / "
            f"{ref_b['distinct_answers']} | | |")
        lines.append(
            f"| {n} concurrent cold gets: per-process wall median / max ms | "
            f"{ours_b['median_ms']:.0f} / {ours_b['max_ms']:.0f} | "
            f"{ref_b['median_ms']:.0f} / {ref_b['max_ms']:.0f} | | |")
    ar = r["assume_role"]
    lines.append(
        f"| assume-role profile: calls (STS+ECR) on 1st / 2nd get | {ar['ours'][0]} / "
        f"{ar['ours'][1]} | {ar['reference'][0]} / {ar['reference'][1]} | | |")
    rss = r["peak_rss_kib"]
    lines.append(
        f"| peak RSS of a warm get, MiB | {rss['ours'] / 1024:.1f} | "
        f"{rss['reference'] / 1024:.1f} | {rss['ours'] / rss['reference']:.2f} "
        f"| {rss['true'] / 1024:.1f} |")
    size = r["size_bytes"]
    lines.append(
        f"| binary size, MB | {size['ours'] / 1e6:.2f} | {size['reference'] / 1e6:.2f} "
        f"| {size['ours'] / size['reference']:.2f} | |")
    ins = r["instructions"]
    lines.append(
        f"| instructions of a warm get (callgrind) | {ins['ours']:,} | {ins['reference']:,} "
        f"| {ins['ours'] / ins['reference']:.3f} | {ins['true']:,} |")
    sc = r["warm_syscalls"]
    network = sum(sc.get(name, 0) for name in ("socket", "connect", "sendto", "recvfrom"))
    lines.append(
        f"| warm get syscalls (strace -f -c): total / network / openat | "
        f"{sum(sc.values())} / {network} / {sc.get('openat', 0)} | | | |")
    lines += ["", "Warm-get syscalls: " + ", ".join(
        f"{name} {count}" for name, count in sorted(sc.items(), key=lambda kv: -kv[1]))]

    variants = [name for name in r["size_bytes"] if name not in ("ours", "reference")
                and name in w]
    if variants:
        lines += ["", "Ours with one decision undone (stripped size; same run as above):", "",
                  "| build | warm median ms | cold median ms | stripped size MB |",
                  "| --- | --- | --- | --- |"]
        for name in ["ours", *variants]:
            lines.append(f"| {name} | {w[name]['median']:.2f} | {c[name]['median']:.2f} "
                         f"| {size[name] / 1e6:.2f} |")
        if "unstripped" in size:
            lines.append(f"\nUnstripped: {size['unstripped'] / 1e6:.2f} MB.")
    for name, profile in r.get("cold_profiles", {}).items():
        lines += ["", f"Cold get, {name} build: {profile['total']:,} instructions, "
                  f"{profile['jent_share']:.1%} of them in jent_*; costliest functions:", ""]
        lines += [f"- {share:.1%} {function}" for share, function in profile["top"]]
    if r.get("warm_profile"):
        lines += ["", "Warm get, self cost by function (callgrind, unstripped build):", ""]
        lines += [f"- {share:.1%} {name}" for share, name in r["warm_profile"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
