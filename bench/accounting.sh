#!/bin/bash
# Per-packet cost of the data paths that per-country accounting (issue 20)
# can take, side by side with today's single set, in one run, in a private
# network namespace (never the host's firewall). Needs root.
#
#   bench/accounting.sh [BUILD_DIR]     (default: build)
#
# Every variant holds the whole world per country (tor-geoipdb, each
# country aggregated on its own, IPv4) plus the sender's /28 as one more
# "country", and stands in raw prerouting as K identical rules that count
# and go on, so the datagram crosses K lookups and is still delivered: the
# receiver's rate then gives the cost of one lookup as the slope,
# (1/rate - 1/rate_without_rules) / K, well above the noise of one rule.
#
#   plain    nft: `ip saddr @set counter` (today: one interval set, one
#            counter per rule)
#   vmap     nft: `ip saddr vmap @map`, the map sending each network to its
#            country's chain, which holds a `counter` (one lookup decides
#            the source; the counter stays when the map's elements change)
#   elemcnt  nft: `ip saddr @set`, the set with a counter per element
#   ipset    iptables: `-m set --match-set S src` (today)
#   ipsetcnt iptables: the same with ipset's per-element `counters`
#   ipsetcc  iptables: per-element counters and a `comment` naming each
#            element's country (the kernel then knows every element's source)
#
# and "miss" rows for a sender in no set (the lookup fails), which is what
# allowed traffic pays. Then the load: geoblock's whole update cycle for the
# world, by source (a verdict map of every country's networks, a chain
# each) against the plain set of the same world merged (what geoblock loads
# without per-source counting) and not merged, best of 3.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
K=${K:-8}       # rules per variant
RUNS=${RUNS:-3} # rate measurements per variant (median)
VARIANTS=${VARIANTS:-plain vmap elemcnt ipset ipsetcnt ipsetcc}
PARTS=${PARTS:-packet,load} # which parts to run

# shellcheck source=bench/lib.sh
. "$SRC/bench/lib.sh"
enter_netns bench/accounting.sh "$@"

