// Host batch assembly and epoch order (see jitter.h): the CPU reference of what the device
// batcher does.
#include "datasets/jitter.h"

#include <numeric>
#include <utility>

#include "framework/check.h"

namespace dale {

void make_batch(const Dataset& d, const int64_t* indices, int B, const JitterSpec& j,
                uint64_t seed, uint32_t epoch, float* x, int32_t* y) {
  DALE_CHECK(B >= 0 && (B == 0 || (indices && x && y)), "make_batch: bad batch (B = {})", B);
  const size_t dim = size_t(d.dim);
  for (int i = 0; i < B; ++i) {
    const int64_t s = indices[i];
    DALE_CHECK(s >= 0 && s < d.n, "make_batch: sample index {} outside the dataset of {}", s, d.n);
    const float delta = j.fixed ? j.shift : jitter_delta(seed, epoch, uint64_t(s), j.eps);
    const uint8_t* src = d.images.data() + size_t(s) * dim;
    float* dst = x + size_t(i) * dim;
    for (size_t k = 0; k < dim; ++k) dst[k] = jitter_pixel(src[k], delta);
    y[i] = int32_t(d.labels[size_t(s)]);
  }
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
