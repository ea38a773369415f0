#include "apply/backend.hpp"

namespace geoblock::apply {

namespace {

class IptablesBackend final : public Backend {
public:
  const char* name() const override { return "iptables"; }
  LiveState read(const ApplyOptions& options, bool with_members) override
  {
    return read_live_state(options, with_members);
  }
  ApplyReport apply(const net::NetList& aggregated, const ApplyOptions& options) override
  {
    return apply::apply(aggregated, options);
  }
  RemoveReport remove(const ApplyOptions& options) override { return apply::remove(options); }
};

} // namespace

std::unique_ptr<Backend>
make_iptables_backend()
{
  return std::make_unique<IptablesBackend>();
}

} // namespace geoblock::apply
