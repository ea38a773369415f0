// Privilege separation of the sources (docs/security.md): a ZoneSource
// that runs another one in a child process which, when geoblock runs as
// root, becomes the unprivileged fetch-user with no capabilities, sets
// no_new_privs and loads the fetcher's seccomp filter before it touches
// any input. The child runs the source (which may refresh a cache it
// owns) and writes what it returns through a pipe: per zone a strictly
// parsed line and the networks as zone text, the same hand-over whatever
// the source (mirror, bundle, GeoLite2, any added later). This process
// never parses network data in place: the zone text goes through the
// strict zone parser, with the configured guards, again.
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
  enum class Parent {
    AsIs,    // status, check: this process goes on unconfined
    Confine, // update: once the child runs, this process may not open TCP/UDP sockets
  };
  Parent parent = Parent::AsIs;
  // The user the child becomes (root runs; resolved when a child is
  // started, an Error saying how to create it when missing); nothing: it
  // keeps this process's identity (an unprivileged dry run), still confined.
  std::optional<std::string> user;
  // The cache directory the sources keep between runs (the HTTP mirror's,
  // rir's), or empty. Its v4, v6, lists and rir are handed over to the user.
  std::string dir;
  // The file the source reads (a bundle, a GeoLite2 zip), or empty; opened
  // here, so the user needs no access to it.
  std::string file;
  // CacheOnly loads read `dir` here, with no child: for a source whose
  // zones are exactly its cache's (the HTTP mirror); restore at boot then
  // needs no fork. cache() reports on `dir` only then.
  bool read_cache_here = false;
  // A `dir` this user cannot write is replaced by a private temporary one
  // (a dry run by a normal user).
  bool scratch_if_read_only = false;
  // How this process re-reads and validates what the child handed over
  // (zone options, staleness, clock); its cache_dir and offline are set here.
  fetch::FetchOptions reread;
  std::string description; // describe()
};

class SeparatedSource final : public net::ZoneSource {
public:
  // Makes the inner source inside the child, given the paths it uses there
  // for the cache directory and the file ("" when there is none): the real
  // ones when the child can reach them, else /proc/self/fd/N of a
  // descriptor this process opened (or a private copy of the file).
  using Factory =
      std::function<std::unique_ptr<net::ZoneSource>(const std::string& cache_dir, const std::string& file)>;

  SeparatedSource(SeparationOptions options, Factory make_inner);
  std::string describe() const override { return m_options.description; }
  // With read_cache_here, CacheOnly loads are read here, with no child
  // (there is no network and nothing but the cache to parse, with the
  // strict parser, as untrusted files); everything else runs the inner
  // source in the child and validates what it hands over again.
  std::vector<net::ZoneResult> load(const std::vector<std::string>& countries, net::Families families,
                                    Mode mode) override;
  // The cache as the sources see it, read here (metadata and hashes).
  std::optional<net::CacheReport> cache(std::int64_t now) const override;

private:
  std::vector<net::ZoneResult> reread(const std::string& dir, const std::vector<std::string>& countries,
                                      net::Families families) const;

  SeparationOptions m_options;
  Factory m_make_inner;
};

// The report the child writes on its pipe, and its strict reader (exposed
// for tests). Per zone, in any order, a "zone" line: country, family,
// origin, bytes, stale, fetched_at, last_modified, location, error, source, and the
// length of the body that follows the line: the zone's networks as zone
// text (none for failed or absent zones). Then "end N". Or a single
// "error" line. Fields are tab-separated; text fields are printable ASCII
// (the writer replaces anything else by '?') of at most 1024 bytes. The
// bodies are for the strict zone parser; this reader only cuts them out.
struct ReportedZone {
  std::string country;
  net::Family family = net::Family::V4;
  net::Origin origin = net::Origin::Failed;
  std::uint64_t bytes = 0;
  bool stale = false;
  std::int64_t fetched_at = 0, last_modified = 0;
  std::string location;
  std::string error;
  std::string source; // the configured source that served it ("http", "rir", "bundle", "maxmind" or "")
  std::string body;   // the networks as zone text, one per line (usable zones only)
  bool usable() const { return origin != net::Origin::Failed; }
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
