#!/bin/bash
# Benchmark of the nftables backend, side by side with what peers do, in a
# private network namespace (never the host's firewall). Needs root.
#
#   bench/nft.sh [BUILD_DIR]     (default: build)
#
# 1. Load: the full update cycle for the US, the merged world and the world
#    per country (IPv4): geoblock's nftables backend (libnftnl, one
#    transaction, then read back and verified) vs `nft -f` of a file with
#    `flush set` + `add element` of the same networks into the same kind of
#    set (interval ipv4_addr). `nft -f` is libnftables (the nft binary is a
#    thin wrapper around it), so this is also libnftables vs libnftnl.
# 2. Packet path: UDP packets/s from an allowed sender with no rule, with
#    the ipset hash:net rule and with the nftables interval set (world per
#    country), and packets/s dropped from a blocked sender in raw
#    prerouting and in ingress:IFACE.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
RUNS=${RUNS:-3}
PARTS=${PARTS:-load,packet} # which parts to run

# shellcheck source=bench/lib.sh
. "$SRC/bench/lib.sh"
enter_netns bench/nft.sh "$@"

WORK=$(mktemp -d)
PEER="gbnft-$$"
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
"$BUILD/geoblock" aggregate --family v4 "$Z/us.zone" >"$WORK/us.list"
"$BUILD/geoblock" aggregate --family v4 "$WORK/mirror/all-v4.zone" >"$WORK/world.list"
for f in "$Z"/*.zone; do
  "$BUILD/geoblock" aggregate --family v4 "$f"
done | sort -t. -k1,1n -k2,2n -k3,3n -k4,4n >"$WORK/worldcc.list"

# time -> "wall cpu peak_kib" of a command
timed() {
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.out" "$@" >"$WORK/cmd.out"
  awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$WORK/time.out"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.2f", (y > 0 ? x / y : 0) }'; }


if [[ $PARTS == *load* ]]; then
printf "\n== load: full update cycle (IPv4; median of %s runs) ==\n" "$RUNS"
printf "%-8s %8s | %8s %8s %9s | %8s %8s %9s | %10s %10s\n" list entries "gb-wall" "gb-cpu" "gb-RSS" \
  "nft-wall" "nft-cpu" "nft-RSS" "time-ratio" "rss-ratio"
for name in us world worldcc; do
  list="$WORK/$name.list"
  n=$(wc -l <"$list")
  # Before each timed run neither table exists: each run creates its table
  # and set and loads all N networks. (Resetting by loading another list
  # would make geoblock read the live set first, which for a million
  # elements is slow in the kernel; the load itself is what is compared.)
  {
    echo "add table inet nbench"
    echo "add set inet nbench s4 { type ipv4_addr; flags interval; }"
    echo "flush set inet nbench s4"
    printf "add element inet nbench s4 { "
    paste -sd, "$list"
    echo " }"
  } >"$WORK/load.nft"
  gb_wall=() gb_cpu=() gb_rss=() nf_wall=() nf_cpu=() nf_rss=()
  for _ in $(seq "$RUNS"); do
    # Each timed run replaces every element: the live set holds the other list.
    nft delete table inet gbench 2>/dev/null || true
    read -r w c r < <(timed "$HELPER" nft-cycle "$list" gbench)
    gb_wall+=("$w") gb_cpu+=("$c") gb_rss+=("$r")
    nft delete table inet nbench 2>/dev/null || true
    read -r w c r < <(timed nft -f "$WORK/load.nft")
    nf_wall+=("$w") nf_cpu+=("$c") nf_rss+=("$r")
  done
  # Both must hold the same networks (listing a million elements takes
  # minutes: checked for the smaller lists).
  if [ "$n" -lt 200000 ] && ! diff <(nft list set inet gbench gbench-v4 | tr -d ' \t\n' | sed 's/.*elements={//; s/}.*//' | tr , '\n' | sort) \
            <(nft list set inet nbench s4 | tr -d ' \t\n' | sed 's/.*elements={//; s/}.*//' | tr , '\n' | sort) >/dev/null; then
    echo "MISMATCH: gbench-v4 and nbench s4 differ for $name" >&2
    exit 1
  fi
  gw=$(printf "%s\n" "${gb_wall[@]}" | median)
  gc=$(printf "%s\n" "${gb_cpu[@]}" | median)
  gr=$(printf "%s\n" "${gb_rss[@]}" | median)
  nw=$(printf "%s\n" "${nf_wall[@]}" | median)
  nc=$(printf "%s\n" "${nf_cpu[@]}" | median)
  nr=$(printf "%s\n" "${nf_rss[@]}" | median)
  printf "%-8s %8d | %8.2f %8.2f %9s | %8.2f %8.2f %9s | %10s %10s\n" "$name" "$n" "$gw" "$gc" "$gr" \
    "$nw" "$nc" "$nr" "$(ratio "$gw" "$nw")" "$(ratio "$gr" "$nr")"
done
printf "gb: the whole helper process (reads the list, apply(): one transaction, then reads the\n"
printf "table back and verifies it); nft: nft -f of flush set + add element. RSS in KiB.\n"
printf "ratios = gb / nft (target <= 0.5 for us and world). world: all countries aggregated together\n"
printf "(what geoblock loads); worldcc: each country aggregated on its own, concatenated, sorted.\n"
nft delete table inet nbench
nft delete table inet gbench
# Steady state: the live set holds yesterday's US list, today's differs in
# a few hundred networks. geoblock adds and deletes the changed elements
# only; nft -f flushes and reloads the whole set.
us="$WORK/us.list"
awk 'NR % 250 != 0' "$us" >"$WORK/us-old.list"
{
  echo "add table inet nbench"
  echo "add set inet nbench s4 { type ipv4_addr; flags interval; }"
  echo "flush set inet nbench s4"
  printf "add element inet nbench s4 { "
  paste -sd, "$us"
  echo " }"
} >"$WORK/load.nft"
nft -f "$WORK/load.nft"
gb_wall=() gb_rss=() nf_wall=() nf_rss=()
for _ in $(seq "$RUNS"); do
  "$HELPER" nft-cycle "$WORK/us-old.list" gbench >/dev/null
  read -r w c r < <(timed "$HELPER" nft-cycle "$us" gbench)
  gb_wall+=("$w") gb_rss+=("$r")
  read -r w c r < <(timed nft -f "$WORK/load.nft")
  nf_wall+=("$w") nf_rss+=("$r")
done
gw=$(printf "%s\n" "${gb_wall[@]}" | median)
gr=$(printf "%s\n" "${gb_rss[@]}" | median)
nw=$(printf "%s\n" "${nf_wall[@]}" | median)
nr=$(printf "%s\n" "${nf_rss[@]}" | median)
printf "\n== daily update, us (%d of %d networks change) ==\n" "$(($(wc -l <"$us") - $(wc -l <"$WORK/us-old.list")))" \
  "$(wc -l <"$us")"
printf "geoblock %6.2f s %9s KiB | nft -f %6.2f s %9s KiB | time-ratio %s rss-ratio %s\n" "$gw" "$gr" "$nw" "$nr" \
  "$(ratio "$gw" "$nw")" "$(ratio "$gr" "$nr")"
nft delete table inet nbench
nft delete table inet gbench

fi

if [[ $PARTS == *packet* ]]; then
printf "\n== packet path: 64-byte UDP datagrams/s ==\n"
ip netns add "$PEER"
ip link add gbb-h type veth peer name gbb-s
ip link set gbb-s netns "$PEER"
ip addr add 198.51.100.1/24 dev gbb-h
ip link set gbb-h up
ip -n "$PEER" addr add 198.51.100.200/24 dev gbb-s
ip -n "$PEER" addr add 198.51.100.10/24 dev gbb-s
ip -n "$PEER" link set gbb-s up
ip -n "$PEER" link set lo up
# The world per country plus the blocked sender's network.
{
  cat "$WORK/worldcc.list"
  echo 198.51.100.0/28
} | sort -t. -k1,1n -k2,2n -k3,3n -k4,4n >"$WORK/packet.list"
world_n=$(wc -l <"$WORK/packet.list")

rate() { # rate SRC -> received packets/s
  "$HELPER" udp-recv 198.51.100.1 9000 3 >"$WORK/rate.out" &
  local rpid=$!
  sleep 0.3
  ip netns exec "$PEER" "$HELPER" udp-send 198.51.100.1 9000 3.6 "$1" >/dev/null
  wait "$rpid"
  cat "$WORK/rate.out"
}
drop_count() { # FAMILY -> packets counted by geoblock's drop rules of that table
  "$HELPER" nft-dropped "$1" gbench
}
dropped() { # FAMILY -> packets/s dropped from the blocked sender over 3 s
  local before after
  before=$(drop_count "$1")
  ip netns exec "$PEER" "$HELPER" udp-send 198.51.100.1 9000 3 198.51.100.10 >"$WORK/sent.out"
  after=$(drop_count "$1")
  awk -v a="$after" -v b="$before" 'BEGIN { printf "%.0f", (a - b) / 3 }'
}

base=$(rate 198.51.100.200)
"$HELPER" cycle "$WORK/packet.list" gbench >/dev/null
iptables -w -t raw -A PREROUTING -m set --match-set gbench-v4 src -j DROP
ipset_rate=$(rate 198.51.100.200)
iptables -w -t raw -F PREROUTING
ipset destroy gbench-v4
"$HELPER" nft-cycle "$WORK/packet.list" gbench >/dev/null
nft_rate=$(rate 198.51.100.200)
raw_drop=$(dropped inet)
nft delete table inet gbench
"$HELPER" nft-cycle "$WORK/packet.list" gbench ingress:gbb-h >/dev/null
ingress_drop=$(dropped netdev)
nft delete table inet gbench
nft delete table netdev gbench
printf "%-44s %10s pkt/s\n" "allowed sender, no rule" "$base"
printf "%-44s %10s pkt/s  (%sx of no rule)\n" "allowed sender, ipset hash:net rule (raw)" "$ipset_rate" \
  "$(ratio "$ipset_rate" "$base")"
printf "%-44s %10s pkt/s  (%sx of no rule)\n" "allowed sender, nft interval set (raw)" "$nft_rate" \
  "$(ratio "$nft_rate" "$base")"
printf "%-44s %10s pkt/s\n" "blocked sender, dropped in raw prerouting" "$raw_drop"
printf "%-44s %10s pkt/s  (%sx of raw)\n" "blocked sender, dropped in ingress:gbb-h" "$ingress_drop" \
  "$(ratio "$ingress_drop" "$raw_drop")"
printf "sets: %s networks (world per country + the blocked sender's /28)\n" "$world_n"
fi
