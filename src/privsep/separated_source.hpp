// Privilege separation of the sources (docs/security.md): a DataSource
// that runs other ones in a confined child process (runner.hpp) which,
// when geoblock runs as root, becomes the unprivileged fetch-user with no
// capabilities, sets no_new_privs and loads the fetcher's seccomp filter
// before it touches any input. The child runs the sources (which may
// refresh the cache folders they declare, handed to the fetch-user) and
// writes what they return on a pipe (report.hpp): per zone, list and AS a
// strictly parsed record and the networks as text, the same hand-over
// whatever the source. This process never parses network data in place:
// the text goes through the strict zone and list parsers, with the
// configured guards, again. OpenSSH's monitor is the model.
//
// The sources are made by parts, once in this process (with the real
// paths: for what they declare, their cache report, and the CacheOnly
// loads this process may do itself) and once in the child (with the paths
// it reaches things by).
#pragma once

#include "net/data_source.hpp"
#include "net/zone.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace geoblock::privsep {

// Where a source finds, in the process it runs in, what it reads.
struct Paths {
  // The cache directory its folders are in ("" for a source that keeps
  // none): the real one, or in the child the path it reaches it by (the
  // real one when it can, else the descriptor this process opened, or a
  // private scratch directory for a dry run that may not write it).
  std::string cache_dir;
  // The path to open for a file the source declared (DataSource::files):
  // the file itself, or in the child, where the fetch-user may not open
  // it, a private copy of the descriptor this process opened. Messages and
  // caches keep the configured path (this process puts it back into what
  // the child reports). Empty: every file is read by its own path.
  std::function<std::string(const std::string& configured)> reach;

  std::string file(const std::string& configured) const { return reach ? reach(configured) : configured; }
};

// Makes one source of the run for the process it runs in. Each kind of
// result (zones, lists, ASes) comes from one part.
using Part = std::function<std::unique_ptr<net::DataSource>(const Paths& paths)>;

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
  // The cache directory the parts' folders are in.
  std::string dir;
  // A `dir` this user cannot write is replaced by a private temporary one
  // (a dry run by a normal user).
  bool scratch_if_read_only = false;
  // The guards of the re-validation here (minimum prefixes; families are
  // each zone's own).
  net::ZoneOptions guards;
  std::string description; // describe()
  // How long the child may take; nothing: as long as it runs (the sources
  // bound their downloads themselves).
  std::optional<std::chrono::milliseconds> timeout;
};

class SeparatedSource final : public net::DataSource {
public:
  SeparatedSource(SeparationOptions options, std::vector<Part> parts);
  std::string describe() const override { return m_options.description; }
  // A CacheOnly load reads here, with no child, what the parts may read
  // here (DataSource::load_cache_here: no network, nothing but their cache
  // to parse, with the strict parsers, as untrusted files); everything
  // else runs in the child, and this process validates what it hands over
  // again. A child killed by a signal, failing, or writing a report that
  // is not exactly what the parts' expected() names is an Error: nothing
  // of it is used.
  void load_into(const net::LoadRequest& request, net::SourceData& out) override;
  net::SourceData expected(const net::LoadRequest& request) const override;
  // The parts' caches, read here (metadata and hashes).
  std::optional<net::CacheReport> cache(std::int64_t now) const override;
  std::vector<std::string> cache_folders() const override;
  std::vector<std::string> files() const override;

private:
  SeparationOptions m_options;
  std::vector<Part> m_parts;
  std::vector<std::unique_ptr<net::DataSource>> m_here; // the parts made with the real paths
};

} // namespace geoblock::privsep
