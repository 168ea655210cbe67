// Optimizer updates of SPEC §8 on the CPU: SGD (momentum, Nesterov, decoupled weight decay,
// non-negativity clamp), exponentiated gradient, AdamW. The caller passes wd = 0 for inhibitory
// groups and clamp_nonneg for the sign-constrained ones.
#include <cmath>

#include "framework/cpu/kernels.h"

namespace dale::cpu {

void sgd_update(int64_t n, float* p, const float* g, float* v, const UpdateArgs& a) {
  for (int64_t i = 0; i < n; ++i) {
    float step = g[i];
    if (a.momentum > 0.f) {
      v[i] = a.momentum * v[i] + g[i];
      step = a.nesterov ? g[i] + a.momentum * v[i] : v[i];
    }
    float x = p[i] - a.lr * step;
    if (a.wd > 0.f) x -= a.lr * a.wd * x;
    p[i] = a.clamp_nonneg && x < 0.f ? 0.f : x;
  }
}

// p ← p · exp(−lr · sign(p) · g): multiplicative, so a weight never changes sign (Dale's law).
void eg_update(int64_t n, float* p, const float* g, const UpdateArgs& a) {
  for (int64_t i = 0; i < n; ++i) {
    const float s = p[i] > 0.f ? 1.f : (p[i] < 0.f ? -1.f : 0.f);
    p[i] = p[i] * std::exp(-a.lr * s * g[i]);
  }
}

void adamw_update(int64_t n, float* p, const float* g, float* m, float* v, const UpdateArgs& a) {
  const float c1 = 1.f - std::pow(a.beta1, float(a.step));
  const float c2 = 1.f - std::pow(a.beta2, float(a.step));
  for (int64_t i = 0; i < n; ++i) {
    m[i] = a.beta1 * m[i] + (1.f - a.beta1) * g[i];
    v[i] = a.beta2 * v[i] + (1.f - a.beta2) * g[i] * g[i];
    float x = p[i] * (1.f - a.lr * a.wd);  // decoupled decay first, as AdamW defines it
    x -= a.lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + a.adam_eps);
    p[i] = a.clamp_nonneg && x < 0.f ? 0.f : x;
  }
}

}  // namespace dale::cpu