WORK=$(mktemp -d)
PEER="gbacc-$$"
cleanup() {
  ip netns del "$PEER" 2>/dev/null || true
  nft delete table inet acc 2>/dev/null || true
  iptables -w -t raw -F PREROUTING 2>/dev/null || true
  ipset destroy 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "building the helper..."
build_apply_helper "$SRC" "$BUILD" "$WORK/apply_bench"
HELPER="$WORK/apply_bench"

echo "generating zones (tor-geoipdb, all countries)..."
"$SRC/scripts/make-zones" "$WORK/mirror" >/dev/null
Z="$WORK/mirror/ipblocks/data/countries"
for f in "$Z"/*.zone; do
  cc=$(basename "$f" .zone)
  "$BUILD/geoblock" aggregate --family v4 "$f" | sed "s/\$/ $cc/"
done >"$WORK/labelled"
echo "198.51.100.0/28 zz" >>"$WORK/labelled"
n=$(wc -l <"$WORK/labelled")
countries=$(awk '{ print $2 }' "$WORK/labelled" | sort -u | wc -l)
echo "$n networks of $countries countries"

ip netns add "$PEER"
ip link add gba-h type veth peer name gba-s
ip link set gba-s netns "$PEER"
ip addr add 198.51.100.1/24 dev gba-h
ip link set gba-h up
ip -n "$PEER" addr add 198.51.100.10/24 dev gba-s  # in the sets (country zz)
ip -n "$PEER" addr add 198.51.100.200/24 dev gba-s # in none
ip -n "$PEER" link set gba-s up
ip -n "$PEER" link set lo up

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rate() { # rate SRC -> received packets/s, median of RUNS
  for _ in $(seq "$RUNS"); do
    "$HELPER" udp-recv 198.51.100.1 9000 2 >"$WORK/rate.out" &
    local rpid=$!
    sleep 0.3
    ip netns exec "$PEER" "$HELPER" udp-send 198.51.100.1 9000 2.6 "$1" >/dev/null
    wait "$rpid"
    cat "$WORK/rate.out"
  done | median
}
# ns per lookup: (1e9/rate - 1e9/base) / K
per_lookup() { awk -v r="$1" -v b="$2" -v k="$K" 'BEGIN { printf "%.1f", (1e9 / r - 1e9 / b) / k }'; }

elements() { # the networks as nft elements, one per line ("NET" or "NET : jump c_CC")
  if [ "$1" = map ]; then
    awk '{ printf "%s : jump c_%s,\n", $1, $2 }' "$WORK/labelled"
  else
    awk '{ printf "%s,\n", $1 }' "$WORK/labelled"
  fi
}
nft_load() { # VARIANT: the table with K rules of that variant in raw prerouting
  {
    echo "add table inet acc"
    echo "add chain inet acc pre { type filter hook prerouting priority raw; }"
    case $1 in
    plain) echo "add set inet acc s { type ipv4_addr; flags interval; }" ;;
    elemcnt) echo "add set inet acc s { type ipv4_addr; flags interval; counter; }" ;;
    vmap)
      awk '{ print $2 }' "$WORK/labelled" | sort -u |
        awk '{ printf "add chain inet acc c_%s\nadd rule inet acc c_%s counter\n", $1, $1 }'
      echo "add map inet acc s { type ipv4_addr : verdict; flags interval; }"
      ;;
    esac
    echo "add element inet acc s {"
    elements "$([ "$1" = vmap ] && echo map || echo set)"
    echo "}"
    for _ in $(seq "$K"); do
      case $1 in
      plain) echo "add rule inet acc pre ip saddr @s counter" ;;
      elemcnt) echo "add rule inet acc pre ip saddr @s" ;;
      vmap) echo "add rule inet acc pre ip saddr vmap @s" ;;
      esac
    done
  } >"$WORK/load.nft"
  nft -f "$WORK/load.nft"
}
ipset_load() { # VARIANT: the set (with or without counters) and K rules
  local opt=""
  [ "$1" = ipsetcnt ] && opt=counters
  [ "$1" = ipsetcc ] && opt="counters comment"
  {
    echo "create s hash:net family inet maxelem 1048576 $opt"
    if [ "$1" = ipsetcc ]; then
      awk '{ print "add s " $1 " comment " $2 }' "$WORK/labelled"
    else
      awk '{ print "add s " $1 }' "$WORK/labelled"
    fi
  } >"$WORK/load.ipset"
  ipset restore <"$WORK/load.ipset"
  for _ in $(seq "$K"); do
    iptables -w -t raw -A PREROUTING -m set --match-set s src
  done
}

rel() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.2f", (y > 0 ? x / y : 0) }'; }

if [[ $PARTS == *packet* ]]; then
base=$(rate 198.51.100.10)
printf "\n== per-packet cost of one lookup, %s rules each, 64-byte UDP, median of %s ==\n" "$K" "$RUNS"
printf "no rules: %s pkt/s\n\n" "$base"
printf "%-9s %12s %10s %12s %10s\n" variant "hit pkt/s" "ns/lookup" "miss pkt/s" "ns/lookup"
declare -A hit miss
for v in $VARIANTS; do
  case $v in
  ipset*) ipset_load "$v" ;;
  *) nft_load "$v" ;;
  esac
  h=$(rate 198.51.100.10)
  m=$(rate 198.51.100.200)
  hit[$v]=$(per_lookup "$h" "$base")
  miss[$v]=$(per_lookup "$m" "$base")
  # The hit path must really have been taken: the counters moved.
  case $v in
  vmap) listing=$(nft list chain inet acc c_zz) want='packets [1-9]' ;;
  elemcnt) listing=$(nft list set inet acc s) want='198.51.100.0/28 counter packets [1-9]' ;;
  ipsetcnt) listing=$(ipset list s) want='^198.51.100.0/28 packets [1-9]' ;;
  ipsetcc) listing=$(ipset list s) want='^198.51.100.0/28 packets [1-9][0-9]* bytes [0-9]* comment "zz"' ;;
  *) listing="" want="" ;;
  esac
  if [ -n "$want" ] && ! grep -q "$want" <<<"$listing"; then
    echo "$v: the sender's source counted nothing" >&2
    exit 1
  fi
  printf "%-9s %12s %10s %12s %10s\n" "$v" "$h" "${hit[$v]}" "$m" "${miss[$v]}"
  nft delete table inet acc 2>/dev/null || true
  iptables -w -t raw -F PREROUTING
  ipset destroy s 2>/dev/null || true
done
if [ -n "${hit[plain]:-}" ] && [ -n "${hit[ipset]:-}" ]; then
  printf "\nns per lookup relative to one plain set lookup (hit): vmap %s, elemcnt %s; to ipset: ipsetcnt %s, ipsetcc %s\n" \
    "$(rel "${hit[vmap]:-0}" "${hit[plain]}")" "$(rel "${hit[elemcnt]:-0}" "${hit[plain]}")" \
    "$(rel "${hit[ipsetcnt]:-0}" "${hit[ipset]}")" "$(rel "${hit[ipsetcc]:-0}" "${hit[ipset]}")"
fi

fi

if [[ $PARTS == *load* ]]; then
printf "\n== load: the whole update cycle, the world (IPv4), best of 3 ==\n"
awk '{ print $1 }' "$WORK/labelled" >"$WORK/percountry.list"
"$BUILD/geoblock" aggregate --family v4 "$WORK/percountry.list" >"$WORK/merged.list"
best() { sort -n | head -1; }
load() { # MODE FILE -> seconds, best of 3, from an empty table each time
  for _ in 1 2 3; do
    nft delete table inet gbacc 2>/dev/null || true
    "$HELPER" "$1" "$2" gbacc
  done | best
}
merged=$(load nft-cycle "$WORK/merged.list")
percountry=$(load nft-cycle "$WORK/percountry.list")
sources=$(load nft-sources "$WORK/labelled")
/usr/bin/time -f "%M" -o "$WORK/rss" "$HELPER" nft-sources "$WORK/labelled" gbacc >/dev/null
rss=$(cat "$WORK/rss")
nft delete table inet gbacc
printf "%-46s %8s elements %8.2f s\n" "plain set, the world merged" "$(wc -l <"$WORK/merged.list")" "$merged"
printf "%-46s %8s elements %8.2f s\n" "plain set, the world per country (not merged)" "$n" "$percountry"
printf "%-46s %8s elements %8.2f s  (%s KiB peak RSS; %sx the merged set's time)\n" \
  "by source: verdict map + a chain per country" "$n" "$sources" "$rss" "$(rel "$sources" "$merged")"
fi
