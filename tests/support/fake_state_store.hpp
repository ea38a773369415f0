// The state file in memory (flow/state_store.hpp): the command flow's
// tests read and write what the last update recorded without a disk.
#pragma once

#include "flow/report.hpp"
#include "flow/state_store.hpp"

#include <memory>
#include <string>

namespace geoblock::test {

struct MemoryState {
  util::Json state;    // null: nothing recorded yet
  std::string metrics; // the last metrics rendered
  int saves = 0;
};

class FakeStateStore final : public flow::StateStore {
public:
  explicit FakeStateStore(MemoryState& memory) : m_memory(memory) {}
  std::string where() const override { return "(memory)"; }
  util::Json load() override { return m_memory.state; }
  void save(const util::Json& state) override
  {
    m_memory.state = state;
    ++m_memory.saves;
    save_metrics(state);
  }
  void save_metrics(const util::Json& state) override { m_memory.metrics = flow::format_metrics(state); }

private:
  MemoryState& m_memory;
};

// An Environment::state_store that keeps everything in `memory`.
inline auto
memory_state(MemoryState& memory)
{
  return [&memory](const flow::Settings&) -> std::unique_ptr<flow::StateStore> {
    return std::make_unique<FakeStateStore>(memory);
  };
}

} // namespace geoblock::test
