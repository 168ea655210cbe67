// The backend table: every kernel dale runs, as plain function pointers (ggml's design). The CPU
// backend (framework/cpu/) is the reference; the CUDA backend (cuda/) fills the same table. Ops
// and the tape call kernels only through this table and never branch on the device.
//
// Conventions: matrices are row-major, `rows × cols`; pointers are device pointers of the
// backend's device; scalars that are results (losses, counts) stay in device memory so a step
// never synchronizes; `beta` = 0 overwrites the output, 1 accumulates into it.
#pragma once
#include <cstdint>

#include "framework/math.h"
#include "framework/tensor.h"

namespace dale {

// Optimizer hyper-parameters of one parameter tensor for one step (SPEC §8).
struct UpdateArgs {
  float lr = 0, momentum = 0, wd = 0;
  bool nesterov = false, clamp_nonneg = false;
  float beta1 = 0.9f, beta2 = 0.999f, adam_eps = 1e-8f;  // AdamW
  int64_t step = 1;                                     // 1-based, for AdamW's bias correction
};

struct Backend {
  const char* name;

  // memory
  float* (*alloc)(int64_t n);
  void (*free)(float* p);
  void (*fill)(int64_t n, float value, float* y);
  void (*copy)(int64_t n, const float* x, float* y);          // within this device
  void (*to_host)(int64_t n, const float* x, float* host);
  void (*from_host)(int64_t n, const float* host, float* y);

  // C = alpha · op(A) · op(B) + beta · C, op(X) = X or Xᵀ; A is M×K after op, B is K×N.
  void (*gemm)(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
               int64_t ldc);

  // y = beta·y + apply_map(op, a, b, c, s) elementwise; b, c may be null when op ignores them.
  void (*map)(MapOp op, int64_t n, const float* a, const float* b, const float* c, float s,
              float beta, float* y);
  // y[i] += alpha · s[0] for all i (broadcast of a device scalar; backward of full reductions).
  void (*add_scalar_ptr)(int64_t n, const float* s, float alpha, float* y);

  // Broadcasts and reductions over a rows × cols matrix.
  void (*add_rowvec)(int64_t rows, int64_t cols, const float* x, const float* v, float* y);
  void (*col_sum)(int64_t rows, int64_t cols, const float* x, float beta, float* out);  // out[cols]
  void (*row_mean)(int64_t rows, int64_t cols, const float* x, float* out);             // out[rows]
  void (*row_var)(int64_t rows, int64_t cols, const float* x, float* out);  // population variance
  // dx += g[r] / cols            (backward of row_mean)
  void (*row_mean_backward)(int64_t rows, int64_t cols, const float* g, float* dx);
  // dx += g[r] · 2 (x − μ_r) / cols   (backward of row_var)
  void (*row_var_backward)(int64_t rows, int64_t cols, const float* g, const float* x, float* dx);
  void (*sum_all)(int64_t n, const float* x, float* out);  // out[0] = Σ x

  // Row normalizations (SPEC §5): y, and the row statistics μ and 1/σ kept for the backward.
  void (*norm_forward)(NormKind k, int64_t rows, int64_t cols, const float* z, float* y, float* mu,
                       float* rstd);
  // dz = beta·dz + exact backward of norm_forward at z for incoming g.
  void (*norm_backward)(NormKind k, int64_t rows, int64_t cols, const float* g, const float* z,
                        const float* mu, const float* rstd, float beta, float* dz);
  // The error-normalization backwards of SPEC §4: dz = beta·dz + G'(g; z); w is FaCenter's
  // fixed weights (length cols), null otherwise.
  void (*errnorm_backward)(ErrNorm m, int64_t rows, int64_t cols, const float* g, const float* z,
                           const float* w, float beta, float* dz);

  // Softmax cross-entropy with label smoothing; labels are class ids stored as floats.
  // Forward writes the per-row loss and the softmax probabilities.
  void (*xent_forward)(int64_t rows, int64_t classes, const float* logits, const float* labels,
                       float smoothing, float* loss_rows, float* probs);
  // dlogits += g[0] · scale · (p − t)   (g is the device scalar gradient of the reduced loss)
  void (*xent_backward)(int64_t rows, int64_t classes, const float* probs, const float* labels,
                        float smoothing, const float* g, float scale, float* dlogits);
  // out[0] = number of rows whose arg-max equals the label.
  void (*count_correct)(int64_t rows, int64_t classes, const float* logits, const float* labels,
                        float* out);

  // Optimizer updates (SPEC §8) of one parameter tensor, in place.
  void (*sgd_update)(int64_t n, float* p, const float* g, float* v, const UpdateArgs& a);
  void (*eg_update)(int64_t n, float* p, const float* g, const UpdateArgs& a);
  void (*adamw_update)(int64_t n, float* p, const float* g, float* m, float* v, const UpdateArgs& a);
};

const Backend& backend(Device d);
// The CUDA backend registers itself here when libdale_cuda is linked and a GPU is present.
void register_backend(Device d, const Backend* b);
bool backend_available(Device d);

}  // namespace dale
