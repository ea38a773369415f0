// Property tests. (1) Random networks in a small universe (a /20 of IPv4,
// a /116 of IPv6, at the bottom and at the top of each space) against a
// brute-force bitmap: aggregate, subtract and reduce cover exactly the
// right addresses, sorted and disjoint, and aggregate is minimal. (2)
// Random real-sized inputs against an independent implementation, Python's
// ipaddress module, run as a child process.
#include "net/reduce.hpp"
#include "net_test_util.hpp"

#include <random>

namespace geoblock::net_test {
namespace {

constexpr int k_universe_bits = 12; // 4096 addresses
constexpr std::size_t k_universe = std::size_t{1} << k_universe_bits;

template <class A> struct Universe {
  A base; // the first address; aligned to the universe size
};

template <class A>
std::vector<net::Prefix<A>>
random_nets(std::mt19937_64& rng, Universe<A> u, int count)
{
  std::vector<net::Prefix<A>> out;
  for (int i = 0; i < count; ++i) {
    // Lengths from the whole universe down to single addresses, biased
    // towards long prefixes as real data is.
    const int host_bits = static_cast<int>(rng() % (k_universe_bits + 1)) * static_cast<int>(rng() % 2);
    const int len = net::kBits<A> - std::min(host_bits, static_cast<int>(rng() % (k_universe_bits + 1)));
    const A offset = static_cast<A>(rng() % k_universe);
    out.push_back({static_cast<A>((u.base + offset) & net::mask<A>(len)), static_cast<std::uint8_t>(len)});
  }
  return out;
}

template <class A>
std::vector<bool>
bitmap(Universe<A> u, const std::vector<net::Prefix<A>>& nets)
{
  std::vector<bool> bits(k_universe);
  for (const auto& p : nets) {
    for (A a = p.first();; ++a) {
      bits[static_cast<std::size_t>(a - u.base)] = true;
      if (a == p.last()) {
        break;
      }
    }
  }
  return bits;
}

// Sorted, pairwise disjoint, and covering exactly `want`.
template <class A>
void
expect_exact_cover(Universe<A> u, const std::vector<net::Prefix<A>>& got, const std::vector<bool>& want)
{
  for (std::size_t i = 1; i < got.size(); ++i) {
    ASSERT_LT(got[i - 1].last(), got[i].first()) << "not sorted or overlapping at " << i << ": " << str(got);
  }
  for (const auto& p : got) {
    ASSERT_EQ(p.addr & static_cast<A>(~net::mask<A>(p.len)), A{0}) << "host bits in " << net::to_string(p);
  }
  ASSERT_EQ(bitmap(u, got), want) << str(got);
}

// Minimal: no network's parent (one bit shorter) is wholly covered, so no
// two outputs could be replaced by one. The minimal cover is unique.
template <class A>
void
expect_minimal(Universe<A> u, const std::vector<net::Prefix<A>>& got, const std::vector<bool>& bits)
{
  for (const auto& p : got) {
    if (p.len <= net::kBits<A> - k_universe_bits) {
      continue; // the parent leaves the universe, where nothing is set
    }
    const net::Prefix<A> parent{static_cast<A>(p.addr & net::mask<A>(p.len - 1)),
                                static_cast<std::uint8_t>(p.len - 1)};
    bool all = true;
    for (A a = parent.first();; ++a) {
      all = all && bits[static_cast<std::size_t>(a - u.base)];
      if (a == parent.last() || !all) {
        break;
      }
    }
    ASSERT_FALSE(all) << net::to_string(p) << " could be " << net::to_string(parent) << " in " << str(got);
  }
}

template <class A>
void
check_universe(Universe<A> u, unsigned seed)
{
  SCOPED_TRACE("seed " + std::to_string(seed) + ", universe " + net::address_to_string(u.base));
  std::mt19937_64 rng(seed);
  for (int iter = 0; iter < 400; ++iter) {
    SCOPED_TRACE("iteration " + std::to_string(iter));
    const auto blocked = random_nets(rng, u, 1 + static_cast<int>(rng() % 40));
    const auto allowed = random_nets(rng, u, static_cast<int>(rng() % 6));
    const auto want = bitmap(u, blocked);

    const auto agg = net::aggregate(blocked);
    expect_exact_cover(u, agg, want);
    expect_minimal(u, agg, want);
    ASSERT_EQ(net::aggregate(agg), agg) << "not idempotent";
    ASSERT_EQ(net::address_count(agg), static_cast<u128>(std::count(want.begin(), want.end(), true)));

    auto rest = want;
    const auto allow_bits = bitmap(u, allowed);
    for (std::size_t i = 0; i < k_universe; ++i) {
      rest[i] = rest[i] && !allow_bits[i];
    }
    const auto sub = net::subtract(blocked, allowed);
    expect_exact_cover(u, sub, rest);
    expect_minimal(u, sub, rest);

    const std::size_t bound = agg.size() + rng() % (agg.size() * 2 + 1);
    const auto red = net::reduce_prefix_lengths(agg, bound);
    ASSERT_LE(red.size(), bound);
    ASSERT_LE(net::distinct_prefix_lengths(red), net::distinct_prefix_lengths(agg));
    expect_exact_cover(u, red, want);
  }
}

TEST(Property, Ipv4SmallUniverseAgainstBitmap)
{
  check_universe(Universe<std::uint32_t>{0}, 1);
  check_universe(Universe<std::uint32_t>{0xc6336000u}, 2); // 198.51.96.0/20
  check_universe(Universe<std::uint32_t>{0xfffff000u}, 3); // the top /20
}

TEST(Property, Ipv6SmallUniverseAgainstBitmap)
{
  check_universe(Universe<u128>{0}, 4);
  check_universe(Universe<u128>{u128{0x20010db8} << 96}, 5);
  check_universe(Universe<u128>{~u128{0} << k_universe_bits}, 6); // the top /116
}

// --- Against Python's ipaddress ---------------------------------------------

const char* const k_python_reference = R"(
import ipaddress, sys
def nets(path):
    with open(path) as f:
        return [ipaddress.ip_network(l.strip()) for l in f if l.strip()]
def ranges(ns):
    out = []
    for n in sorted(ipaddress.collapse_addresses(ns)):
        a, b = int(n.network_address), int(n.broadcast_address)
        if out and a <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out
blocked = nets(sys.argv[1])
allowed = nets(sys.argv[2])
cls = ipaddress.IPv4Address if sys.argv[3] == '4' else ipaddress.IPv6Address
if not allowed:
    result = list(ipaddress.collapse_addresses(blocked))
else:
    # Set arithmetic on integer ranges, then back to networks with
    # summarize_address_range.
    rest = []
    allow = ranges(allowed)
    j = 0
    for a, b in ranges(blocked):
        while j < len(allow) and allow[j][1] < a:
            j += 1
        k = j
        while k < len(allow) and allow[k][0] <= b and a <= b:
            x, y = allow[k]
            if x > a:
                rest.append((a, x - 1))
            a = max(a, y + 1)
            k += 1
        if a <= b:
            rest.append((a, b))
    result = [n for a, b in rest for n in ipaddress.summarize_address_range(cls(a), cls(b))]
sys.stdout.write(''.join(str(n) + '\n' for n in result))
)";

// Random networks inside `cluster` (so that they overlap and touch as real
// country data does), of lengths min_len..max_len.
template <class A>
std::string
random_real_sized(std::mt19937_64& rng, net::Prefix<A> cluster, int count, int min_len, int max_len)
{
  std::string text;
  for (int i = 0; i < count; ++i) {
    A addr = static_cast<A>(rng());
    if constexpr (sizeof(A) == 16) {
      addr = (addr << 64) | rng();
    }
    addr = static_cast<A>(cluster.addr | (addr & ~net::mask<A>(cluster.len)));
    const int len = min_len + static_cast<int>(rng() % static_cast<unsigned>(max_len - min_len + 1));
    net::append_prefix(
        text, net::Prefix<A>{static_cast<A>(addr & net::mask<A>(len)), static_cast<std::uint8_t>(len)});
    text += '\n';
  }
  return text;
}

template <class A>
void
compare_with_python(unsigned seed, net::Prefix<A> cluster, int count, int allow_count, int min_len,
                    int max_len)
{
  SCOPED_TRACE("seed " + std::to_string(seed));
  if (!have_program("python3")) {
    GTEST_SKIP() << "python3 not found: the reference comparison needs it (scripts/setup installs it)";
  }
  std::mt19937_64 rng(seed);
  TempDir dir;
  const std::string blocked_text = random_real_sized<A>(rng, cluster, count, min_len, max_len);
  const std::string allowed_text = random_real_sized<A>(rng, cluster, allow_count, min_len + 4, max_len);
  write_text(dir / "blocked", blocked_text);
  write_text(dir / "allowed", allowed_text);
  write_text(dir / "reference.py", k_python_reference);

  net::NetList blocked;
  net::NetList allowed;
  net::parse_zone(blocked_text, "blocked", {}, blocked);
  net::parse_zone(allowed_text, "allowed", {}, allowed);
  const auto ours =
      allow_count == 0 ? net::aggregate(blocked.of<A>()) : net::subtract(blocked.of<A>(), allowed.of<A>());
  std::string text;
  for (const auto& p : ours) {
    net::append_prefix(text, p);
    text += '\n';
  }
  const Ran py =
      run({"python3", dir / "reference.py", dir / "blocked", dir / "allowed", sizeof(A) == 4 ? "4" : "6"}, "",
          dir, std::chrono::seconds(240));
  ASSERT_EQ(py.code, 0) << py.err;
  ASSERT_GT(ours.size(), 100u) << "the test data should not collapse to almost nothing";
  // Compare line counts first for a short message, then everything.
  ASSERT_EQ(std::count(text.begin(), text.end(), '\n'), std::count(py.out.begin(), py.out.end(), '\n'));
  ASSERT_TRUE(text == py.out) << "geoblock and Python's ipaddress disagree";
}

const Prefix6 k_v6_cluster{u128{0x20010d00} << 96, 24}; // 2001:d00::/24

TEST(Reference, Ipv4AggregateMatchesPython)
{
  compare_with_python<std::uint32_t>(11, {0, 0}, 120000, 0, 16, 32);
}

TEST(Reference, Ipv4SubtractMatchesPython)
{
  compare_with_python<std::uint32_t>(12, {0, 0}, 80000, 15000, 16, 32);
}

TEST(Reference, Ipv6AggregateMatchesPython)
{
  compare_with_python<u128>(13, k_v6_cluster, 60000, 0, 40, 128);
}

TEST(Reference, Ipv6SubtractMatchesPython)
{
  compare_with_python<u128>(14, k_v6_cluster, 40000, 8000, 40, 128);
}

} // namespace
} // namespace geoblock::net_test
