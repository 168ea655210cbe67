// Row normalizations (LayerNorm, MeanNorm, DivisiveNorm; SPEC §5) and the error-normalization
// backwards G (SPEC §4) on the CPU. Forward and backward of each side by side; the per-element
// formulas live in framework/math.h and are shared with CUDA.
#include <cmath>

#include "framework/cpu/kernels.h"

namespace dale::cpu {

// y: rows × cols;  mu, rstd: rows (μ and 1/σ, σ = sqrt(var + ε_norm)).
void norm_forward(NormKind k, int64_t rows, int64_t cols, const float* z, float* y, float* mu,
                  float* rstd) {
  for (int64_t r = 0; r < rows; ++r) {
    double m, v;
    row_moments(z + r * cols, cols, m, v);
    mu[r] = float(m);
    rstd[r] = float(1.0 / std::sqrt(v + kEpsNorm));
    for (int64_t j = 0; j < cols; ++j)
      y[r * cols + j] = norm_forward(k, z[r * cols + j], mu[r], rstd[r]);
  }
}

void norm_backward(NormKind k, int64_t rows, int64_t cols, const float* g, const float* z,
                   const float* mu, const float* rstd, float beta, float* dz) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* gr = g + r * cols;
    const float* zr = z + r * cols;
    double sg = 0, sgy = 0, sgz = 0;
    for (int64_t j = 0; j < cols; ++j) {
      sg += gr[j];
      sgy += double(gr[j]) * (zr[j] - mu[r]) * rstd[r];
      sgz += double(gr[j]) * zr[j];
    }
    const float D = float(cols), mean_g = float(sg / cols);
    for (int64_t j = 0; j < cols; ++j) {
      const float d = norm_backward(k, gr[j], zr[j], mu[r], rstd[r], mean_g, float(sgy),
                                    float(sgz), D);
      dz[r * cols + j] = (beta == 0.f ? 0.f : beta * dz[r * cols + j]) + d;
    }
  }
}

void errnorm_backward(ErrNorm m, int64_t rows, int64_t cols, const float* g, const float* z,
                      const float* w, float beta, float* dz) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* gr = g + r * cols;
    const float* zr = z + r * cols;
    double sg = 0, sgz = 0, mz, vz;
    for (int64_t j = 0; j < cols; ++j) {
      sg += m == ErrNorm::FaCenter ? double(w[j]) * gr[j] : double(gr[j]) / double(cols);
      sgz += double(gr[j]) * zr[j];
    }
    row_moments(zr, cols, mz, vz);
    const float rstd = float(1.0 / std::sqrt(vz + kEpsNorm));
    for (int64_t j = 0; j < cols; ++j) {
      const float d = errnorm_backward(m, gr[j], zr[j], float(sg), float(sgz), rstd, float(cols));
      dz[r * cols + j] = (beta == 0.f ? 0.f : beta * dz[r * cols + j]) + d;
    }
  }
}

}  // namespace dale::cpu
