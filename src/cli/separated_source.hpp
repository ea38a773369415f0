// Privilege separation of the sources (docs/security.md): a ZoneSource
// that runs another one in a child process which, when geoblock runs as
// root, becomes the unprivileged fetch-user with no capabilities, sets
// no_new_privs and loads the fetcher's seccomp filter before it touches
// any input. The child runs the source (which may refresh a cache it
// owns) and writes what it returns through a pipe: per zone a strictly
// parsed line and the networks as zone text, the same hand-over whatever
// the source (mirror, bundle, GeoLite2, any added later). This process
// never parses network data in place: the zone text goes through the
// strict zone parser, with the configured guards, again. The extra
// blocklists (`blocklist`) go the same way, in the same child: per list a
// record and its networks as text, parsed again by net::parse_blocklist.
#pragma once

#include "fetch/fetcher.hpp"
#include "net/asn.hpp"
#include "net/blocklist.hpp"
#include "net/zone_source.hpp"
#include "util/sandbox.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace geoblock::cli {

// The path the child reads a configured file by (see SeparationOptions::files).
using Reach = std::function<std::string(const std::string& configured)>;

// An AS the report must hold: its number and whether it is allowed.
struct ExpectedAsn {
  std::uint32_t number = 0;
  bool allow = false;
};

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
  // The child fetches the blocklists with these options too.
  fetch::FetchOptions reread;
  // The extra blocklists (URLs or paths, as configured) loaded with the
  // zones, or none: in a Refresh the child fetches them (as root, the FILE
  // lists are opened here and handed over as descriptors) and this process
  // parses the networks it hands over again; CacheOnly reads their cache
  // in `dir` here, as untrusted files. Needs `dir`. See blocklists().
  std::vector<std::string> blocklists;
  std::string description; // describe()
  // Further files the sources read (mmdb-file, asn-file): opened here (as
  // root, so the fetch-user needs no access) and handed over as
  // descriptors; the child reads each by the path Reach gives (the real
  // one when it may open it, else a private copy).
  std::vector<std::string> files;
  // The ASes (asn, allow-asn) loaded with the zones, in every mode, by
  // `load_asns` in the child (given the cache directory it uses, the
  // Reach of `files` and the mode); their networks are parsed again here.
  // See asns().
  std::vector<ExpectedAsn> asns;
  // Folders of `dir` handed to the fetch-user besides v4, v6, lists and
  // rir: "mmdb", "asn" (where those are configured).
  std::vector<std::string> extra_cache_dirs;
  std::function<std::vector<net::AsnResult>(const std::string& cache_dir, const Reach& reach,
                                            net::ZoneSource::Mode mode)>
      load_asns;
};

class SeparatedSource final : public net::ZoneSource {
public:
  // Makes the inner source inside the child, given the paths it uses there
  // for the cache directory and the file ("" when there is none): the real
  // ones when the child can reach them, else /proc/self/fd/N of a
  // descriptor this process opened (or a private copy of the file).
  using Factory =
      std::function<std::unique_ptr<net::ZoneSource>(const std::string& cache_dir, const std::string& file)>;
  // The same, also given the Reach of SeparationOptions::files.
  using FilesFactory = std::function<std::unique_ptr<net::ZoneSource>(
      const std::string& cache_dir, const std::string& file, const Reach& reach)>;

  SeparatedSource(SeparationOptions options, Factory make_inner);
  SeparatedSource(SeparationOptions options, FilesFactory make_inner);
  std::string describe() const override { return m_options.description; }
  // With read_cache_here, CacheOnly loads are read here, with no child
  // (there is no network and nothing but the cache to parse, with the
  // strict parser, as untrusted files); everything else runs the inner
  // source in the child and validates what it hands over again.
  std::vector<net::ZoneResult> load(const std::vector<std::string>& countries, net::Families families,
                                    Mode mode) override;
  // The cache as the sources see it, read here (metadata and hashes).
  std::optional<net::CacheReport> cache(std::int64_t now) const override;
  // The blocklists of the last load(), in the configured order (one per
  // list, each once; see fetch::BlocklistSource::load), validated here.
  const std::vector<net::BlocklistResult>& blocklists() const { return m_lists; }
  // The ASes of the last load(), in the order of SeparationOptions::asns,
  // validated here.
  const std::vector<net::AsnResult>& asns() const { return m_asns; }

private:
  std::vector<net::ZoneResult> reread(const std::string& dir, const std::vector<std::string>& countries,
                                      net::Families families) const;

