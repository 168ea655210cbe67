// SPEC §7 initialization: log-normal excitatory weights, row-normalized Wei, Wix rows at the
// mean of Wex's rows (so Wex − Wei Wix has rows centered across units), and the SVD that makes
// an I-Norm layer an exact layer norm at initialization.
#include "models/init.h"

#include <cblas.h>
#include <lapacke.h>

#include <cmath>

#include "framework/check.h"

namespace dale {

int64_t inhibitory_units(int64_t ne) { return std::max<int64_t>(1, (ne * 10 / 100)); }

static std::vector<float> lognormal(int64_t count, double mean, double var, RngStream& rng) {
  const double mu = std::log(mean * mean / std::sqrt(mean * mean + var));
  const double sigma = std::sqrt(std::log(1.0 + var / (mean * mean)));
  std::vector<float> v(static_cast<size_t>(count));
  for (auto& x : v) x = float(std::exp(mu + sigma * rng.normal()));
  return v;
}

// Entries' coefficient of variation (population sd / mean) of A B with A = exp(σ G1), B = exp(σ G2).
static double product_cv(const std::vector<double>& g1, const std::vector<double>& g2, int64_t rows, int64_t cols,
                         int64_t rank, double sigma, std::vector<double>& m) {
  std::vector<double> a(g1.size()), b(g2.size());
  for (size_t i = 0; i < a.size(); ++i) a[i] = std::exp(sigma * g1[i]);
  for (size_t i = 0; i < b.size(); ++i) b[i] = std::exp(sigma * g2[i]);
  m.assign(size_t(rows * cols), 0.0);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(cols), int(rank), 1.0, a.data(), int(rank),
              b.data(), int(cols), 0.0, m.data(), int(cols));
  double mean = 0, var = 0;
  for (double x : m) mean += x;
  mean /= double(m.size());
  for (double x : m) var += (x - mean) * (x - mean);
  return std::sqrt(var / double(m.size())) / mean;
}

std::vector<float> low_rank_nonneg(int64_t rows, int64_t cols, int64_t rank, double mean, RngStream& rng) {
  DALE_CHECK(rank >= 1 && rank <= std::min(rows, cols), "low_rank_nonneg: rank {} of a {}×{} matrix", rank, rows, cols);
  std::vector<double> g1(size_t(rows * rank)), g2(size_t(rank * cols)), m;
  for (auto& x : g1) x = rng.normal();
  for (auto& x : g2) x = rng.normal();
  // The CV grows with σ (from 0 at σ = 0, all entries equal): bracket CV = 1, then bisect.
  double lo = 0, hi = 0.5;
  while (product_cv(g1, g2, rows, cols, rank, hi, m) < 1.0) {
    lo = hi, hi *= 2;
    DALE_CHECK(hi < 64, "low_rank_nonneg: no σ gives a {}×{} rank-{} product the coefficient of variation 1", rows,
               cols, rank);
  }
  for (int it = 0; it < 100 && hi - lo > 1e-12 * hi; ++it) {
    const double mid = 0.5 * (lo + hi);
    (product_cv(g1, g2, rows, cols, rank, mid, m) < 1.0 ? lo : hi) = mid;
  }
  const double cv = product_cv(g1, g2, rows, cols, rank, hi, m);
  DALE_CHECK(std::fabs(cv - 1.0) < 1e-6, "low_rank_nonneg: coefficient of variation {} after bisection", cv);
  double total = 0;
  for (double x : m) total += x;
  const double c = mean * double(m.size()) / total;
  std::vector<float> w(m.size());
  for (size_t i = 0; i < m.size(); ++i) w[i] = float(c * m[i]);
  return w;
}

DaleInit dale_init(int64_t n, int64_t ne, int64_t ni, RngStream& rng, const ExcitatoryInit& e) {
  DALE_CHECK(n >= 1 && ne >= 2 && ni >= 1, "dale_init needs n ≥ 1, ne ≥ 2, ni ≥ 1 (got {}, {}, {})",
             n, ne, ni);
  DALE_CHECK(e.rank >= 0 && e.rank <= std::min(ne, n), "dale_init: rank {} of a {}×{} Wex (expected 0 … {})", e.rank,
             ne, n, std::min(ne, n));
  DALE_CHECK(std::isfinite(e.gain) && e.gain > 0, "dale_init: gain {} is not a finite value > 0", e.gain);
  DaleInit w{n, ne, ni, {}, {}, {}};
  const double s = std::sqrt(2.0 * double(ne) / (double(n) * double(ne - 1)));
  w.Wex = lognormal(ne * n, s, s * s, rng);
  w.Wei = lognormal(ne * ni, s, s * s, rng);
  for (int64_t k = 0; k < ne; ++k) {
    double row = 0;
    for (int64_t i = 0; i < ni; ++i) row += w.Wei[k * ni + i];
    for (int64_t i = 0; i < ni; ++i) w.Wei[k * ni + i] = float(w.Wei[k * ni + i] / row);
  }
  if (e.rank >= 1) {  // drawn after the default, which keeps Wei and the later draws as at full rank
    RngStream factors(e.seed, e.stream);
    w.Wex = low_rank_nonneg(ne, n, e.rank, s, factors);
  }
  if (e.gain != 1.0)
    for (auto& x : w.Wex) x = float(double(x) * e.gain);
  w.Wix.resize(size_t(ni * n));
  for (int64_t j = 0; j < n; ++j) {
    double m = 0;
    for (int64_t k = 0; k < ne; ++k) m += w.Wex[k * n + j];
    for (int64_t i = 0; i < ni; ++i) w.Wix[i * n + j] = float(m / double(ne));
  }
  return w;
}

std::vector<float> inorm_bix(const DaleInit& w) {
  const int64_t ne = w.ne, n = w.n, ni = w.ni, r = std::min(ne, n);
  // W = Wex − Wei Wix from the float weights the layer will actually hold.
  std::vector<double> W(size_t(ne * n));
  for (int64_t k = 0; k < ne; ++k)
    for (int64_t j = 0; j < n; ++j) {
      double inh = 0;
      for (int64_t i = 0; i < ni; ++i) inh += double(w.Wei[k * ni + i]) * w.Wix[i * n + j];
      W[k * n + j] = double(w.Wex[k * n + j]) - inh;
    }
  std::vector<double> S(static_cast<size_t>(r)), U(static_cast<size_t>(ne * r)), VT(static_cast<size_t>(r * n));
  const lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', lapack_int(ne), lapack_int(n),
                                         W.data(), lapack_int(n), S.data(), U.data(),
                                         lapack_int(r), VT.data(), lapack_int(n));
  DALE_CHECK(info == 0, "LAPACKE_dgesdd failed with info = {} on a {}×{} matrix", info, ne, n);
  std::vector<float> Bix(size_t(ne * n), 0.f);
  for (int64_t k = 0; k < r; ++k)
    for (int64_t j = 0; j < n; ++j) Bix[k * n + j] = float(S[k] * VT[k * n + j]);
  return Bix;
}

std::vector<float> fa_weights(int64_t ne, RngStream& rng) {
  std::vector<float> w(static_cast<size_t>(ne));
  double total = 0;
  for (auto& x : w) total += (x = float(rng.uniform()));
  for (auto& x : w) x = float(x / total);
  return w;
}

}  // namespace dale
