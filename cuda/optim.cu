// Optimizer updates of SPEC §8 on the GPU: grid-stride loops over framework/optim_math.h's
// per-element rules, the very code the CPU reference runs.
#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/kernels.h"

namespace dale::cuda {
namespace {

// SGD, or EG when a.exponentiated (descent_element). v is null without momentum.
__global__ void sgd_kernel(int64_t n, float* p, const float* g, float* v, UpdateArgs a) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float unused = 0.f;
    descent_element(p[i], g[i], v ? v[i] : unused, a);
  }
}

__global__ void adamw_kernel(int64_t n, float* p, const float* g, float* m, float* v, UpdateArgs a,
                             float step_size) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    adamw_element(p[i], g[i], m[i], v[i], a, step_size);
}

}  // namespace

// v null = no momentum buffer: the step is taken without momentum, as on the CPU.
void sgd_update(int64_t n, float* p, const float* g, float* v, const UpdateArgs& a) {
  if (n <= 0) return;
  UpdateArgs b = a;
  if (!v) b.momentum = 0.f;
  sgd_kernel<<<grid_for(n), kBlock, 0, stream()>>>(n, p, g, v, b);
  DALE_LAUNCH_CHECK(sgd_kernel);
}

// EG without a momentum buffer: sgd_update with a.exponentiated and v null.
void eg_update(int64_t n, float* p, const float* g, const UpdateArgs& a) {
  UpdateArgs e = a;
  e.exponentiated = true;
  sgd_update(n, p, g, nullptr, e);
}

void adamw_update(int64_t n, float* p, const float* g, float* m, float* v, const UpdateArgs& a) {
  if (n <= 0) return;
  const float step_size = adamw_step_size(a);  // on the host, once, exactly as the CPU computes it
  adamw_kernel<<<grid_for(n), kBlock, 0, stream()>>>(n, p, g, m, v, a, step_size);
  DALE_LAUNCH_CHECK(adamw_kernel);
}

}  // namespace dale::cuda
