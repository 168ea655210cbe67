// Per-element optimizer updates of SPEC §8, shared by the CPU loops (framework/cpu/optim.cpp) and
// the CUDA kernels (cuda/optim.cu): SGD with momentum, Nesterov, decoupled weight decay and the
// non-negativity clamp; exponentiated gradient; AdamW. The caller passes wd = 0 for inhibitory
// groups and clamp_nonneg for the sign-constrained ones.
#pragma once
#include <cmath>
#include <cstdint>

#include "framework/hd.h"

namespace dale {

// Optimizer hyper-parameters of one parameter tensor for one step.
struct UpdateArgs {
  float lr = 0, momentum = 0, wd = 0;
  bool nesterov = false, clamp_nonneg = false;
  float beta1 = 0.9f, beta2 = 0.999f, adam_eps = 1e-8f;  // AdamW
  int64_t step = 1;                                     // 1-based, for AdamW's bias correction
};

DALE_HD void sgd_element(float& p, float g, float& v, const UpdateArgs& a) {
  float step = g;
  if (a.momentum > 0.f) {
    v = a.momentum * v + g;
    step = a.nesterov ? g + a.momentum * v : v;
  }
  float x = p - a.lr * step;
  if (a.wd > 0.f) x -= a.lr * a.wd * x;
  p = a.clamp_nonneg && x < 0.f ? 0.f : x;
}

// p ← p · exp(−lr · sign(p) · g): multiplicative, so a weight never changes sign (Dale's law).
DALE_HD void eg_element(float& p, float g, const UpdateArgs& a) {
  const float s = p > 0.f ? 1.f : (p < 0.f ? -1.f : 0.f);
  p = p * std::exp(-a.lr * s * g);
}

// c1, c2: the bias corrections 1 − β1^t and 1 − β2^t (adamw_corrections, once per tensor).
DALE_HD void adamw_element(float& p, float g, float& m, float& v, const UpdateArgs& a, float c1, float c2) {
  m = a.beta1 * m + (1.f - a.beta1) * g;
  v = a.beta2 * v + (1.f - a.beta2) * g * g;
  float x = p * (1.f - a.lr * a.wd);  // decoupled decay first, as AdamW defines it
  x -= a.lr * (m / c1) / (std::sqrt(v / c2) + a.adam_eps);
  p = a.clamp_nonneg && x < 0.f ? 0.f : x;
}
inline void adamw_corrections(const UpdateArgs& a, float& c1, float& c2) {
  c1 = 1.f - std::pow(a.beta1, float(a.step));
  c2 = 1.f - std::pow(a.beta2, float(a.step));
}

}  // namespace dale
