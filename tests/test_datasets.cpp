// Tests of datasets/: the IDX reader and writer on plain and gzip files, every malformed-input
// case (each must throw dale::InputError naming the file), the FashionMNIST loader's cross-file
// checks, the brightness jitter of SPEC §1 and the epoch order. Files go to a fresh directory
// under the system temp dir, removed at the end of each case.
#include <doctest/doctest.h>

#include "tests/testing.h"
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "datasets/device_dataset.h"
#include "datasets/fashion_mnist.h"
#include "datasets/idx.h"
#include "datasets/jitter.h"
#include "framework/check.h"
#include "framework/rng.h"

using namespace dale;
namespace fs = std::filesystem;

namespace {
using dale::test::TempDir;


using Bytes = std::vector<uint8_t>;

void write_bytes(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  REQUIRE(f.good());
}
Bytes read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}
void write_gzip(const std::string& path, const Bytes& b) {
  gzFile g = gzopen(path.c_str(), "wb");
  REQUIRE(g != nullptr);
  REQUIRE(gzwrite(g, b.data(), unsigned(b.size())) == int(b.size()));
  REQUIRE(gzclose(g) == Z_OK);
}
void put_be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}
Bytes image_header(uint32_t n, uint32_t rows, uint32_t cols, uint32_t magic = 0x803) {
  Bytes b;
  for (uint32_t v : {magic, n, rows, cols}) put_be32(b, v);
  return b;
}
Bytes label_header(uint32_t n) {
  Bytes b;
  for (uint32_t v : {0x801u, n}) put_be32(b, v);
  return b;
}
Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Pixels with structure and noise, so that gzip neither stores them raw nor shrinks them to nothing.
IdxImages synthetic_images(int64_t n, int64_t rows, int64_t cols, uint64_t seed) {
  IdxImages im;
  im.n = n;
  im.rows = rows;
  im.cols = cols;
  im.pixels.resize(size_t(n * rows * cols));
  RngStream rng(seed, 100);
  for (size_t i = 0; i < im.pixels.size(); ++i)
    im.pixels[i] = uint8_t((i % 97) + rng.below(64) + (i % 3 == 0 ? 90 : 0));
  return im;
}
std::vector<uint8_t> synthetic_labels(int64_t n) {
  std::vector<uint8_t> l(static_cast<size_t>(n));
  for (size_t i = 0; i < l.size(); ++i) l[i] = uint8_t((i * 7) % 10);
  return l;
}

