// The state of the last successful update (state-dir/state.json: what was
// applied, with which backend and set names, the zones' addresses that
// max-shrink compares) and the metrics file rendered from it, behind a
// small interface: the commands read and write through it, the tests use
// an in-memory one (tests/support/fake_state_store.hpp).
#pragma once

#include "flow/config.hpp"
#include "util/json.hpp"

#include <memory>
#include <string>

namespace geoblock::flow {

class StateStore {
public:
  virtual ~StateStore() = default;
  // Where it lives, for messages ("/var/lib/geoblock/state.json").
  virtual std::string where() const = 0;
  // The last state document, or null when there is none (or it is
  // unreadable: then a warning, and the run goes on as after a first
  // install).
  virtual util::Json load() = 0;
  // Replaces it, atomically.
  virtual void save(const util::Json& state) = 0;
  // The metrics file (metrics-file; none: nothing), from a state document.
  virtual void save_metrics(const util::Json& state) = 0;
};

// state-dir/state.json and metrics-file, written atomically (node_exporter
// never sees half a file).
std::unique_ptr<StateStore> file_state_store(const Settings& s);

} // namespace geoblock::flow
