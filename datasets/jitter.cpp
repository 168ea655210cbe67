// Host batch assembly and epoch order (see jitter.h): the CPU reference of what the device
// batcher does.
#include "datasets/jitter.h"

#include <numeric>
#include <utility>

#include "framework/backend.h"
#include "framework/check.h"

namespace dale {

void make_batch(const Dataset& d, const int64_t* indices, int B, const JitterSpec& j,
                uint64_t seed, uint32_t epoch, float* x, int32_t* y) {
  DALE_CHECK(B >= 0 && (B == 0 || (indices && x && y)), "make_batch: bad batch (B = {})", B);
  for (int i = 0; i < B; ++i)
    DALE_CHECK(indices[i] >= 0 && indices[i] < d.n, "make_batch: sample index {} outside the dataset of {}",
               indices[i], d.n);
  // The CPU backend's gather_batch is the one batch kernel of the host (labels come as floats).
  std::vector<float> yf(static_cast<size_t>(B));
  backend(Device::CPU).gather_batch(B, d.dim, d.images.data(), d.labels.data(), indices, nullptr,
                                    BatchJitter{j.eps, j.shift, j.fixed, seed, epoch}, x, yf.data());
  for (int i = 0; i < B; ++i) y[i] = int32_t(yf[size_t(i)]);
}

std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, uint32_t epoch) {
  DALE_CHECK(n >= 0, "epoch_order: n = {}", n);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));
  if (!shuffle) return order;
  RngStream rng(seed, uint64_t(kStreamShuffle) + (uint64_t(epoch) << 8));
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t k = int64_t(rng.below(uint64_t(i) + 1));
    std::swap(order[size_t(i)], order[size_t(k)]);
  }
  return order;
}

}  // namespace dale
