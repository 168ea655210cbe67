// libFuzzer target: the IDX reader (datasets/idx.h) on hostile files.
//
// Each input is written to a scratch file and read as images and as labels; dale::InputError is
// the only acceptable failure. Inputs that start with 1f 8b go down the gzip path as they are.
// Two properties on top of "no crash":
//   - plain vs gzip: an input that is not itself gzip is also gzip-compressed and read again; the
//     outcome (success with the same values, or InputError) must not depend on the compression;
//   - round trip: whatever reads successfully is written back (plain and gzip) and must read the
//     same.
// Usage: tools/fuzz [SECONDS] idx
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "datasets/idx.h"
#include "framework/check.h"
#include "tests/fuzz/fuzz_util.h"

using dale::fuzz::property_failed;

namespace {

const std::string& input_path() {
  static const std::string p = dale::fuzz::scratch_path("idx");
  return p;
}
const std::string& gzip_path() {
  static const std::string p = dale::fuzz::scratch_path("idx.gz");
  return p;
}
const std::string& roundtrip_path() {
  static const std::string p = dale::fuzz::scratch_path("rt.idx");
  return p;
}

// `data` as one gzip member (zlib's deflate with the gzip wrapper).
std::vector<uint8_t> gzip(const uint8_t* data, size_t size) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK)
    property_failed("deflateInit2 failed (harness)");
  std::vector<uint8_t> out(deflateBound(&z, uLong(size)) + 64);
  z.next_in = const_cast<uint8_t*>(data);
  z.avail_in = uInt(size);
  z.next_out = out.data();
  z.avail_out = uInt(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) property_failed("deflate failed (harness)");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// The reader's result, or nullopt for InputError; any other exception escapes (a finding).
std::optional<dale::IdxImages> try_images(const std::string& path) {
  try {
    return dale::read_idx_images(path);
  } catch (const dale::InputError&) {
    return std::nullopt;
  }
}
std::optional<std::vector<uint8_t>> try_labels(const std::string& path) {
  try {
    return dale::read_idx_labels(path);
  } catch (const dale::InputError&) {
    return std::nullopt;
  }
}

bool same(const std::optional<dale::IdxImages>& a, const std::optional<dale::IdxImages>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->n == b->n && a->rows == b->rows && a->cols == b->cols && a->pixels == b->pixels);
}

// Writes what was read back in both encodings; reading it again must give the same.
void check_roundtrip(const std::optional<dale::IdxImages>& images,
                     const std::optional<std::vector<uint8_t>>& labels) {
  for (bool gz : {false, true}) {
    if (images) {
      if (images->pixels.size() != size_t(images->n * images->rows * images->cols))
        property_failed("read_idx_images: pixel count does not match n x rows x cols");
      dale::write_idx_images(roundtrip_path(), *images, gz);
      if (!same(try_images(roundtrip_path()), images))
        property_failed("images: write_idx_images then read_idx_images differs");
    }
    if (labels) {
      dale::write_idx_labels(roundtrip_path(), *labels, gz);
      if (try_labels(roundtrip_path()) != labels)
        property_failed("labels: write_idx_labels then read_idx_labels differs");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dale::fuzz::write_file(input_path(), data, size);
  const auto images = try_images(input_path());
  const auto labels = try_labels(input_path());
  check_roundtrip(images, labels);

  const bool is_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  if (!is_gzip) {
    const std::vector<uint8_t> gz = gzip(data, size);
    dale::fuzz::write_file(gzip_path(), gz.data(), gz.size());
    if (!same(try_images(gzip_path()), images))
      property_failed("read_idx_images: the plain file and its gzip read differently");
    if (try_labels(gzip_path()) != labels)
      property_failed("read_idx_labels: the plain file and its gzip read differently");
  }
  return 0;
}
