// Per-element math shared by the CPU and CUDA backends (DALE_HD): every elementwise map of the
// kernel table, forward and backward, is one case of apply_map. The CPU loops and the CUDA
// kernels both call it, so a CPU test of a map covers the arithmetic the GPU runs.
#pragma once
#include <cmath>
#include <cstdint>

#include "framework/hd.h"

namespace dale {

constexpr float kEpsNorm = 1e-5f;  // ε_norm of SPEC.md, everywhere

// y = f(a, b, c; s). Names say the formula; "Grad" maps are the backward rules of the tape ops.
enum class MapOp : uint8_t {
  Copy,        // a
  Add,         // a + b
  Sub,         // a − b
  Mul,         // a · b
  Div,         // a / b
  Scale,       // s · a
  AddScalar,   // a + s
  Square,      // a²
  Sqrt,        // √a
  Relu,        // max(a, 0)
  ReluGrad,    // a if b > 0 else 0            (a = incoming g, b = forward input)
  SquareGrad,  // 2 · a · b                    (a = g, b = forward input)
  SqrtGrad,    // a / (2 b)                    (a = g, b = forward output √x)
  DivGradDen,  // −a · b / c²                  (a = g, b = numerator, c = denominator)
};

DALE_HD float apply_map(MapOp op, float a, float b, float c, float s) {
  switch (op) {
    case MapOp::Copy: return a;
    case MapOp::Add: return a + b;
    case MapOp::Sub: return a - b;
    case MapOp::Mul: return a * b;
    case MapOp::Div: return a / b;
    case MapOp::Scale: return s * a;
    case MapOp::AddScalar: return a + s;
    case MapOp::Square: return a * a;
    case MapOp::Sqrt: return sqrtf(a);
    case MapOp::Relu: return a < 0.f ? 0.f : a;  // NaN stays NaN, so divergence shows
    case MapOp::ReluGrad: return b > 0.f ? a : 0.f;
    case MapOp::SquareGrad: return 2.f * a * b;
    case MapOp::SqrtGrad: return a / (2.f * b);
    case MapOp::DivGradDen: return -a * b / (c * c);
  }
  return 0.f;
}

// Row normalizations of SPEC §5. Forward: y = (z − μ)/σ (LayerNorm), z − μ (MeanNorm),
// z/σ (DivisiveNorm), with μ = mean_k z, σ = sqrt(var_k z + ε_norm).
enum class NormKind : uint8_t { Layer, Mean, Divisive };

DALE_HD float norm_forward(NormKind k, float z, float mu, float rstd) {
  switch (k) {
    case NormKind::Layer: return (z - mu) * rstd;
    case NormKind::Mean: return z - mu;
    case NormKind::Divisive: return z * rstd;
  }
  return 0.f;
}

// Exact backward of one element, given the row sums the formula needs:
//   mean_g = mean_k g,  sum_gy = Σ_k g·y (Layer),  sum_gz = Σ_k g·z (Divisive).
DALE_HD float norm_backward(NormKind k, float g, float z, float mu, float rstd, float mean_g,
                            float sum_gy, float sum_gz, float D) {
  switch (k) {
    case NormKind::Layer: {
      const float y = (z - mu) * rstd;
      return (g - mean_g - y * sum_gy / D) * rstd;
    }
    case NormKind::Mean: return g - mean_g;
    case NormKind::Divisive: return g * rstd - (z - mu) * sum_gz * rstd * rstd * rstd / D;
  }
  return 0.f;
}

// Error-signal normalization modes G of SPEC §4: identity forward, these backwards.
enum class ErrNorm : uint8_t { None, Full, Center, FaCenter, Scale, Decorrelate };

// One element of G's backward, given the row quantities: mean_g = mean_k g (for FaCenter the
// weighted Σ_k w_k g_k), sum_gz = Σ_k g·z, rstd = 1/σ with σ = sqrt(var_k z + ε_norm).
DALE_HD float errnorm_backward(ErrNorm m, float g, float z, float mean_g, float sum_gz, float rstd,
                               float D) {
  switch (m) {
    case ErrNorm::None: return g;
    case ErrNorm::Full: return (g - mean_g - z * sum_gz / D) * rstd;
    case ErrNorm::Center: return g - mean_g;
    case ErrNorm::FaCenter: return g - mean_g;
    case ErrNorm::Scale: return g * rstd;
    case ErrNorm::Decorrelate: return g - z * sum_gz / D;
  }
  return g;
}

// Cross-entropy with label smoothing s over C classes (PyTorch's convention): the target is
// (1 − s)·onehot(y) + s/C, so loss_i = −Σ_c t_c log p_c and ∂loss_i/∂logit_c = p_c − t_c.
DALE_HD float smoothed_target(int c, int label, float s, int C) {
  return (c == label ? 1.f - s : 0.f) + s / float(C);
}

}  // namespace dale
