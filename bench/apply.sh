#!/bin/bash
# Benchmark of the applier, side by side with the reference tools, in a
# private network namespace (never the host's firewall). Needs root.
#
#   bench/apply.sh [BUILD_DIR]     (default: build; must contain geoblock
#                                   and the module libraries)
#
# 1. Update cycle (fill temporary set, swap, destroy) for China, the US and
#    the whole world (IPv4, aggregated): geoblock's applier (libipset,
#    batched) vs `ipset restore` of the same list with the same sizing and
#    its own create/swap/destroy, vs the classic one-`iptables -I`-per-network
#    loop (run on CLASSIC_N networks, extrapolated with a quadratic fit).
# 2. Packet path: UDP packets/s received from an allowed source with no
#    rules, with geoblock's one set rule (world set loaded) and with
#    LINEAR_N linear `-s NET -j DROP` rules.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
CLASSIC_N=${CLASSIC_N:-3000}
LINEAR_N=${LINEAR_N:-10000}
RUNS=${RUNS:-3}

# shellcheck source=bench/lib.sh
. "$SRC/bench/lib.sh"
enter_netns bench/apply.sh "$@"

WORK=$(mktemp -d)
PEER="gbbench-$$"
cleanup() {
  ip netns del "$PEER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "building the helper..."
build_apply_helper "$SRC" "$BUILD" "$WORK/apply_bench"
HELPER="$WORK/apply_bench"

echo "generating zones (tor-geoipdb, all countries)..."
"$SRC/scripts/make-zones" "$WORK/mirror" >/dev/null
Z="$WORK/mirror/ipblocks/data/countries"
for c in cn us; do
  "$BUILD/geoblock" aggregate --family v4 "$Z/$c.zone" >"$WORK/$c.list"
done
"$BUILD/geoblock" aggregate --family v4 "$WORK/mirror/all-v4.zone" >"$WORK/world.list"
# What a tool that merges only within each country loads for "the whole
# world": every country's aggregated list (countries never overlap).
for f in "$Z"/*.zone; do
  "$BUILD/geoblock" aggregate --family v4 "$f"
done >"$WORK/worldcc.list"

# time -> "seconds peak_kib" of a command
timed() {
  /usr/bin/time -f "%e %M" -o "$WORK/time.out" "$@" >"$WORK/cmd.out"
  cat "$WORK/time.out"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

sizing() { # n -> "hashsize maxelem", as apply::size_for(n + 1)
  awk -v n="$(($1 + 1))" 'BEGIN {
    m = n + int(n / 4); if (m < 65536) m = 65536;
    h = 1; while (h < int(n / 4)) h *= 2; if (h < 1024) h = 1024; if (h > 1048576) h = 1048576;
    print h, m }'
}

restore_input() { # list n -> ipset restore text with create/add/swap/destroy
  read -r h m < <(sizing "$2")
  {
    echo "create rbench-new hash:net family inet hashsize $h maxelem $m"
    sed 's/^/add rbench-new /' "$1"
    echo "swap rbench-new rbench"
    echo "destroy rbench-new"
  } >"$WORK/restore.txt"
}

printf "\n== update cycle (IPv4, aggregated; median of %s runs; wall seconds, peak RSS KiB) ==\n" "$RUNS"
printf "%-7s %8s | %9s %9s %8s | %9s %8s | %7s | %10s %9s\n" list entries "gb-apply" "gb-proc" "gb-RSS" \
  "ipset-rst" "ips-RSS" ratio "classic" "speedup"

# The classic loop, once, on the first CLASSIC_N networks of China.
ipset create classic-probe hash:net >/dev/null
iptables -w -N CLASSIC
head -n "$CLASSIC_N" "$WORK/cn.list" >"$WORK/classic.list"
half=$((CLASSIC_N / 2))
t0=$(date +%s.%N)
i=0
while read -r net; do
  iptables -w -I CLASSIC -s "$net" -j DROP
  i=$((i + 1))
  if [ "$i" = "$half" ]; then t_half=$(date +%s.%N); fi
done <"$WORK/classic.list"
t_end=$(date +%s.%N)
iptables -w -F CLASSIC
iptables -w -X CLASSIC
ipset destroy classic-probe
# t(n) = a n + b n^2 through (n/2, t1) and (n, t2)
read -r CA CB < <(awk -v t1="$(echo "$t_half - $t0" | bc)" -v t2="$(echo "$t_end - $t0" | bc)" -v n="$CLASSIC_N" 'BEGIN {
  b = 2 * (t2 - 2 * t1) / (n * n); if (b < 0) b = 0; a = (t2 - b * n * n) / n; print a, b }')
classic_for() { awk -v a="$CA" -v b="$CB" -v n="$1" 'BEGIN { printf "%.1f", a * n + b * n * n }'; }

for name in cn us world worldcc; do
  list="$WORK/$name.list"
  n=$(wc -l <"$list")
  # Warm-up: creates the live sets and the rule, so that the timed runs
  # measure the steady-state cycle (create temp, fill, swap, destroy old).
  "$HELPER" cycle "$list" gbench >/dev/null
  restore_input "$list" "$n"
  ipset destroy rbench 2>/dev/null || true
  ipset create rbench hash:net family inet
  ipset restore <"$WORK/restore.txt"
  gb_apply=() gb_proc=() gb_rss=() rs_proc=() rs_rss=()
  for _ in $(seq "$RUNS"); do
    read -r wall rss < <(timed "$HELPER" cycle "$list" gbench)
    gb_apply+=("$(cat "$WORK/cmd.out")") gb_proc+=("$wall") gb_rss+=("$rss")
    read -r wall rss < <(timed ipset restore -file "$WORK/restore.txt")
    rs_proc+=("$wall") rs_rss+=("$rss")
  done
  # ipset and geoblock must hold the same networks.
  if ! diff <(ipset save gbench-v4 | awk '/^add/ {print $3}' | sort) \
            <(ipset save rbench | awk '/^add/ {print $3}' | sort) >/dev/null; then
    echo "MISMATCH: gbench-v4 and rbench differ for $name" >&2
    exit 1
  fi
  a=$(printf "%s\n" "${gb_apply[@]}" | median)
  p=$(printf "%s\n" "${gb_proc[@]}" | median)
  r=$(printf "%s\n" "${rs_proc[@]}" | median)
  c=$(classic_for "$n")
  printf "%-7s %8d | %9.3f %9.2f %8s | %9.2f %8s | %7.2f | %9ss %9.0fx\n" "$name" "$n" "$a" "$p" \
    "$(printf "%s\n" "${gb_rss[@]}" | median)" "$r" "$(printf "%s\n" "${rs_rss[@]}" | median)" \
    "$(awk -v x="$a" -v y="$r" 'BEGIN { print (y > 0 ? x / y : 0) }')" "$c" \
    "$(awk -v x="$a" -v c="$c" 'BEGIN { print (x > 0 ? c / x : 0) }')"
done
printf "world: all countries aggregated together (what geoblock loads); worldcc: each country aggregated\n"
printf "on its own and concatenated (what per-country tools load).\n"
printf "gb-apply: apply() alone; gb-proc: whole helper process (reads and parses the list too);\n"
printf "ratio = gb-apply / ipset-rst (target <= 0.8); classic: %s x iptables -I measured " "$CLASSIC_N"
printf "(%.1f s), quadratic fit extrapolated; speedup = classic / gb-apply (target >= 500 for cn)\n" \
  "$(echo "$t_end - $t0" | bc)"

printf "\n== packet path: UDP 64-byte datagrams/s received from an allowed source ==\n"
ip netns add "$PEER"
ip link add gbb-h type veth peer name gbb-s
ip link set gbb-s netns "$PEER"
ip addr add 198.51.100.1/24 dev gbb-h
ip link set gbb-h up
ip -n "$PEER" addr add 198.51.100.200/24 dev gbb-s
ip -n "$PEER" link set gbb-s up
ip -n "$PEER" link set lo up
iptables -w -t raw -F PREROUTING

rate() {
  "$HELPER" udp-recv 198.51.100.1 9000 3 >"$WORK/rate.out" &
  local rpid=$!
  sleep 0.3
  ip netns exec "$PEER" "$HELPER" udp-send 198.51.100.1 9000 3.6 198.51.100.200 >/dev/null
  wait "$rpid"
  cat "$WORK/rate.out"
}
base=$(rate)
"$HELPER" cycle "$WORK/worldcc.list" gbench >/dev/null
iptables -w -t raw -A PREROUTING -m set --match-set gbench-v4 src -j DROP
world_n=$(wc -l <"$WORK/worldcc.list")
set_rate=$(rate)
iptables -w -t raw -F PREROUTING
{
  echo "*raw"
  head -n "$LINEAR_N" "$WORK/world.list" | sed 's/^/-A PREROUTING -j DROP -s /'
  echo "COMMIT"
} | iptables-restore -w --noflush
lin_rate=$(rate)
iptables -w -t raw -F PREROUTING
printf "%-36s %10s pkt/s\n" "no rules" "$base"
printf "%-36s %10s pkt/s  (%.2fx of no rules)\n" "1 set rule, world set ($world_n nets)" "$set_rate" \
  "$(awk -v x="$set_rate" -v y="$base" 'BEGIN { print x / y }')"
printf "%-36s %10s pkt/s  (%.2fx of no rules; the set rule is %.1fx faster)\n" "$LINEAR_N linear rules" \
  "$lin_rate" "$(awk -v x="$lin_rate" -v y="$base" 'BEGIN { print x / y }')" \
  "$(awk -v x="$set_rate" -v y="$lin_rate" 'BEGIN { print (y > 0 ? x / y : 0) }')"
