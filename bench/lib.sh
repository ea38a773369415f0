# Shared by the benchmark scripts (sourced, not run).

# measure NAME CMD...: runs CMD three times under /usr/bin/time and prints
# the best wall time with its CPU time (user + system) and peak RSS; sets
# wall, cpu and rss to the best run's. Needs $work (a scratch directory).
measure() {
  local name=$1 best="" line
  shift
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@"
    line=$(tail -n 1 "$work/time")
    read -r w u s m <<<"$line"
    if [ -z "$best" ] || awk -v a="$w" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
      best="$w $(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }') $m"
    fi
  done
  read -r wall cpu rss <<<"$best"
  printf "%-9s wall %6.2f s   cpu %6.2f s   peak rss %7d KiB\n" "$name" "$wall" "$cpu" "$rss"
}

# enter_netns NAME ARGS...: the calling script (NAME in messages) needs root
# and runs in a network namespace of its own, never the host's firewall:
# re-executed once under unshare -n with ARGS; then loopback is brought up.
enter_netns() {
  local name=$1
  shift
  if [ "$(id -u)" != 0 ]; then
    echo "$name: needs root (it creates network namespaces)" >&2
    exit 1
  fi
  if [ -z "${GEOBLOCK_BENCH_INNER:-}" ]; then
    exec unshare -n env GEOBLOCK_BENCH_INNER=1 "$0" "$@"
  fi
  ip link set lo up
}

# build_apply_helper SRC BUILD OUT: bench/apply_bench.cpp linked against the
# module libraries of BUILD (each before the ones it uses, CMakeLists.txt)
# and the C libraries the apply module confines (libipset, libnftnl and
# libmnl, libnftables).
build_apply_helper() {
  # shellcheck disable=SC2046
  c++ -O2 -std=c++20 -I"$1/src" "$1/bench/apply_bench.cpp" \
    "$2"/libgeoblock_mod_{apply,net,util,core}.a \
    $(pkg-config --libs libipset libcrypto libnftnl libmnl libnftables) -o "$3"
}
