// SPEC §7 initialization: inhibitory unit counts, the log-normal Dale weights and the identities
// they are built to satisfy (Wei rows sum to 1, Wix rows = the column means of Wex, so
// W = Wex − Wei Wix has zero column sums across units), the moments of the draws against the
// sampling error, seeding, the I-Norm SVD weights Bix and the fa_center lateral weights.
#include "models/init.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "framework/check.h"
#include "framework/rng.h"
#include "tests/testing.h"

using namespace dale;
using dale::test::expect_close;

namespace {

double spec_s(int64_t n, int64_t ne) { return std::sqrt(2.0 * double(ne) / (double(n) * double(ne - 1))); }

// W = Wex − Wei Wix in double, from the float weights (ne × n, row-major).
std::vector<double> effective_w(const DaleInit& w) {
  std::vector<double> W(static_cast<size_t>(w.ne * w.n));
  for (int64_t k = 0; k < w.ne; ++k)
    for (int64_t j = 0; j < w.n; ++j) {
      double inh = 0;
      for (int64_t i = 0; i < w.ni; ++i) inh += double(w.Wei[k * w.ni + i]) * w.Wix[i * w.n + j];
      W[k * w.n + j] = double(w.Wex[k * w.n + j]) - inh;
    }
  return W;
}

DaleInit init_with(uint64_t seed, int64_t n, int64_t ne, int64_t ni, int64_t rank = 0) {
  RngStream rng(seed, kStreamInit);
  return dale_init(n, ne, ni, rng, ExcitatoryInit{rank, 1.0, seed, kStreamLowRank});
}

}  // namespace

TEST_CASE("inhibitory_units: max(1, floor(0.1 · ne))") {
  CHECK(inhibitory_units(234) == 23);
  CHECK(inhibitory_units(500) == 50);
  CHECK(inhibitory_units(10) == 1);
  CHECK(inhibitory_units(5) == 1);
  CHECK(inhibitory_units(19) == 1);
  CHECK(inhibitory_units(20) == 2);
  CHECK(inhibitory_units(499) == 49);
}

TEST_CASE("dale_init: shapes, positivity, Wei rows sum to 1, Wix rows = column means of Wex") {
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> cases = {
      {784, 234, 23}, {97, 33, 3}, {12, 10, 1}, {5, 2, 1}};
  for (auto [n, ne, ni] : cases) {
    CAPTURE(n);
    CAPTURE(ne);
    const DaleInit w = init_with(3, n, ne, ni);
    CHECK(w.n == n);
    CHECK(w.ne == ne);
    CHECK(w.ni == ni);
    REQUIRE(int64_t(w.Wex.size()) == ne * n);
    REQUIRE(int64_t(w.Wix.size()) == ni * n);
    REQUIRE(int64_t(w.Wei.size()) == ne * ni);
    CHECK(std::all_of(w.Wex.begin(), w.Wex.end(), [](float v) { return v > 0.f && std::isfinite(v); }));
    CHECK(std::all_of(w.Wix.begin(), w.Wix.end(), [](float v) { return v > 0.f && std::isfinite(v); }));
    CHECK(std::all_of(w.Wei.begin(), w.Wei.end(), [](float v) { return v > 0.f && std::isfinite(v); }));

    // Each row of Wei is divided by its sum in double and rounded to float: the sum is 1 up to
    // ni half-ulps of float.
    std::vector<float> row_sums, ones(static_cast<size_t>(ne), 1.f);
    for (int64_t k = 0; k < ne; ++k) {
      double s = 0;
      for (int64_t i = 0; i < ni; ++i) s += w.Wei[k * ni + i];
      row_sums.push_back(float(s));
    }
    expect_close(row_sums, ones, 1e-6, 0, "Wei row sums");

    // Every row of Wix is the mean over rows (units) of Wex, computed here independently.
    std::vector<float> means(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) {
      double m = 0;
      for (int64_t k = 0; k < ne; ++k) m += w.Wex[k * n + j];
      means[j] = float(m / double(ne));
    }
    for (int64_t i = 0; i < ni; ++i)
      expect_close(std::vector<float>(w.Wix.begin() + i * n, w.Wix.begin() + (i + 1) * n), means,
                   0, 1e-6, "Wix row " + std::to_string(i));

    // Hence W = Wex − Wei Wix sums to zero down every column: x Wᵀ is centered across units
    // for any x. The only error is the float rounding of Wei and Wix (≈ 1e-7 relative to the
    // column sum of Wex), so bound each |Σ_k W_kj| by 1e-5 · Σ_k Wex_kj.
    const auto W = effective_w(w);
    double worst = 0;
    for (int64_t j = 0; j < n; ++j) {
      double s = 0, scale = 0;
      for (int64_t k = 0; k < ne; ++k) s += W[k * n + j], scale += w.Wex[k * n + j];
      worst = std::max(worst, std::fabs(s) / scale);
    }
    CHECK(worst < 1e-5);
    // …and W is not trivially zero: rows really differ from the mean row (a log-normal with
    // CV = 1 spreads its draws over ≈ s, so the largest |W_kj| is well above s/10).
    double largest = 0;
    for (double v : W) largest = std::max(largest, std::fabs(v));
    CHECK(largest > 0.1 * spec_s(n, ne));
  }
}

