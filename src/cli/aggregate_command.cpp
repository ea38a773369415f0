#include "cli/cli.hpp"

#include "core/log.hpp"
#include "net/aggregate.hpp"
#include "net/reduce.hpp"
#include "net/zone.hpp"
#include "util/file.hpp"

#include <cstdio>

namespace geoblock::cli {

namespace {

template <class A>
std::vector<net::Prefix<A>>
collapse(std::vector<net::Prefix<A>> in, std::vector<net::Prefix<A>> allow, const AggregateArgs& args)
{
  std::vector<net::Prefix<A>> out =
      allow.empty() ? net::aggregate(std::move(in)) : net::subtract(std::move(in), std::move(allow));
  if (args.ipset_reduce) {
    const std::size_t bound = net::reduce_bound(out.size(), *args.ipset_reduce, args.ipset_reduce_entries);
    out = net::reduce_prefix_lengths(out, bound);
  }
  return out;
}

template <class A>
void
write_list(const std::vector<net::Prefix<A>>& nets, std::string& buffer)
{
  for (const auto& p : nets) {
    net::append_prefix(buffer, p);
    buffer += '\n';
    if (buffer.size() > (1 << 16)) {
      std::fwrite(buffer.data(), 1, buffer.size(), stdout);
      buffer.clear();
    }
  }
}

template <class A>
std::string
summary(const char* family, std::size_t in, const std::vector<net::Prefix<A>>& out)
{
  const net::u128 addresses = net::address_count(out);
  std::string s = std::string(family) + ": networks in " + std::to_string(in) + ", out " +
                  std::to_string(out.size()) + ", prefix lengths " +
                  std::to_string(net::distinct_prefix_lengths(out)) + ", addresses ";
  if constexpr (sizeof(A) == 4) {
    s += net::u128_to_string(addresses);
  } else {
    // address_count saturates at 2^128 - 1, which only ::/0 reaches.
    const bool everything = addresses == ~net::u128{0};
    s += everything ? std::string("2^128") : net::u128_to_string(addresses);
    s += " (/64s: " + (everything ? std::string("2^64") : net::u128_to_string(addresses >> 64)) + ")";
  }
  return s;
}

} // namespace

ExitCode
run_aggregate(const AggregateArgs& args)
{
  net::ZoneOptions zone_options;
  if (args.guard) {
    zone_options.min_prefix_v4 = args.min_prefix_v4 > 0 ? args.min_prefix_v4 : 1;
    zone_options.min_prefix_v6 = args.min_prefix_v6 > 0 ? args.min_prefix_v6 : 1;
  }

  net::NetList input;
  const std::vector<std::string> files = args.files.empty() ? std::vector<std::string>{"-"} : args.files;
  for (const std::string& file : files) {
    // Block by block: world IPv4 is 10 MB of text for 5 MB of networks,
    // and the text need never be held whole.
    util::InputFile in(file);
    const std::string& name = in.name();
    net::ZoneReader reader(name, zone_options, input, in.size_hint());
    in.for_each_chunk([&](std::string_view piece) { reader.feed(piece); });
    const net::ZoneStats st = reader.finish();
    if (args.stats) {
      log::info("stats: " + name + ": lines " + std::to_string(st.lines) + ", networks " +
                std::to_string(st.networks) + " (IPv4 " + std::to_string(st.v4) + ", IPv6 " +
                std::to_string(st.v6) + "), host bits cleared " + std::to_string(st.host_bits));
    }
  }

  net::NetList allow;
  for (const std::string& cidr : args.allow) {
    std::string problem;
    if (!net::parse_network(cidr, allow, &problem)) {
      throw UsageError("--allow: " + problem + ": '" + cidr + "'");
    }
  }
  for (const std::string& file : args.allow_files) {
    net::parse_zone(util::read_file(file), file, net::ZoneOptions{}, allow);
  }

  const std::size_t in4 = input.v4.size();
  const std::size_t in6 = input.v6.size();
  std::string buffer;
  if (net::includes(args.family, net::Family::V4)) {
    const auto out = collapse(std::move(input.v4), std::move(allow.v4), args);
    write_list(out, buffer);
    if (args.stats) {
      log::info("stats: " + summary<std::uint32_t>("IPv4", in4, out));
    }
  }
  if (net::includes(args.family, net::Family::V6)) {
    const auto out = collapse(std::move(input.v6), std::move(allow.v6), args);
    write_list(out, buffer);
    if (args.stats) {
      log::info("stats: " + summary<net::u128>("IPv6", in6, out));
    }
  }
  std::fwrite(buffer.data(), 1, buffer.size(), stdout);
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    throw Error("cannot write the output");
  }
  return ExitCode::Ok;
}

} // namespace geoblock::cli
