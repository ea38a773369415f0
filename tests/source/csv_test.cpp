#include "core/error.hpp"
#include "source/csv.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

using geoblock::ParseError;
using geoblock::source::CsvReader;
using testing::ElementsAre;
using testing::HasSubstr;

namespace {

using Records = std::vector<std::vector<std::string>>;

// Reads all records, feeding the reader `chunk` bytes at a time.
Records
read_all(const std::string& text, std::size_t chunk = 1 << 20, std::vector<std::size_t>* lines = nullptr)
{
  std::size_t offset = 0;
  CsvReader csv(
      [&](char* buf, std::size_t n) {
        const std::size_t k = std::min({n, chunk, text.size() - offset});
        std::memcpy(buf, text.data() + offset, k);
        offset += k;
        return k;
      },
      "test.csv");
  Records out;
  std::vector<std::string_view> fields;
  while (csv.next(fields)) {
    out.emplace_back(fields.begin(), fields.end());
    if (lines) {
      lines->push_back(csv.line());
    }
  }
  return out;
}

std::string
error_of(const std::string& text)
{
  try {
    read_all(text);
  } catch (const ParseError& e) {
    return e.what();
  }
  return "no error";
}

} // namespace

TEST(Csv, SplitsPlainFieldsAndKeepsEmptyOnes)
{
  const Records r = read_all("network,geoname_id,registered\n1.0.0.0/24,,2077456\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_THAT(r[1], ElementsAre("1.0.0.0/24", "", "2077456"));
}

TEST(Csv, QuotedFieldKeepsCommasAndDoubledQuotes)
{
  const Records r = read_all("604,en,\"Bonaire, Sint Eustatius, and Saba\",\"say \"\"hi\"\"\",0\n");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_THAT(r[0], ElementsAre("604", "en", "Bonaire, Sint Eustatius, and Saba", "say \"hi\"", "0"));
}

TEST(Csv, QuotedFieldMaySpanLinesAndLineNumbersFollow)
{
  std::vector<std::size_t> lines;
  const Records r = read_all("a,\"two\nlines\"\nb,c\n\nd,e\n", 1 << 20, &lines);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_THAT(r[0], ElementsAre("a", "two\nlines"));
  EXPECT_THAT(r[2], ElementsAre("d", "e"));
  EXPECT_THAT(lines, ElementsAre(1u, 3u, 5u));
}

TEST(Csv, CrlfAndMissingFinalNewline)
{
  const Records r = read_all("a,\"b\"\r\nc,d\r\ne,f");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_THAT(r[0], ElementsAre("a", "b"));
  EXPECT_THAT(r[1], ElementsAre("c", "d"));
  EXPECT_THAT(r[2], ElementsAre("e", "f"));
}

TEST(Csv, ResultDoesNotDependOnHowTheInputIsChunked)
{
  std::string text = "geoname_id,name\n";
  for (int i = 0; i < 300; ++i) {
    text += std::to_string(i) + (i % 3 ? ",plain\r\n" : ",\"q, \"\"x\"\"\nline\"\n");
  }
  const Records whole = read_all(text);
  ASSERT_EQ(whole.size(), 301u);
  for (std::size_t chunk : {1u, 2u, 3u, 7u, 64u}) {
    EXPECT_EQ(read_all(text, chunk), whole) << "chunk " << chunk;
  }
}

TEST(Csv, LongRecordsGrowTheBuffer)
{
  const std::string big(300000, 'x');
  const Records r = read_all("a," + big + "\n\"" + big + "\",b\n", 4096);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0][1], big);
  EXPECT_EQ(r[1][0], big);
}

TEST(Csv, MalformedQuotingIsAnErrorNamingTheLine)
{
  EXPECT_THAT(error_of("a,b\nc,\"open\nd,e\n"), HasSubstr("test.csv:2: unterminated quoted field"));
  EXPECT_THAT(error_of("a,\"b\"x,c\n"), HasSubstr("test.csv:1: text after a closing quote"));
  EXPECT_THAT(error_of("ok\nab\"c,d\n"), HasSubstr("test.csv:2: quote inside an unquoted field"));
}

TEST(Csv, RecordWithoutEndIsRefused)
{
  EXPECT_THAT(error_of(std::string(CsvReader::k_max_record + 10, 'y')), HasSubstr("record longer than"));
}

TEST(Csv, ColumnsAreFoundByHeaderName)
{
  auto csv = CsvReader::from_string("x,network,geoname_id\n", "blocks.csv");
  std::vector<std::string_view> header;
  ASSERT_TRUE(csv.next(header));
  EXPECT_EQ(csv.column(header, "geoname_id"), 2u);
  EXPECT_EQ(csv.column(header, "network"), 1u);
  try {
    csv.column(header, "registered_country_geoname_id");
    FAIL() << "missing column accepted";
  } catch (const ParseError& e) {
    EXPECT_THAT(e.what(), HasSubstr("blocks.csv:1: no column 'registered_country_geoname_id'"));
  }
}
