// Row normalizations (SPEC §5) and the error-normalization backwards G (SPEC §4) on the GPU: one
// block per row; the row sums in double (block_reduce.cuh), each element through the same
// framework/math.h formula as the CPU reference. Forward and backward side by side.
#include "cuda/block_reduce.cuh"
#include "cuda/check.h"
#include "cuda/kernels.h"

namespace dale::cuda {
namespace {

__global__ void norm_forward_kernel(NormKind k, int64_t cols, const float* z, float* y, float* mu, float* rstd) {
  __shared__ RowScratch s;
  const int64_t r = blockIdx.x;
  const float* zr = z + r * cols;
  double m, v;
  row_moments(zr, cols, s, m, v);
  const float mu_r = float(m), rstd_r = float(1.0 / sqrt(v + double(kEpsNorm)));
  if (threadIdx.x == 0) mu[r] = mu_r, rstd[r] = rstd_r;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) y[r * cols + j] = norm_forward(k, zr[j], mu_r, rstd_r);
}

__global__ void norm_backward_kernel(NormKind k, int64_t cols, const float* g, const float* z, const float* mu,
                                     const float* rstd, float beta, float* dz) {
  __shared__ RowScratch s;
  const int64_t r = blockIdx.x;
  const float* gr = g + r * cols;
  const float* zr = z + r * cols;
  double sg = 0, sgy = 0, sgz = 0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    sg += gr[j];
    sgy += double(gr[j]) * (zr[j] - mu[r]) * rstd[r];
    sgz += double(gr[j]) * zr[j];
  }
  sg = block_sum(sg, s);
  sgy = block_sum(sgy, s);
  sgz = block_sum(sgz, s);
  const float D = float(cols), mean_g = float(sg / double(cols));
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const float d = norm_backward(k, gr[j], zr[j], mu[r], rstd[r], mean_g, float(sgy), float(sgz), D);
    dz[r * cols + j] = (beta == 0.f ? 0.f : beta * dz[r * cols + j]) + d;
  }
}

__global__ void errnorm_backward_kernel(ErrNorm m, int64_t cols, const float* g, const float* z, const float* w,
                                        float beta, float* dz) {
  __shared__ RowScratch s;
  const int64_t r = blockIdx.x;
  const float* gr = g + r * cols;
  const float* zr = z + r * cols;
  double sg = 0, sgz = 0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    sg += m == ErrNorm::FaCenter ? double(w[j]) * gr[j] : double(gr[j]) / double(cols);
    sgz += double(gr[j]) * zr[j];
  }
  sg = block_sum(sg, s);
  sgz = block_sum(sgz, s);
  double mz, vz;
  row_moments(zr, cols, s, mz, vz);
  const float rstd = float(1.0 / sqrt(vz + double(kEpsNorm)));
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const float d = errnorm_backward(m, gr[j], zr[j], float(sg), float(sgz), rstd, float(cols));
    dz[r * cols + j] = (beta == 0.f ? 0.f : beta * dz[r * cols + j]) + d;
  }
}

}  // namespace

void norm_forward(NormKind k, int64_t rows, int64_t cols, const float* z, float* y, float* mu, float* rstd) {
  if (rows <= 0) return;
  norm_forward_kernel<<<unsigned(rows), kBlock, 0, stream()>>>(k, cols, z, y, mu, rstd);
  DALE_LAUNCH_CHECK(norm_forward_kernel);
}

void norm_backward(NormKind k, int64_t rows, int64_t cols, const float* g, const float* z, const float* mu,
                   const float* rstd, float beta, float* dz) {
  if (rows <= 0) return;
  norm_backward_kernel<<<unsigned(rows), kBlock, 0, stream()>>>(k, cols, g, z, mu, rstd, beta, dz);
  DALE_LAUNCH_CHECK(norm_backward_kernel);
}

void errnorm_backward(ErrNorm m, int64_t rows, int64_t cols, const float* g, const float* z, const float* w,
                      float beta, float* dz) {
  if (rows <= 0) return;
  errnorm_backward_kernel<<<unsigned(rows), kBlock, 0, stream()>>>(m, cols, g, z, w, beta, dz);
  DALE_LAUNCH_CHECK(errnorm_backward_kernel);
}

}  // namespace dale::cuda
