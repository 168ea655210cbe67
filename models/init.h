// Initialization of SPEC §7, on the host from a seeded counter-based generator, so the same
// seed gives the same weights on every backend. Matrices are row-major std::vector<float>.
#pragma once
#include <cstdint>
#include <vector>

#include "framework/rng.h"

namespace dale {

struct DaleInit {
  int64_t n = 0, ne = 0, ni = 0;
  std::vector<float> Wex;  // ne × n, log-normal
  std::vector<float> Wix;  // ni × n, every row = the mean over rows of Wex
  std::vector<float> Wei;  // ne × ni, log-normal, rows normalized to sum 1
};

// ni of a hidden layer: max(1, floor(0.1 · ne)).
int64_t inhibitory_units(int64_t ne);

// Draws Wex then Wei from `rng` (that order), then sets Wix. Needs ne ≥ 2 (s divides by ne − 1).
DaleInit dale_init(int64_t n, int64_t ne, int64_t ni, RngStream& rng);

// The I-Norm divisive weights: W = Wex − Wei Wix = U S Vᵀ (in double), Bix = diag(S) V₁ᵀ with
// the first ne right singular vectors (rows beyond rank(W) are zero). ne × n.
std::vector<float> inorm_bix(const DaleInit& w);

// fa_center's fixed lateral weights: w_k ~ U(0, 1), normalized to sum 1.
std::vector<float> fa_weights(int64_t ne, RngStream& rng);

}  // namespace dale
