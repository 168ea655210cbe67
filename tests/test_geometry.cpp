// The synaptic-geometry measurements against NumPy/SciPy: the spectral measures of
// framework/spectral.h, weight_stats / ks_distance_normal / centered_gram / linear_cka of
// models/geometry.h, checked against tests/fixtures/geometry/geometry.json
// (tools/make_geometry_fixtures.py: np.linalg.svd, scipy.stats.skew/kurtosis/kstest, a left-closed
// log10 histogram, CKA by the feature-space formula) and against hand-checkable cases; and the
// low-rank excitatory initialization of models/init.h (ExcitatoryInit, low_rank_nonneg): rank,
// sign, moments, and that it leaves every other draw of dale_init as it was.
//
// Tolerances. Everything here is computed in double from float32 inputs on both sides, so the
// only differences are summation order (numpy's pairwise sums vs a loop) and LAPACK's rounding:
//   - singular values: |Δσ_i| ≤ 1e-12 σ_1 (backward-stable SVDs of the same double matrix differ
//     by ~1e-15 σ_1; the float32 rounding of the rank-3 matrix puts its tail at ~1e-8 σ_1, which
//     both sides resolve);
//   - H, NSE: 1e-12 absolute; erank, mean, sd, rel_change: 1e-12 relative (sums of ≤ 1200 terms,
//     round-off ~1e-14);
//   - log moments: 1e-10 absolute (O(1)–O(70) values from moments of ln w; the kurtosis of the
//     floored matrix, 67, divides m4 by m2², amplifying round-off by ~10²); a sample-size
//     correction (the unbiased skewness/kurtosis or ddof = 1) changes them by ≥ 1e-3;
//   - KS distances: 1e-9 absolute (the sup is attained at a data point; Φ is accurate to ~1e-16
//     on both sides, the MLE parameters agree to ~1e-15);
//   - counts (n, positive, histogram, below/above): exact; floor_frac: exact ratio of counts.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/check.h"
#include "framework/rng.h"
#include "framework/spectral.h"
#include "models/geometry.h"
#include "models/init.h"
#include "tests/testing.h"

using namespace dale;
using nlohmann::json;

namespace {

const json& fixture() {
  static const json doc = [] {
    const std::string path = std::string(DALE_TEST_DATA) + "/fixtures/geometry/geometry.json";
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot read " << path << " (regenerate with tools/make_geometry_fixtures.py)");
    return json::parse(in);
  }();
  return doc;
}

// The fixture's inputs are float32 values written exactly: the cast back to float is exact.
std::vector<float> floats(const json& a) {
  std::vector<float> v;
  for (const auto& x : a) v.push_back(float(x.get<double>()));
  return v;
}
std::vector<double> doubles(const json& a) {
  std::vector<double> v;
  for (const auto& x : a) v.push_back(x.get<double>());
  return v;
}

// |got − want| ≤ atol + rtol·|want|; NaN expected where the fixture holds null.
void check_value(double got, const json& want, double atol, double rtol, const std::string& what) {
  if (want.is_null()) {
    CHECK_MESSAGE(std::isnan(got), what << ": expected NaN, got " << got);
    return;
  }
  const double w = want.get<double>();
  CHECK_MESSAGE(std::fabs(got - w) <= atol + rtol * std::fabs(w),
                what << ": got " << got << ", want " << w << " (diff " << got - w << ")");
}

double mean_of(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += x;
  return s / double(v.size());
}
double sd_of(const std::vector<float>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (float x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size()));
}

// σ_{r+1} / σ_1 of a row-major matrix (0 when r = min(rows, cols)).
double tail_ratio(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t r) {
  const auto s = singular_values(w.data(), rows, cols);
  return r < int64_t(s.size()) ? s[size_t(r)] / s[0] : 0.0;
}

double spec_s(int64_t n, int64_t ne) { return std::sqrt(2.0 * double(ne) / (double(n) * double(ne - 1))); }

const char* kMatrices[] = {"lognormal", "floored", "rank3", "tiny"};

}  // namespace

// ---------------------------------------------------------------------------------------------
// framework/spectral.h

