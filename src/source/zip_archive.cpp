#include "source/zip_archive.hpp"

#include "core/error.hpp"

#include <zip.h>

#include <algorithm>

namespace geoblock::source {

namespace {

std::string
libzip_error(int code)
{
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

std::string
size_text(std::uint64_t bytes)
{
  return bytes >= (std::uint64_t{1} << 20) ? std::to_string(bytes >> 20) + " MiB"
                                           : std::to_string(bytes) + " bytes";
}

} // namespace

std::string_view
ZipEntry::base_name() const
{
  std::string_view n = name;
  const std::size_t slash = n.rfind('/');
  return slash == std::string_view::npos ? n : n.substr(slash + 1);
}

bool
is_safe_member_name(std::string_view name)
{
  if (name.empty() || name.front() == '/') {
    return false;
  }
  for (const char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\') {
      return false;
    }
  }
  // "C:..." is absolute on Windows; some extractors honour it anywhere.
  if (name.size() >= 2 && name[1] == ':') {
    return false;
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('/', start);
    if (end == std::string_view::npos) {
      end = name.size();
    }
    const std::string_view part = name.substr(start, end - start);
    // An empty component is only allowed as the trailing '/' of a directory.
    if ((part.empty() && end != name.size()) || part == "." || part == "..") {
      return false;
    }
    start = end + 1;
  }
  return true;
}

// ---------------------------------------------------------------- reading

void
ZipReader::Close::operator()(zip* z) const
{
  // Read-only: nothing to write back, so discard (zip_close could fail).
  zip_discard(z);
}

ZipReader::ZipReader(const std::string& path) : m_path(path)
{
  int code = 0;
  // ZIP_CHECKCONS compares every central directory record with its local
  // header: a doctored directory (sizes, offsets, names) is refused here.
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (!z) {
    if (code == ZIP_ER_NOZIP) {
      throw Error(path + ": not a zip archive or its central directory is corrupt");
    }
    if (code == ZIP_ER_EXISTS) {
      throw Error(path + ": corrupt zip archive: two members have the same name");
    }
    if (code == ZIP_ER_INCONS) {
      throw Error(path + ": corrupt zip archive: the central directory does not match the members");
    }
    throw Error(path + ": cannot open zip archive: " + libzip_error(code));
  }
  m_zip.reset(z);

  const zip_int64_t count = zip_get_num_entries(z, 0);
  if (count < 0) {
    throw Error(path + ": cannot list the zip archive");
  }
  m_entries.reserve(static_cast<std::size_t>(count));
  for (zip_uint64_t i = 0; i < static_cast<zip_uint64_t>(count); ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    // ENC_RAW: the name exactly as stored, so checks see what an extractor would.
    if (zip_stat_index(z, i, ZIP_FL_ENC_RAW, &st) != 0 || !(st.valid & ZIP_STAT_NAME) ||
        !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE)) {
      throw Error(path + ": corrupt zip archive: cannot read member " + std::to_string(i));
    }
    ZipEntry e;
    e.index = i;
    e.name = st.name;
    e.size = st.size;
    e.compressed = st.comp_size;
    e.mtime = (st.valid & ZIP_STAT_MTIME) ? static_cast<std::int64_t>(st.mtime) : 0;
    if (!is_safe_member_name(e.name)) {
      throw Error(path + ": unsafe member name '" + e.name + "' (absolute, '..' or control characters)");
    }
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
      throw Error(path + ":" + e.name + ": encrypted members are not supported");
    }
    if (!m_index.emplace(e.name, m_entries.size()).second) {
      throw Error(path + ": corrupt zip archive: two members have the same name ('" + e.name + "')");
    }
    m_entries.push_back(std::move(e));
  }
}

ZipReader::ZipReader(ZipReader&&) noexcept = default;
ZipReader& ZipReader::operator=(ZipReader&&) noexcept = default;
ZipReader::~ZipReader() = default;

const ZipEntry*
ZipReader::find(std::string_view name) const
{
  const auto it = m_index.find(name);
  return it == m_index.end() ? nullptr : &m_entries[it->second];
}

const ZipEntry*
ZipReader::find_base_name(std::string_view base) const
{
  const ZipEntry* found = nullptr;
  for (const ZipEntry& e : m_entries) {
    if (!e.directory() && e.base_name() == base) {
      if (found) {
        throw Error(m_path + ": two members are named " + std::string(base) + ": '" + found->name +
                    "' and '" + e.name + "'");
      }
      found = &e;
    }
  }
  return found;
}

ZipMemberStream
ZipReader::open(const ZipEntry& entry, const ZipLimits& limits) const
{
  const std::string name = m_path + ":" + entry.name;
  if (entry.size > limits.max_member_bytes) {
    throw Error(name + ": member too large: " + size_text(entry.size) + " declared, limit " +
                size_text(limits.max_member_bytes));
  }
  if (entry.size > limits.ratio_floor &&
      entry.size / std::max<std::uint64_t>(entry.compressed, 1) > limits.max_ratio) {
    throw Error(name + ": refusing a likely zip bomb: " + std::to_string(entry.size) +
                " bytes compressed into " + std::to_string(entry.compressed) + " (ratio over " +
                std::to_string(limits.max_ratio) + ")");
  }
  zip_file_t* f = zip_fopen_index(m_zip.get(), entry.index, 0);
  if (!f) {
    throw Error(name + ": cannot open member: " + zip_strerror(m_zip.get()));
  }
  return ZipMemberStream(f, name, entry.size);
}

