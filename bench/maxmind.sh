#!/usr/bin/env bash
# Reading a full-size MaxMind GeoLite2 Country CSV zip and producing the
# networks of every country, against the cost of just decompressing it.
#
#   bench/maxmind.sh [BUILD_DIR]     (default: build; needs the module libraries
#                                     and the geoblock binary built there)
#
# Data (generated in a temporary directory, removed at the end): a GeoLite2
# zip from scripts/make-geolite2 (all countries of Debian's tor-geoipdb,
# ~560k IPv4 + ~590k IPv6 rows, 47 MB of CSV) and, from the same tor data,
# the ipdeny-style zones of scripts/make-zones as the reference answer.
#
# Timed, best wall time of 3 runs each, with /usr/bin/time:
#   unzip      unzip -p of the three CSV members to /dev/null (decompression only)
#   geoblock   bench/maxmind_read.cpp: source::read_maxmind for all countries
#              (decompress, parse, validate, group), then aggregate and write
#              one file per country and family
# Check: every country's aggregated networks equal the reference zone
# aggregated by iprange (IPv4) and `geoblock aggregate` (IPv6).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
# The module libraries, each before the ones it uses (CMakeLists.txt).
libs=("$build"/libgeoblock_mod_{source,fetch,net,util,core}.a)
geoblock=$build/geoblock
for f in "${libs[@]}" "$geoblock"; do
  [ -e "$f" ] || { echo "bench/maxmind.sh: $f missing; build first (cmake --build $build)" >&2; exit 2; }
done
for tool in iprange unzip /usr/bin/time g++ pkg-config; do
  command -v "$tool" >/dev/null || { echo "bench/maxmind.sh: $tool missing (scripts/setup)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/geoblock-bench-maxmind.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "building the driver..." >&2
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
g++ -std=c++20 -O2 -I"$root/src" "$root/bench/maxmind_read.cpp" "${libs[@]}" \
  $(pkg-config --libs libzip libcrypto libcurl) -lpthread \
  -o "$work/maxmind_read"

echo "generating data (about a minute)..." >&2
zip=$("$root/scripts/make-geolite2" "$work/data" 2>"$work/make-geolite2.log")
cat "$work/make-geolite2.log" >&2
"$root/scripts/make-zones" "$work/zones"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

echo
echo "GeoLite2 zip: $(du -k "$zip" | cut -f1) KiB compressed, $(unzip -Z -t "$zip" | awk '{ print $3 }') bytes uncompressed"
measure unzip sh -c 'unzip -p "$1" "*Blocks-IPv4.csv" "*Blocks-IPv6.csv" "*Locations-en.csv" >/dev/null' sh "$zip"
u_wall=$wall u_cpu=$cpu u_rss=$rss
mkdir -p "$work/out/v4" "$work/out/v6"
measure geoblock sh -c '"$1" "$2" "$3" 2>"$3/log"' sh "$work/maxmind_read" "$zip" "$work/out"
cat "$work/out/log"
awk -v gw="$wall" -v gc="$cpu" -v gr="$rss" -v uw="$u_wall" -v uc="$u_cpu" -v ur="$u_rss" 'BEGIN {
  printf "ratio     wall %.2fx   cpu %.2fx   rss %.1fx   (geoblock / unzip)\n", gw / uw, gc / uc, gr / ur
  printf "cpu beyond decompression: %.2f s\n", gc - uc
}'

echo
echo "checking every country against the reference zones..."
bad=0
n=0
zones4=$work/zones/ipblocks/data/countries
zones6=$work/zones/ipv6/ipaddresses/blocks
diff <(cd "$zones4" && ls -- *.zone) <(cd "$work/out/v4" && ls -- *.zone) >/dev/null || { echo "IPv4 country lists differ"; bad=1; }
diff <(cd "$zones6" && ls -- *.zone) <(cd "$work/out/v6" && ls -- *.zone) >/dev/null || { echo "IPv6 country lists differ"; bad=1; }
for z in "$zones4"/*.zone; do
  cc=$(basename "$z")
  n=$((n + 1))
  # iprange prints a lone address without "/32".
  cmp -s <(iprange "$z" | sed 's|^\([0-9.]*\)$|\1/32|') "$work/out/v4/$cc" || { echo "IPv4 $cc differs from iprange"; bad=1; }
done
for z in "$zones6"/*.zone; do
  cc=$(basename "$z")
  n=$((n + 1))
  cmp -s <("$geoblock" aggregate --family v6 "$z") "$work/out/v6/$cc" || { echo "IPv6 $cc differs"; bad=1; }
done
if [ "$bad" -ne 0 ]; then
  echo "MISMATCH" >&2
  exit 1
fi
echo "all $n country zones agree"