TEST_CASE("singular_values, svd_entropy, effective_rank, NSE equal NumPy's on the fixture matrices") {
  for (const std::string name : kMatrices) {
    CAPTURE(name);
    const json& m = fixture()["matrices"][name];
    const int64_t rows = m["rows"], cols = m["cols"];
    const auto w = floats(m["w"]);
    const json& e = m["expected"];
    const auto sigma = singular_values(w.data(), rows, cols);
    const auto want = doubles(e["sigma"]);
    REQUIRE(sigma.size() == want.size());
    REQUIRE(int64_t(sigma.size()) == std::min(rows, cols));
    for (size_t i = 0; i < sigma.size(); ++i)
      CHECK_MESSAGE(std::fabs(sigma[i] - want[i]) <= 1e-12 * want[0],
                    "σ_" << i << ": got " << sigma[i] << ", numpy " << want[i]);
    CHECK(std::is_sorted(sigma.rbegin(), sigma.rend()));  // largest first
    check_value(svd_entropy(sigma), e["entropy"], 1e-12, 0, "H");
    check_value(effective_rank(sigma), e["erank"], 0, 1e-12, "erank");
    check_value(normalized_svd_entropy(sigma), e["nse"], 1e-12, 0, "NSE");
  }
}

TEST_CASE("singular_values: a matrix and its transpose have the same spectrum") {
  const json& m = fixture()["matrices"]["lognormal"];
  const int64_t rows = m["rows"], cols = m["cols"];
  const auto w = floats(m["w"]);
  std::vector<float> t(w.size());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) t[size_t(j * rows + i)] = w[size_t(i * cols + j)];
  const auto a = singular_values(w.data(), rows, cols), b = singular_values(t.data(), cols, rows);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(std::fabs(a[i] - b[i]) <= 1e-12 * a[0]);
  CHECK(singular_values(w.data(), 0, 5).empty());
}

TEST_CASE("spectral entropies of hand-made spectra") {
  const std::vector<double> flat = {2, 2, 2, 2};  // p = 1/4 each
  CHECK(svd_entropy(flat) == doctest::Approx(std::log(4.0)).epsilon(1e-14));
  CHECK(effective_rank(flat) == doctest::Approx(4.0).epsilon(1e-14));
  CHECK(normalized_svd_entropy(flat) == doctest::Approx(1.0).epsilon(1e-14));
  const std::vector<double> one = {5, 0, 0};  // rank one: 0 log 0 = 0
  CHECK(svd_entropy(one) == 0.0);
  CHECK(effective_rank(one) == 1.0);
  CHECK(normalized_svd_entropy(one) == 0.0);
  const std::vector<double> half = {3, 3, 0};  // N = 3 counts the zero
  CHECK(svd_entropy(half) == doctest::Approx(std::log(2.0)).epsilon(1e-14));
  CHECK(normalized_svd_entropy(half) == doctest::Approx(std::log(2.0) / std::log(3.0)).epsilon(1e-14));
  // p = (1/2, 1/4, 1/4): H = 1.5 log 2
  CHECK(svd_entropy({2, 1, 1}) == doctest::Approx(1.5 * std::log(2.0)).epsilon(1e-14));
  CHECK(svd_entropy({}) == 0.0);
  CHECK(svd_entropy({0, 0}) == 0.0);
  CHECK(normalized_svd_entropy({7}) == 0.0);  // N ≤ 1
  CHECK(normalized_svd_entropy({}) == 0.0);
}

// ---------------------------------------------------------------------------------------------
// models/geometry.h: weight_stats

TEST_CASE("weight_stats: every field equals NumPy/SciPy's on the fixture matrices") {
  for (const std::string name : kMatrices) {
    CAPTURE(name);
    const json& m = fixture()["matrices"][name];
    const int64_t rows = m["rows"], cols = m["cols"];
    const WeightStats s = weight_stats(floats(m["w"]), rows, cols, floats(m["w0"]));
    const json& e = m["expected"]["stats"];
    CHECK(s.n == e["n"].get<int64_t>());
    CHECK(s.positive == e["positive"].get<int64_t>());
    check_value(s.mean, e["mean"], 0, 1e-12, "mean");
    check_value(s.sd, e["sd"], 0, 1e-12, "sd (population)");
    CHECK(s.floor_frac == e["floor_frac"].get<double>());  // k / n on both sides
    check_value(s.log_mean, e["log_mean"], 1e-10, 0, "log_mean");
    check_value(s.log_sd, e["log_sd"], 1e-10, 0, "log_sd (population)");
    check_value(s.log_skew, e["log_skew"], 1e-10, 0, "log_skew (biased g1)");
    check_value(s.log_kurt, e["log_kurt"], 1e-10, 0, "log_kurt (biased excess g2)");
    check_value(s.ks_lognormal, e["ks_lognormal"], 1e-9, 0, "ks_lognormal");
    check_value(s.ks_normal, e["ks_normal"], 1e-9, 0, "ks_normal");
    REQUIRE(s.log10_hist.size() == size_t(kHistBins));
    const auto want_hist = e["log10_hist"].get<std::vector<int64_t>>();
    for (int k = 0; k < kHistBins; ++k)
      CHECK_MESSAGE(s.log10_hist[size_t(k)] == want_hist[size_t(k)],
                    "bin " << k << ": got " << s.log10_hist[size_t(k)] << ", want " << want_hist[size_t(k)]);
    CHECK(s.hist_below == e["hist_below"].get<int64_t>());
    CHECK(s.hist_above == e["hist_above"].get<int64_t>());
    check_value(s.rel_change, e["rel_change"], 0, 1e-12, "rel_change");
    check_value(s.erank, e["erank"], 0, 1e-12, "erank");
  }
}

