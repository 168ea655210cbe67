// DeviceDataset::next_batch, the batch form a captured training step uses: the start comes from
// a cursor in device memory, which then moves on by B. On the CPU reference it must give exactly
// DeviceDataset::batch's batches (tests/cuda/test_graph.cpp checks the same on the GPU).
#include <cstring>

#include "datasets/batch_cursor.h"
#include "datasets/device_dataset.h"
#include "tests/testing.h"

using namespace dale;

namespace {

Dataset numbered_dataset(int64_t n, int64_t dim) {
  Dataset d;
  d.n = n;
  d.dim = dim;
  d.images.resize(size_t(n * dim));
  d.labels.resize(size_t(n));
  for (size_t i = 0; i < d.images.size(); ++i) d.images[i] = uint8_t(i * 37 % 256);
  for (size_t i = 0; i < d.labels.size(); ++i) d.labels[i] = uint8_t(i * 7 % 10);
  return d;
}

// Bit-level equality (a NaN or −0 would slip through ==).
bool same_bits(const Tensor& a, const Tensor& b) {
  const auto u = a.to_vector(), v = b.to_vector();
  return u.size() == v.size() && std::memcmp(u.data(), v.data(), u.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("next_batch: the batches of a walking cursor are DeviceDataset::batch's, bit for bit") {
  const Dataset d = numbered_dataset(50, 7);
  const DeviceDataset dev(d, Device::CPU);
  const auto order = dev.upload_order(epoch_order(d.n, true, 11, 2));
  JitterSpec j;
  j.eps = 0.6f;
  const int64_t B = 8;
  BatchCursor cursor(Device::CPU);
  for (int64_t start = 0; start + B <= d.n; start += B) {
    CAPTURE(start);
    REQUIRE(*cursor.position() == start);  // CPU "device" memory is host memory
    const Batch got = dev.next_batch(*order, cursor, B, j, 77, 3);
    const Batch want = dev.batch(*order, start, B, j, 77, 3);
    CHECK(same_bits(got.x, want.x));
    CHECK(same_bits(got.y, want.y));
  }

  // set() moves it anywhere (an epoch's start); a short last batch reads to the order's end.
  cursor.set(45);
  const Batch last = dev.next_batch(*order, cursor, 5, j, 77, 3);
  CHECK(same_bits(last.x, dev.batch(*order, 45, 5, j, 77, 3).x));
  CHECK(*cursor.position() == 50);
}

TEST_CASE("next_batch: a fixed shift and another epoch's jitter also match batch") {
  const Dataset d = numbered_dataset(20, 5);
  const DeviceDataset dev(d, Device::CPU);
  JitterSpec fixed;
  fixed.fixed = true;
  fixed.shift = -0.3f;
  JitterSpec random;
  random.eps = 0.75f;
  for (const JitterSpec& j : {fixed, random})
    for (uint32_t epoch : {0u, 9u}) {
      BatchCursor cursor(Device::CPU, 3);
      const Batch got = dev.next_batch(*dev.identity(), cursor, 6, j, 5, epoch);
      CHECK(same_bits(got.x, dev.batch(*dev.identity(), 3, 6, j, 5, epoch).x));
      CHECK(*cursor.position() == 9);
    }
}
