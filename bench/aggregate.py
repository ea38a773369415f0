#!/usr/bin/env python3
"""Benchmark: `geoblock aggregate` beside iprange and Python's ipaddress.

    bench/aggregate.py [--data MIRROR] [--geoblock BINARY] [--runs N]

On the same inputs, in one run: the whole world IPv4, the whole world
IPv6 and the largest single country (us, both families), built from
Debian's tor-geoipdb by scripts/make-zones into a temporary directory
(or taken from MIRROR, a tree scripts/make-zones wrote). For each input
it checks that all tools print the same networks, then prints the best
wall time of N runs, the best CPU time (user + system; steadier than wall
time on a busy machine), the peak RSS and the ratios to iprange (IPv4) or
to Python (IPv6, which iprange does not do).

iprange takes a line it cannot parse for a host name and resolves it, so
when run as root the whole benchmark re-executes itself inside a fresh
network namespace (ip netns add / exec / delete): no lookup can leave the
machine, and every tool runs under the same conditions. Without root (or
without iprange) the iprange column is left out.

Peak RSS comes from wait4()'s rusage of each child, the figure
`/usr/bin/time -f %M` prints.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PY_COLLAPSE = r"""
import ipaddress, sys
with open(sys.argv[1]) as f:
    nets = [ipaddress.ip_network(l.split('#')[0].strip()) for l in f if l.split('#')[0].strip()]
sys.stdout.write(''.join(str(n) + '\n' for n in ipaddress.collapse_addresses(nets)))
"""


def measure(argv, out_path, runs):
    """Runs argv `runs` times with stdout to out_path; (best wall s, best CPU s, max RSS KB)."""
    best = None
    best_cpu = None
    peak = 0
    for _ in range(runs):
        with open(out_path, "wb") as out:
            start = time.perf_counter()
            pid = os.fork()
            if pid == 0:
                try:
                    os.dup2(out.fileno(), 1)
                    os.execvp(argv[0], argv)
                finally:
                    os._exit(127)
            _, status, usage = os.wait4(pid, 0)
            wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"bench: {' '.join(argv)} failed with status {os.waitstatus_to_exitcode(status)}")
        cpu = usage.ru_utime + usage.ru_stime
        best = wall if best is None else min(best, wall)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
        peak = max(peak, usage.ru_maxrss)
    return best, best_cpu, peak


def normalized(path):
    """The output's lines, with iprange's bare /32 addresses written as CIDRs."""
    with open(path) as f:
        return [l if "/" in l else l + "/32" for l in f.read().split()]


def in_namespace(args):
    """Re-executes this script inside a fresh network namespace; True if it did."""
    if os.environ.get("GEOBLOCK_BENCH_NETNS") or os.geteuid() != 0 or not shutil.which("ip"):
        return False
    name = f"geoblock-bench-{os.getpid()}"
    if subprocess.run(["ip", "netns", "add", name], stderr=subprocess.DEVNULL).returncode != 0:
        return False
    try:
        env = dict(os.environ, GEOBLOCK_BENCH_NETNS=name)
        code = subprocess.run(["ip", "netns", "exec", name, sys.executable, os.path.abspath(__file__)] + args, env=env).returncode
    finally:
        subprocess.run(["ip", "netns", "delete", name])
    sys.exit(code)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--data", help="a mirror tree from scripts/make-zones (default: build one in a temp dir)")
    p.add_argument("--geoblock", default=os.path.join(ROOT, "build", "geoblock"), help="the geoblock binary (a release build)")
    p.add_argument("--runs", type=int, default=5, help="timed runs per tool and input; the best counts")
    args = p.parse_args()
    in_namespace(sys.argv[1:])

    if not os.access(args.geoblock, os.X_OK):
        sys.exit(f"bench: {args.geoblock} not found; build it (scripts/build) or pass --geoblock")
    iprange = shutil.which("iprange") if os.environ.get("GEOBLOCK_BENCH_NETNS") else None
    if not iprange:
        print("bench: iprange column left out (needs root for a network namespace, and the iprange package)")

    with tempfile.TemporaryDirectory(prefix="geoblock-bench.") as tmp:
        data = args.data
        if not data:
            data = os.path.join(tmp, "mirror")
            print("bench: generating zones from tor-geoipdb with scripts/make-zones ...", flush=True)
            subprocess.run([os.path.join(ROOT, "scripts", "make-zones"), data], check=True, stdout=subprocess.DEVNULL)
        inputs = [
            ("world IPv4", os.path.join(data, "all-v4.zone"), 4),
            ("world IPv6", os.path.join(data, "all-v6.zone"), 6),
            ("us IPv4", os.path.join(data, "ipblocks", "data", "countries", "us.zone"), 4),
            ("us IPv6", os.path.join(data, "ipv6", "ipaddresses", "blocks", "us.zone"), 6),
        ]
        print(f"geoblock: {args.geoblock}; best of {args.runs} runs (Python: 1 run)\n")
        header = (f"{'input':<11} {'lines':>8} {'out':>6} | {'tool':<9} {'wall s':>8} {'CPU s':>7} {'RSS MB':>7} | "
                  f"{'time ratio':>10} {'CPU ratio':>9} {'RSS ratio':>9}")
        print(header)
        print("-" * len(header))
        failed = False
        for label, path, family in inputs:
            with open(path, "rb") as f:
                lines = sum(1 for _ in f)
            results = {}
            outs = {}
            runs = {"geoblock": [args.geoblock, "aggregate", path]}
            if family == 4 and iprange:
                runs["iprange"] = [iprange, path]
            runs["python"] = [sys.executable, "-c", PY_COLLAPSE, path]
            for tool, argv in runs.items():
                outs[tool] = os.path.join(tmp, f"{tool}.out")
                results[tool] = measure(argv, outs[tool], 1 if tool == "python" else args.runs)
                outs[tool] = normalized(outs[tool])
            base_tool = "iprange" if "iprange" in results else "python"
            agree = all(o == outs["geoblock"] for o in outs.values())
            failed = failed or not agree
            for tool, (wall, cpu, rss) in results.items():
                ratio = ""
                if tool != base_tool:
                    base_wall, base_cpu, base_rss = results[base_tool]
                    ratio = f"{wall / base_wall:>10.3f} {cpu / max(base_cpu, 1e-6):>9.3f} {rss / base_rss:>9.2f}"
                first = tool == "geoblock"
                print(f"{label if first else '':<11} {lines if first else '':>8} {len(outs['geoblock']) if first else '':>6} | "
                      f"{tool:<9} {wall:>8.3f} {cpu:>7.3f} {rss / 1024:>7.1f} | {ratio}")
            print(f"{'':<11} {'':>8} {'':>6} | results {'agree' if agree else 'DISAGREE'} ({', '.join(outs)}); ratios vs {base_tool}")
        if failed:
            sys.exit("bench: the tools disagree")


if __name__ == "__main__":
    main()
