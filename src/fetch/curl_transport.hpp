// The real HttpTransport: libcurl's multi interface. The only file that
// includes libcurl is curl_transport.cpp.
#pragma once

#include "fetch/http_client.hpp"

#include <memory>
#include <string>

namespace geoblock::fetch {

// A transport with at most `connections` connections per host and in its
// cache (connections are reused across attempts and across the
// http_get_all calls that share it). Throws FetchError when libcurl cannot
// start.
//
// What it reports: every complete HTTP response with its status (bodies
// of non-2xx answers dropped); a file:// URL as 200, or 404 when the file
// does not exist; a file that exists but cannot be read as Permanent,
// naming the path, the reason and the user; the size limit as TooLarge,
// enforced while receiving and on an announced Content-Length; timeouts,
// refused, reset or cut connections and other network errors as
// Transient; a malformed URL, an unsupported protocol, a failed TLS
// verification, an unreadable CA file and too many redirects as Permanent.
std::unique_ptr<HttpTransport> make_curl_transport(int connections);

// "libcurl 7.88.1 (OpenSSL/3.0.19)": the libcurl this process runs with and
// its TLS backend, and the version built against when that differs (for
// geoblock --version).
std::string libcurl_version();

} // namespace geoblock::fetch
