// Block-wide sums for the row kernels (one block of kBlock threads per row), through CUB, in
// double like the CPU reference: rows are short (≤ 784 here), so the cost is the launch, and
// double sums keep the GPU within 1e-5 of the CPU whatever the summation order.
#pragma once
#include <cub/block/block_reduce.cuh>

#include "cuda/context.h"

namespace dale::cuda {

struct RowScratch {
  typename cub::BlockReduce<double, kBlock>::TempStorage reduce;
  double total;
};

// Σ over the block of each thread's v, returned to every thread. All threads must call it.
__device__ inline double block_sum(double v, RowScratch& s) {
  const double t = cub::BlockReduce<double, kBlock>(s.reduce).Sum(v);
  if (threadIdx.x == 0) s.total = t;
  __syncthreads();
  const double r = s.total;
  __syncthreads();  // s may be reused by the next call
  return r;
}

// μ and the population variance of x[0..cols), two passes as the CPU's row_moments.
__device__ inline void row_moments(const float* x, int64_t cols, RowScratch& s, double& mean, double& var) {
  double a = 0;
  for (int64_t k = threadIdx.x; k < cols; k += blockDim.x) a += x[k];
  mean = block_sum(a, s) / double(cols);
  double q = 0;
  for (int64_t k = threadIdx.x; k < cols; k += blockDim.x) q += (x[k] - mean) * (x[k] - mean);
  var = block_sum(q, s) / double(cols);
}

}  // namespace dale::cuda
