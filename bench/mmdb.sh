#!/usr/bin/env bash
# Reading a whole-world MaxMind-format database (.mmdb, source = mmdb)
# against reading the same data from the GeoLite2 Country CSV zip
# (source = maxmind:), side by side in one run.
#
#   bench/mmdb.sh [BUILD_DIR]     (default: build; needs the module libraries
#                                  built there)
#
# Data (generated in a temporary directory, removed at the end): a GeoLite2
# zip from scripts/make-geolite2 (all countries of Debian's tor-geoipdb,
# ~560k IPv4 + ~590k IPv6 rows, GeoLite2-sized) and the same networks
# written as a GeoLite2-Country-style .mmdb (bench/mmdb_write.cpp: an IPv6
# database, 24-bit records, IPv4 under ::/96 with MaxMind's aliases).
#
# Timed, best wall time of 3 runs each, with /usr/bin/time:
#   csv-zip   bench/maxmind_read.cpp: source::read_maxmind for all countries
#             (decompress, parse, validate, group), aggregate, write zones
#   mmdb      bench/mmdb_read.cpp: source::MmdbSource for all countries (walk
#             the whole search tree through libmaxminddb, read each record's
#             country once), aggregate, write zones
# Check: both give every country the same aggregated networks, but for the
# IPv6 networks inside MaxMind's aliases of IPv4 (::ffff:0:0/96, 2001::/32,
# 2002::/16), which a database never holds as IPv6 members (tor-geoipdb
# lists 2002::/16 for jp); they are taken out of the CSV side first.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
# The module libraries, each before the ones it uses (CMakeLists.txt).
libs=("$build"/libgeoblock_mod_{source,fetch,net,util,core}.a)
for f in "${libs[@]}"; do
  [ -e "$f" ] || { echo "bench/mmdb.sh: $f missing; build first (cmake --build $build)" >&2; exit 2; }
done
for tool in /usr/bin/time g++ pkg-config; do
  command -v "$tool" >/dev/null || { echo "bench/mmdb.sh: $tool missing (scripts/setup)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/geoblock-bench-mmdb.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "building the drivers..." >&2
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
link=("${libs[@]}" $(pkg-config --libs libzip libcrypto libcurl libmaxminddb zlib) -lpthread)
for d in maxmind_read mmdb_read mmdb_write; do
  g++ -std=c++20 -O2 -I"$root/src" -I"$root/tests" "$root/bench/$d.cpp" "${link[@]}" -o "$work/$d"
done

echo "generating data (about a minute)..." >&2
zip=$("$root/scripts/make-geolite2" "$work/data" 2>"$work/make-geolite2.log")
cat "$work/make-geolite2.log" >&2
"$work/mmdb_write" "$zip" "$work/GeoLite2-Country.mmdb"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

echo
echo "same data: CSV zip $(du -k "$zip" | cut -f1) KiB, .mmdb $(du -k "$work/GeoLite2-Country.mmdb" | cut -f1) KiB"
mkdir -p "$work/csv/v4" "$work/csv/v6" "$work/mmdb/v4" "$work/mmdb/v6"
measure csv-zip sh -c '"$1" "$2" "$3" 2>"$3/log"' sh "$work/maxmind_read" "$zip" "$work/csv"
c_wall=$wall c_cpu=$cpu c_rss=$rss
measure mmdb sh -c '"$1" "$2" "$3" 2>"$2/log"' sh "$work/mmdb_read" "$work/mmdb" "$work/GeoLite2-Country.mmdb"
grep -v '^geoblock: ' "$work/csv/log" "$work/mmdb/log" | sed 's|^[^:]*log:||'
awk -v mw="$wall" -v mc="$cpu" -v mr="$rss" -v cw="$c_wall" -v cc="$c_cpu" -v cr="$c_rss" 'BEGIN {
  printf "ratio     wall %.2fx   cpu %.2fx   rss %.2fx   (mmdb / csv-zip)\n", mw / cw, mc / cc, mr / cr
  printf "whole-world read and aggregate from the .mmdb: %.2f s of CPU (target: under 1 s)\n", mc
}'

echo
echo "checking every country: .mmdb against the CSV zip..."
rm -f "$work/csv/log" "$work/mmdb/log"
for z in "$work"/csv/v6/*.zone; do
  grep -vE '^(::ffff:|2001::|2001:0:|2002:)' "$z" >"$z.tmp" || true
  mv "$z.tmp" "$z"
done
if ! diff -r "$work/csv" "$work/mmdb" >/dev/null; then
  diff -r "$work/csv" "$work/mmdb" | head -n 20
  echo "MISMATCH" >&2
  exit 1
fi
echo "all $(find "$work/csv" -name '*.zone' | wc -l) country zones agree"
