// Batch assembly on the GPU from the device-resident uint8 dataset: one block per image; δ from
// the counter-based RNG and the pixel formula of datasets/jitter.h (DALE_HD, rounding pinned), so
// the batch equals the CPU's bit for bit. The batch's first position comes from device memory (a
// cursor), so a captured training step gathers the next batch on every replay.
#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/kernels.h"
#include "datasets/jitter.h"

namespace dale::cuda {
namespace {

__global__ void gather_batch_kernel(int64_t dim, const uint8_t* images, const uint8_t* labels, const int64_t* order,
                                    const int64_t* start, BatchJitter j, float* x, float* y) {
  const int64_t i = blockIdx.x, s = order[(start ? *start : 0) + i];
  const float delta = j.fixed ? j.shift : jitter_delta(j.seed, j.epoch, uint64_t(s), j.eps);
  const uint8_t* src = images + s * dim;
  for (int64_t k = threadIdx.x; k < dim; k += blockDim.x) x[i * dim + k] = jitter_pixel(src[k], delta);
  if (threadIdx.x == 0) y[i] = float(labels[s]);
}

__global__ void advance_cursor_kernel(int64_t* cursor, int64_t by) { *cursor += by; }

}  // namespace

void gather_batch(int64_t B, int64_t dim, const uint8_t* images, const uint8_t* labels, const int64_t* order,
                  const int64_t* start, const BatchJitter& j, float* x, float* y) {
  if (B <= 0) return;
  gather_batch_kernel<<<unsigned(B), kBlock, 0, stream()>>>(dim, images, labels, order, start, j, x, y);
  DALE_LAUNCH_CHECK(gather_batch_kernel);
}

// One thread: queued after the gather that read the cursor, so that gather saw the old value.
void advance_cursor(int64_t* cursor, int64_t by) {
  advance_cursor_kernel<<<1, 1, 0, stream()>>>(cursor, by);
  DALE_LAUNCH_CHECK(advance_cursor_kernel);
}

}  // namespace dale::cuda
