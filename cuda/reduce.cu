// Row and column reductions on the GPU: one block per row (CUB block sums in double), one
// thread per column for column sums (adjacent threads read adjacent addresses).
#include "cuda/block_reduce.cuh"
#include "cuda/check.h"
#include "cuda/kernels.h"

namespace dale::cuda {
namespace {

// One thread per (matrix b, column k) of `batch` stacked rows × cols matrices.
__global__ void col_sum_kernel(int64_t batch, int64_t rows, int64_t cols, const float* x, float beta, float* out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < batch * cols;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = i / cols, k = i % cols;
    const float* xb = x + b * rows * cols;
    double s = 0;
    for (int64_t r = 0; r < rows; ++r) s += xb[r * cols + k];
    out[i] = float((beta == 0.f ? 0.0 : beta * double(out[i])) + s);
  }
}

// which = 0: mean, 1: population variance.
__global__ void row_stat_kernel(int64_t cols, const float* x, int which, float* out) {
  __shared__ RowScratch s;
  double m, v;
  row_moments(x + blockIdx.x * cols, cols, s, m, v);
  if (threadIdx.x == 0) out[blockIdx.x] = float(which == 0 ? m : v);
}

__global__ void row_mean_backward_kernel(int64_t rows, int64_t cols, const float* g, float* dx) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dx[i] += g[i / cols] / float(cols);
}

__global__ void row_var_backward_kernel(int64_t cols, const float* g, const float* x, float* dx) {
  __shared__ RowScratch s;
  const float* xr = x + blockIdx.x * cols;
  double m, v;
  row_moments(xr, cols, s, m, v);
  const double f = 2.0 * g[blockIdx.x] / double(cols);
  for (int64_t k = threadIdx.x; k < cols; k += blockDim.x) dx[blockIdx.x * cols + k] += float(f * (xr[k] - m));
}

__global__ void sum_all_kernel(int64_t n, const float* x, float* out) {
  __shared__ RowScratch s;
  double a = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) a += x[i];
  const double t = block_sum(a, s);
  if (threadIdx.x == 0) out[0] = float(t);
}

}  // namespace

void col_sum(int64_t batch, int64_t rows, int64_t cols, const float* x, float beta, float* out) {
  if (cols <= 0 || batch <= 0) return;
  col_sum_kernel<<<grid_for(batch * cols), kBlock, 0, stream()>>>(batch, rows, cols, x, beta, out);
  DALE_LAUNCH_CHECK(col_sum_kernel);
}

void row_mean(int64_t rows, int64_t cols, const float* x, float* out) {
  if (rows <= 0) return;
  row_stat_kernel<<<unsigned(rows), kBlock, 0, stream()>>>(cols, x, 0, out);
  DALE_LAUNCH_CHECK(row_stat_kernel);
}

void row_var(int64_t rows, int64_t cols, const float* x, float* out) {
  if (rows <= 0) return;
  row_stat_kernel<<<unsigned(rows), kBlock, 0, stream()>>>(cols, x, 1, out);
  DALE_LAUNCH_CHECK(row_stat_kernel);
}

void row_mean_backward(int64_t rows, int64_t cols, const float* g, float* dx) {
  if (rows <= 0 || cols <= 0) return;
  row_mean_backward_kernel<<<grid_for(rows * cols), kBlock, 0, stream()>>>(rows, cols, g, dx);
  DALE_LAUNCH_CHECK(row_mean_backward_kernel);
}

void row_var_backward(int64_t rows, int64_t cols, const float* g, const float* x, float* dx) {
  if (rows <= 0 || cols <= 0) return;
  row_var_backward_kernel<<<unsigned(rows), kBlock, 0, stream()>>>(cols, g, x, dx);
  DALE_LAUNCH_CHECK(row_var_backward_kernel);
}

// One block: the sums dale takes (losses over a batch, a parameter's norm) are at most ~10⁵ long.
void sum_all(int64_t n, const float* x, float* out) {
  sum_all_kernel<<<1, kBlock, 0, stream()>>>(n, x, out);
  DALE_LAUNCH_CHECK(sum_all_kernel);
}

}  // namespace dale::cuda
