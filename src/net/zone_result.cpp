#include "net/zone_result.hpp"

namespace geoblock::net {

const char*
origin_name(Origin o)
{
  switch (o) {
  case Origin::Downloaded:
    return "downloaded";
  case Origin::NotModified:
    return "not modified";
  case Origin::StaleCache:
    return "stale cache";
  case Origin::Failed:
    return "failed";
  case Origin::Absent:
    return "absent";
  case Origin::Local:
    return "local";
  case Origin::Refused:
    return "refused";
  }
  return "?";
}

} // namespace geoblock::net
