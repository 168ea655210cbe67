// The per-epoch measurements of the study (docs/study.md, "Measurements") beyond accuracy and
// loss, per hidden layer, as the study's code computes them. Computed at the logging interval
// only, on one batch — the epoch's last training batch — never inside a training step.
//
// For hidden layer l with input h (what the network gives it), z is the value the layer emits
// before the ReLU and before any explicit normalization: for I-Norm z = (e − sg(inh)) / sg(zd),
// for I-Norm (sub) z = e − sg(inh), for E/EI layers x Wᵀ + b. G is the layer's error
// normalization (identity forward; none for E/EI layers).
// - mu, var:   mean over the batch of mean_k z and of var_k z (population variance).
// - out_cos:   cos(relu(LN(z)), relu(G(z))), flattened over the batch.
// - grad_cos:  cos(∇Wex Σ relu(R(z)), ∇Wex Σ relu(G(z))), R = LN with its exact backward, except
//              for fa_center layers, where R is centering (identity forward, the error centered).
// - err_eig:   the largest eigenvalue of cov = (g − ḡ)ᵀ(g − ḡ)/(B − 1), g the task-loss error
//              (a mean over the batch) arriving at the layer's output.
// - local_ln_mse: mean((u − target)²) of the local loss's u: target LN(sg(e)) for I-Norm,
//              sg(e) − mean_k sg(e) for I-Norm (sub); NaN for other layers.
#pragma once
#include <vector>

#include "models/network.h"

namespace dale {

struct Diagnostics {
  std::vector<double> mu, var;
  std::vector<double> out_cos, grad_cos, err_eig, local_ln_mse;
};

// x: a batch (rows × inputs), labels: its class ids. Leaves every gradient cleared.
Diagnostics diagnose(Network& net, const Tensor& x, const Tensor& labels);

// Cosine of two equally long vectors (0 when either is zero).
double cosine(const std::vector<float>& a, const std::vector<float>& b);
// Largest eigenvalue of cov = (g − ḡ)ᵀ(g − ḡ)/(B − 1) for g: B × D (rows = samples).
double largest_covariance_eigenvalue(const std::vector<float>& g, int64_t B, int64_t D);

}  // namespace dale
