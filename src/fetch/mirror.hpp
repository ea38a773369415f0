// `geoblock mirror`: the last good zones, written as an ipdeny-compatible
// tree that hosts of a fleet fetch with `base-url` pointing at it.
//
// Layout: exactly the one the fetcher reads under base-url (zone_url and
// md5sum_url of fetcher.hpp with DIR as the base), so nothing changes on
// the fleet's side:
//   DIR/ipblocks/data/countries/cc.zone   IPv4 zone, one network per line
//   DIR/ipblocks/data/countries/MD5SUM    "<md5>  cc.zone" for every zone there
//   DIR/ipv6/ipaddresses/blocks/cc.zone   IPv6
//   DIR/ipv6/ipaddresses/blocks/MD5SUM
// A zone's file holds its networks as read (one per line, canonical text)
// and carries the data's upstream Last-Modified (else its fetch time) as
// its mtime, so a web server serving DIR gives stable ETags and
// Last-Modified, and the fleet's conditional GETs get 304s.
//
// Every file is replaced atomically (temporary file, fsync, rename); a zone
// whose content did not change keeps its file and mtime, and a file whose
// content changed always gets a later mtime than before (at least one
// second), so its ETag and Last-Modified change with it. Each MD5SUM is
// written last, after every zone file of the run is in place and durable,
// and lists every zone file of its directory: a reader never finds an
// MD5SUM naming content that is not there yet.
#pragma once

#include "net/zone_result.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace geoblock::fetch {

struct MirrorOptions {
  std::int64_t now = 0; // the mtime of zones whose data time is unknown
  // Called after each file is replaced, in order (tests check that MD5SUM
  // comes last; --verbose prints it).
  std::function<void(const std::string& path)> on_replace;
};

struct MirrorSummary {
  std::size_t written = 0;   // zone files replaced
  std::size_t unchanged = 0; // zone files kept (same content)
  std::size_t skipped = 0;   // zones without data (failed or absent)
  std::size_t md5sums = 0;   // MD5SUM files replaced
};

// Writes the usable `zones` (every origin but Failed and Absent) under
// `dir`, creating the directories. Throws Error naming the file when one
// cannot be written; the files replaced until then are complete.
MirrorSummary write_mirror(const std::vector<net::ZoneResult>& zones, const std::string& dir,
                           const MirrorOptions& options);

// The zone file text of `nets` of `family`: "network\n" per network.
std::string zone_text(const net::NetList& nets, net::Family family);

} // namespace geoblock::fetch
