// Raw byte buffers and batch assembly on the CPU: the reference of the device batcher. The pixel
// and δ math is datasets/jitter.h's, shared with CUDA, so both build bit-identical batches.
#include <cstdlib>
#include <cstring>

#include "datasets/jitter.h"
#include "framework/check.h"
#include "framework/cpu/kernels.h"

namespace dale::cpu {

void* alloc_bytes(int64_t bytes) {
  void* p = std::malloc(bytes > 0 ? size_t(bytes) : 1);
  DALE_CHECK(p != nullptr, "out of host memory allocating {} bytes", bytes);
  return p;
}
void free_bytes(void* p) { std::free(p); }
void bytes_from_host(int64_t bytes, const void* host, void* dst) {
  if (bytes > 0) std::memcpy(dst, host, size_t(bytes));
}

void gather_batch(int64_t B, int64_t dim, const uint8_t* images, const uint8_t* labels, const int64_t* order,
                  const int64_t* start, const BatchJitter& j, float* x, float* y) {
  if (start) order += *start;
  for (int64_t i = 0; i < B; ++i) {
    const int64_t s = order[i];
    const float delta = j.fixed ? j.shift : jitter_delta(j.seed, j.epoch, uint64_t(s), j.eps);
    const uint8_t* src = images + s * dim;
    for (int64_t k = 0; k < dim; ++k) x[i * dim + k] = jitter_pixel(src[k], delta);
    y[i] = float(labels[s]);
  }
}

void advance_cursor(int64_t* cursor, int64_t by) { *cursor += by; }

}  // namespace dale::cpu
