#!/usr/bin/env bash
# Turning the five RIRs' delegated-extended statistics into per-country
# networks for every country, side by side with a Python reference.
#
#   bench/rir.sh [BUILD_DIR]     (default: build; needs the module archives
#                                 libgeoblock_mod_net.a and _core.a there)
#
# Data (generated in a temporary directory, removed at the end): five
# delegated-<registry>-extended-latest files of realistic size made from
# Debian's tor-geoipdb (IPv4 ranges as address counts, not powers of two;
# IPv6 ranges as aligned prefixes), about 300k lines in all, with header,
# summary, asn, available and non-country (EU, ZZ) lines as the registries
# publish them.
#
# Timed, best wall time of 3 runs each, with /usr/bin/time:
#   python     bench/rir_reference.py (ipaddress: summarize, collapse; the same
#              ISO 3166-1 codes kept)
#   geoblock   bench/rir_read.cpp: net::parse_rir for all five files, then
#              aggregate and write one zone per country and family
# Check: every country's networks are equal in both.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
for f in "$build/libgeoblock_mod_net.a" "$build/libgeoblock_mod_core.a" "$build/geoblock"; do
  [ -e "$f" ] || { echo "bench/rir.sh: $f missing; build first (cmake --build $build)" >&2; exit 2; }
done
for tool in python3 /usr/bin/time g++; do
  command -v "$tool" >/dev/null || { echo "bench/rir.sh: $tool missing (scripts/setup)" >&2; exit 2; }
done
[ -r /usr/share/tor/geoip ] || { echo "bench/rir.sh: /usr/share/tor/geoip missing (tor-geoipdb)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/geoblock-bench-rir.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "building the driver..." >&2
g++ -std=c++20 -O2 -I"$root/src" "$root/bench/rir_read.cpp" "$build/libgeoblock_mod_net.a" \
  "$build/libgeoblock_mod_core.a" -o "$work/rir_read"

echo "generating five delegated-extended files..." >&2
python3 - "$work/data" <<'PY'
import ipaddress, os, sys, zlib
out = sys.argv[1]
os.makedirs(out)
registries = ["afrinic", "apnic", "arin", "lacnic", "ripencc"]
records = {r: [] for r in registries}
def registry(cc):
    return registries[zlib.crc32(cc.encode()) % 5]
n = 0
with open("/usr/share/tor/geoip") as f:
    for i, line in enumerate(f):
        if line.startswith("#") or i % 2:
            continue
        lo, hi, cc = line.strip().split(",")
        if cc == "??":
            continue
        n += 1
        status = "assigned" if n % 3 else "allocated"
        first = str(ipaddress.IPv4Address(int(lo)))
        if n % 97 == 0:
            records[registry(cc)].append(f"{registry(cc)}||ipv4|{first}|{int(hi) - int(lo) + 1}||available|")
            continue
        code = "EU" if n % 1009 == 0 else cc
        records[registry(cc)].append(f"{registry(cc)}|{code}|ipv4|{first}|{int(hi) - int(lo) + 1}|20201231|{status}|id{n}")
v6 = 0
with open("/usr/share/tor/geoip6") as f:
    for line in f:
        if line.startswith("#") or v6 >= 100000:
            continue
        lo, hi, cc = line.strip().split(",")
        if cc == "??":
            continue
        for net in ipaddress.summarize_address_range(ipaddress.IPv6Address(lo), ipaddress.IPv6Address(hi)):
            v6 += 1
            records[registry(cc)].append(f"{registry(cc)}|{cc}|ipv6|{net.network_address}|{net.prefixlen}|20201231|allocated|id{v6}")
for r in registries:
    body = records[r]
    asn = [f"{r}|ZZ|asn|{64500 + i}|1|20201231|assigned|x" for i in range(50)]
    n4 = sum(1 for l in body if "|ipv4|" in l)
    n6 = len(body) - n4
    with open(f"{out}/delegated-{r}-extended-latest", "w") as f:
        f.write(f"2|{r}|20261120|{len(body) + len(asn)}|19830101|20261119|+0000\n")
        f.write(f"{r}|*|asn|*|{len(asn)}|summary\n{r}|*|ipv4|*|{n4}|summary\n{r}|*|ipv6|*|{n6}|summary\n")
        f.write("\n".join(asn + body) + "\n")
PY
lines=$(cat "$work"/data/* | wc -l)
echo "files: $(ls "$work/data" | tr '\n' ' ')"
echo "lines: $lines, $(du -ck "$work"/data/* | tail -n 1 | cut -f1) KiB"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

mkdir -p "$work/py/v4" "$work/py/v6" "$work/gb/v4" "$work/gb/v6"
# The ISO 3166-1 codes geoblock knows, for the reference to keep the same.
"$build/geoblock" --complete-words options update | awk '$1 == "--countries" { for (i = 3; i <= NF; i++) print $i }' \
  >"$work/countries"
measure python python3 "$root/bench/rir_reference.py" "$work/countries" "$work/py" "$work"/data/*
p_wall=$wall p_cpu=$cpu p_rss=$rss
measure geoblock sh -c '"$1" "$2" "$3"/data/* 2>"$2/log"' sh "$work/rir_read" "$work/gb" "$work"
cat "$work/gb/log"
awk -v gw="$wall" -v gc="$cpu" -v gr="$rss" -v pw="$p_wall" -v pc="$p_cpu" -v pr="$p_rss" 'BEGIN {
  printf "ratio     wall %.3fx   cpu %.3fx   rss %.2fx   (geoblock / python)\n", gw / pw, gc / pc, gr / pr
}'

echo "checking every country against the reference..."
bad=0
n=0
for family in v4 v6; do
  for f in "$work/gb/$family"/*.zone "$work/py/$family"/*.zone; do
    cc=$(basename "$f")
    a=$work/gb/$family/$cc b=$work/py/$family/$cc
    [ -e "$a" ] || a=/dev/null
    [ -e "$b" ] || b=/dev/null
    n=$((n + 1))
    if ! cmp -s "$a" "$b"; then
      echo "differs: $family $cc" >&2
      bad=$((bad + 1))
    fi
  done
done
echo "$n zone comparisons, $bad differ"
[ "$bad" -eq 0 ]
