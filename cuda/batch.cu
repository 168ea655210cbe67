// Batch assembly on the GPU from the device-resident uint8 dataset: one block per image; δ from
// the counter-based RNG and the pixel formula of datasets/jitter.h (DALE_HD, rounding pinned), so
// the batch equals the CPU's bit for bit.
#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/kernels.h"
#include "datasets/jitter.h"

namespace dale::cuda {
namespace {

__global__ void gather_batch_kernel(int64_t dim, const uint8_t* images, const uint8_t* labels, const int64_t* order,
                                    BatchJitter j, float* x, float* y) {
  const int64_t i = blockIdx.x, s = order[i];
  const float delta = j.fixed ? j.shift : jitter_delta(j.seed, j.epoch, uint64_t(s), j.eps);
  const uint8_t* src = images + s * dim;
  for (int64_t k = threadIdx.x; k < dim; k += blockDim.x) x[i * dim + k] = jitter_pixel(src[k], delta);
  if (threadIdx.x == 0) y[i] = float(labels[s]);
}

}  // namespace

void gather_batch(int64_t B, int64_t dim, const uint8_t* images, const uint8_t* labels, const int64_t* order,
                  const BatchJitter& j, float* x, float* y) {
  if (B <= 0) return;
  gather_batch_kernel<<<unsigned(B), kBlock, 0, stream()>>>(dim, images, labels, order, j, x, y);
  DALE_LAUNCH_CHECK(gather_batch_kernel);
}

}  // namespace dale::cuda
