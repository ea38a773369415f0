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
#
# Then the fetch and cache path of `source = rir` (bench/rir_fetch.cpp:
# fetch::RirSource::load for every country), the five files and their .md5
# served by nginx on loopback: a cold run (empty cache: download, verify
# the MD5, validate, cache atomically, read into zones) and a warm one
# (every file 304, the cached copies read again), side by side with
# `curl --parallel -z` fetching the same five files.
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
nginx_pid=
cleanup() {
  if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

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

echo "fetch and cache: building the driver..." >&2
g++ -std=c++20 -O2 -I"$root/src" "$root/bench/rir_fetch.cpp" "$build"/libgeoblock_mod_{fetch,net,util,core}.a \
  $(pkg-config --libs libcurl libcrypto) -pthread -o "$work/rir_fetch"
# The .md5 files in the registries' forms (BSD md5 for three, md5sum's for one,
# none for afrinic).
for f in "$work"/data/delegated-*-extended-latest; do
  name=$(basename "$f")
  case $name in
  *afrinic*) ;;
  *arin*) md5sum "$f" | sed "s| .*|  $name|" >"$f.md5" ;;
  *) echo "MD5 ($name) = $(md5sum "$f" | cut -d' ' -f1)" >"$f.md5" ;;
  esac
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx/tmp"
cat >"$work/nginx/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp/b; proxy_temp_path $work/nginx/tmp/p;
  fastcgi_temp_path $work/nginx/tmp/f; uwsgi_temp_path $work/nginx/tmp/u; scgi_temp_path $work/nginx/tmp/s;
  default_type text/plain; sendfile on;
  server { listen 127.0.0.1:$port; root $work/data; location / { } }
}
CONF
/usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && break
  sleep 0.05
done
urls=()
curl_args=(--parallel --parallel-max 4 -sS --fail)
mkdir -p "$work/curl"
for f in "$work"/data/delegated-*-extended-latest; do
  name=$(basename "$f")
  urls+=("http://127.0.0.1:$port/$name")
  [ ${#curl_args[@]} -eq 5 ] || curl_args+=(--next)
  curl_args+=(-R -z "$work/curl/$name" -o "$work/curl/$name" "http://127.0.0.1:$port/$name")
done
# Cold: each of measure's three runs starts from an empty cache.
measure "rir cold" bash -c 'rm -rf "$1"; "$2" "$1" "${@:3}" >"$1.out"' bash "$work/rcache" "$work/rir_fetch" "${urls[@]}"
r_cold=$wall r_cold_cpu=$cpu r_cold_rss=$rss
cat "$work/rcache.out"
measure "rir warm" bash -c '"$2" "$1" "${@:3}" >"$1.out"' bash "$work/rcache" "$work/rir_fetch" "${urls[@]}"
r_warm=$wall r_warm_cpu=$cpu r_warm_rss=$rss
cat "$work/rcache.out"
grep -q "downloaded=0 .*failed_or_stale=0" "$work/rcache.out" || { echo "bench/rir.sh: the warm run was not all 304" >&2; exit 1; }
# (curl's --parallel meter goes to stderr even with -s: discarded.)
measure "curl cold" bash -c 'rm -rf "$1"/*; shift; curl "$@" 2>/dev/null' bash "$work/curl" "${curl_args[@]}"
c_cold=$wall
measure "curl warm" bash -c 'curl "$@" 2>/dev/null' bash "${curl_args[@]}"
c_warm=$wall
for f in "$work"/data/delegated-*-extended-latest; do
  cmp -s "$f" "$work/rcache/rir/v4/$(basename "$f").zone" || { echo "bench/rir.sh: cached $(basename "$f") differs" >&2; exit 1; }
done
# /usr/bin/time has 10 ms resolution: a 0.00 s run counts as 0.01 s.
awk -v rc="$r_cold" -v rw="$r_warm" -v cc="$c_cold" -v cw="$c_warm" 'BEGIN {
  if (cc < 0.01) cc = 0.01
  if (cw < 0.01) cw = 0.01
  printf "fetch+cache ratio   cold %.1fx   warm %.1fx   (geoblock rir / curl -z --parallel; curl only transfers)\n", rc / cc, rw / cw
}'
echo "the cached files are byte for byte the served ones"