std::string
ZipReader::read(const ZipEntry& entry, const ZipLimits& limits) const
{
  ZipMemberStream in = open(entry, limits);
  std::string data;
  // The declared size was checked against the limit, so reserving it is safe.
  data.resize(static_cast<std::size_t>(entry.size));
  std::size_t done = 0;
  while (done < data.size()) {
    const std::size_t n = in.read(data.data() + done, data.size() - done);
    if (n == 0) {
      break;
    }
    done += n;
  }
  char probe = 0;
  if (in.read(&probe, 1) != 0) {
    // Unreachable: read() never returns more than the declared size.
    throw Error(in.name() + ": holds more data than declared");
  }
  return data;
}

ZipMemberStream::ZipMemberStream(zip_file* file, std::string name, std::uint64_t size)
    : m_file(file), m_name(std::move(name)), m_size(size)
{
}

ZipMemberStream::ZipMemberStream(ZipMemberStream&& other) noexcept
    : m_file(other.m_file), m_name(std::move(other.m_name)), m_size(other.m_size), m_done(other.m_done),
      m_finished(other.m_finished)
{
  other.m_file = nullptr;
}

ZipMemberStream::~ZipMemberStream()
{
  if (m_file) {
    zip_fclose(m_file);
  }
}

std::size_t
ZipMemberStream::read(char* buf, std::size_t n)
{
  if (m_finished || n == 0) {
    return 0;
  }
  const std::uint64_t left = m_size - m_done;
  if (left == 0) {
    // Past the declared size the stream must end; reading on is what makes
    // libzip check the CRC and detect a member that inflates to more than it
    // declared (a zip bomb lying about its size).
    char extra = 0;
    const zip_int64_t r = zip_fread(m_file, &extra, 1);
    if (r < 0) {
      throw Error(m_name + ": corrupt member: " + zip_file_strerror(m_file));
    }
    if (r > 0) {
      throw Error(m_name + ": holds more data than its declared " + std::to_string(m_size) + " bytes");
    }
    m_finished = true;
    return 0;
  }
  const zip_uint64_t want = std::min<std::uint64_t>(n, left);
  const zip_int64_t r = zip_fread(m_file, buf, want);
  if (r < 0) {
    throw Error(m_name + ": corrupt member: " + zip_file_strerror(m_file));
  }
  if (r == 0) {
    throw Error(m_name + ": truncated member: " + std::to_string(m_done) + " of " + std::to_string(m_size) +
                " declared bytes");
  }
  m_done += static_cast<std::uint64_t>(r);
  return static_cast<std::size_t>(r);
}

// ---------------------------------------------------------------- writing

ZipWriter::ZipWriter(const std::string& path) : m_path(path)
{
  int code = 0;
  m_zip = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (!m_zip) {
    throw Error(path + ": cannot create zip archive: " + libzip_error(code));
  }
}

ZipWriter::~ZipWriter()
{
  if (m_zip) {
    zip_discard(m_zip);
  }
}

void
ZipWriter::add(const std::string& name, std::string data, std::int64_t mtime, Compression compression)
{
  if (!m_zip) {
    throw Error(m_path + ": zip archive already written");
  }
  if (!is_safe_member_name(name)) {
    throw Error(m_path + ": unsafe member name '" + name + "'");
  }
  m_data.push_back(std::make_unique<std::string>(std::move(data)));
  const std::string& stored = *m_data.back();
  zip_source_t* src = zip_source_buffer(m_zip, stored.data(), stored.size(), 0);
  if (!src) {
    throw Error(m_path + ":" + name + ": " + zip_strerror(m_zip));
  }
  const zip_int64_t index = zip_file_add(m_zip, name.c_str(), src, ZIP_FL_ENC_UTF_8);
  if (index < 0) {
    zip_source_free(src);
    throw Error(m_path + ":" + name + ": cannot add member: " + zip_strerror(m_zip));
  }
  const auto i = static_cast<zip_uint64_t>(index);
  const bool deflate = compression == Compression::Deflate;
  if (zip_set_file_compression(m_zip, i, deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, deflate ? 9 : 0) != 0 ||
      zip_file_set_mtime(m_zip, i, static_cast<time_t>(mtime), 0) != 0) {
    throw Error(m_path + ":" + name + ": " + zip_strerror(m_zip));
  }
}

void
ZipWriter::commit()
{
  if (!m_zip) {
    throw Error(m_path + ": zip archive already written");
  }
  if (zip_close(m_zip) != 0) {
    const std::string why = zip_strerror(m_zip);
    // zip_close leaves the handle open on failure; the destructor discards it.
    throw Error(m_path + ": cannot write zip archive: " + why);
  }
  m_zip = nullptr;
  m_data.clear();
}

std::string
libzip_version()
{
  std::string text = std::string("libzip ") + zip_libzip_version();
  if (std::string_view(zip_libzip_version()) != LIBZIP_VERSION) {
    text += " (built with " LIBZIP_VERSION ")";
  }
  return text;
}

} // namespace geoblock::source
