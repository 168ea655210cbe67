// A tiny learnable stand-in for FashionMNIST that tests write themselves: 8×8 images, class c
// has a bright 2×2 block at a class-specific place plus noise, in the four IDX files that
// load_fashion_mnist reads (train images gzipped, the rest plain, so both readers run).
#pragma once
#include <filesystem>
#include <string>

#include "datasets/idx.h"

namespace dale::test {

inline std::string write_synthetic_fashion(const std::string& dir, int64_t n_train = 600, int64_t n_test = 200,
                                           uint64_t seed = 1) {
  std::filesystem::create_directories(dir);
  uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
  auto next = [&s] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return uint32_t(s >> 33);
  };
  auto make = [&](int64_t n, IdxImages& im, std::vector<uint8_t>& lab) {
    im.n = n, im.rows = 8, im.cols = 8;
    im.pixels.assign(size_t(n * 64), 0);
    lab.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) {
      const int c = int(next() % 10);
      lab[size_t(i)] = uint8_t(c);
      uint8_t* p = im.pixels.data() + i * 64;
      for (int k = 0; k < 64; ++k) p[k] = uint8_t(next() % 60);
      const int r0 = (c / 5) * 4 + 1, c0 = (c % 5) + (c % 5 > 2 ? 2 : 0);
      for (int dr = 0; dr < 2; ++dr)
        for (int dc = 0; dc < 2; ++dc) p[(r0 + dr) * 8 + c0 + dc] = uint8_t(200 + next() % 56);
    }
  };
  IdxImages tr, te;
  std::vector<uint8_t> trl, tel;
  make(n_train, tr, trl);
  make(n_test, te, tel);
  write_idx_images(dir + "/train-images-idx3-ubyte.gz", tr, true);
  write_idx_labels(dir + "/train-labels-idx1-ubyte", trl, false);
  write_idx_images(dir + "/t10k-images-idx3-ubyte", te, false);
  write_idx_labels(dir + "/t10k-labels-idx1-ubyte.gz", tel, true);
  return dir;
}

// A fresh empty directory under the system's temporary directory.
inline std::string fresh_temp_dir(const std::string& stem) {
  static int counter = 0;
  const auto p = std::filesystem::temp_directory_path() /
                 (stem + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

}  // namespace dale::test
