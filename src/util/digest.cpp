#include "util/digest.hpp"

#include "core/error.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace geoblock::util {

namespace {

std::string
digest_hex(const EVP_MD* md, std::string_view data)
{
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) {
    throw Error("cannot compute a message digest (libcrypto)");
  }
  static const char hex[] = "0123456789abcdef";
  std::string s;
  s.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    s += hex[out[i] >> 4];
    s += hex[out[i] & 15];
  }
  return s;
}

} // namespace

std::string
sha256_hex(std::string_view data)
{
  return digest_hex(EVP_sha256(), data);
}

std::string
md5_hex(std::string_view data)
{
  return digest_hex(EVP_md5(), data);
}

std::string
libcrypto_version()
{
  const char* running = OpenSSL_version(OPENSSL_VERSION_STRING);
  std::string text = std::string("libcrypto ") + running;
  if (std::string_view(running) != OPENSSL_VERSION_STR) {
    text += " (built with " OPENSSL_VERSION_STR ")";
  }
  return text;
}

} // namespace geoblock::util
