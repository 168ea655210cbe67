// A tiny learnable stand-in for FashionMNIST, written as the four IDX files the loader expects, so
// end-to-end tests of `dale` run in seconds without the real dataset.
//
// Images are side × side (8 × 8 by default); class c has a bright 2 × 2 block at its own position
// of a 4 × 4 grid of blocks (c = 0..9), on a dim noisy background. Labels cycle 0, 1, …, 9, so each
// class is equally frequent and any batch of 10 consecutive images holds every class. A two-layer
// network learns it to near 100% in a couple of epochs. The noise comes from a 64-bit LCG, so the
// files are byte-identical on every platform.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "datasets/fashion_mnist.h"
#include "datasets/idx.h"

namespace dale::test {

struct SyntheticSplit {
  IdxImages images;
  std::vector<uint8_t> labels;
};

inline SyntheticSplit make_synthetic_split(int64_t n, uint64_t seed, int64_t side = 8) {
  SyntheticSplit s;
  s.images.n = n;
  s.images.rows = side;
  s.images.cols = side;
  s.images.pixels.resize(static_cast<size_t>(n * side * side));
  s.labels.resize(static_cast<size_t>(n));
  uint64_t state = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  auto next = [&state](uint32_t lo, uint32_t hi) {  // uniform integer in [lo, hi]
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + uint32_t((state >> 33) % (hi - lo + 1));
  };
  const int64_t cell = side / 4;  // the 4 × 4 grid of block positions
  for (int64_t i = 0; i < n; ++i) {
    const int c = int(i % kFashionMnistClasses);
    s.labels[size_t(i)] = uint8_t(c);
    const int64_t r0 = (c / 4) * cell, c0 = (c % 4) * cell;
    uint8_t* img = s.images.pixels.data() + i * side * side;
    for (int64_t r = 0; r < side; ++r)
      for (int64_t q = 0; q < side; ++q) {
        const bool block = r >= r0 && r < r0 + 2 && q >= c0 && q < c0 + 2;
        img[r * side + q] = uint8_t(block ? next(180, 255) : next(0, 60));
      }
  }
  return s;
}

// Writes train-{images-idx3,labels-idx1}-ubyte and t10k-… into `dir` (which must exist). The train
// images and test labels are gzip-compressed, the other two plain, so both read paths are used.
inline void write_synthetic_fashion_mnist(const std::string& dir, int64_t n_train = 600,
                                          int64_t n_test = 200, uint64_t seed = 1) {
  const SyntheticSplit train = make_synthetic_split(n_train, seed);
  const SyntheticSplit test = make_synthetic_split(n_test, seed + 1000);
  write_idx_images(dir + "/train-images-idx3-ubyte.gz", train.images, /*gzip=*/true);
  write_idx_labels(dir + "/train-labels-idx1-ubyte", train.labels, /*gzip=*/false);
  write_idx_images(dir + "/t10k-images-idx3-ubyte", test.images, /*gzip=*/false);
  write_idx_labels(dir + "/t10k-labels-idx1-ubyte.gz", test.labels, /*gzip=*/true);
}

// The default synthetic dataset, written into `dir` (created) and loaded.
inline FashionMNIST synthetic_dataset(const std::string& dir) {
  std::filesystem::create_directories(dir);
  write_synthetic_fashion_mnist(dir);
  return load_fashion_mnist(dir);
}

}  // namespace dale::test
