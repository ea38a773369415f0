#include "source/gunzip.hpp"

#include "core/error.hpp"

#include <zlib.h>

namespace geoblock::source {

namespace {

// RAII over a z_stream set up for inflating.
class Inflater {
public:
  Inflater()
  {
    // 15 + 16: a gzip header and trailer (CRC-32, length) are expected.
    if (inflateInit2(&m_z, 15 + 16) != Z_OK) {
      throw Error("zlib: inflateInit2 failed");
    }
  }
  ~Inflater() { inflateEnd(&m_z); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  z_stream& get() { return m_z; }

private:
  z_stream m_z{};
};

} // namespace

bool
is_gzip(std::string_view data)
{
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
         static_cast<unsigned char>(data[1]) == 0x8b;
}

std::string
gunzip(std::string_view data, const std::string& name, std::size_t max_bytes)
{
  if (!is_gzip(data)) {
    throw Error(name + ": not gzip data");
  }
  std::string out;
  while (!data.empty()) {
    Inflater inflater;
    z_stream& z = inflater.get();
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(std::min<std::size_t>(data.size(), 1u << 30));
    int rc = Z_OK;
    char buf[65536];
    while (rc != Z_STREAM_END) {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      rc = inflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END) {
        throw Error(name + ": damaged gzip data" + (z.msg ? std::string(": ") + z.msg : std::string()) +
                    (rc == Z_BUF_ERROR ? " (truncated?)" : ""));
      }
      const std::size_t got = sizeof buf - z.avail_out;
      if (out.size() + got > max_bytes) {
        throw Error(name + ": inflates to more than " + std::to_string(max_bytes) + " bytes");
      }
      out.append(buf, got);
      if (rc == Z_OK && got == 0 && z.avail_in == 0) {
        throw Error(name + ": the gzip data is cut short (truncated)");
      }
    }
    const std::size_t used =
        static_cast<std::size_t>(z.next_in - reinterpret_cast<const Bytef*>(data.data()));
    data.remove_prefix(used);
    // Another member may follow (concatenated gzip files); trailing zero
    // padding is tolerated.
    if (data.find_first_not_of('\0') == std::string_view::npos) {
      break;
    }
    if (!is_gzip(data)) {
      throw Error(name + ": data after the end of the gzip stream");
    }
  }
  return out;
}

std::string
zlib_library_version()
{
  return std::string("zlib ") + zlibVersion();
}

} // namespace geoblock::source
