// FashionMNIST loader (see fashion_mnist.h): file resolution and cross-file checks; the format
// itself is idx.cpp's business.
#include "datasets/fashion_mnist.h"

#include <filesystem>

#include "datasets/idx.h"
#include "framework/check.h"

namespace dale {
namespace {

// `dir/stem.gz` if it exists, else `dir/stem`; neither → the one message a user needs.
std::string resolve(const std::string& dir, const char* stem) {
  const std::string plain = (std::filesystem::path(dir) / stem).string();
  const std::string gz = plain + ".gz";
  std::error_code ec;
  if (std::filesystem::exists(gz, ec)) return gz;
  if (std::filesystem::exists(plain, ec)) return plain;
  throw InputError(fmt::format(
      "{}: cannot open (No such file or directory, with or without .gz); install Debian's "
      "dataset-fashion-mnist or pass --data.dir",
      gz));
}

struct Split {
  Dataset data;
  int64_t rows = 0, cols = 0;
  std::string images_path;
};

Split load_split(const std::string& dir, const char* images_stem, const char* labels_stem) {
  Split s;
  s.images_path = resolve(dir, images_stem);
  const std::string labels_path = resolve(dir, labels_stem);
  IdxImages images = read_idx_images(s.images_path);
  std::vector<uint8_t> labels = read_idx_labels(labels_path);
  if (int64_t(labels.size()) != images.n)
    throw InputError(fmt::format("{}: holds {} labels but {} holds {} images; expected one label "
                                 "per image",
                                 labels_path, labels.size(), s.images_path, images.n));
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= kFashionMnistClasses)
      throw InputError(fmt::format("{}: label {} at index {} is out of range; expected 0..{}",
                                   labels_path, int(labels[i]), i, kFashionMnistClasses - 1));
  s.rows = images.rows;
  s.cols = images.cols;
  s.data.n = images.n;
  s.data.dim = images.rows * images.cols;
  s.data.images = std::move(images.pixels);
  s.data.labels = std::move(labels);
  return s;
}

}  // namespace

FashionMNIST load_fashion_mnist(const std::string& dir) {
  Split train = load_split(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte");
  Split test = load_split(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
  if (test.rows != train.rows || test.cols != train.cols)
    throw InputError(fmt::format("{}: images are {}x{} but the training images ({}) are {}x{}; "
                                 "expected one image size",
                                 test.images_path, test.rows, test.cols, train.images_path,
                                 train.rows, train.cols));
  return FashionMNIST{std::move(train.data), std::move(test.data)};
}

}  // namespace dale