TEST_CASE("weight_stats: the floored fixture exercises the floor and both ends of the histogram") {
  // Guards the fixture: 110 zeros, 75 × 1e-18 and 4 × 3e-13 are floor, not sample; 5e-12, 2e-11,
  // 7e-11 are positive but below 1e-10; 10 (log10 = 1, the right edge: left-closed → above),
  // 12.5, 12.5, 37 are above; 1 opens bin 100.
  const json& e = fixture()["matrices"]["floored"]["expected"]["stats"];
  CHECK(e["floor_frac"].get<double>() == doctest::Approx((110.0 + 75 + 4) / 750));
  CHECK(e["hist_below"].get<int64_t>() == 3);
  CHECK(e["hist_above"].get<int64_t>() == 4);
  CHECK(e["log10_hist"][100].get<int64_t>() >= 1);
}

TEST_CASE("weight_stats: hand-checkable small matrices") {
  SUBCASE("nothing above the floor: moments and KS are NaN, the histogram is empty") {
    const std::vector<float> w = {0.f, 1e-18f, 0.f, 5e-13f};
    const WeightStats s = weight_stats(w, 2, 2, {});
    CHECK(s.n == 4);
    CHECK(s.positive == 0);
    CHECK(s.floor_frac == 1.0);
    CHECK(s.mean == doctest::Approx((double(1e-18f) + double(5e-13f)) / 4).epsilon(1e-12));
    for (double v : {s.log_mean, s.log_sd, s.log_skew, s.log_kurt, s.ks_lognormal, s.ks_normal})
      CHECK(std::isnan(v));
    REQUIRE(s.log10_hist.size() == size_t(kHistBins));
    CHECK(std::all_of(s.log10_hist.begin(), s.log10_hist.end(), [](int64_t c) { return c == 0; }));
    CHECK(s.hist_below == 0);
    CHECK(s.hist_above == 0);
    CHECK(s.rel_change == 0.0);  // empty w0
  }
  SUBCASE("one positive entry: no moments; it is counted in its bin") {
    // log10 0.5 = −0.30103: (−0.30103 + 10) / 0.1 = 96.99 → bin 96.
    const std::vector<float> w = {0.f, 0.5f, 0.f, 0.f};
    const WeightStats s = weight_stats(w, 2, 2, {});
    CHECK(s.positive == 1);
    CHECK(s.floor_frac == 0.75);
    CHECK(s.mean == 0.125);
    CHECK(s.sd == doctest::Approx(std::sqrt(0.75 * 0.125 * 0.125 + 0.25 * 0.375 * 0.375)).epsilon(1e-14));
    for (double v : {s.log_mean, s.log_sd, s.log_skew, s.log_kurt}) CHECK(std::isnan(v));
    CHECK(s.log10_hist[96] == 1);
    CHECK(std::accumulate(s.log10_hist.begin(), s.log10_hist.end(), int64_t(0)) == 1);
    CHECK(s.erank == doctest::Approx(1.0));
  }
  SUBCASE("left-closed bins: 1 opens bin 100, 10 is above, 1e-10 (as float: above 1e-10) is bin 0") {
    const std::vector<float> w = {1.f, 10.f, 1e-10f, 9.99f};
    const WeightStats s = weight_stats(w, 1, 4, {});
    CHECK(s.positive == 4);
    CHECK(s.log10_hist[100] == 1);
    CHECK(s.log10_hist[0] == 1);
    CHECK(s.log10_hist[109] == 1);  // log10 9.99 = 0.99957
    CHECK(s.hist_above == 1);
    CHECK(s.hist_below == 0);
  }
  SUBCASE("rel_change = ‖W − W0‖ / ‖W0‖") {
    // W0 = (3, 4): ‖W0‖ = 5; W − W0 = (0, −1) → 0.2.
    const WeightStats s = weight_stats({3.f, 3.f}, 1, 2, {3.f, 4.f});
    CHECK(s.rel_change == doctest::Approx(0.2).epsilon(1e-14));
  }
}