TEST_CASE("dale_init: Wex is the seeded log-normal draw of SPEC §7, then Wei, in that order") {
  const int64_t n = 13, ne = 7, ni = 2;
  const DaleInit w = init_with(11, n, ne, ni);
  const double s = spec_s(n, ne), m = s, v = s * s;
  const double mu = std::log(m * m / std::sqrt(m * m + v)), sigma = std::sqrt(std::log(1.0 + v / (m * m)));
  RngStream rng(11, kStreamInit);
  std::vector<float> wex(static_cast<size_t>(ne * n)), wei(static_cast<size_t>(ne * ni));
  for (auto& x : wex) x = float(std::exp(mu + sigma * rng.normal()));
  for (auto& x : wei) x = float(std::exp(mu + sigma * rng.normal()));
  for (int64_t k = 0; k < ne; ++k) {
    double row = 0;
    for (int64_t i = 0; i < ni; ++i) row += wei[k * ni + i];
    for (int64_t i = 0; i < ni; ++i) wei[k * ni + i] = float(wei[k * ni + i] / row);
  }
  // Same generator, same formula; allow a few ulps for log/exp evaluated along another path.
  expect_close(w.Wex, wex, 0, 1e-6, "Wex draws");
  expect_close(w.Wei, wei, 0, 1e-6, "Wei draws");
}

TEST_CASE("dale_init: moments of Wex on a large layer match mean s and variance s²") {
  const int64_t n = 784, ne = 500;
  const DaleInit w = init_with(5, n, ne, inhibitory_units(ne));
  const double s = spec_s(n, ne);
  const double N = double(w.Wex.size());  // 392 000 draws
  double sum = 0, sum_log = 0;
  for (float x : w.Wex) sum += x, sum_log += std::log(double(x));
  const double mean = sum / N, mean_log = sum_log / N;
  double var = 0, var_log = 0;
  for (float x : w.Wex) {
    var += (x - mean) * (x - mean);
    var_log += (std::log(double(x)) - mean_log) * (std::log(double(x)) - mean_log);
  }
  var /= N;
  var_log /= N;

  // Tolerances from the sampling error of N = 392 000 draws, at about 5 standard errors:
  // - mean: sd/√N = s/626, i.e. 0.16 % of s → 1 %.
  // - variance: for a log-normal with CV = 1 (σ_ln² = ln 2) the excess kurtosis is
  //   e^{4σ²} + 2e^{3σ²} + 3e^{2σ²} − 6 = 38, so sd(var̂)/var = √((κ + 2)/N) = √(40/N) ≈ 1 %
  //   → 6 % (heavy tails make the variance estimate the least Gaussian of the four).
  // - log-moments are Gaussian: sd(mean of ln) = σ_ln/√N = 0.0013, sd(var of ln) = σ_ln²√(2/N)
  //   = 0.0016 → absolute bounds 0.007 and 0.008.
  CHECK(std::fabs(mean / s - 1) < 0.01);
  CHECK(std::fabs(var / (s * s) - 1) < 0.06);
  const double mu_ln = std::log(s / std::sqrt(2.0)), var_ln = std::log(2.0);
  CHECK(std::fabs(mean_log - mu_ln) < 0.007);
  CHECK(std::fabs(var_log - var_ln) < 0.008);
}

TEST_CASE("dale_init: same seed gives identical weights, another seed other weights") {
  const DaleInit a = init_with(7, 40, 20, 2), b = init_with(7, 40, 20, 2), c = init_with(8, 40, 20, 2);
  CHECK(a.Wex == b.Wex);
  CHECK(a.Wix == b.Wix);
  CHECK(a.Wei == b.Wei);
  CHECK(a.Wex != c.Wex);
  CHECK(a.Wei != c.Wei);
  CHECK(a.Wix != c.Wix);
  // And the stream id matters: the same seed on another stream draws other weights.
  RngStream other(7, kStreamShuffle);
  CHECK(dale_init(40, 20, 2, other).Wex != a.Wex);
}

