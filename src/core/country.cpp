#include "core/country.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <unordered_set>

namespace geoblock {

namespace {

// ISO 3166-1 alpha-2, officially assigned codes (249). User-assigned codes
// (xk) and registry pseudo-codes (eu, ap) are not countries and are refused.
constexpr std::string_view k_codes =
    "ad ae af ag ai al am ao aq ar as at au aw ax az "
    "ba bb bd be bf bg bh bi bj bl bm bn bo bq br bs bt bv bw by bz "
    "ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz "
    "de dj dk dm do dz ec ee eg eh er es et fi fj fk fm fo fr "
    "ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy "
    "hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp "
    "ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly "
    "ma mc md me mf mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz "
    "na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa "
    "re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st sv sx sy sz "
    "tc td tf tg th tj tk tl tm tn to tr tt tv tw tz ua ug um us uy uz "
    "va vc ve vg vi vn vu wf ws ye yt za zm zw";

std::vector<std::string>
make_list()
{
  std::vector<std::string> codes;
  for (std::size_t i = 0; i + 2 <= k_codes.size(); i += 3) {
    codes.emplace_back(k_codes.substr(i, 2));
  }
  std::sort(codes.begin(), codes.end());
  return codes;
}

bool
is_blank(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

} // namespace

const std::vector<std::string>&
all_countries()
{
  static const std::vector<std::string> codes = make_list();
  return codes;
}

bool
normalize_country(std::string_view code, std::string& out, std::string* problem)
{
  while (!code.empty() && is_blank(code.front())) {
    code.remove_prefix(1);
  }
  while (!code.empty() && is_blank(code.back())) {
    code.remove_suffix(1);
  }
  std::string lower;
  for (char c : code) {
    lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const bool letters = lower.size() == 2 &&
                       std::all_of(lower.begin(), lower.end(), [](char c) { return c >= 'a' && c <= 'z'; });
  if (!letters) {
    if (problem) {
      *problem = "'" + std::string(code) + "' is not a country code (two ASCII letters, e.g. 'cn')";
    }
    return false;
  }
  const auto& codes = all_countries();
  if (!std::binary_search(codes.begin(), codes.end(), lower)) {
    if (problem) {
      *problem = "'" + std::string(code) + "' is not an ISO 3166-1 alpha-2 country code";
    }
    return false;
  }
  out = std::move(lower);
  return true;
}

bool
is_country_code(std::string_view code)
{
  std::string out;
  return normalize_country(code, out);
}

std::vector<std::string>
parse_countries(const std::vector<std::string>& codes)
{
  std::vector<std::string> result;
  std::unordered_set<std::string> seen;
  for (const std::string& item : codes) {
    std::size_t i = 0;
    while (i < item.size()) {
      while (i < item.size() && (item[i] == ',' || is_blank(item[i]))) {
        ++i;
      }
      const std::size_t start = i;
      while (i < item.size() && item[i] != ',' && !is_blank(item[i])) {
        ++i;
      }
      if (i == start) {
        break;
      }
      std::string code;
      std::string problem;
      if (!normalize_country(std::string_view(item).substr(start, i - start), code, &problem)) {
        throw UsageError(problem);
      }
      if (seen.insert(code).second) {
        result.push_back(std::move(code));
      }
    }
  }
  if (result.empty()) {
    throw UsageError("no country codes given");
  }
  return result;
}

} // namespace geoblock