// ---------------------------------------------------------------------------------------------
// ks_distance_normal

TEST_CASE("ks_distance_normal: hand-checked distances") {
  // One point at the mean: F_n jumps from 0 to 1 where Φ = 1/2.
  CHECK(ks_distance_normal({0.0}, 0, 1) == doctest::Approx(0.5).epsilon(1e-15));
  // {−1, 1} under N(0, 1): 1/2 − Φ(−1) = Φ(1) − 1/2 = erf(1/√2)/2, at −1 and just below 1.
  const double g = 0.5 * std::erf(1 / std::sqrt(2.0));  // 0.3413447460685429
  CHECK(ks_distance_normal({-1.0, 1.0}, 0, 1) == doctest::Approx(g).epsilon(1e-14));
  // Unsorted input (sorted inside): {3, 1, 2} under N(2, 1): 1/3 − Φ(−1) at 1 (and Φ(1) − 2/3 at 3).
  const double phi_m1 = 0.5 * std::erfc(1 / std::sqrt(2.0));
  CHECK(ks_distance_normal({3.0, 1.0, 2.0}, 2, 1) == doctest::Approx(1.0 / 3 - phi_m1).epsilon(1e-14));
  // Scale matters: {−2, 2} under N(0, 2) is the first case's {−1, 1} under N(0, 1).
  CHECK(ks_distance_normal({2.0, -2.0}, 0, 2) == doctest::Approx(g).epsilon(1e-14));
  // A sample far to the right: the gap before it is Φ(10) ≈ 1 (left limit of F_n is 0).
  CHECK(ks_distance_normal({10.0}, 0, 1) == doctest::Approx(1.0).epsilon(1e-15));
  // Ties: {0, 0} is a single jump 0 → 1 at Φ = 1/2.
  CHECK(ks_distance_normal({0.0, 0.0}, 0, 1) == doctest::Approx(0.5).epsilon(1e-15));
  CHECK(std::isnan(ks_distance_normal({}, 0, 1)));
  CHECK(std::isnan(ks_distance_normal({1.0, 2.0}, 0, 0)));
  CHECK(std::isnan(ks_distance_normal({1.0, 2.0}, 0, -1)));
}

// ---------------------------------------------------------------------------------------------
// centered_gram, linear_cka

TEST_CASE("centered_gram equals Xc Xcᵀ from NumPy") {
  const json& c = fixture()["centered_gram"];
  const int64_t n = c["n"], p = c["p"];
  const auto k = centered_gram(floats(c["x"]), n, p);
  const auto want = doubles(c["gram"]);
  REQUIRE(k.size() == want.size());
  double scale = 0;
  for (double v : want) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < k.size(); ++i)
    CHECK_MESSAGE(std::fabs(k[i] - want[i]) <= 1e-12 * scale, "K[" << i << "]: got " << k[i] << ", want " << want[i]);
  // Doubly centred: every row and column sums to 0.
  for (int64_t i = 0; i < n; ++i) {
    double row = 0, col = 0;
    for (int64_t j = 0; j < n; ++j) row += k[size_t(i * n + j)], col += k[size_t(j * n + i)];
    CHECK(std::fabs(row) <= 1e-12 * scale);
    CHECK(std::fabs(col) <= 1e-12 * scale);
  }
}