// The message of the InputError that f throws; fails the case if f does not throw one.
std::string input_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  FAIL("expected dale::InputError");
  return {};
}
void check_image_error(const std::string& path, const std::string& expect) {
  const std::string msg = input_error([&] { read_idx_images(path); });
  INFO("message: " << msg);
  CHECK(msg.find(path) != std::string::npos);
  CHECK(msg.find(expect) != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
}
void check_label_error(const std::string& path, const std::string& expect) {
  const std::string msg = input_error([&] { read_idx_labels(path); });
  INFO("message: " << msg);
  CHECK(msg.find(path) != std::string::npos);
  CHECK(msg.find(expect) != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
}

// A complete FashionMNIST-shaped directory (small), plain or gzip.
void write_fashion_dir(const TempDir& t, int64_t ntrain, int64_t ntest, bool gzip) {
  const std::string ext = gzip ? ".gz" : "";
  write_idx_images(t / ("train-images-idx3-ubyte" + ext), synthetic_images(ntrain, 28, 28, 1), gzip);
  write_idx_labels(t / ("train-labels-idx1-ubyte" + ext), synthetic_labels(ntrain), gzip);
  write_idx_images(t / ("t10k-images-idx3-ubyte" + ext), synthetic_images(ntest, 28, 28, 2), gzip);
  write_idx_labels(t / ("t10k-labels-idx1-ubyte" + ext), synthetic_labels(ntest), gzip);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
TEST_CASE("IDX round trip, plain and gzip") {
  TempDir t;
  for (bool gzip : {false, true}) {
    CAPTURE(gzip);
    const IdxImages im = synthetic_images(17, 5, 3, 9);
    const auto labels = synthetic_labels(17);
    const std::string ip = t / "images", lp = t / "labels";
    write_idx_images(ip, im, gzip);
    write_idx_labels(lp, labels, gzip);
    const Bytes raw = read_bytes(ip);
    CHECK((raw.size() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) == gzip);
    const IdxImages back = read_idx_images(ip);
    CHECK(back.n == 17);
    CHECK(back.rows == 5);
    CHECK(back.cols == 3);
    CHECK(back.pixels == im.pixels);
    CHECK(read_idx_labels(lp) == labels);
  }
  // No temporary files are left behind by the writer.
  int files = 0;
  for (const auto& e : fs::directory_iterator(t.path)) files += e.is_regular_file();
  CHECK(files == 2);
}

TEST_CASE("IDX: a plain file is byte-for-byte the documented format") {
  TempDir t;
  IdxImages im;
  im.n = 2;
  im.rows = 1;
  im.cols = 2;
  im.pixels = {1, 2, 3, 4};
  write_idx_images(t / "im", im, false);
  CHECK(read_bytes(t / "im") == concat(image_header(2, 1, 2), {1, 2, 3, 4}));
  write_idx_labels(t / "lb", {7, 8, 9}, false);
  CHECK(read_bytes(t / "lb") == concat(label_header(3), {7, 8, 9}));
}

TEST_CASE("IDX: concatenated gzip members read as one stream") {
  TempDir t;
  const Bytes body = {10, 20, 30, 40, 50, 60};
  write_gzip(t / "a.gz", image_header(3, 1, 2));
  write_gzip(t / "b.gz", body);
  write_bytes(t / "im.gz", concat(read_bytes(t / "a.gz"), read_bytes(t / "b.gz")));
  const IdxImages im = read_idx_images(t / "im.gz");
  CHECK(im.n == 3);
  CHECK(im.pixels == body);
}

TEST_CASE("IDX: missing file, empty file, directory") {
  TempDir t;
  check_image_error(t / "nope-idx3-ubyte", "cannot open (No such file or directory)");
  check_label_error(t / "nope-idx1-ubyte.gz", "cannot open (No such file or directory)");
  write_bytes(t / "empty", {});
  check_image_error(t / "empty", "expected magic 0x00000803");
  fs::create_directories(t.path / "sub");
  check_image_error(t / "sub", "not a regular file");
}

TEST_CASE("IDX: wrong magic") {
  TempDir t;
  write_idx_labels(t / "labels", synthetic_labels(4), false);
  check_image_error(t / "labels", "magic 0x00000801; expected magic 0x00000803");
  write_idx_images(t / "images.gz", synthetic_images(2, 2, 2, 3), true);
  check_label_error(t / "images.gz", "magic 0x00000803; expected magic 0x00000801");
  write_bytes(t / "text", {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!', '!', '!', '!', '!'});
  check_image_error(t / "text", "not an IDX image file");
}

TEST_CASE("IDX: zero and absurd dimensions") {
  TempDir t;
  write_bytes(t / "n0", image_header(0, 28, 28));
  check_image_error(t / "n0", "declares 0 images of 28x28");
  write_bytes(t / "r0", concat(image_header(1, 0, 28), Bytes(28, 0)));
  check_image_error(t / "r0", "declares 1 images of 0x28");
  write_bytes(t / "c0", image_header(5, 28, 0));
  check_image_error(t / "c0", "declares 5 images of 28x0");
  write_bytes(t / "wide", image_header(1, 1, 5000));
  check_image_error(t / "wide", "1x5000");
  write_bytes(t / "many", image_header(0xffffffffu, 1, 1));
  check_image_error(t / "many", "declares 4294967295 images");
  write_bytes(t / "l0", label_header(0));
  check_label_error(t / "l0", "declares 0 labels");
}

TEST_CASE("IDX: truncated files") {
  TempDir t;
  // Header cut short.
  const Bytes header = image_header(60000, 28, 28);
  write_bytes(t / "head", Bytes(header.begin(), header.begin() + 10));
  check_image_error(t / "head", "truncated: 10 header bytes");
  // Plain body short: detected from the file size before anything is allocated.
  write_bytes(t / "plain", concat(image_header(60000, 28, 28), Bytes(1000, 7)));
  check_image_error(t / "plain",
                    "truncated: header declares 60000 images of 28x28 (47040000 bytes) but the "
                    "file holds 1000 bytes");
  write_bytes(t / "labels", concat(label_header(10), Bytes(9, 1)));
  check_label_error(t / "labels", "truncated: header declares 10 labels but the file holds 9 bytes");
  // A tiny .gz cannot hold 47 MB: rejected by the deflate ratio bound, again before allocation.
  write_gzip(t / "small.gz", concat(image_header(60000, 28, 28), Bytes(1000, 7)));
  check_image_error(t / "small.gz", "truncated: header declares 60000 images of 28x28");
  // A complete gzip stream whose content is short: counted while inflating.
  write_gzip(t / "short.gz", concat(image_header(100, 28, 28), synthetic_images(99, 28, 28, 4).pixels));
  check_image_error(t / "short.gz", "but the file holds 77616 bytes");
  // A valid .gz cut in the middle of the compressed stream.
  write_idx_images(t / "cut.gz", synthetic_images(50, 28, 28, 5), true);
  Bytes gz = read_bytes(t / "cut.gz");
  REQUIRE(gz.size() > 1000);
  gz.resize(gz.size() / 2);
  write_bytes(t / "cut.gz", gz);
  check_image_error(t / "cut.gz", "truncated");
  // Only the last trailer bytes missing (CRC/size): the data is all there but the stream is not.
  write_idx_labels(t / "trailer.gz", synthetic_labels(30), true);
  gz = read_bytes(t / "trailer.gz");
  gz.resize(gz.size() - 3);
  write_bytes(t / "trailer.gz", gz);
  check_label_error(t / "trailer.gz", "truncated: the gzip stream ends");
}

TEST_CASE("IDX: trailing bytes") {
  TempDir t;
  const IdxImages im = synthetic_images(4, 3, 3, 6);
  write_bytes(t / "plain", concat(concat(image_header(4, 3, 3), im.pixels), Bytes(5, 0)));
  check_image_error(t / "plain", "trailing data: header declares 4 images of 3x3 (36 bytes) but the file holds 5 more bytes");
  // Extra data inside the gzip stream.
  write_gzip(t / "inside.gz", concat(concat(label_header(3), {1, 2, 3}), {4}));
  check_label_error(t / "inside.gz", "trailing data: header declares 3 labels");
  // Garbage after a complete gzip stream (which gzread would silently ignore).
  write_idx_labels(t / "after.gz", {1, 2, 3}, true);
  write_bytes(t / "after.gz", concat(read_bytes(t / "after.gz"), {'j', 'u', 'n', 'k', '!'}));
  check_label_error(t / "after.gz", "trailing garbage after the gzip stream");
}

TEST_CASE("IDX: corrupt gzip") {
  TempDir t;
  write_idx_images(t / "flip.gz", synthetic_images(50, 28, 28, 7), true);
  Bytes gz = read_bytes(t / "flip.gz");
  for (size_t i = gz.size() / 2; i < gz.size() / 2 + 8; ++i) gz[i] ^= 0x5a;
  write_bytes(t / "flip.gz", gz);
  const std::string msg = input_error([&] { read_idx_images(t / "flip.gz"); });
  INFO(msg);
  CHECK(msg.find(t / "flip.gz") != std::string::npos);
  CHECK(msg.find("corrupt gzip data") != std::string::npos);
  // A broken gzip header (compression method byte) is caught too.
  write_idx_labels(t / "method.gz", synthetic_labels(20), true);
  gz = read_bytes(t / "method.gz");
  gz[2] = 7;
  write_bytes(t / "method.gz", gz);
  check_label_error(t / "method.gz", "corrupt gzip data");
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("FashionMNIST loader: plain and gzip directories") {
  for (bool gzip : {false, true}) {
    CAPTURE(gzip);
    TempDir t;
    write_fashion_dir(t, 40, 12, gzip);
    const FashionMNIST f = load_fashion_mnist(t.path.string());
    CHECK(f.train.n == 40);
    CHECK(f.test.n == 12);
    CHECK(f.train.dim == 784);
    CHECK(f.test.dim == 784);
    CHECK(f.train.images == synthetic_images(40, 28, 28, 1).pixels);
    CHECK(f.test.images == synthetic_images(12, 28, 28, 2).pixels);
    CHECK(f.train.labels == synthetic_labels(40));
    CHECK(f.test.labels == synthetic_labels(12));
  }
}

TEST_CASE("FashionMNIST loader prefers the .gz file when both exist") {
  TempDir t;
  write_fashion_dir(t, 10, 5, true);
  // Plain train images with different pixels beside the .gz ones.
  write_idx_images(t / "train-images-idx3-ubyte", synthetic_images(10, 28, 28, 42), false);
  const FashionMNIST f = load_fashion_mnist(t.path.string());
  CHECK(f.train.images == synthetic_images(10, 28, 28, 1).pixels);
}

TEST_CASE("FashionMNIST loader: missing files name the path and the fix") {
  TempDir t;
  std::string msg = input_error([&] { load_fashion_mnist(t.path.string()); });
  CHECK(msg.find(t / "train-images-idx3-ubyte") != std::string::npos);
  CHECK(msg.find("cannot open (No such file or directory") != std::string::npos);
  CHECK(msg.find("install Debian's dataset-fashion-mnist or pass --data.dir") != std::string::npos);
  // Only the test labels missing.
  write_fashion_dir(t, 10, 5, false);
  fs::remove(t / "t10k-labels-idx1-ubyte");
  msg = input_error([&] { load_fashion_mnist(t.path.string()); });
  CHECK(msg.find(t / "t10k-labels-idx1-ubyte") != std::string::npos);
}

TEST_CASE("FashionMNIST loader: label >= 10, count mismatch, size mismatch") {
  {
    TempDir t;
    write_fashion_dir(t, 10, 5, true);
    auto labels = synthetic_labels(10);
    labels[3] = 10;
    write_idx_labels(t / "train-labels-idx1-ubyte.gz", labels, true);
    const std::string msg = input_error([&] { load_fashion_mnist(t.path.string()); });
    INFO(msg);
    CHECK(msg.find(t / "train-labels-idx1-ubyte.gz") != std::string::npos);
    CHECK(msg.find("label 10 at index 3") != std::string::npos);
  }
  {
    TempDir t;
    write_fashion_dir(t, 10, 5, false);
    write_idx_labels(t / "t10k-labels-idx1-ubyte", synthetic_labels(6), false);
    const std::string msg = input_error([&] { load_fashion_mnist(t.path.string()); });
    INFO(msg);
    CHECK(msg.find(t / "t10k-labels-idx1-ubyte") != std::string::npos);
    CHECK(msg.find("holds 6 labels") != std::string::npos);
    CHECK(msg.find("holds 5 images") != std::string::npos);
  }
  {
    TempDir t;
    write_fashion_dir(t, 10, 5, false);
    write_idx_images(t / "t10k-images-idx3-ubyte", synthetic_images(5, 28, 27, 2), false);
    const std::string msg = input_error([&] { load_fashion_mnist(t.path.string()); });
    INFO(msg);
    CHECK(msg.find(t / "t10k-images-idx3-ubyte") != std::string::npos);
    CHECK(msg.find("28x27") != std::string::npos);
  }
}

TEST_CASE("FashionMNIST: the installed dataset" *
          doctest::skip(!fs::exists(kDefaultFashionMnistDir))) {
  const FashionMNIST f = load_fashion_mnist(kDefaultFashionMnistDir);
  REQUIRE(f.train.n == 60000);
  REQUIRE(f.test.n == 10000);
  CHECK(f.train.dim == 28 * 28);
  CHECK(f.test.dim == 28 * 28);
  CHECK(f.train.images.size() == size_t(60000 * 784));
  std::array<int, 10> train_count{}, test_count{};
  for (uint8_t l : f.train.labels) ++train_count[l];  // the loader guarantees l < 10
  for (uint8_t l : f.test.labels) ++test_count[l];
  for (int c = 0; c < 10; ++c) {
    CHECK(train_count[size_t(c)] == 6000);
    CHECK(test_count[size_t(c)] == 1000);
  }
  CHECK(*std::max_element(f.train.images.begin(), f.train.images.end()) == 255);
  CHECK(*std::min_element(f.train.images.begin(), f.train.images.end()) == 0);
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("jitter_pixel: p/255 exactly, plus delta, clamped") {
  for (int p = 0; p < 256; ++p) {
    CHECK(jitter_pixel(uint8_t(p), 0.0f) == float(p) / 255.0f);
    CHECK(jitter_pixel(uint8_t(p), 0.1f) == std::min(1.0f, float(p) / 255.0f + 0.1f));
    CHECK(jitter_pixel(uint8_t(p), -2.0f) == 0.0f);
    CHECK(jitter_pixel(uint8_t(p), 2.0f) == 1.0f);
  }
  CHECK(jitter_pixel(255, 0.0f) == 1.0f);
}

TEST_CASE("jitter_delta: eps = 0 is exactly +0; |delta| <= eps; keyed by (seed, epoch, sample)") {
  for (uint64_t s = 0; s < 100; ++s) {
    const float d0 = jitter_delta(1, 0, s, 0.0f);
    CHECK(d0 == 0.0f);
    CHECK(!std::signbit(d0));
  }
  const float eps = 0.75f;
  const float d = jitter_delta(5, 3, 1234, eps);
  CHECK(jitter_delta(5, 3, 1234, eps) == d);
  CHECK(jitter_delta(6, 3, 1234, eps) != d);
  CHECK(jitter_delta(5, 4, 1234, eps) != d);
  CHECK(jitter_delta(5, 3, 1235, eps) != d);
  // The documented keying.
  CHECK(d == eps * (2.0f * rng_uniform(5, kStreamJitter + (uint64_t(3) << 8), 1234) - 1.0f));

  const int n = 100000;
  double sum = 0, sum2 = 0;
  float lo = 1, hi = -1;
  for (int i = 0; i < n; ++i) {
    const float v = jitter_delta(77, 2, uint64_t(i), eps);
    REQUIRE(std::abs(v) <= eps);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
    sum2 += double(v) * v;
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  // U(-eps, eps): variance eps^2/3 = 0.1875, standard error of the mean 0.0014; 5 sigma.
  CHECK(std::abs(mean) < 0.007);
  CHECK(std::abs(var - eps * eps / 3.0) < 0.004);
  CHECK(lo < -0.74f);  // the whole interval is used
  CHECK(hi > 0.74f);
}

TEST_CASE("make_batch: eps = 0 gives p/255 exactly and the labels") {
  TempDir t;
  write_fashion_dir(t, 20, 4, false);
  const Dataset d = load_fashion_mnist(t.path.string()).train;
  const std::vector<int64_t> idx = {7, 0, 19, 7};
  std::vector<float> x(idx.size() * 784);
  std::vector<int32_t> y(idx.size());
  make_batch(d, idx.data(), int(idx.size()), JitterSpec{}, 123, 4, x.data(), y.data());
  for (size_t i = 0; i < idx.size(); ++i) {
    CHECK(y[i] == d.labels[size_t(idx[i])]);
    for (size_t k = 0; k < 784; ++k)
      REQUIRE(x[i * 784 + k] == float(d.images[size_t(idx[i]) * 784 + k]) / 255.0f);
  }
  CHECK_THROWS_AS(make_batch(d, std::vector<int64_t>{20}.data(), 1, JitterSpec{}, 1, 0, x.data(), y.data()),
                  dale::Error);
}

TEST_CASE("make_batch: one delta per image, keyed by the dataset index, clamped to [0,1]") {
  Dataset d;
  d.n = 64;
  d.dim = 784;
  d.images.resize(size_t(d.n * d.dim));
  d.labels.resize(size_t(d.n));
  for (size_t i = 0; i < d.images.size(); ++i) d.images[i] = uint8_t(i * 31 % 256);
  for (size_t i = 0; i < d.labels.size(); ++i) d.labels[i] = uint8_t(i % 10);
  JitterSpec j;
  j.eps = 0.5f;
  const uint64_t seed = 2026;
  const uint32_t epoch = 9;

  const std::vector<int64_t> a = {5, 17, 63}, b = {63, 2, 5, 40};
  std::vector<float> xa(a.size() * 784), xb(b.size() * 784);
  std::vector<int32_t> ya(a.size()), yb(b.size());
  make_batch(d, a.data(), int(a.size()), j, seed, epoch, xa.data(), ya.data());
  make_batch(d, b.data(), int(b.size()), j, seed, epoch, xb.data(), yb.data());

  // The same image in the same epoch is the same whatever batch and position it lands in.
  CHECK(std::equal(xa.begin(), xa.begin() + 784, xb.begin() + 2 * 784));   // sample 5
  CHECK(std::equal(xa.begin() + 2 * 784, xa.end(), xb.begin()));           // sample 63

  // Every pixel of an image follows the one delta of that image; clamping happens.
  bool clamped_low = false, clamped_high = false;
  for (size_t i = 0; i < a.size(); ++i) {
    const float delta = jitter_delta(seed, epoch, uint64_t(a[i]), j.eps);
    for (size_t k = 0; k < 784; ++k) {
      const uint8_t p = d.images[size_t(a[i]) * 784 + k];
      const float v = xa[i * 784 + k];
      REQUIRE(v == jitter_pixel(p, delta));
      REQUIRE(v >= 0.0f);
      REQUIRE(v <= 1.0f);
      if (v > 0.0f && v < 1.0f) REQUIRE(std::abs((v - float(p) / 255.0f) - delta) < 1e-6f);
      clamped_low |= v == 0.0f && p > 0;
      clamped_high |= v == 1.0f && p < 255;
    }
  }
  CHECK((clamped_low || clamped_high));

  // Another epoch gives other deltas.
  std::vector<float> xc(a.size() * 784);
  make_batch(d, a.data(), int(a.size()), j, seed, epoch + 1, xc.data(), ya.data());
  CHECK(xc != xa);
}

TEST_CASE("make_batch: a fixed shift applies the same delta to every image") {
  Dataset d;
  d.n = 3;
  d.dim = 4;
  d.images = {0, 100, 200, 255, 10, 20, 30, 40, 250, 251, 252, 253};
  d.labels = {1, 2, 3};
  JitterSpec j;
  j.eps = 0.75f;  // ignored when fixed
  j.fixed = true;
  j.shift = 0.25f;
  const std::vector<int64_t> idx = {0, 1, 2};
  std::vector<float> x(12);
  std::vector<int32_t> y(3);
  make_batch(d, idx.data(), 3, j, 1, 0, x.data(), y.data());
  for (size_t k = 0; k < 12; ++k)
    CHECK(x[k] == std::min(1.0f, float(d.images[k]) / 255.0f + 0.25f));
  CHECK(y == std::vector<int32_t>{1, 2, 3});
}

TEST_CASE("DeviceDataset: a batch at an offset of an uploaded order equals make_batch of those samples") {
  Dataset d;
  d.n = 50;
  d.dim = 7;
  d.images.resize(size_t(d.n * d.dim));
  d.labels.resize(size_t(d.n));
  for (size_t i = 0; i < d.images.size(); ++i) d.images[i] = uint8_t(i * 37 % 256);
  for (size_t i = 0; i < d.labels.size(); ++i) d.labels[i] = uint8_t(i * 7 % 10);
  const DeviceDataset dev(d, Device::CPU);
  const std::vector<int64_t> order = epoch_order(d.n, true, 11, 2);
  const auto up = dev.upload_order(order);
  JitterSpec j;
  j.eps = 0.6f;
  for (int64_t start : {int64_t(0), int64_t(13), int64_t(45)}) {
    CAPTURE(start);
    const int64_t B = std::min<int64_t>(8, d.n - start);
    const Batch b = dev.batch(*up, start, B, j, 77, 3);
    std::vector<float> x(static_cast<size_t>(B * d.dim));
    std::vector<int32_t> y(static_cast<size_t>(B));
    make_batch(d, order.data() + start, int(B), j, 77, 3, x.data(), y.data());
    CHECK(b.x.to_vector() == x);
    const auto yb = b.y.to_vector();
    for (int64_t i = 0; i < B; ++i) CHECK(yb[size_t(i)] == float(y[size_t(i)]));
  }
  // The identity order is 0..n−1, and an order naming a sample outside the set is refused.
  const Batch first = dev.batch(*dev.identity(), 0, 2, JitterSpec{}, 0, 0);
  CHECK(first.y.to_vector() == std::vector<float>{0.f, 7.f});
  CHECK_THROWS_AS(dev.upload_order({0, 50}), dale::Error);
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("epoch_order: identity without shuffle, a seeded permutation with it") {
  const auto plain = epoch_order(1000, false, 5, 3);
  std::vector<int64_t> iota(1000);
  std::iota(iota.begin(), iota.end(), int64_t(0));
  CHECK(plain == iota);
  CHECK(epoch_order(0, true, 5, 0).empty());
  CHECK(epoch_order(1, true, 5, 0) == std::vector<int64_t>{0});

  const auto e0 = epoch_order(1000, true, 5, 0), e1 = epoch_order(1000, true, 5, 1);
  CHECK(e0 == epoch_order(1000, true, 5, 0));  // deterministic
  CHECK(e0 != e1);
  CHECK(e0 != epoch_order(1000, true, 6, 0));
  CHECK(e0 != iota);
  for (const auto& e : {e0, e1}) {
    auto sorted = e;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == iota);
  }

  // Fisher–Yates draws every permutation equally often: where element 0 lands over 5000 epochs
  // of n = 5 is uniform (chi-square, 4 dof, P(> 23.5) ≈ 1e-4), and it sometimes stays put (a
  // Sattolo-style off-by-one never would).
  std::array<int, 5> where{};
  for (uint32_t ep = 0; ep < 5000; ++ep) {
    const auto o = epoch_order(5, true, 8, ep);
    ++where[size_t(std::find(o.begin(), o.end(), 0) - o.begin())];
  }
  double chi2 = 0;
  for (int c : where) chi2 += (c - 1000.0) * (c - 1000.0) / 1000.0;
  CHECK(chi2 < 23.5);
  CHECK(where[0] > 0);
}
