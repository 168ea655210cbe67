// Differentiable ops. Each runs its forward kernel through the backend table and, when autodiff
// is on and an input requires a gradient, records its backward on the tape. Broadcasting is
// explicit: binary maps need equal shapes; add_bias adds a vector along rows; nothing else
// broadcasts. Misuse (shapes, devices, domain) throws dale::Error naming the op and the shapes.
#pragma once
#include "framework/math.h"
#include "framework/tensor.h"

namespace dale {

// C = op(a) · op(b), op = transpose when the flag is set. linear(x, W) = x Wᵀ (a layer).
// Two stacks [K, ·, ·] multiply slice by slice (one batched GEMM); a stack times a matrix b
// multiplies every row of the stack by b (no trans_a).
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
Tensor linear(const Tensor& x, const Tensor& W);

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);   // b must have no zero (checked on the CPU)
// x: rows × n, b: n elements (any shape); x a stack [K, rows, n]: b has K·n, model k's for slice k.
Tensor add_bias(const Tensor& x, const Tensor& b);
Tensor scale(const Tensor& x, float s);
Tensor add_scalar(const Tensor& x, float s);
Tensor square(const Tensor& x);
Tensor sqrt(const Tensor& x);                    // x ≥ 0 (checked on the CPU)
Tensor relu(const Tensor& x);

Tensor row_mean(const Tensor& x);                // rows × 1 ([K, rows, 1] for a stack): mean_k
Tensor row_var(const Tensor& x);                 // the same shape: var_k, population variance
Tensor sum(const Tensor& x);                     // [1]
Tensor mean(const Tensor& x);                    // [1]; a stack: [K], each model's own mean

// sg(x): forward identity, backward zero.
Tensor stop_grad(const Tensor& x);

// LayerNorm / MeanNorm / DivisiveNorm of SPEC §5 over each row; `detach` passes the error
// through unchanged (normalize forward only).
Tensor normalize(const Tensor& z, NormKind kind, bool detach);
// G of SPEC §4: identity forward; backward by `mode` using z's forward value. `w` holds the
// FaCenter weights (cols elements summing to 1), undefined otherwise.
Tensor error_normalize(const Tensor& z, ErrNorm mode, const Tensor& w = Tensor());

// The I-Norm layer's epilogue (SPEC §2.3, §3) from e, inh and pooled = (sg(x) Bixᵀ)² Beiᵀ (equal
// shapes, rank 2 or a stack), with zd = sqrt(pooled + ε_norm):
//   z     = (e − sg(inh)) / sg(zd)                           gradient to e only
//   terms = mean_k(u)² + (var_k(u) − 1)²,  u = (sg(e) − inh) / zd   gradient to inh and pooled only
// terms has row_mean's shape (rows × 1, [K, rows, 1]). One kernel forward, one per path backward;
// inorm_epilogue_unfused is the same composed from the ops above (the test oracle).
struct INormEpilogue {
  Tensor z, terms;
};
INormEpilogue inorm_epilogue(const Tensor& e, const Tensor& inh, const Tensor& pooled);
INormEpilogue inorm_epilogue_unfused(const Tensor& e, const Tensor& inh, const Tensor& pooled);

// Mean over the batch of softmax cross-entropy with label smoothing; labels: rows class ids.
// Logits of a stack [K, B, classes] (labels K·B): [K], each model's mean over its own batch.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, float smoothing);
// Number of rows whose arg-max is the label, as a [1] tensor (not differentiable).
Tensor count_correct(const Tensor& logits, const Tensor& labels);

}  // namespace dale