  SeparationOptions m_options;
  FilesFactory m_make_inner;
  std::vector<net::BlocklistResult> m_lists;
  std::vector<net::AsnResult> m_asns;
};

// The report the child writes on its pipe, and its strict reader (exposed
// for tests). Per zone, in any order, a "zone" line: country, family,
// origin, bytes, stale, fetched_at, last_modified, location, error, source, and the
// length of the body that follows the line: the zone's networks as zone
// text (none for failed or absent zones). Then "end N". Or a single
// "error" line. Fields are tab-separated; text fields are printable ASCII
// (the writer replaces anything else by '?') of at most 1024 bytes. The
// bodies are for the strict zone parser; this reader only cuts them out.
// After the zones, per blocklist asked for, in that order, a "list" line:
// name, location (both exactly as the writer prints the expected ones),
// origin (never "absent"), bytes, fetched_at, last_modified, sha256 (empty
// or 64 hex digits), error, and the length of the body that follows: the
// list's networks, one per line (usable lists only), for
// net::parse_blocklist. "end N" then counts zones and lists.
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
struct ReportedList {
  std::string name;     // as expected (this process's own, not the writer's)
  std::string location; // as expected
  net::Origin origin = net::Origin::Failed;
  std::uint64_t bytes = 0;
  std::int64_t fetched_at = 0, last_modified = 0;
  std::string sha256;
  std::string error;
  std::string body; // the networks as text, one per line (usable lists only)
  bool usable() const { return origin != net::Origin::Failed; }
};
// A blocklist the report must hold: its name and location as configured.
struct ExpectedList {
  std::string name;
  std::string location;
};
// After the lists, per AS asked for, in that order, an "asn" line: number,
// allow (0 or 1), both as expected, name, origin, fetched_at,
// last_modified, location, error, and the length of the body that
// follows: the AS's networks, one per line (usable ASes with data only),
// for net::parse_blocklist. "end N" counts them too.
struct ReportedAsn {
  std::uint32_t number = 0;
  bool allow = false;
  std::string name;
  net::Origin origin = net::Origin::Failed;
  std::int64_t fetched_at = 0, last_modified = 0;
  std::string location;
  std::string error;
  std::string body;
};
struct ChildReport {
  std::vector<ReportedZone> zones;
  std::vector<ReportedList> lists;
  std::vector<ReportedAsn> asns;
};
std::string format_child_report(const std::vector<net::ZoneResult>& zones,
                                const std::vector<net::BlocklistResult>& lists = {},
                                const std::vector<net::AsnResult>& asns = {});
std::string format_child_error(const std::string& message);
// The zones, checked against the expected countries and families, and the
// lists, checked against `lists` (in that order); throws Error naming the
// problem for anything else (an "error" line becomes an Error with its
// message).
ChildReport parse_child_report(const std::string& text, const std::vector<std::string>& countries,
                               net::Families families, const std::vector<ExpectedList>& lists,
                               const std::vector<ExpectedAsn>& asns = {});
// The ASes of a parsed report as results, their networks parsed again by
// net::parse_blocklist with `guards`; one that fails is Failed.
std::vector<net::AsnResult> revalidate_asns(const std::vector<ReportedAsn>& asns,
                                            const net::ZoneOptions& guards);
// The lists of a parsed report as results, their networks parsed again by
// net::parse_blocklist with `guards` (its minimum prefixes); a list that
// fails is Failed with "refused on re-validation: " and the parser's
// file-and-line error. Used by SeparatedSource::load (exposed for tests).
std::vector<net::BlocklistResult> revalidate_lists(const std::vector<ReportedList>& lists,
                                                   const net::ZoneOptions& guards);
// The same for a report of zones alone.
std::vector<ReportedZone> parse_child_report(const std::string& text,
                                             const std::vector<std::string>& countries,
                                             net::Families families);

} // namespace geoblock::cli
