// The per-epoch measurements of SPEC §10 beyond accuracy and loss, on one fixed batch, per
// hidden layer. Computed at the logging interval only, never inside a training step.
//
// Decisions where SPEC §10 leaves room (see the issue note):
// - "LN(z)" is the exact layer norm of the layer's excitatory drive — e = x Wexᵀ + b for I-Norm
//   layers, the layer's pre-normalization output for E/EI layers — i.e. what an LN+ layer
//   would output for the same input; the layer's own output is its z before the ReLU.
// - The error signal is the task-loss gradient arriving at the layer's z (before G's backward).
// - local_ln_mse compares u with LN(sg(e)) for I-Norm layers and with e − mean_k e for I-Norm
//   (sub) layers (what their local losses drive u towards); NaN for other layers.
#pragma once
#include <vector>

#include "models/network.h"

namespace dale {

struct Diagnostics {
  std::vector<double> out_cos;       // cos(relu(LN(e)), relu(z)), flattened over the batch
  std::vector<double> grad_cos;      // cos(∇Wex Σ relu(LN(e)), ∇Wex Σ relu(G(z)))
  std::vector<double> err_eig;       // largest eigenvalue of the error covariance across the batch
  std::vector<double> local_ln_mse;  // mean((u − target)²)
};

// x: a fixed batch (rows × inputs), labels: its class ids. Leaves every gradient cleared.
Diagnostics diagnose(Network& net, const Tensor& x, const Tensor& labels);

// Cosine of two equally long vectors (0 when either is zero).
double cosine(const std::vector<float>& a, const std::vector<float>& b);
// Largest eigenvalue of cov = (g − ḡ)ᵀ(g − ḡ)/(B − 1) for g: B × D (rows = samples).
double largest_covariance_eigenvalue(const std::vector<float>& g, int64_t B, int64_t D);

}  // namespace dale
