// Helper for bench/apply.sh (built by it against the module libraries):
//   apply_bench cycle LIST SET      runs geoblock's update cycle on the
//                                   networks in LIST (one CIDR a line, e.g.
//                                   `geoblock aggregate` output); prints the
//                                   seconds apply() took
//   apply_bench nft-cycle LIST SET [CHAIN]
//                                   the same with the nftables backend (the
//                                   list is sorted, not merged: per-country
//                                   lists concatenated stay as they are)
//   apply_bench nft-sources LABELLED SET
//                                   the nftables backend by source: LABELLED
//                                   holds "CIDR SOURCE" lines, one verdict-map
//                                   part and chain per source (IPv4)
//   apply_bench nft-dropped inet|netdev TABLE
//                                   packets counted by the table's DROP rules
//                                   (read with libnftnl: `nft list` would load
//                                   the whole set first)
//   apply_bench udp-send DST PORT SECONDS SRC
//                                   sends 64-byte UDP datagrams with sendmmsg
//   apply_bench udp-recv ADDR PORT SECONDS
//                                   prints datagrams received per second
#include "apply/applier.hpp"
#include "apply/nft_backend.hpp"
#include "apply/nft_netlink.hpp"
#include "apply/rules.hpp"
#include "net/aggregate.hpp"
#include "net/zone.hpp"
#include "util/file.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

using namespace geoblock;

namespace {

double
seconds_since(std::chrono::steady_clock::time_point t0)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int
cycle(const char* list, const char* set)
{
  net::NetList nets;
  net::parse_zone(util::read_file(list), list, net::ZoneOptions{}, nets);
  apply::ApplyOptions o;
  o.set_name = set;
  o.families = nets.v6.empty()   ? net::Families::V4
               : nets.v4.empty() ? net::Families::V6
                                 : net::Families::Both;
  o.lock_path = std::string(list) + ".lock";
  o.ssh_connection = "";
  o.force = true;
  const auto t0 = std::chrono::steady_clock::now();
  apply::make_iptables_backend()->apply(nets, o);
  std::printf("%.4f\n", seconds_since(t0));
  return 0;
}

int
nft_cycle(const char* list, const char* set, const char* chain)
{
  net::NetList nets;
  net::parse_zone(util::read_file(list), list, net::ZoneOptions{}, nets);
  std::sort(nets.v4.begin(), nets.v4.end());
  std::sort(nets.v6.begin(), nets.v6.end());
  apply::ApplyOptions o;
  o.set_name = set;
  o.families = nets.v6.empty()   ? net::Families::V4
               : nets.v4.empty() ? net::Families::V6
                                 : net::Families::Both;
  o.lock_path = std::string(list) + ".lock";
  o.ssh_connection = "";
  o.force = true;
  if (chain != nullptr) {
    o.chains = {apply::parse_hook(chain)};
  }
  const auto t0 = std::chrono::steady_clock::now();
  apply::make_nftables_backend()->apply(nets, o);
  std::printf("%.4f\n", seconds_since(t0));
  return 0;
}

int
nft_sources(const char* labelled, const char* set)
{
  std::map<std::string, net::NetList> by;
  const std::string text = util::read_file(labelled);
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    const std::size_t space = line.find(' ');
    if (space == std::string::npos) {
      continue;
    }
    net::parse_network(line.substr(0, space), by[line.substr(space + 1)]);
  }
  apply::ApplyOptions o;
  o.set_name = set;
  o.families = net::Families::V4;
  o.lock_path = std::string(labelled) + ".lock";
  o.ssh_connection = "";
  o.force = true;
  o.by_source = true;
  for (auto& [source, nets] : by) {
    apply::SourceBlock b;
    b.source = source;
    b.nets.v4 = net::aggregate(nets.v4);
    o.sources.push_back(std::move(b));
  }
  const auto t0 = std::chrono::steady_clock::now();
  apply::make_nftables_backend()->apply({}, o);
  std::printf("%.4f\n", seconds_since(t0));
  return 0;
}

int
nft_dropped(const std::string& family, const char* table)
{
  apply::nft::Socket sock;
  const auto fam = family == "netdev" ? apply::nft::Family::Netdev : apply::nft::Family::Inet;
  std::uint64_t packets = 0;
  for (const auto& r : sock.rules({fam, table})) {
    if (r.comment.find("-j DROP") != std::string::npos) {
      packets += r.packets;
    }
  }
  std::printf("%llu\n", static_cast<unsigned long long>(packets));
  return 0;
}

int
udp_send(const char* dst, int port, double secs, const char* src)
{
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in s{};
  s.sin_family = AF_INET;
  ::inet_pton(AF_INET, src, &s.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&s), sizeof s) != 0) {
    std::perror("bind");
    return 1;
  }
  sockaddr_in d{};
  d.sin_family = AF_INET;
  d.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, dst, &d.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&d), sizeof d) != 0) {
    std::perror("connect");
    return 1;
  }
  constexpr int k_batch = 64;
  char payload[64] = {};
  iovec iov[k_batch];
  mmsghdr msgs[k_batch];
  std::memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < k_batch; ++i) {
    iov[i] = {payload, sizeof payload};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  long sent = 0;
  while (seconds_since(t0) < secs) {
    const int n = ::sendmmsg(fd, msgs, k_batch, 0);
    if (n > 0) {
      sent += n;
    }
  }
  std::printf("%ld\n", sent);
  return 0;
}

int
udp_recv(const char* addr, int port, double secs)
{
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  const int big = 8 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, addr, &a.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("bind");
    return 1;
  }
  timeval tv{0, 200000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[2048];
  // Count from the first datagram on, for `secs` seconds.
  long got = 0;
  std::chrono::steady_clock::time_point t0;
  const auto start = std::chrono::steady_clock::now();
  while (got == 0 && seconds_since(start) < 10) {
    if (::recv(fd, buf, sizeof buf, 0) > 0) {
      got = 1;
      t0 = std::chrono::steady_clock::now();
    }
  }
  while (got > 0 && seconds_since(t0) < secs) {
    if (::recv(fd, buf, sizeof buf, 0) > 0) {
      ++got;
    }
  }
  std::printf("%.0f\n", got / secs);
  return 0;
}

} // namespace

int
main(int argc, char** argv)
{
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "cycle" && argc == 4) {
      return cycle(argv[2], argv[3]);
    }
    if (mode == "nft-cycle" && (argc == 4 || argc == 5)) {
      return nft_cycle(argv[2], argv[3], argc == 5 ? argv[4] : nullptr);
    }
    if (mode == "nft-sources" && argc == 4) {
      return nft_sources(argv[2], argv[3]);
    }
    if (mode == "nft-dropped" && argc == 4) {
      return nft_dropped(argv[2], argv[3]);
    }
    if (mode == "udp-send" && argc == 6) {
      return udp_send(argv[2], std::atoi(argv[3]), std::atof(argv[4]), argv[5]);
    }
    if (mode == "udp-recv" && argc == 5) {
      return udp_recv(argv[2], std::atoi(argv[3]), std::atof(argv[4]));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "apply_bench: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: see the comment at the top of bench/apply_bench.cpp\n");
  return 2;
}
