// Initialization of SPEC §7, on the host from a seeded counter-based generator, so the same
// seed gives the same weights on every backend. Matrices are row-major std::vector<float>.
#pragma once
#include <cstdint>
#include <vector>

#include "framework/rng.h"

namespace dale {

// Options for the excitatory weights of hidden layers (--model.init_rank, --model.init_gain).
// rank 0 is SPEC §7's i.i.d. log-normal Wex. rank r ≥ 1 replaces it by a rank-r matrix
// Wex = c · A B with non-negative factors A (ne × r), B (r × n), A = exp(σ·G₁), B = exp(σ·G₂)
// for standard normal G drawn from their own stream (seed, stream), σ chosen so that the
// entries' coefficient of variation equals SPEC §7's (sd = mean) and c so that their mean is s:
// the same mean and variance as the default, only the rank differs. The default Wex is still
// drawn first, so Wei (and every later draw) is the same as at full rank. gain g multiplies Wex
// (mean and sd × g, variance × g²). Wix, Wei and I-Norm's Bix then follow from Wex as usual.
struct ExcitatoryInit {
  int64_t rank = 0;
  double gain = 1.0;
  uint64_t seed = 0, stream = 0;  // the factors' RngStream (rank ≥ 1)
};

struct DaleInit {
  int64_t n = 0, ne = 0, ni = 0;
  std::vector<float> Wex;  // ne × n, log-normal
  std::vector<float> Wix;  // ni × n, every row = the mean over rows of Wex
  std::vector<float> Wei;  // ne × ni, log-normal, rows normalized to sum 1
};

// ni of a hidden layer: max(1, floor(0.1 · ne)).
int64_t inhibitory_units(int64_t ne);

// Draws Wex then Wei from `rng` (that order), then sets Wix. Needs ne ≥ 2 (s divides by ne − 1).
// With `e`, the excitatory options above; rank must be ≤ min(ne, n) (Error otherwise).
DaleInit dale_init(int64_t n, int64_t ne, int64_t ni, RngStream& rng, const ExcitatoryInit& e = {});

// The rank-r non-negative matrix of ExcitatoryInit: rows × cols, entries' mean `mean` and
// population sd `mean` (coefficient of variation 1), from `rng`'s standard normals.
std::vector<float> low_rank_nonneg(int64_t rows, int64_t cols, int64_t rank, double mean, RngStream& rng);

// The I-Norm divisive weights: W = Wex − Wei Wix = U S Vᵀ (in double), Bix = diag(S) V₁ᵀ with
// the first ne right singular vectors (rows beyond rank(W) are zero). ne × n.
std::vector<float> inorm_bix(const DaleInit& w);

// fa_center's fixed lateral weights: w_k ~ U(0, 1), normalized to sum 1.
std::vector<float> fa_weights(int64_t ne, RngStream& rng);

}  // namespace dale
