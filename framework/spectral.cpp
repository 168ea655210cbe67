// See spectral.h. The SVD runs in double on a copy: float inputs, no accumulated rounding in
// the small singular values that dominate the entropy of a low-rank matrix's tail.
#include "framework/spectral.h"

#include <lapacke.h>

#include <algorithm>
#include <cmath>

#include "framework/check.h"

namespace dale {

std::vector<double> singular_values(const float* a, int64_t rows, int64_t cols) {
  const int64_t r = std::min(rows, cols);
  if (r <= 0) return {};
  std::vector<double> m(a, a + rows * cols), s(size_t(r), 0.0), unused(1);
  // jobz 'N': no singular vectors, but LAPACKE still checks their leading dimensions.
  const lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', lapack_int(rows), lapack_int(cols), m.data(),
                                         lapack_int(cols), s.data(), unused.data(), lapack_int(rows), unused.data(),
                                         lapack_int(cols));
  DALE_CHECK(info == 0, "LAPACKE_dgesdd failed with info = {} on a {}×{} matrix", info, rows, cols);
  return s;
}

double svd_entropy(const std::vector<double>& sigma) {
  double total = 0;
  for (double s : sigma) total += s;
  if (!(total > 0)) return 0;
  double h = 0;
  for (double s : sigma)
    if (s > 0) h -= (s / total) * std::log(s / total);
  return h;
}

double effective_rank(const std::vector<double>& sigma) { return std::exp(svd_entropy(sigma)); }

double normalized_svd_entropy(const std::vector<double>& sigma) {
  return sigma.size() <= 1 ? 0.0 : svd_entropy(sigma) / std::log(double(sigma.size()));
}

}  // namespace dale
