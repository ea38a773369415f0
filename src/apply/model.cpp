#include "apply/model.hpp"

namespace geoblock::apply {

namespace {

const char*
side_name(Side s)
{
  return s == Side::Source ? "src" : "dst";
}

std::string
ct_names(std::uint32_t mask)
{
  std::string out;
  for (const auto& [bit, name] : {std::pair{k_ct_new, "new"}, std::pair{k_ct_established, "established"},
                                  std::pair{k_ct_related, "related"}, std::pair{k_ct_invalid, "invalid"},
                                  std::pair{k_ct_untracked, "untracked"}}) {
    if ((mask & bit) != 0) {
      out += (out.empty() ? "" : ",") + std::string(name);
    }
  }
  return out;
}

} // namespace

std::string
describe(const Rule& rule)
{
  if (rule.action == Action::Unknown) {
    return rule.text;
  }
  const RuleMatch& m = rule.match;
  std::vector<std::string> parts;
  if (m.in) {
    parts.push_back(std::string("in ") + (m.in->negated ? "!= " : "") + m.in->name);
  }
  if (m.out) {
    parts.push_back(std::string("out ") + (m.out->negated ? "!= " : "") + m.out->name);
  }
  if (!m.proto.empty()) {
    std::string p = m.proto;
    if (!m.dports.empty()) {
      p += " dport ";
      for (std::size_t i = 0; i < m.dports.size(); ++i) {
        p += (i ? "," : "") + std::to_string(m.dports[i].first) +
             (m.dports[i].last != m.dports[i].first ? "-" + std::to_string(m.dports[i].last) : "");
      }
    }
    parts.push_back(p);
  }
  if (m.icmpv6_type) {
    parts.push_back("icmpv6 type " + std::to_string(*m.icmpv6_type));
  }
  if (m.hop_limit) {
    parts.push_back("hop limit " + std::to_string(*m.hop_limit));
  }
  if (m.ct_states != 0) {
    parts.push_back("ct " + ct_names(m.ct_states));
  }
  if (!m.set.empty()) {
    parts.push_back(std::string(side_name(m.set_side)) + " in @" + m.set);
  }
  if (m.net4) {
    parts.push_back(std::string(side_name(m.net_side)) + " " + net::to_string(*m.net4));
  }
  if (m.net6) {
    parts.push_back(std::string(side_name(m.net_side)) + " " + net::to_string(*m.net6));
  }
  if (!m.limit.empty()) {
    parts.push_back("limit " + m.limit +
                    (m.limit_burst != 5 ? " burst " + std::to_string(m.limit_burst) : ""));
  }
  std::string out;
  for (const auto& p : parts) {
    out += (out.empty() ? "" : ", ") + p;
  }
  out += out.empty() ? "" : ": ";
  switch (rule.action) {
  case Action::Drop:
    return out + "drop";
  case Action::Reject:
    return out + "reject";
  case Action::TcpReset:
    return out + "reject with tcp reset";
  case Action::Return:
    return out + "return";
  case Action::Jump:
    return out + "jump " + rule.chain;
  case Action::Log:
    return out + "log \"" + rule.log_prefix + "\"";
  case Action::Classify:
    return out + "jump to its source's chain";
  case Action::Unknown:
    break;
  }
  return out + rule.text;
}

bool
blocks(Action action)
{
  return action == Action::Drop || action == Action::Reject || action == Action::TcpReset;
}

std::string
to_string(const Hook& hook)
{
  return hook.table == "filter" ? hook.chain : hook.table + ":" + hook.chain;
}

std::string
ChainState::where() const
{
  return to_string(hook()) + " (" + net::family_name(family) + ")";
}

const SetState*
FirewallState::set(const std::string& name) const
{
  for (const auto& s : sets) {
    if (s.name == name) {
      return &s;
    }
  }
  return nullptr;
}

const ChainState*
FirewallState::chain(net::Family family, const std::string& table, const std::string& chain_name) const
{
  for (const auto& c : chains) {
    if (c.family == family && c.table == table && c.chain == chain_name) {
      return &c;
    }
  }
  return nullptr;
}

Counters
FirewallState::dropped(net::Family family) const
{
  Counters sum;
  for (const auto& c : chains) {
    if (c.family != family) {
      continue;
    }
    for (std::size_t i = 0; i < c.rules.size() && i < c.counters.size(); ++i) {
      if (blocks(c.rules[i].action)) {
        sum.packets += c.counters[i].packets;
        sum.bytes += c.counters[i].bytes;
      }
    }
  }
  return sum;
}

std::string
to_string(const SourceAction& action)
{
  switch (action.kind) {
  case SourceAction::Kind::Drop:
    return "drop";
  case SourceAction::Kind::Reject:
    return "reject";
  case SourceAction::Kind::Count:
    return "count";
  case SourceAction::Kind::Limit:
    return "limit " + action.rate;
  }
  return "drop";
}

} // namespace geoblock::apply
