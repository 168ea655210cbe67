// Tests for framework/safetensors: round trips, the exact bytes the writer lays out, a hand-built
// golden file (so the reader is checked against the format, not only against our own writer),
// atomic replacement, and a catalogue of hostile files that must each fail with one InputError
// line naming the file — never a crash or a huge allocation.
#include <doctest/doctest.h>

#include "tests/testing.h"

#include "framework/check.h"
#include "framework/safetensors.h"

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace fs = std::filesystem;
using dale::InputError;
using dale::NamedTensor;
using dale::SafetensorsFile;

namespace {
using dale::test::TempDir;


std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// A 64-bit little-endian integer, byte by byte (independent of the host's byte order).
std::string le64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A safetensors file from a header text and `buffer_bytes` zero bytes of data.
std::string st_file(const std::string& header, size_t buffer_bytes = 0) {
  return le64(header.size()) + header + std::string(buffer_bytes, '\0');
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Reading `path` throws one InputError line that starts with the path and contains `needle`.
void check_rejected(const std::string& path, const std::string& needle) {
  std::string msg;
  try {
    dale::read_safetensors(path);
  } catch (const InputError& e) {
    msg = e.what();
  }
  INFO("message: " << msg);
  REQUIRE(!msg.empty());
  CHECK(msg.starts_with(path + ": "));
  CHECK(msg.find('\n') == std::string::npos);
  CHECK(msg.find(needle) != std::string::npos);
}

SafetensorsFile sample() {
  const float inf = std::numeric_limits<float>::infinity();
  SafetensorsFile f;
  f.tensors = {
      {"scalar", {}, {3.5f}},
      {"fc0.Wex", {3}, {1.0f, -0.0f, 1e-40f}},  // a denormal and a negative zero survive bit for bit
      {"fc0.bias", {2, 3}, {1, 2, 3, 4, 5, std::nanf("")}},
      {"empty", {0, 4}, {}},
      {"cube", {2, 1, 2}, {inf, -inf, 0.25f, 7.0f}},
  };
  f.metadata = {{"format", "pt"}, {"step", "12"}};
  return f;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
TEST_CASE("safetensors: round trip keeps names, order, shapes, bits and metadata") {
  TempDir dir;
  const SafetensorsFile in = sample();
  dale::write_safetensors(dir / "ckpt.safetensors", in);
  const SafetensorsFile out = dale::read_safetensors(dir / "ckpt.safetensors");
  REQUIRE(out.tensors.size() == in.tensors.size());
  for (size_t i = 0; i < in.tensors.size(); ++i) {
    INFO("tensor " << in.tensors[i].name);
    CHECK(out.tensors[i].name == in.tensors[i].name);
    CHECK(out.tensors[i].shape == in.tensors[i].shape);
    CHECK(same_bits(out.tensors[i].data, in.tensors[i].data));
  }
  CHECK(out.metadata == in.metadata);
  REQUIRE(out.find("fc0.bias") != nullptr);
  CHECK(out.find("fc0.bias")->shape == std::vector<int64_t>{2, 3});
  CHECK(out.find("missing") == nullptr);

  // No tensors, no metadata: still a valid file.
  dale::write_safetensors(dir / "nothing.safetensors", SafetensorsFile{});
  const SafetensorsFile none = dale::read_safetensors(dir / "nothing.safetensors");
  CHECK(none.tensors.empty());
  CHECK(none.metadata.empty());
}

TEST_CASE("safetensors: the writer's bytes follow the format") {
  TempDir dir;
  const SafetensorsFile in = sample();
  dale::write_safetensors(dir / "ckpt.safetensors", in);
  const std::string bytes = read_bytes(dir / "ckpt.safetensors");
  REQUIRE(bytes.size() >= 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  CHECK(n % 8 == 0);  // so the data buffer starts 8-byte aligned

  size_t data_bytes = 0;
  for (const NamedTensor& t : in.tensors) data_bytes += t.data.size() * sizeof(float);
  REQUIRE(bytes.size() == 8 + n + data_bytes);

  const std::string text = bytes.substr(8, n);
  const size_t last = text.find_last_not_of(' ');
  REQUIRE(last != std::string::npos);
  CHECK(text[last] == '}');
  CHECK(text.size() - last - 1 < 8);  // padding is spaces only, fewer than 8
  const auto header = nlohmann::ordered_json::parse(text);
  CHECK(header["__metadata__"] == nlohmann::json{{"format", "pt"}, {"step", "12"}});

  // Entries in the given order, data contiguous in that order, the bytes where they say.
  std::vector<std::string> keys;
  for (const auto& [k, v] : header.items())
    if (k != "__metadata__") keys.push_back(k);
  uint64_t offset = 0;
  for (size_t i = 0; i < in.tensors.size(); ++i) {
    const NamedTensor& t = in.tensors[i];
    INFO("tensor " << t.name);
    REQUIRE(keys.at(i) == t.name);
    const auto& e = header[t.name];
    CHECK(e["dtype"] == "F32");
    CHECK(e["shape"].get<std::vector<int64_t>>() == t.shape);
    const uint64_t size = t.data.size() * sizeof(float);
    CHECK(e["data_offsets"] == nlohmann::json{offset, offset + size});
    CHECK((size == 0 || std::memcmp(bytes.data() + 8 + n + offset, t.data.data(), size) == 0));
    offset += size;
  }
}

TEST_CASE("safetensors: golden bytes built by hand") {
  TempDir dir;
  // One F32 tensor "a" of shape [2] = {1, 2}: 1.0f is 0x3f800000 and 2.0f 0x40000000, little-endian.
  const std::string json = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data = std::string("\x00\x00\x80\x3f", 4) + std::string("\x00\x00\x00\x40", 4);

  SUBCASE("the reader decodes it, unpadded and padded") {
    for (const std::string& header : {json, json + "   "}) {
      const std::string path = dir / "golden.safetensors";
      std::string bytes;
      bytes += static_cast<char>(header.size());  // length < 256: one byte, then seven zeros
      bytes += std::string(7, '\0');
      bytes += header + data;
      write_bytes(path, bytes);
      const SafetensorsFile f = dale::read_safetensors(path);
      REQUIRE(f.tensors.size() == 1);
      CHECK(f.tensors[0].name == "a");
      CHECK(f.tensors[0].shape == std::vector<int64_t>{2});
      CHECK(f.tensors[0].data == std::vector<float>{1.0f, 2.0f});
      CHECK(f.metadata.empty());
    }
  }
  SUBCASE("the writer produces exactly these bytes") {
    SafetensorsFile f;
    f.tensors = {{"a", {2}, {1.0f, 2.0f}}};
    dale::write_safetensors(dir / "ours.safetensors", f);
    std::string padded = json;
    padded.append((8 - padded.size() % 8) % 8, ' ');
    CHECK(read_bytes(dir / "ours.safetensors") == st_file(padded) + data);
  }
  SUBCASE("integer label tensors and metadata, as PyTorch writes them") {
    // I64 {0, 7, -1} then I32 {5, -2}; metadata first, as the reference library puts it.
    const std::string header =
        R"({"__metadata__":{"format":"pt"},"y":{"dtype":"I64","shape":[3],"data_offsets":[0,24]},)"
        R"("z":{"dtype":"I32","shape":[2,1],"data_offsets":[24,32]}})";
    std::string buf;
    buf += le64(0) + le64(7) + le64(~uint64_t{0});
    buf += std::string("\x05\x00\x00\x00", 4) + std::string("\xfe\xff\xff\xff", 4);
    write_bytes(dir / "labels.safetensors", st_file(header) + buf);
    const SafetensorsFile f = dale::read_safetensors(dir / "labels.safetensors");
    REQUIRE(f.tensors.size() == 2);
    CHECK(f.find("y")->data == std::vector<float>{0, 7, -1});
    CHECK(f.find("z")->shape == std::vector<int64_t>{2, 1});
    CHECK(f.find("z")->data == std::vector<float>{5, -2});
    CHECK(f.metadata == std::map<std::string, std::string>{{"format", "pt"}});
  }
}

// ------------------------------------------------------------------------------------------------
TEST_CASE("safetensors: writes are atomic") {
  TempDir dir;
  const std::string path = dir / "ckpt.safetensors";

  SUBCASE("no temporary file remains, and an existing file is replaced whole") {
    SafetensorsFile big;
    big.tensors = {{"w", {1000}, std::vector<float>(1000, 1.0f)}};
    dale::write_safetensors(path, big);
    SafetensorsFile small;
    small.tensors = {{"v", {2}, {4.0f, 5.0f}}};
    dale::write_safetensors(path, small);
    CHECK(dir.listing() == std::vector<std::string>{"ckpt.safetensors"});
    const SafetensorsFile back = dale::read_safetensors(path);
    REQUIRE(back.tensors.size() == 1);
    CHECK(back.tensors[0].name == "v");
    CHECK(read_bytes(path).size() % 8 == 0);  // 8 + padded header + 8 bytes: nothing of `big` left
  }
  SUBCASE("an unwritable directory throws InputError and leaves nothing") {
    // A path under a regular file fails even for root, unlike permission bits.
    write_bytes(dir / "plain", "x");
    for (const std::string& bad : {dir / "plain/ckpt.safetensors", dir / "no-such-dir/ckpt.safetensors"}) {
      std::string msg;
      try {
        dale::write_safetensors(bad, sample());
      } catch (const InputError& e) {
        msg = e.what();
      }
      INFO("message: " << msg);
      CHECK(msg.starts_with(bad + ": cannot write ("));
      CHECK(dir.listing() == std::vector<std::string>{"plain"});
    }
  }
  SUBCASE("a failed rename removes the temporary file") {
    fs::create_directory(path);  // renaming a file over a non-empty directory fails
    write_bytes(dir / "ckpt.safetensors/inside", "x");
    CHECK_THROWS_AS(dale::write_safetensors(path, sample()), InputError);
    CHECK(dir.listing() == std::vector<std::string>{"ckpt.safetensors"});
  }
  SUBCASE("bad tensors are refused before the old file is touched") {
    dale::write_safetensors(path, sample());
    const std::string before = read_bytes(path);
    SafetensorsFile bad;
    bad.tensors = {{"w", {2, 2}, {1, 2, 3}}};
    CHECK_THROWS_AS(dale::write_safetensors(path, bad), InputError);
    bad.tensors = {{"w", {-1}, {}}};
    CHECK_THROWS_AS(dale::write_safetensors(path, bad), InputError);
    bad.tensors = {{"w", {1}, {1}}, {"w", {1}, {2}}};
    CHECK_THROWS_AS(dale::write_safetensors(path, bad), InputError);
    bad.tensors = {{"__metadata__", {1}, {1}}};
    CHECK_THROWS_AS(dale::write_safetensors(path, bad), InputError);
    CHECK(read_bytes(path) == before);
    CHECK(dir.listing() == std::vector<std::string>{"ckpt.safetensors"});
  }
}

// ------------------------------------------------------------------------------------------------
TEST_CASE("safetensors: hostile files are rejected with one line naming the file") {
  TempDir dir;
  const std::string path = dir / "bad.safetensors";
  auto entry = [](const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
  };
  struct Case {
    const char* what;
    std::string bytes;
    const char* needle;
  };
  std::vector<Case> cases = {
      {"too short", std::string("\x02\x00\x00\x00\x00", 5), "too short"},
      {"empty header", st_file(""), "not valid JSON"},
      {"header longer than file", le64(1000) + "{}", "exceeds the 2 bytes"},
      {"header length near 2^64", le64(~uint64_t{0}) + "{}", "header length"},
      {"invalid JSON", st_file(R"({"a": {"dtype": )"), "not valid JSON"},
      {"non-object JSON", st_file("[1, 2]"), "not an object"},
      {"entry not an object", st_file(R"({"a": 3})"), "tensor a: entry is a JSON number"},
      {"missing data_offsets", st_file(R"({"a":{"dtype":"F32","shape":[1]}})", 4), "missing \"data_offsets\""},
      {"missing dtype", st_file(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4), "missing \"dtype\""},
      {"missing shape", st_file(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", 4), "missing \"shape\""},
      {"unsupported dtype", st_file("{" + entry("a", "F16", "[2]", "[0,4]") + "}", 4), "dtype \"F16\""},
      {"unknown dtype", st_file("{" + entry("a", "float32", "[1]", "[0,4]") + "}", 4), "tensor a: dtype"},
      {"dtype not a string", st_file(R"({"a":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", 4), "must be a string"},
      {"shape not an array", st_file("{" + entry("a", "F32", "2", "[0,8]") + "}", 8), "must be an array"},
      {"fractional dim", st_file("{" + entry("a", "F32", "[2.5]", "[0,8]") + "}", 8), "non-negative integers"},
      {"negative dim", st_file("{" + entry("a", "F32", "[-1,2]", "[0,8]") + "}", 8), "negative value -1"},
      {"shape/size mismatch", st_file("{" + entry("a", "F32", "[3]", "[0,8]") + "}", 8), "needs 12 bytes"},
      {"offsets out of range", st_file("{" + entry("fc0.Wex", "F32", "[100]", "[0,400]") + "}", 200),
       "tensor fc0.Wex: data_offsets [0, 400] exceed the 200-byte data buffer"},
      {"offsets reversed", st_file("{" + entry("a", "F32", "[1]", "[8,4]") + "}", 8), "end before they begin"},
      {"offsets not a pair", st_file("{" + entry("a", "F32", "[1]", "[0]") + "}", 8), "must be [begin, end]"},
      {"negative offset", st_file("{" + entry("a", "F32", "[1]", "[-4,0]") + "}", 8), "negative value"},
      {"overlapping offsets",
       st_file("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[4,12]") + "}", 12),
       "tensors a and b overlap"},
      {"huge dims", st_file("{" + entry("a", "F32", "[1099511627776,1099511627776]", "[0,8]") + "}", 8),
       "overflows"},
      {"huge bytes", st_file("{" + entry("a", "F32", "[4611686018427387904]", "[0,8]") + "}", 8), "overflows"},
      {"huge but consistent", st_file("{" + entry("a", "F32", "[1099511627776]", "[0,4398046511104]") + "}", 8),
       "exceed the 8-byte data buffer"},
      {"dim beyond int64", st_file("{" + entry("a", "F32", "[18446744073709551615,0]", "[0,0]") + "}"), "too large"},
      {"duplicate names",
       st_file("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("a", "F32", "[1]", "[4,8]") + "}", 8),
       "duplicate tensor name \"a\""},
      {"duplicate field", st_file(R"({"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4),
       "duplicate key \"dtype\""},
      {"metadata not an object", st_file(R"({"__metadata__":[1]})"), "not an object"},
      {"metadata value not a string", st_file(R"({"__metadata__":{"step":12}})"),
       "value for \"step\" must be a string"},
      {"control bytes in a name", st_file("{" + entry("a\\nb", "F16", "[1]", "[0,2]") + "}", 2), "tensor a\\x0ab"},
      {"label beyond float", st_file("{" + entry("y", "I64", "[1]", "[0,8]") + "}") + le64((1ull << 53) + 1),
       "not exactly representable"},
      {"label at int64 max", st_file("{" + entry("y", "I64", "[1]", "[0,8]") + "}") + le64(INT64_MAX),
       "not exactly representable"},
      {"label at int32 max",
       st_file("{" + entry("y", "I32", "[1]", "[0,4]") + "}") + std::string("\xff\xff\xff\x7f", 4),
       "not exactly representable"},
  };
  // Nesting a million levels deep must not exhaust the stack (parsing, checking, or the message).
  const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  cases.push_back({"deep entry", st_file(R"({"a":)" + deep + "}"), "entry is a JSON array"});
  cases.push_back({"deep offsets", st_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":)" + deep + "}}"),
                   "must be [begin, end], not a JSON array"});
  cases.push_back({"deep metadata", st_file(R"({"__metadata__":{"k":)" + deep + "}}"), "must be a string"});
  for (const Case& c : cases) {
    INFO("case: " << std::string(c.what));
    write_bytes(path, c.bytes);
    check_rejected(path, c.needle);
  }
  check_rejected(dir / "no-such.safetensors", "cannot open (No such file or directory)");
}

TEST_CASE("safetensors: a header over 100 MB is refused without reading it") {
  TempDir dir;
  const std::string path = dir / "big.safetensors";
  const uint64_t n = 101ull << 20;
  write_bytes(path, le64(n));
  fs::resize_file(path, 8 + n);  // sparse: costs no disk
  check_rejected(path, "exceeds the 104857600-byte limit");
}
