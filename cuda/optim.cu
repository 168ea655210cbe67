// Optimizer updates of SPEC §8 on the GPU: grid-stride loops over framework/optim_math.h's
// per-element rules, the very code the CPU reference runs.
#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/kernels.h"

namespace dale::cuda {
namespace {

__global__ void sgd_kernel(int64_t n, float* p, const float* g, float* v, UpdateArgs a) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float unused = 0.f;  // v is null without momentum
    sgd_element(p[i], g[i], v ? v[i] : unused, a);
  }
}

__global__ void eg_kernel(int64_t n, float* p, const float* g, UpdateArgs a) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    eg_element(p[i], g[i], a);
}

__global__ void adamw_kernel(int64_t n, float* p, const float* g, float* m, float* v, UpdateArgs a, float c1,
                             float c2) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    adamw_element(p[i], g[i], m[i], v[i], a, c1, c2);
}

}  // namespace

void sgd_update(int64_t n, float* p, const float* g, float* v, const UpdateArgs& a) {
  if (n <= 0) return;
  sgd_kernel<<<grid_for(n), kBlock, 0, stream()>>>(n, p, g, v, a);
  DALE_LAUNCH_CHECK(sgd_kernel);
}

void eg_update(int64_t n, float* p, const float* g, const UpdateArgs& a) {
  if (n <= 0) return;
  eg_kernel<<<grid_for(n), kBlock, 0, stream()>>>(n, p, g, a);
  DALE_LAUNCH_CHECK(eg_kernel);
}

void adamw_update(int64_t n, float* p, const float* g, float* m, float* v, const UpdateArgs& a) {
  if (n <= 0) return;
  float c1, c2;
  adamw_corrections(a, c1, c2);  // on the host, once, exactly as the CPU computes them
  adamw_kernel<<<grid_for(n), kBlock, 0, stream()>>>(n, p, g, m, v, a, c1, c2);
  DALE_LAUNCH_CHECK(adamw_kernel);
}

}  // namespace dale::cuda
