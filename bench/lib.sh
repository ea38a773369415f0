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
