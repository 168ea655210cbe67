// Safetensors reader and writer (see safetensors.h for the layout and the guarantees).
//
// The reader validates in this order, so that no size it allocates comes from the file unchecked:
// file size -> header length -> JSON -> every entry (dtype, shape, offsets, sizes) -> overlaps ->
// only then the tensor data, each tensor read straight into its own float vector.
#include "framework/safetensors.h"

#include "framework/output_file.h"

#include "framework/check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <set>

namespace dale {

// Tensor bytes are copied to and from memory as they are; the format is little-endian.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

using Json = nlohmann::ordered_json;  // ordered: the header lists tensors in the writer's order

namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // real headers are a few MB at most
constexpr const char* kMetadataKey = "__metadata__";

// A name or message fit for a one-line error: control bytes escaped, long strings cut at `limit`.
std::string printable(const std::string& s, size_t limit = 200) {
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= limit) return out + "...";
    if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += static_cast<char>(c);
  }
  return out;
}

// A JSON value for an error message. Containers are named, not dumped: dumping recurses, and a
// hostile header nested a million levels deep would overflow the stack.
std::string describe(const Json& v) {
  if (v.is_structured()) return fmt::format("a JSON {}", v.type_name());
  return printable(v.dump());
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw InputError(fmt::format("{}: {}", printable(path, SIZE_MAX), what));  // the whole path
}

// Closes a file descriptor on every path out of a function.
struct Fd {
  int fd = -1;
  ~Fd() { if (fd >= 0) ::close(fd); }
};

// ------------------------------------------------------------------------------------------------
// Reading

// Reads exactly n bytes at `offset`; false if the file ends first.
bool read_at(int fd, void* dst, uint64_t n, uint64_t offset) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    ssize_t got = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got, n -= static_cast<uint64_t>(got), offset += static_cast<uint64_t>(got);
  }
  return true;
}

// Element size of a dtype we read, 0 for any other.
uint64_t dtype_size(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "I64") return 8;
  return 0;
}

// Parses the header, rejecting duplicate keys at any depth: nlohmann would silently keep one of
// them, and a checkpoint whose "fc0.Wex" is ambiguous must not load.
Json parse_header(const std::string& path, const std::string& text) {
  std::vector<std::set<std::string>> keys;  // one set per open object
  std::string duplicate;
  int duplicate_depth = 0;
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) keys.emplace_back();
    else if (event == Json::parse_event_t::object_end) keys.pop_back();
    else if (event == Json::parse_event_t::key && !keys.back().insert(parsed.get<std::string>()).second &&
             duplicate.empty())
      duplicate = parsed.get<std::string>(), duplicate_depth = depth;
    return true;
  };
  Json header;
  try {
    header = Json::parse(text, callback);
  } catch (const Json::exception& e) {
    std::string why = e.what();
    if (auto pos = why.find("] "); why.starts_with("[json.exception") && pos != std::string::npos)
      why = why.substr(pos + 2);
    fail(path, "header is not valid JSON (" + printable(why) + ")");
  }
  if (!duplicate.empty())
    fail(path, fmt::format("header has a duplicate {} \"{}\"", duplicate_depth == 1 ? "tensor name" : "key",
                           printable(duplicate)));
  if (!header.is_object()) fail(path, fmt::format("header is a JSON {}, not an object", header.type_name()));
  return header;
}

// A non-negative integer that fits in 64 bits, or a failure naming `what`.
uint64_t get_u64(const std::string& path, const std::string& where, const Json& v, const char* what) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) fail(path, fmt::format("{}: {} holds a negative value {}", where, what, v.dump()));
  fail(path, fmt::format("{}: {} must hold non-negative integers, not {}", where, what, describe(v)));
}

// One header entry, checked but not yet read.
struct Entry {
  NamedTensor* tensor;
  std::string dtype;
  uint64_t begin, end;
};

