// Singular-value spectra of weight matrices and the entropy measures built on them, shared by
// every spectral measurement in dale (the geometry records' effective rank, models/geometry.h;
// the normalised SVD entropy of recurrent networks).
//   p_i = σ_i / Σ_j σ_j            the normalised singular values (zeros allowed)
//   H   = −Σ_i p_i log p_i         in nats, 0 log 0 = 0
//   effective rank = exp(H)        (Roy & Vetterli 2007): 1 for rank one, min(m, n) for a flat spectrum
//   NSE = H / log N                N = min(m, n), the normalised SVD entropy (Li et al. 2023)
#pragma once
#include <cstdint>
#include <vector>

namespace dale {

// The min(rows, cols) singular values, largest first, of a row-major float matrix, computed in
// double by LAPACK (dgesdd). Throws Error if LAPACK fails.
std::vector<double> singular_values(const float* a, int64_t rows, int64_t cols);
// H of the normalised spectrum; 0 for an all-zero or empty spectrum.
double svd_entropy(const std::vector<double>& sigma);
double effective_rank(const std::vector<double>& sigma);            // exp(H)
double normalized_svd_entropy(const std::vector<double>& sigma);    // H / log N (0 when N ≤ 1)

}  // namespace dale
