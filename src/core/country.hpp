// Country codes: ISO 3166-1 alpha-2, as ipdeny.com names its zone files.
// Codes are compared case-insensitively and handled in lower case.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace geoblock {

// Every officially assigned ISO 3166-1 alpha-2 code, lower case, sorted.
const std::vector<std::string>& all_countries();

// True for a known code in any case ("CN", "cn", "Cn").
bool is_country_code(std::string_view code);

// The lower-case form of a known code. Returns false and fills `problem`
// ("'c1' is not two ASCII letters", "'xx' is not an ISO 3166-1 alpha-2
// country code") otherwise. Surrounding blanks are ignored.
bool normalize_country(std::string_view code, std::string& out, std::string* problem = nullptr);

// Validates a list of codes: lower case, first occurrence kept, duplicates
// removed, order preserved. Each element may itself be a comma- or
// blank-separated list ("cn,ru us"). Throws UsageError naming the first bad
// code; an empty result is an error too.
std::vector<std::string> parse_countries(const std::vector<std::string>& codes);

} // namespace geoblock
