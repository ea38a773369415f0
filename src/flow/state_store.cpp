#include "flow/state_store.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "flow/report.hpp"
#include "util/atomic_file.hpp"
#include "util/file.hpp"

#include <filesystem>

namespace geoblock::flow {

namespace {

class FileStateStore final : public StateStore {
public:
  explicit FileStateStore(const Settings& s)
      : m_dir(s.raw.state_dir), m_path(s.raw.state_dir + "/state.json"), m_metrics(s.raw.metrics_file)
  {
  }

  std::string where() const override { return m_path; }

  util::Json load() override
  {
    if (!std::filesystem::exists(m_path)) {
      return util::Json();
    }
    try {
      return util::Json::parse(util::read_file(m_path), m_path);
    } catch (const Error& e) {
      log::warning(std::string(e.what()) + " (ignored)");
      return util::Json();
    }
  }

  void save(const util::Json& state) override
  {
    util::make_dirs(m_dir, 0755);
    util::write_file_atomic(m_path, state.dump(2), 0644);
    save_metrics(state);
  }

  void save_metrics(const util::Json& state) override
  {
    if (!m_metrics.empty()) {
      util::write_file_atomic(m_metrics, format_metrics(state), 0644);
    }
  }

private:
  std::string m_dir;
  std::string m_path;
  std::string m_metrics;
};

} // namespace

std::unique_ptr<StateStore>
file_state_store(const Settings& s)
{
  return std::make_unique<FileStateStore>(s);
}

} // namespace geoblock::flow
