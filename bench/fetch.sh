#!/usr/bin/env bash
# Fetcher benchmark: the whole world (every ISO country, IPv4 and IPv6) from
# a local nginx mirror on loopback, geoblock's fetcher side by side with the
# classic curl recipe (one curl process, --parallel 8, "-z file" conditional
# GETs).
#
#   bench/fetch.sh [BUILD_DIR]     (default: build; needs the module libraries there)
#
# Generates its mirror with scripts/make-zones in a private temp dir, runs a
# cold (empty cache) and a warm (all 304) run of each tool, checks that both
# fetched the same bytes, and prints wall time, peak RSS and ratios.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
# The module libraries, each before the ones it uses (CMakeLists.txt).
libs=("$build"/libgeoblock_mod_{fetch,net,util,core}.a)
for f in "${libs[@]}"; do
  [ -f "$f" ] || { echo "bench/fetch.sh: $f missing; build $build first" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/geoblock-bench-fetch.XXXXXX")
nginx_pid=
cleanup() {
  if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "building the driver..." >&2
g++ -std=c++20 -O2 -I"$here/src" "$here/bench/fetch_driver.cpp" "${libs[@]}" \
  $(pkg-config --libs libcurl libcrypto) -pthread -o "$work/fetch_driver"

echo "generating the world mirror (scripts/make-zones)..." >&2
"$here/scripts/make-zones" "$work/mirror" 2>&2

# Every ISO code the mirror has (make-zones also emits pseudo-codes like eu, ap).
"$work/fetch_driver" --iso | sort >"$work/iso"
ls "$work/mirror/ipblocks/data/countries" "$work/mirror/ipv6/ipaddresses/blocks" | sed -n 's/^\([a-z][a-z]\)\.zone$/\1/p' |
  sort -u >"$work/present"
countries=$(comm -12 "$work/iso" "$work/present" | paste -sd, -)
n=$(comm -12 "$work/iso" "$work/present" | wc -l)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx/tmp"
cat >"$work/nginx/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp/b; proxy_temp_path $work/nginx/tmp/p;
  fastcgi_temp_path $work/nginx/tmp/f; uwsgi_temp_path $work/nginx/tmp/u; scgi_temp_path $work/nginx/tmp/s;
  default_type text/plain; keepalive_requests 100000; sendfile on;
  server { listen 127.0.0.1:$port; root $work/mirror; location / { } }
}
CONF
/usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && break
  sleep 0.05
done
base="http://127.0.0.1:$port"

# The curl recipe: one process, 8 parallel transfers, If-Modified-Since from
# the local file's time (-z), remote time kept (-R).
curl_args=(--parallel --parallel-max 8 -sS --fail)
first=1
mkdir -p "$work/curl/v4" "$work/curl/v6"
for cc in ${countries//,/ }; do
  for fam in v4 v6; do
    if [ $fam = v4 ]; then path=ipblocks/data/countries; else path=ipv6/ipaddresses/blocks; fi
    [ -f "$work/mirror/$path/$cc.zone" ] || continue
    [ $first = 1 ] || curl_args+=(--next)
    first=0
    curl_args+=(-R -z "$work/curl/$fam/$cc.zone" -o "$work/curl/$fam/$cc.zone" "$base/$path/$cc.zone")
  done
done

measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>"$work/err" || {
    echo "bench/fetch.sh: $label failed:" >&2; cat "$work/err" "$work/out" >&2; exit 1; }
  read -r secs kib <"$work/time"
  printf '%s %s\n' "$secs" "$kib"
}

read -r g_cold g_cold_rss < <(measure "geoblock cold" "$work/fetch_driver" "$base" "$work/cache" "$countries")
g_cold_summary=$(cat "$work/out")
read -r g_warm g_warm_rss < <(measure "geoblock warm" "$work/fetch_driver" "$base" "$work/cache" "$countries")
g_warm_summary=$(cat "$work/out")
read -r c_cold c_cold_rss < <(measure "curl cold" curl "${curl_args[@]}")
read -r c_warm c_warm_rss < <(measure "curl warm" curl "${curl_args[@]}")
read -r cat_secs cat_rss < <(measure "cat" sh -c 'cat "$@" >/dev/null' sh "$work"/mirror/ipblocks/data/countries/*.zone "$work"/mirror/ipv6/ipaddresses/blocks/*.zone)

# Both tools must have fetched the same bytes.
# (geoblock also records zones absent upstream as empty files: skip those.)
find "$work/cache" -name '*.zone' -empty -delete
for fam in v4 v6; do
  diff -r -q -x '*.meta' -x 'MD5SUM*' -x FETCHED "$work/cache/$fam" "$work/curl/$fam" >&2 ||
    { echo "bench/fetch.sh: geoblock and curl fetched different $fam zones" >&2; exit 1; }
done
case "$g_warm_summary" in *"downloaded=0 "*"stale=0 failed=0"*) ;; *) echo "warm run was not all 304: $g_warm_summary" >&2; exit 1 ;; esac

bytes=$(cat "$work"/mirror/ipblocks/data/countries/*.zone "$work"/mirror/ipv6/ipaddresses/blocks/*.zone | wc -c)
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo "fetch benchmark: $n countries x 2 families from nginx on loopback, $((bytes / 1048576)) MiB of zones"
echo "  geoblock cold: $g_cold_summary"
echo "  geoblock warm: $g_warm_summary"
printf '  %-22s %8s %8s %10s\n' run "wall s" "RSS MiB" "vs curl"
printf '  %-22s %8s %8s %10s\n' "geoblock cold" "$g_cold" "$((g_cold_rss / 1024))" "$(ratio "$g_cold" "$c_cold")"
printf '  %-22s %8s %8s %10s\n' "curl -z --parallel cold" "$c_cold" "$((c_cold_rss / 1024))" 1.00
printf '  %-22s %8s %8s %10s\n' "geoblock warm (304s)" "$g_warm" "$((g_warm_rss / 1024))" "$(ratio "$g_warm" "$c_warm")"
printf '  %-22s %8s %8s %10s\n' "curl -z --parallel warm" "$c_warm" "$((c_warm_rss / 1024))" 1.00
printf '  %-22s %8s %8s\n' "cat all zones" "$cat_secs" "$((cat_rss / 1024))"
echo "  agreement: identical zone files from both tools"
