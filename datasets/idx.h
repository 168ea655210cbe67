// IDX files (LeCun's MNIST format, also FashionMNIST's), plain or gzip-compressed.
// The reader trusts nothing in the header: every malformed file — missing, wrong magic, zero or
// absurd dimensions, truncated, trailing bytes, corrupt gzip — throws dale::InputError with one line
// that names the file and says what was expected. The writers exist so tests can make small
// synthetic datasets.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dale {

struct IdxImages {
  int64_t n = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // n × rows × cols, row-major, as stored
};

// Limits on what a header may declare; larger values mean a corrupt or foreign file.
constexpr int64_t kIdxMaxSide = 4096;
constexpr int64_t kIdxMaxCount = 100'000'000;

IdxImages read_idx_images(const std::string& path);             // magic 0x00000803
std::vector<uint8_t> read_idx_labels(const std::string& path);  // magic 0x00000801

// Write through a temporary file and rename, so a reader never sees half a file.
void write_idx_images(const std::string& path, const IdxImages& images, bool gzip);
void write_idx_labels(const std::string& path, const std::vector<uint8_t>& labels, bool gzip);

}  // namespace dale
