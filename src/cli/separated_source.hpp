// Privilege separation of the sources (docs/security.md): a ZoneSource
// that runs another one in a child process which, when geoblock runs as
// root, becomes the unprivileged fetch-user with no capabilities, sets
// no_new_privs and loads the fetcher's seccomp filter before it touches
// any input. The child writes what it loaded into a directory in the
// cache's format (the cache itself for the HTTP mirror; a scratch
// directory for a bundle or GeoLite2 zip) and reports one line per zone
// through a pipe. This process never parses network data in place: it
// re-reads that directory with the strict zone parser (as `--offline`
// would) and takes from the report only the labels (origin, bytes,
// error text), never networks.
#pragma once

#include "fetch/fetcher.hpp"
#include "net/zone_source.hpp"
#include "util/sandbox.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace geoblock::cli {

struct SeparationOptions {
  enum class Kind {
    Cache, // the inner source refreshes the cache `dir` (the HTTP mirror)
    Local, // the inner source reads `file` (bundle, GeoLite2 zip)
  };
  enum class Parent {
    AsIs,    // status, check: this process goes on unconfined
    Confine, // update: once the child runs, this process may not open TCP/UDP sockets
  };
  Kind kind = Kind::Cache;
  Parent parent = Parent::AsIs;
  // The user the child becomes (root runs; resolved when a child is
  // started, an Error saying how to create it when missing); nothing: it
  // keeps this process's identity (an unprivileged dry run), still confined.
  std::optional<std::string> user;
  std::string dir;  // Cache: the cache directory
  std::string file; // Local: the bundle or zip
  // Cache, unprivileged: a cache directory it cannot write is replaced by
  // a private temporary one (a dry run by a normal user).
  bool scratch_if_read_only = false;
  // How this process re-reads and validates what the child handed over
  // (zone options, staleness, clock); its cache_dir and offline are set here.
  fetch::FetchOptions reread;
  std::string description; // describe()
};

class SeparatedSource final : public net::ZoneSource {
public:
  // Makes the inner source inside the child, given the path it uses there
  // for the cache directory (Cache) or the file (Local): the real path when
  // the child can reach it, else /proc/self/fd/N of a descriptor this
  // process opened for it.
  using Factory = std::function<std::unique_ptr<net::ZoneSource>(const std::string& path)>;

  SeparatedSource(SeparationOptions options, Factory make_inner);
  std::string describe() const override { return m_options.description; }
  // Cache sources in CacheOnly mode are read here, with no child (there is
  // no network and nothing but the cache to parse); everything else runs
  // the inner source in the child. Throws Error when the child fails as a
  // whole (its one-line error), dies, or hands over a malformed report.
  std::vector<net::ZoneResult> load(const std::vector<std::string>& countries, net::Families families,
                                    Mode mode) override;
  std::optional<net::CacheReport> cache(std::int64_t now) const override;

private:
  std::vector<net::ZoneResult> reread(const std::string& dir, const std::vector<std::string>& countries,
                                      net::Families families) const;

  SeparationOptions m_options;
  Factory m_make_inner;
};

// The report the child writes on its pipe, and its strict reader (exposed
// for tests). One "zone" line per zone, in the order of ZoneSource::load,
// then "end N"; or a single "error" line. Fields are tab-separated; text
// fields are printable ASCII (the writer replaces anything else by '?')
// of at most 1024 bytes.
struct ReportedZone {
  std::string country;
  net::Family family = net::Family::V4;
  net::Origin origin = net::Origin::Failed;
  std::uint64_t bytes = 0;
  bool stale = false;
  std::string location;
  std::string error;
};
std::string format_child_report(const std::vector<net::ZoneResult>& zones);
std::string format_child_error(const std::string& message);
// The zones, checked against the expected countries and families; throws
// Error naming the problem for anything else (an "error" line becomes an
// Error with its message).
std::vector<ReportedZone> parse_child_report(const std::string& text,
                                             const std::vector<std::string>& countries,
                                             net::Families families);

} // namespace geoblock::cli
