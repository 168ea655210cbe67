// The fused I-Norm epilogue on the CPU (SPEC §2.3, §3): one pass per row instead of the chain of
// maps and row reductions it replaces (models/inorm_layer.cpp); row statistics in double.
#include "framework/cpu/kernels.h"
#include "framework/inorm_math.h"

namespace dale::cpu {

void inorm_forward(int64_t rows, int64_t cols, const float* e, const float* inh, const float* pooled, float* z,
                   float* terms) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r * cols;
    for (int64_t k = 0; k < cols; ++k) z[o + k] = inorm_z(e[o + k], inh[o + k], pooled[o + k]);
    double m, v;
    row_moments(z + o, cols, m, v);
    terms[r] = inorm_term(m, v);
  }
}

void inorm_backward_task(int64_t rows, int64_t cols, const float* gz, const float* pooled, float* de) {
  for (int64_t i = 0; i < rows * cols; ++i) de[i] += gz[i] / inorm_zd(pooled[i]);
}

void inorm_backward_local(int64_t rows, int64_t cols, const float* gt, const float* z, const float* pooled,
                          float* dinh, float* dpooled) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r * cols;
    double m, v;
    row_moments(z + o, cols, m, v);
    for (int64_t k = 0; k < cols; ++k)
      inorm_local_grads(inorm_term_grad(gt[r], m, v, z[o + k], cols), z[o + k], pooled[o + k],
                        dinh ? dinh + o + k : nullptr, dpooled ? dpooled + o + k : nullptr);
  }
}

}  // namespace dale::cpu