TEST_CASE("dale_init refuses ne < 2 (s divides by ne − 1)") {
  RngStream rng(1, kStreamInit);
  CHECK_THROWS_AS(dale_init(10, 1, 1, rng), Error);
  CHECK_THROWS_AS(dale_init(0, 5, 1, rng), Error);
  CHECK_THROWS_AS(dale_init(10, 5, 0, rng), Error);
}

TEST_CASE("inorm_bix: ‖x Bixᵀ‖² = ‖x Wᵀ‖², so mean_k((x Bixᵀ)²) = var_k(x Wᵀ)") {
  // Bix = diag(S) V₁ᵀ with W = U S Vᵀ: for any x, Σ_k (x Bixᵀ)_k² = ‖S Vᵀ x‖² = ‖W x‖². With
  // Bei = 1/ne this makes zd² = var_k(x Wᵀ) + ε: W's columns sum to zero, so mean_k(x Wᵀ) = 0.
  // It holds for a low-rank Wex too (--model.init_rank): the I-Norm layer is still a layer norm.
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> cases = {
      {784, 234, 0}, {97, 33, 0}, {20, 33, 0}, {784, 234, 4}, {97, 33, 1}};
  for (auto [n, ne, rank] : cases) {
    CAPTURE(n);
    CAPTURE(ne);
    CAPTURE(rank);
    const DaleInit w = init_with(21, n, ne, inhibitory_units(ne), rank);
    const std::vector<float> Bix = inorm_bix(w);
    REQUIRE(int64_t(Bix.size()) == ne * n);
    const auto W = effective_w(w);
    const int64_t B = 16;
    const auto x = dale::test::random_vector(B * n, 22, 0.f, 1.f);
    std::vector<float> ms_bix, ms_w, var_w;
    for (int64_t b = 0; b < B; ++b) {
      double sb = 0, sw = 0, mw = 0;
      std::vector<double> zw(static_cast<size_t>(ne));
      for (int64_t k = 0; k < ne; ++k) {
        double pb = 0, pw = 0;
        for (int64_t j = 0; j < n; ++j) {
          pb += double(Bix[k * n + j]) * x[b * n + j];
          pw += W[k * n + j] * x[b * n + j];
        }
        sb += pb * pb, sw += pw * pw, mw += pw, zw[k] = pw;
      }
      mw /= double(ne);
      double v = 0;
      for (double z : zw) v += (z - mw) * (z - mw);
      ms_bix.push_back(float(sb / double(ne)));
      ms_w.push_back(float(sw / double(ne)));
      var_w.push_back(float(v / double(ne)));
    }
    // Bix is rounded to float (relative 6e-8 per element) and the SVD is in double: 1e-4 is
    // generous for a squared norm, and far below any real mistake (a wrong V, a missing S).
    expect_close(ms_bix, ms_w, 0, 1e-4, "mean_k((x Bixᵀ)²) vs mean_k((x Wᵀ)²)");
    expect_close(ms_w, var_w, 0, 1e-4, "mean_k((x Wᵀ)²) vs var_k(x Wᵀ)");
    if (n < ne) {  // rank(W) ≤ n: the rows beyond the n singular vectors are zero
      CHECK(std::all_of(Bix.begin() + n * n, Bix.end(), [](float v) { return v == 0.f; }));
    }
  }
}

TEST_CASE("fa_weights: in (0, 1), sum to 1, seeded, not uniform") {
  RngStream a(4, kStreamFa), b(4, kStreamFa), c(5, kStreamFa);
  const auto w = fa_weights(234, a);
  REQUIRE(w.size() == 234);
  double total = 0;
  for (float v : w) {
    CHECK(v > 0.f);
    CHECK(v < 1.f);
    total += v;
  }
  CHECK(std::fabs(total - 1.0) < 1e-5);  // float rounding of 234 terms
  CHECK(fa_weights(234, b) == w);
  CHECK(fa_weights(234, c) != w);
  // U(0,1) before normalizing: the spread is large (max/min of 234 uniforms is ≫ 2), unlike the
  // uniform 1/ne of plain centering.
  const auto [lo, hi] = std::minmax_element(w.begin(), w.end());
  CHECK(*hi / *lo > 10.f);
}