// Checks one tensor entry against itself and against the buffer's size; fills name and shape.
Entry check_entry(const std::string& path, const std::string& name, const Json& e, uint64_t buffer_bytes,
                  NamedTensor& t) {
  const std::string where = "tensor " + printable(name);
  if (!e.is_object()) fail(path, fmt::format("{}: entry is a JSON {}, not an object", where, e.type_name()));
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!e.contains(key)) fail(path, fmt::format("{}: missing \"{}\"", where, key));

  const Json& jd = e["dtype"];
  if (!jd.is_string()) fail(path, fmt::format("{}: \"dtype\" must be a string, not {}", where, describe(jd)));
  const std::string dtype = jd.get<std::string>();
  const uint64_t elem = dtype_size(dtype);
  if (elem == 0)
    fail(path, fmt::format("{}: dtype \"{}\" is not supported (dale reads F32, and I32/I64 as float)", where,
                           printable(dtype)));

  const Json& js = e["shape"];
  if (!js.is_array()) fail(path, fmt::format("{}: \"shape\" must be an array, not {}", where, describe(js)));
  // The element count: 0 if any dim is 0 (whatever the others), else a checked product.
  uint64_t numel = 1;
  bool has_zero = false, overflow = false;
  for (const Json& d : js) {
    uint64_t dim = get_u64(path, where, d, "\"shape\"");
    if (dim > static_cast<uint64_t>(INT64_MAX)) fail(path, fmt::format("{}: shape dim {} is too large", where, dim));
    t.shape.push_back(static_cast<int64_t>(dim));
    has_zero |= dim == 0;
    overflow |= __builtin_mul_overflow(numel, dim, &numel);
  }
  uint64_t bytes = 0;
  if (has_zero) numel = 0;
  if (overflow || __builtin_mul_overflow(numel, elem, &bytes))
    fail(path, fmt::format("{}: shape {} overflows 64-bit byte counts", where, printable(js.dump())));

  const Json& jo = e["data_offsets"];
  if (!jo.is_array() || jo.size() != 2)
    fail(path, fmt::format("{}: \"data_offsets\" must be [begin, end], not {}", where, describe(jo)));
  uint64_t begin = get_u64(path, where, jo[0], "\"data_offsets\"");
  uint64_t end = get_u64(path, where, jo[1], "\"data_offsets\"");
  if (begin > end) fail(path, fmt::format("{}: data_offsets [{}, {}] end before they begin", where, begin, end));
  if (end > buffer_bytes)
    fail(path, fmt::format("{}: data_offsets [{}, {}] exceed the {}-byte data buffer", where, begin, end,
                           buffer_bytes));
  if (end - begin != bytes)
    fail(path, fmt::format("{}: shape {} of {} needs {} bytes but data_offsets [{}, {}] span {}", where,
                           printable(js.dump()), dtype, bytes, begin, end, end - begin));
  t.name = name;
  return Entry{&t, dtype, begin, end};
}

// Reads one checked entry's bytes into its tensor as float.
void read_entry(const std::string& path, int fd, uint64_t buffer_start, const Entry& e) {
  NamedTensor& t = *e.tensor;
  const uint64_t bytes = e.end - e.begin;
  const uint64_t elem = dtype_size(e.dtype);
  const uint64_t numel = bytes / elem;
  t.data.resize(numel);
  auto truncated = [&] { fail(path, fmt::format("tensor {}: file ends inside its data", printable(t.name))); };
  if (e.dtype == "F32") {
    if (!read_at(fd, t.data.data(), bytes, buffer_start + e.begin)) truncated();
    return;
  }
  // Integers (labels): convert, refusing values a float cannot hold exactly.
  auto convert = [&]<typename I>(I) {
    std::vector<I> raw(numel);
    if (!read_at(fd, raw.data(), bytes, buffer_start + e.begin)) truncated();
    for (uint64_t i = 0; i < numel; ++i) {
      // Round-trip through int64 (not double, which would round 2^53 + 1 the same way float does);
      // the 2^63 guard keeps the cast back defined.
      const float v = static_cast<float>(raw[i]);
      t.data[i] = v;
      if (!(v < 0x1p63f && static_cast<int64_t>(v) == static_cast<int64_t>(raw[i])))
        fail(path, fmt::format("tensor {}: {} value {} at index {} is not exactly representable as float",
                               printable(t.name), e.dtype, raw[i], i));
    }
  };
  if (e.dtype == "I32") convert(int32_t{});
  else convert(int64_t{});
}

[[noreturn]] void fail_errno(const std::string& path, const char* doing, const char* step = nullptr) {
  const char* why = std::strerror(errno);
  fail(path, step ? fmt::format("{} ({}: {})", doing, step, why) : fmt::format("{} ({})", doing, why));
}

}  // namespace

