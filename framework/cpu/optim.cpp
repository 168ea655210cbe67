// Optimizer updates of SPEC §8 on the CPU: loops over framework/optim_math.h's per-element rules.
#include "framework/cpu/kernels.h"

namespace dale::cpu {

void sgd_update(int64_t n, float* p, const float* g, float* v, const UpdateArgs& a) {
  float unused = 0.f;  // v is null without momentum
  for (int64_t i = 0; i < n; ++i) sgd_element(p[i], g[i], v ? v[i] : unused, a);
}

void eg_update(int64_t n, float* p, const float* g, const UpdateArgs& a) {
  for (int64_t i = 0; i < n; ++i) eg_element(p[i], g[i], a);
}

void adamw_update(int64_t n, float* p, const float* g, float* m, float* v, const UpdateArgs& a) {
  float c1, c2;
  adamw_corrections(a, c1, c2);
  for (int64_t i = 0; i < n; ++i) adamw_element(p[i], g[i], m[i], v[i], a, c1, c2);
}

}  // namespace dale::cpu
