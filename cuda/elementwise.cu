// Elementwise maps and broadcasts on the GPU: grid-stride loops over framework/math.h's
// apply_map, one kernel instantiation per MapOp so the switch disappears from the loop.
#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/kernels.h"

namespace dale::cuda {
namespace {

template <MapOp Op>
__global__ void map_kernel(int64_t n, const float* a, const float* b, const float* c, float s, float beta,
                           float* y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = apply_map(Op, a[i], b ? b[i] : 0.f, c ? c[i] : 0.f, s);
    y[i] = beta == 0.f ? v : beta * y[i] + v;  // beta = 0 overwrites (a NaN in y does not survive)
  }
}

// s must not point into y (the CPU reads s[0] once; here every thread reads it).
__global__ void add_scalar_ptr_kernel(int64_t n, const float* s, float alpha, float* y) {
  const float v = alpha * s[0];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] += v;
}

__global__ void add_rowvec_kernel(int64_t n, int64_t rows, int64_t cols, const float* x, const float* v, float* y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = x[i] + v[i / (rows * cols) * cols + i % cols];
}

}  // namespace

void map(MapOp op, int64_t n, const float* a, const float* b, const float* c, float s, float beta, float* y) {
  if (n <= 0) return;
  const unsigned grid = grid_for(n);
  switch (op) {
#define DALE_MAP_CASE(OP)                                                                \
  case MapOp::OP:                                                                        \
    map_kernel<MapOp::OP><<<grid, kBlock, 0, stream()>>>(n, a, b, c, s, beta, y);        \
    break;
    DALE_MAP_CASE(Copy) DALE_MAP_CASE(Add) DALE_MAP_CASE(Sub) DALE_MAP_CASE(Mul)
    DALE_MAP_CASE(Div) DALE_MAP_CASE(Scale) DALE_MAP_CASE(AddScalar) DALE_MAP_CASE(Square)
    DALE_MAP_CASE(Sqrt) DALE_MAP_CASE(Relu) DALE_MAP_CASE(ReluGrad) DALE_MAP_CASE(SquareGrad)
    DALE_MAP_CASE(SqrtGrad) DALE_MAP_CASE(DivGradDen)
#undef DALE_MAP_CASE
  }
  DALE_LAUNCH_CHECK(map_kernel);
}

void add_scalar_ptr(int64_t n, const float* s, float alpha, float* y) {
  if (n <= 0) return;
  add_scalar_ptr_kernel<<<grid_for(n), kBlock, 0, stream()>>>(n, s, alpha, y);
  DALE_LAUNCH_CHECK(add_scalar_ptr_kernel);
}

void add_rowvec(int64_t batch, int64_t rows, int64_t cols, const float* x, const float* v, float* y) {
  const int64_t n = batch * rows * cols;
  if (n <= 0) return;
  add_rowvec_kernel<<<grid_for(n), kBlock, 0, stream()>>>(n, rows, cols, x, v, y);
  DALE_LAUNCH_CHECK(add_rowvec_kernel);
}

}  // namespace dale::cuda
