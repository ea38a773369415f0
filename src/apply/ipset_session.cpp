#include "apply/ipset_session.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "net/zone.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstdarg>
#include <cstdio>
#include <cstring>

// libipset's headers are C; see docs/architecture.md ("Third-party C
// libraries") for the names that clash in C++ (enum ipset_cmd is also a
// function) and the headers to keep away.
#include <libipset/data.h>
#include <libipset/nf_inet_addr.h>
#include <libipset/nfproto.h>
#include <libipset/session.h>
#include <libipset/types.h>

// Set by CMake from pkg-config (libipset's headers carry no version).
#ifndef GEOBLOCK_LIBIPSET_VERSION
#define GEOBLOCK_LIBIPSET_VERSION "unknown"
#endif

namespace geoblock::apply {

namespace {

std::uint32_t
next_pow2(std::uint64_t v)
{
  std::uint64_t p = 1;
  while (p < v) {
    p <<= 1;
  }
  return static_cast<std::uint32_t>(p);
}

std::uint64_t
number_after(const std::string& text, const std::string& key)
{
  const auto at = text.find(key);
  if (at == std::string::npos) {
    return 0;
  }
  return std::strtoull(text.c_str() + at + key.size(), nullptr, 10);
}

std::string
word_after(const std::string& text, const std::string& key)
{
  const auto at = text.find(key);
  if (at == std::string::npos) {
    return {};
  }
  const auto start = at + key.size();
  const auto end = text.find_first_of(" \n", start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

void
set_address(union nf_inet_addr& out, std::uint32_t a)
{
  out.ip = htonl(a);
}

void
set_address(union nf_inet_addr& out, net::u128 a)
{
  for (int i = 0; i < 4; ++i) {
    out.ip6[i] = htonl(static_cast<std::uint32_t>(a >> (96 - 32 * i)));
  }
}

} // namespace

SetSizing
size_for(std::size_t entries)
{
  SetSizing s;
  const std::uint64_t wanted = entries + entries / 4;
  s.maxelem = static_cast<std::uint32_t>(std::max<std::uint64_t>(65536, wanted));
  s.hashsize = std::clamp<std::uint32_t>(next_pow2(entries / 4), 1024, 1u << 20);
  return s;
}

int
IpsetSession::collect_output(struct ::ipset_session*, void* self, const char* fmt, ...)
{
  auto* me = static_cast<IpsetSession*>(self);
  va_list args;
  va_start(args, fmt);
  char small[1024];
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(small, sizeof small, fmt, copy);
  va_end(copy);
  if (n >= 0 && static_cast<std::size_t>(n) < sizeof small) {
    me->m_output.append(small, static_cast<std::size_t>(n));
  } else if (n >= 0) {
    std::string big(static_cast<std::size_t>(n) + 1, '\0');
    std::vsnprintf(big.data(), big.size(), fmt, args);
    big.pop_back();
    me->m_output += big;
  }
  va_end(args);
  return n;
}

IpsetSession::IpsetSession()
{
  ipset_load_types();
  m_session = ipset_session_init(&IpsetSession::collect_output, this);
  if (m_session == nullptr) {
    throw IpsetError("ipset: cannot initialise a libipset session (out of memory)");
  }
  // Talk to the kernel once now, so a missing ip_set module or missing
  // privileges show up as one clear error before any work is done.
  if (ipset_cmd(m_session, IPSET_CMD_NONE, 0) != 0) {
    const std::string msg = std::string(text::trim(ipset_session_report_msg(m_session)));
    ipset_session_fini(m_session);
    m_session = nullptr;
    throw IpsetError("ipset: cannot talk to the kernel's ip_set module (is it loaded, are you root?): " +
                     msg);
  }
  ipset_session_report_reset(m_session);
}

IpsetSession::~IpsetSession()
{
  if (m_session != nullptr) {
    ipset_session_fini(m_session);
  }
}

void
IpsetSession::fail(const std::string& what)
{
  std::string msg = std::string(text::trim(ipset_session_report_msg(m_session)));
  ipset_session_report_reset(m_session);
  if (msg.empty()) {
    msg = "unknown error";
  }
  throw IpsetError("ipset: " + what + ": " + msg);
}

std::string
IpsetSession::list_text(const std::string& name, bool header_only, bool names_only)
{
  m_output.clear();
  ipset_session_report_reset(m_session);
  ipset_session_output(m_session, IPSET_LIST_PLAIN);
  if (header_only) {
    ipset_envopt_set(m_session, IPSET_ENV_LIST_HEADER);
  }
  if (names_only) {
    ipset_envopt_set(m_session, IPSET_ENV_LIST_SETNAME);
  }
  if (!name.empty()) {
    ipset_session_data_set(m_session, IPSET_SETNAME, name.c_str());
  }
  const int r = ipset_cmd(m_session, IPSET_CMD_LIST, 0);
  ipset_envopt_unset(m_session, IPSET_ENV_LIST_HEADER);
  ipset_envopt_unset(m_session, IPSET_ENV_LIST_SETNAME);
  if (r != 0) {
    fail(name.empty() ? "cannot list sets" : "cannot list set " + name);
  }
  std::string text;
  text.swap(m_output);
  return text;
}

std::vector<std::string>
IpsetSession::set_names()
{
  const std::string text = list_text({}, false, true);
  std::vector<std::string> names;
  text::Lines lines(text);
  for (std::string_view line; lines.next(line);) {
    if (!line.empty()) {
      names.emplace_back(line);
    }
  }
  return names;
}

bool
IpsetSession::exists(const std::string& name)
{
  for (const auto& n : set_names()) {
    if (n == name) {
      return true;
    }
  }
  return false;
}

std::optional<SetHeader>
IpsetSession::header(const std::string& name)
{
  if (!exists(name)) {
    return std::nullopt;
  }
  const std::string text = list_text(name, true, false);
  SetHeader h;
  h.name = name;
  h.type = word_after(text, "Type: ");
  h.family = word_after(text, "Header: family ");
  h.hashsize = number_after(text, " hashsize ");
  h.maxelem = number_after(text, " maxelem ");
  h.memory = number_after(text, "Size in memory: ");
  h.references = number_after(text, "References: ");
  h.entries = number_after(text, "Number of entries: ");
  return h;
}

void
IpsetSession::list_members(const std::string& name, net::NetList& out)
{
  const std::string text = list_text(name, false, false);
  const auto members = text.find("Members:\n");
  if (members == std::string::npos) {
    throw IpsetError("ipset: unexpected listing of set " + name + " (no member list)");
  }
  text::Lines lines(std::string_view(text).substr(members + 9));
  for (std::string_view line; lines.next(line);) {
    std::string problem;
    if (!line.empty() && !net::parse_network(line, out, &problem)) {
      throw IpsetError("ipset: set " + name + " holds an entry geoblock cannot read: '" + std::string(line) +
                       "' (" + problem + ")");
    }
  }
}

void
IpsetSession::create(const std::string& name, net::Family family, SetSizing sizing)
{
  ipset_session_report_reset(m_session);
  const std::uint8_t proto = family == net::Family::V4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
  ipset_session_data_set(m_session, IPSET_SETNAME, name.c_str());
  ipset_session_data_set(m_session, IPSET_OPT_TYPENAME, "hash:net");
  ipset_session_data_set(m_session, IPSET_OPT_FAMILY, &proto);
  if (ipset_type_get(m_session, IPSET_CMD_CREATE) == nullptr) {
    fail("cannot create set " + name + " (hash:net)");
  }
  ipset_session_data_set(m_session, IPSET_OPT_HASHSIZE, &sizing.hashsize);
  ipset_session_data_set(m_session, IPSET_OPT_MAXELEM, &sizing.maxelem);
  if (ipset_cmd(m_session, IPSET_CMD_CREATE, 0) != 0) {
    fail("cannot create set " + name);
  }
}

bool
IpsetSession::destroy(const std::string& name)
{
  if (!exists(name)) {
    return false;
  }
  ipset_session_report_reset(m_session);
  ipset_session_data_set(m_session, IPSET_SETNAME, name.c_str());
  if (ipset_cmd(m_session, IPSET_CMD_DESTROY, 0) != 0) {
    fail("cannot destroy set " + name);
  }
  return true;
}

void
IpsetSession::swap(const std::string& a, const std::string& b)
{
  ipset_session_report_reset(m_session);
  ipset_session_data_set(m_session, IPSET_SETNAME, a.c_str());
  ipset_session_data_set(m_session, IPSET_OPT_SETNAME2, b.c_str());
  if (ipset_cmd(m_session, IPSET_CMD_SWAP, 0) != 0) {
    fail("cannot swap set " + a + " with " + b);
  }
}

void
IpsetSession::rename(const std::string& from, const std::string& to)
{
  ipset_session_report_reset(m_session);
  ipset_session_data_set(m_session, IPSET_SETNAME, from.c_str());
  ipset_session_data_set(m_session, IPSET_OPT_SETNAME2, to.c_str());
  if (ipset_cmd(m_session, IPSET_CMD_RENAME, 0) != 0) {
    fail("cannot rename set " + from + " to " + to);
  }
}

template <class A>
std::size_t
IpsetSession::add_impl(const std::string& name, const std::vector<net::Prefix<A>>& nets)
{
  ipset_session_report_reset(m_session);
  // Look the set's type up once; the per-entry loop then only fills the
  // data block. ipset_type_get() for ADD would ask the kernel for the header
  // on every call for a set this process did not create.
  ipset_session_data_set(m_session, IPSET_SETNAME, name.c_str());
  const struct ipset_type* type = ipset_type_get(m_session, IPSET_CMD_ADD);
  if (type == nullptr) {
    fail("cannot add to set " + name);
  }
  const std::uint8_t proto = net::kFamily<A> == net::Family::V4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
  if (ipset_data_family(ipset_session_data(m_session)) != proto) {
    throw IpsetError("ipset: set " + name + " is not of family " +
                     (proto == NFPROTO_IPV4 ? std::string("inet") : std::string("inet6")));
  }

  // Entries as the kernel sees them: a /0 becomes two /1 halves.
  std::vector<net::Prefix<A>> split;
  const std::vector<net::Prefix<A>>* entries = &nets;
  for (const auto& p : nets) {
    if (p.len == 0) {
      split.reserve(nets.size() + 1);
      for (const auto& q : nets) {
        if (q.len == 0) {
          split.push_back({A{0}, 1});
          split.push_back({static_cast<A>(A{1} << (net::kBits<A> - 1)), 1});
        } else {
          split.push_back(q);
        }
      }
      entries = &split;
      break;
    }
  }

  // Restore mode: a non-zero, increasing line number lets libipset pack
  // consecutive adds to one set into one netlink message per buffer.
  std::uint32_t lineno = 0;
  for (const auto& p : *entries) {
    ++lineno;
    union nf_inet_addr addr {
    };
    set_address(addr, p.addr);
    const std::uint8_t cidr = p.len;
    ipset_session_data_set(m_session, IPSET_SETNAME, name.c_str());
    ipset_session_data_set(m_session, IPSET_OPT_FAMILY, &proto);
    ipset_session_data_set(m_session, IPSET_OPT_TYPE, type);
    ipset_session_data_set(m_session, IPSET_OPT_IP, &addr);
    ipset_session_data_set(m_session, IPSET_OPT_CIDR, &cidr);
    if (ipset_cmd(m_session, IPSET_CMD_ADD, lineno) != 0) {
      break;
    }
  }
  if (ipset_session_report_type(m_session) != IPSET_ERROR && ipset_commit(m_session) == 0 &&
      ipset_session_report_type(m_session) != IPSET_ERROR) {
    ipset_session_report_reset(m_session);
    return entries->size();
  }
  // "Error in line N: ..." names the entry the kernel refused.
  const std::string msg = std::string(text::trim(ipset_session_report_msg(m_session)));
  ipset_session_report_reset(m_session);
  std::string which;
  const auto at = msg.find("Error in line ");
  if (at != std::string::npos) {
    const unsigned long line = std::strtoul(msg.c_str() + at + 14, nullptr, 10);
    if (line >= 1 && line <= entries->size()) {
      which = " " + net::to_string((*entries)[line - 1]);
    }
  }
  throw IpsetError("ipset: cannot add" + which + " to set " + name + ": " +
                   (msg.empty() ? "unknown error" : msg));
}

std::size_t
IpsetSession::add(const std::string& name, const std::vector<net::Prefix4>& nets)
{
  return add_impl(name, nets);
}

std::size_t
IpsetSession::add(const std::string& name, const std::vector<net::Prefix6>& nets)
{
  return add_impl(name, nets);
}

std::string
libipset_version()
{
  return "libipset " GEOBLOCK_LIBIPSET_VERSION " (protocol " + std::to_string(IPSET_PROTOCOL) + ")";
}

} // namespace geoblock::apply