TEST_CASE("linear_cka: the fixture's value, CKA(X, X) = 1, invariance to rotation, scale and shift") {
  const json& c = fixture()["cka"];
  const int64_t n = c["n"], p1 = c["p1"], p2 = c["p2"];
  const auto x = floats(c["x"]), y = floats(c["y"]);
  const auto kx = centered_gram(x, n, p1), ky = centered_gram(y, n, p2);
  const double cka = linear_cka(kx, ky);
  check_value(cka, c["cka"], 1e-12, 0, "CKA(X, Y) vs the feature-space formula");
  CHECK(linear_cka(ky, kx) == doctest::Approx(cka).epsilon(1e-14));  // symmetric
  CHECK(linear_cka(kx, kx) == doctest::Approx(1.0).epsilon(1e-14));

  // Exact in float: a signed permutation of Y's features (orthogonal) times 4 (isotropic).
  std::vector<float> y_perm(y.size());
  const int perm[5] = {3, 0, 4, 1, 2};
  const float sign[5] = {1.f, -1.f, 1.f, -1.f, -1.f};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < p2; ++j) y_perm[size_t(i * p2 + j)] = 4.f * sign[j] * y[size_t(i * p2 + perm[j])];
  CHECK(linear_cka(kx, centered_gram(y_perm, n, p2)) == doctest::Approx(cka).epsilon(1e-12));

  // A general orthogonal transform: the Householder reflection Q = I − 2vvᵀ/‖v‖², times 0.3.
  // Y Q is rounded to float (≈ 6e-8 relative per entry), so CKA moves by ~1e-7: 1e-6.
  const double v[5] = {0.3, -1.1, 0.7, 2.0, -0.4};
  double vv = 0;
  for (double a : v) vv += a * a;
  std::vector<float> y_rot(y.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < p2; ++j) {
      double s = 0;
      for (int64_t l = 0; l < p2; ++l)
        s += double(y[size_t(i * p2 + l)]) * ((l == j ? 1.0 : 0.0) - 2 * v[l] * v[j] / vv);
      y_rot[size_t(i * p2 + j)] = float(0.3 * s);
    }
  CHECK(linear_cka(kx, centered_gram(y_rot, n, p2)) == doctest::Approx(cka).epsilon(1e-6));

  // A constant shift of every sample of X (centring removes it): exact up to float rounding.
  std::vector<float> x_shift(x);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < p1; ++j) x_shift[size_t(i * p1 + j)] += 0.5f + 0.25f * float(j);
  CHECK(linear_cka(centered_gram(x_shift, n, p1), ky) == doctest::Approx(cka).epsilon(1e-6));

  // Not invariant to everything: scaling one feature of Y changes it (the test can fail).
  std::vector<float> y_aniso(y);
  for (int64_t i = 0; i < n; ++i) y_aniso[size_t(i * p2)] *= 5.f;
  CHECK(std::fabs(linear_cka(kx, centered_gram(y_aniso, n, p2)) - cka) > 1e-3);

  // Zero Gram: NaN.
  const std::vector<float> constant(size_t(n * p2), 2.f);
  CHECK(std::isnan(linear_cka(kx, centered_gram(constant, n, p2))));
}

// ---------------------------------------------------------------------------------------------
// models/init.h: low_rank_nonneg, ExcitatoryInit

TEST_CASE("low_rank_nonneg: rank exactly r, non-negative, mean and population sd as requested") {
  const int64_t rows = 120, cols = 90;
  const double mean = 0.037;
  for (int64_t r : {1, 4, 16}) {
    CAPTURE(r);
    RngStream rng(31, kStreamLowRank + (uint64_t(r) << 8));
    const auto w = low_rank_nonneg(rows, cols, r, mean, rng);
    REQUIRE(int64_t(w.size()) == rows * cols);
    CHECK(std::all_of(w.begin(), w.end(), [](float v) { return v >= 0.f && std::isfinite(v); }));
    // A rank-r product rounded to float32: σ_{r+1} is float rounding (~1e-7 σ_1).
    const auto s = singular_values(w.data(), rows, cols);
    CHECK_MESSAGE(s[size_t(r)] / s[0] < 1e-5, "σ_{r+1}/σ_1 = " << s[size_t(r)] / s[0]);
    CHECK_MESSAGE(s[size_t(r - 1)] / s[0] > 1e-3, "σ_r/σ_1 = " << s[size_t(r - 1)] / s[0]);  // not lower
    CHECK_MESSAGE(std::fabs(mean_of(w) / mean - 1) < 1e-3, "mean " << mean_of(w));
    CHECK_MESSAGE(std::fabs(sd_of(w) / mean - 1) < 1e-3, "sd " << sd_of(w));
    RngStream again(31, kStreamLowRank + (uint64_t(r) << 8));
    CHECK(low_rank_nonneg(rows, cols, r, mean, again) == w);  // seeded
  }
}

