// SPEC §7 initialization: log-normal excitatory weights, row-normalized Wei, Wix rows at the
// mean of Wex's rows (so Wex − Wei Wix has rows centered across units), and the SVD that makes
// an I-Norm layer an exact layer norm at initialization.
#include "models/init.h"

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

DaleInit dale_init(int64_t n, int64_t ne, int64_t ni, RngStream& rng) {
  DALE_CHECK(n >= 1 && ne >= 2 && ni >= 1, "dale_init needs n ≥ 1, ne ≥ 2, ni ≥ 1 (got {}, {}, {})",
             n, ne, ni);
  DaleInit w{n, ne, ni, {}, {}, {}};
  const double s = std::sqrt(2.0 * double(ne) / (double(n) * double(ne - 1)));
  w.Wex = lognormal(ne * n, s, s * s, rng);
  w.Wei = lognormal(ne * ni, s, s * s, rng);
  for (int64_t k = 0; k < ne; ++k) {
    double row = 0;
    for (int64_t i = 0; i < ni; ++i) row += w.Wei[k * ni + i];
    for (int64_t i = 0; i < ni; ++i) w.Wei[k * ni + i] = float(w.Wei[k * ni + i] / row);
  }
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
