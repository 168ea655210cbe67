// FashionMNIST (SPEC §1): the four IDX files of a directory, loaded once as uint8 and checked
// against each other (one label per image, labels in 0..9, train and test images of one size).
// Conversion to floats happens per batch, with the brightness jitter (datasets/jitter.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dale {

struct Dataset {
  int64_t n = 0;
  int64_t dim = 0;              // pixels per image (784)
  std::vector<uint8_t> images;  // n × dim, row-major
  std::vector<uint8_t> labels;  // n, each < kFashionMnistClasses
};

struct FashionMNIST {
  Dataset train, test;
};

constexpr const char* kDefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";
constexpr int kFashionMnistClasses = 10;

// Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte from `dir`, preferring the .gz file where
// both exist. Throws dale::InputError naming the file on any problem.
FashionMNIST load_fashion_mnist(const std::string& dir);

}  // namespace dale