TEST_CASE("dale_init with ExcitatoryInit: rank-r Wex; Wei and later draws as at full rank; Wix follows") {
  const int64_t n = 97, ne = 60, ni = inhibitory_units(ne);
  const double s = spec_s(n, ne);
  RngStream base_rng(13, kStreamInit);
  const DaleInit base = dale_init(n, ne, ni, base_rng);
  const double next_base = base_rng.normal();

  SUBCASE("the default options are SPEC §7's draw") {
    RngStream rng(13, kStreamInit);
    const DaleInit w = dale_init(n, ne, ni, rng, ExcitatoryInit{});
    CHECK(w.Wex == base.Wex);
    CHECK(w.Wei == base.Wei);
    CHECK(w.Wix == base.Wix);
  }
  for (int64_t r : {1, 4, 16}) {
    CAPTURE(r);
    RngStream rng(13, kStreamInit);
    const ExcitatoryInit e{r, 1.0, 99, kStreamLowRank + (3 << 8)};
    const DaleInit w = dale_init(n, ne, ni, rng, e);
    REQUIRE(int64_t(w.Wex.size()) == ne * n);
    CHECK(w.Wex != base.Wex);
    CHECK(tail_ratio(w.Wex, ne, n, r) < 1e-5);
    CHECK(std::all_of(w.Wex.begin(), w.Wex.end(), [](float v) { return v >= 0.f; }));
    // Same mean and sd as SPEC §7's Wex (s and s).
    CHECK(std::fabs(mean_of(w.Wex) / s - 1) < 1e-3);
    CHECK(std::fabs(sd_of(w.Wex) / s - 1) < 1e-3);
    // The default Wex was still drawn first: Wei and the next draw are as at full rank.
    CHECK(w.Wei == base.Wei);
    CHECK(rng.normal() == next_base);
    // Wex is low_rank_nonneg's matrix from the factors' own stream.
    RngStream factors(e.seed, e.stream);
    CHECK(w.Wex == low_rank_nonneg(ne, n, r, s, factors));
    // Wix rows = the column means of Wex.
    std::vector<float> means(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) {
      double m = 0;
      for (int64_t k = 0; k < ne; ++k) m += w.Wex[size_t(k * n + j)];
      means[size_t(j)] = float(m / double(ne));
    }
    for (int64_t i = 0; i < ni; ++i)
      dale::test::expect_close(std::vector<float>(w.Wix.begin() + i * n, w.Wix.begin() + (i + 1) * n), means, 0,
                               1e-6, "Wix row " + std::to_string(i));
  }
}

TEST_CASE("dale_init: gain multiplies Wex (mean and sd × g) and leaves Wei alone") {
  const int64_t n = 50, ne = 40, ni = inhibitory_units(ne);
  for (int64_t r : {0, 3}) {
    CAPTURE(r);
    RngStream rng1(17, kStreamInit), rng2(17, kStreamInit);
    const DaleInit g1 = dale_init(n, ne, ni, rng1, ExcitatoryInit{r, 1.0, 5, kStreamLowRank});
    const DaleInit g2 = dale_init(n, ne, ni, rng2, ExcitatoryInit{r, 2.0, 5, kStreamLowRank});
    // ×2 is exact in binary; allow one float rounding of the product in another order.
    std::vector<float> doubled(g1.Wex);
    for (auto& v : doubled) v *= 2.f;
    dale::test::expect_close(g2.Wex, doubled, 0, 1.2e-7, "Wex(g = 2) vs 2 Wex(g = 1)");
    CHECK(mean_of(g2.Wex) / mean_of(g1.Wex) == doctest::Approx(2.0).epsilon(1e-6));
    CHECK(sd_of(g2.Wex) / sd_of(g1.Wex) == doctest::Approx(2.0).epsilon(1e-6));
    CHECK(g2.Wei == g1.Wei);
    std::vector<float> wix_doubled(g1.Wix);
    for (auto& v : wix_doubled) v *= 2.f;
    dale::test::expect_close(g2.Wix, wix_doubled, 0, 1e-6, "Wix(g = 2) vs 2 Wix(g = 1)");
  }
}

TEST_CASE("dale_init: rank above min(ne, n) is an Error") {
  RngStream rng(1, kStreamInit);
  CHECK_THROWS_AS(dale_init(10, 20, 2, rng, ExcitatoryInit{11, 1.0, 1, kStreamLowRank}), Error);  // n = 10
  CHECK_THROWS_AS(dale_init(30, 8, 1, rng, ExcitatoryInit{9, 1.0, 1, kStreamLowRank}), Error);    // ne = 8
  CHECK_NOTHROW(dale_init(30, 8, 1, rng, ExcitatoryInit{8, 1.0, 1, kStreamLowRank}));
}
