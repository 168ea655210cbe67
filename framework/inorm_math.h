// Per-element math of the fused I-Norm epilogue (SPEC §2.3, §3), shared by the CPU reference
// (framework/cpu/inorm.cpp) and the CUDA kernels (cuda/inorm.cu). Row statistics come in as
// doubles (row_moments on each backend); everything else is the float math of the unfused ops.
#pragma once
#include <cmath>
#include <cstdint>

#include "framework/hd.h"
#include "framework/math.h"

namespace dale {

// zd = sqrt(pooled + ε_norm): the divisive inhibition.
DALE_HD float inorm_zd(float pooled) { return std::sqrt(pooled + kEpsNorm); }
// z = (e − inh) / zd; in value also the local loss's u.
DALE_HD float inorm_z(float e, float inh, float pooled) { return (e - inh) / inorm_zd(pooled); }
// One row's local-loss term mean_k(u)² + (var_k(u) − 1)², from u's row mean and variance.
DALE_HD float inorm_term(double mean, double var) {
  const float m = float(mean), v = float(var) - 1.f;
  const float a = m * m, b = v * v;
  return a + b;
}
// d term / d u_k scaled by the row's incoming gradient gt: gt · (2 mean + 4 (var − 1)(u − mean)) / cols.
DALE_HD float inorm_term_grad(float gt, double mean, double var, float u, int64_t cols) {
  return float(double(gt) * (2.0 * mean + 4.0 * (var - 1.0) * (double(u) - mean)) / double(cols));
}
// u = (sg(e) − inh)/zd, zd = sqrt(pooled + ε): du/dinh = −1/zd, du/dpooled = −u/zd · 1/(2 zd).
DALE_HD void inorm_local_grads(float gu, float u, float pooled, float* dinh, float* dpooled) {
  const float zd = inorm_zd(pooled);
  if (dinh) *dinh += -gu / zd;
  if (dpooled) *dpooled += -gu * u / (2.f * zd * zd);
}

}  // namespace dale
