// The fused I-Norm epilogue on the GPU (SPEC §2.3, §3): one block per row computes z and the
// row's local-loss term (forward), or the local path's gradients (backward), with the row sums in
// double (block_reduce.cuh) and framework/inorm_math.h's per-element math, as the CPU does.
#include "cuda/block_reduce.cuh"
#include "cuda/check.h"
#include "cuda/kernels.h"
#include "framework/inorm_math.h"

namespace dale::cuda {
namespace {

__global__ void inorm_forward_kernel(int64_t cols, const float* e, const float* inh, const float* pooled, float* z,
                                     float* terms) {
  __shared__ RowScratch s;
  const int64_t o = blockIdx.x * cols;
  for (int64_t k = threadIdx.x; k < cols; k += blockDim.x) z[o + k] = inorm_z(e[o + k], inh[o + k], pooled[o + k]);
  __syncthreads();  // row_moments reads elements other threads wrote
  double m, v;
  row_moments(z + o, cols, s, m, v);
  if (threadIdx.x == 0) terms[blockIdx.x] = inorm_term(m, v);
}

__global__ void inorm_backward_task_kernel(int64_t n, const float* gz, const float* pooled, float* de) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    de[i] += gz[i] / inorm_zd(pooled[i]);
}

__global__ void inorm_backward_local_kernel(int64_t cols, const float* gt, const float* z, const float* pooled,
                                            float* dinh, float* dpooled) {
  __shared__ RowScratch s;
  const int64_t o = blockIdx.x * cols;
  double m, v;
  row_moments(z + o, cols, s, m, v);
  const float g = gt[blockIdx.x];
  for (int64_t k = threadIdx.x; k < cols; k += blockDim.x)
    inorm_local_grads(inorm_term_grad(g, m, v, z[o + k], cols), z[o + k], pooled[o + k],
                      dinh ? dinh + o + k : nullptr, dpooled ? dpooled + o + k : nullptr);
}

}  // namespace

void inorm_forward(int64_t rows, int64_t cols, const float* e, const float* inh, const float* pooled, float* z,
                   float* terms) {
  if (rows <= 0) return;
  inorm_forward_kernel<<<unsigned(rows), kBlock, 0, stream()>>>(cols, e, inh, pooled, z, terms);
  DALE_LAUNCH_CHECK(inorm_forward_kernel);
}

void inorm_backward_task(int64_t rows, int64_t cols, const float* gz, const float* pooled, float* de) {
  if (rows * cols <= 0) return;
  inorm_backward_task_kernel<<<grid_for(rows * cols), kBlock, 0, stream()>>>(rows * cols, gz, pooled, de);
  DALE_LAUNCH_CHECK(inorm_backward_task_kernel);
}

void inorm_backward_local(int64_t rows, int64_t cols, const float* gt, const float* z, const float* pooled,
                          float* dinh, float* dpooled) {
  if (rows <= 0 || cols <= 0 || (!dinh && !dpooled)) return;
  inorm_backward_local_kernel<<<unsigned(rows), kBlock, 0, stream()>>>(cols, gt, z, pooled, dinh, dpooled);
  DALE_LAUNCH_CHECK(inorm_backward_local_kernel);
}

}  // namespace dale::cuda
