#!/bin/bash
# Boot-time restore, side by side with the reference: how long until the
# sets and the DROP rules are back after a reboot, with no network.
#
#   bench/boot.sh [BUILD_DIR]      (default: build; must contain geoblock)
#
# geoblock:   `geoblock restore` (what geoblock-restore.service runs): reads
#             the cached zones, aggregates, creates both sets, loads the rules.
# reference:  what a host with netfilter-persistent's ipset plugin does:
#             `ipset restore` of a saved set file, then iptables-restore and
#             ip6tables-restore of the saved rules.
# Each runs in a fresh network namespace (never the host's firewall); the
# resulting sets must hold the same members. Data: scripts/make-zones for
# COUNTRIES (default the six largest lists) in a temporary directory.
# Prints the best of RUNS wall times, peak RSS and the ratio. Needs root.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
COUNTRIES=${COUNTRIES:-us,cn,br,kr,jp,de}
RUNS=${RUNS:-3}
GEOBLOCK=$BUILD/geoblock

if [ "$(id -u)" != 0 ]; then
  echo "bench/boot.sh: needs root (it creates network namespaces)" >&2
  exit 1
fi

WORK=$(mktemp -d)
NS=()
cleanup() {
  for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fresh_ns() { # sets NEW_NS to the name of a new, empty namespace
  NEW_NS="gbboot-$$-${#NS[@]}"
  ip netns add "$NEW_NS"
  NS+=("$NEW_NS")
}

echo "== data: scripts/make-zones --countries $COUNTRIES"
"$SRC/scripts/make-zones" "$WORK/mirror" --countries "$COUNTRIES" >/dev/null 2>&1
cat >"$WORK/geoblock.conf" <<EOF
countries = ${COUNTRIES//,/ }
base-url = file://$WORK/mirror
cache-dir = $WORK/cache
state-dir = $WORK/state
lock-file = $WORK/geoblock.lock
EOF

# One update fills the cache; its kernel state, saved, is the reference's input.
fresh_ns
ns=$NEW_NS
ip netns exec "$ns" "$GEOBLOCK" --quiet update --config "$WORK/geoblock.conf"
ip netns exec "$ns" ipset save >"$WORK/sets.save"
ip netns exec "$ns" iptables-save >"$WORK/rules.v4"
ip netns exec "$ns" ip6tables-save >"$WORK/rules.v6"
v4=$(ip netns exec "$ns" ipset list -t geoblock-v4 | sed -n 's/^Number of entries: //p')
v6=$(ip netns exec "$ns" ipset list -t geoblock-v6 | sed -n 's/^Number of entries: //p')
rm -rf "$WORK/mirror" # restore must not need the source
echo "   $v4 IPv4 and $v6 IPv6 entries"

members() { ip netns exec "$1" ipset list "$2" | sed -n '/^Members:/,$p' | tail -n +2 | sort; }

best_geo="" best_ref=""
rss_geo=0 rss_ref=0
for run in $(seq "$RUNS"); do
  fresh_ns
  g=$NEW_NS
  ip netns exec "$g" /usr/bin/time -f '%e %M' -o "$WORK/t.geo" "$GEOBLOCK" --quiet restore --config "$WORK/geoblock.conf"
  fresh_ns
  r=$NEW_NS
  ip netns exec "$r" /usr/bin/time -f '%e %M' -o "$WORK/t.ref" \
    sh -c 'ipset restore <"$1" && iptables-restore <"$2" && ip6tables-restore <"$3"' sh \
    "$WORK/sets.save" "$WORK/rules.v4" "$WORK/rules.v6"
  for set in geoblock-v4 geoblock-v6; do
    if ! cmp -s <(members "$g" "$set") <(members "$r" "$set"); then
      echo "bench/boot.sh: $set differs between geoblock restore and ipset restore" >&2
      exit 1
    fi
  done
  if ! ip netns exec "$g" iptables-save | grep -q -- '--match-set geoblock-v4'; then
    echo "bench/boot.sh: geoblock restore loaded no IPv4 rule" >&2
    exit 1
  fi
  read -r tg mg <"$WORK/t.geo"
  read -r tr mr <"$WORK/t.ref"
  echo "   run $run: geoblock restore ${tg}s ${mg}kB, ipset+iptables restore ${tr}s ${mr}kB"
  if [ -z "$best_geo" ] || awk "BEGIN{exit !($tg < $best_geo)}"; then best_geo=$tg; fi
  if [ -z "$best_ref" ] || awk "BEGIN{exit !($tr < $best_ref)}"; then best_ref=$tr; fi
  [ "$mg" -gt "$rss_geo" ] && rss_geo=$mg
  [ "$mr" -gt "$rss_ref" ] && rss_ref=$mr
  ip netns del "$g"
  ip netns del "$r"
done

echo "== boot restore, $COUNTRIES ($v4 IPv4 + $v6 IPv6 entries), best of $RUNS, sets identical"
printf '%-34s %8s s %10s kB\n' "geoblock restore (from cache)" "$best_geo" "$rss_geo"
printf '%-34s %8s s %10s kB\n' "ipset restore + iptables-restore" "$best_ref" "$rss_ref"
awk -v g="$best_geo" -v r="$best_ref" 'BEGIN { if (r > 0) printf "ratio geoblock/reference: %.2f\n", g / r }'