const NamedTensor* SafetensorsFile::find(const std::string& name) const {
  for (const NamedTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

SafetensorsFile read_safetensors(const std::string& path) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) fail_errno(path, "cannot open");
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) fail_errno(path, "cannot stat");
  if (!S_ISREG(st.st_mode)) fail(path, "not a regular file");
  const uint64_t file_bytes = static_cast<uint64_t>(st.st_size);
  if (file_bytes < 8) fail(path, fmt::format("file is {} bytes, too short for the 8-byte header length", file_bytes));

  uint64_t header_bytes = 0;
  if (!read_at(f.fd, &header_bytes, 8, 0)) fail(path, "cannot read the header length");
  if (header_bytes > file_bytes - 8)
    fail(path, fmt::format("header length {} exceeds the {} bytes after the length field", header_bytes,
                           file_bytes - 8));
  if (header_bytes > kMaxHeaderBytes)
    fail(path, fmt::format("header length {} exceeds the {}-byte limit", header_bytes, kMaxHeaderBytes));
  std::string text(header_bytes, '\0');
  if (!read_at(f.fd, text.data(), header_bytes, 8)) fail(path, "file ends inside the header");
  const Json header = parse_header(path, text);

  const uint64_t buffer_start = 8 + header_bytes;
  const uint64_t buffer_bytes = file_bytes - buffer_start;
  SafetensorsFile out;
  size_t count = 0;
  for (const auto& [name, value] : header.items()) count += name != kMetadataKey;
  out.tensors.resize(count);  // bounded by the header's size, which is checked
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      if (!value.is_object())
        fail(path, fmt::format("\"{}\" is a JSON {}, not an object", kMetadataKey, value.type_name()));
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string())
          fail(path, fmt::format("\"{}\" value for \"{}\" must be a string, not {}", kMetadataKey, printable(k),
                                 describe(v)));
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    entries.push_back(check_entry(path, name, value, buffer_bytes, out.tensors[entries.size()]));
  }

  // Overlaps: sort the non-empty ranges by start; each must begin at or after the previous end.
  std::vector<const Entry*> ranges;
  for (const Entry& e : entries)
    if (e.end > e.begin) ranges.push_back(&e);
  std::sort(ranges.begin(), ranges.end(), [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i]->begin < ranges[i - 1]->end)
      fail(path, fmt::format("tensors {} and {} overlap: data_offsets [{}, {}] and [{}, {}]",
                             printable(ranges[i - 1]->tensor->name), printable(ranges[i]->tensor->name),
                             ranges[i - 1]->begin, ranges[i - 1]->end, ranges[i]->begin, ranges[i]->end));

  for (const Entry& e : entries) read_entry(path, f.fd, buffer_start, e);
  return out;
}

// ------------------------------------------------------------------------------------------------
// Writing

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
  // The header, checking the caller's tensors as it goes.
  Json header = Json::object();
  if (!file.metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [k, v] : file.metadata) meta[k] = v;
    header[kMetadataKey] = std::move(meta);
  }
  uint64_t offset = 0;
  for (const NamedTensor& t : file.tensors) {
    const std::string where = "tensor " + printable(t.name);
    if (t.name == kMetadataKey) fail(path, fmt::format("a tensor cannot be named \"{}\"", kMetadataKey));
    if (header.contains(t.name)) fail(path, fmt::format("{}: name given twice", where));
    uint64_t numel = 1;
    bool has_zero = false, overflow = false;
    for (int64_t d : t.shape) {
      if (d < 0) fail(path, fmt::format("{}: negative dim {}", where, d));
      has_zero |= d == 0;
      overflow |= __builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel);
    }
    if (has_zero) numel = 0;
    if (overflow || numel != t.data.size())
      fail(path, fmt::format("{}: shape [{}] does not match the {} values of its data", where,
                             fmt::join(t.shape, ", "), t.data.size()));
    const uint64_t bytes = t.data.size() * sizeof(float);
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const Json::exception&) {
    fail(path, "a tensor name or metadata string is not valid UTF-8");
  }
  // Spaces (JSON whitespace) pad the header so the data buffer starts 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t header_bytes = text.size();

  // A unique temporary file beside `path`, made durable, then renamed over it (output_file.h).
  write_file_atomically(path, [&](int fd) {
    bool ok = write_all(fd, &header_bytes, 8) && write_all(fd, text.data(), text.size());
    for (size_t i = 0; ok && i < file.tensors.size(); ++i)
      ok = write_all(fd, file.tensors[i].data.data(), file.tensors[i].data.size() * sizeof(float));
    return ok;
  }, path);
}

}  // namespace dale
