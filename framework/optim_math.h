// Per-element optimizer updates of SPEC §8, shared by the CPU loops (framework/cpu/optim.cpp) and
// the CUDA kernels (cuda/optim.cu, cuda/optim_multi.cu): SGD with momentum, Nesterov, decoupled
// weight decay and the non-negativity clamp; exponentiated gradient with momentum, Nesterov and
// sign(p) weight decay (the lab's EG optimizer, linclab/EG_optimiser); AdamW as the study's code
// has it. The caller (update_args) decides per group which decay, rule and clamp apply.
#pragma once
#include <cmath>
#include <cstdint>

#include "framework/hd.h"

namespace dale {

// Optimizer hyper-parameters of one parameter tensor for one step.
struct UpdateArgs {
  float lr = 0, momentum = 0, wd = 0;
  bool nesterov = false, clamp_nonneg = false;
  float clamp_to = 0.f;  // where the clamp puts a weight that would turn negative (0, or kSignFreeze)
  bool exponentiated = false;                           // EG instead of GD (sgd_update's rule)
  float beta1 = 0.9f, beta2 = 0.999f, adam_eps = 1e-6f;  // AdamW, the study's defaults
  int64_t step = 1;                                     // 1-based, for AdamW's bias correction
};

// The lab's sign-freezing gradient descent (linclab/EG_optimiser, freeze_gd_signs): a step that
// would carry a weight across zero leaves it at this tiny positive value instead of clamping it
// to 0, so the weight keeps its sign and can grow back.
constexpr float kSignFreeze = 1e-18f;

// Momentum of a descent direction d: v ← μ·v + d, then d + μ·v (Nesterov) or v. No dampening, so
// the first step from v = 0 is v = d, as PyTorch's buffer initialised with a clone of d.
DALE_HD float momentum_direction(float d, float& v, const UpdateArgs& a) {
  if (!(a.momentum > 0.f)) return d;
  v = a.momentum * v + d;
  return a.nesterov ? d + a.momentum * v : v;
}

// SGD as the study's optimiser: momentum on the raw gradient, the step, then decoupled decay of
// the stepped value (p − lr·wd·p), then the clamp (to a.clamp_to).
DALE_HD void sgd_element(float& p, float g, float& v, const UpdateArgs& a) {
  const float step = momentum_direction(g, v, a);
  float x = p - a.lr * step;
  if (a.wd > 0.f) x -= a.lr * a.wd * x;
  p = a.clamp_nonneg && x < 0.f ? a.clamp_to : x;
}

// EG as linclab/EG_optimiser's SGD(update_alg="eg"): decay enters the gradient as wd·sign(p)
// before the momentum, and p ← p · exp(−lr · sign(p) · d). Multiplicative, so a weight never
// changes sign (Dale's law) and needs no clamp; sign(0) = 0 keeps a zero weight at 0.
DALE_HD void eg_element(float& p, float g, float& v, const UpdateArgs& a) {
  const float s = p > 0.f ? 1.f : (p < 0.f ? -1.f : 0.f);
  const float d = momentum_direction(a.wd > 0.f ? g + a.wd * s : g, v, a);
  p = p * std::exp(-a.lr * s * d);
}

// The rule of sgd_update: EG when a.exponentiated, else SGD. v is only read or written with
// momentum > 0.
DALE_HD void descent_element(float& p, float g, float& v, const UpdateArgs& a) {
  if (a.exponentiated) eg_element(p, g, v, a);
  else sgd_element(p, g, v, a);
}

// AdamW as the study's optimiser (danns_eg/optimisation.py, after HuggingFace's): eps is added to
// √v before the bias correction, which goes into the step size lr·√(1 − β2^t)/(1 − β1^t)
// (adamw_step_size, once per tensor); the decay p − lr·wd·p follows the update, then the clamp.
DALE_HD void adamw_element(float& p, float g, float& m, float& v, const UpdateArgs& a, float step_size) {
  m = a.beta1 * m + (1.f - a.beta1) * g;
  v = a.beta2 * v + (1.f - a.beta2) * g * g;
  float x = p - step_size * (m / (std::sqrt(v) + a.adam_eps));
  if (a.wd > 0.f) x -= a.lr * a.wd * x;
  p = a.clamp_nonneg && x < 0.f ? a.clamp_to : x;
}
// On the host, in double as the study's Python computes it, rounded once.
inline float adamw_step_size(const UpdateArgs& a) {
  const double t = double(a.step);
  return float(double(a.lr) * std::sqrt(1.0 - std::pow(double(a.beta2), t)) / (1.0 - std::pow(double(a.beta1), t)));
}

}  // namespace dale
