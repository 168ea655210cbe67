// Tests of tools/dale/stats.h, the statistics of `dale report`: summaries, and the Mann–Whitney
// U test against scipy's numbers and against a brute-force enumeration of the exact null
// distribution.
//
// tools/dale/*.cpp are compiled only into the `dale` executable, not into a library the tests
// link, so this suite compiles stats.cpp itself (it needs nothing but dale_core's headers).
#include "tools/dale/stats.cpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

using namespace dale::stats;

namespace {

// One tolerance rule for p-values: |got − want| ≤ rtol·|want| (+ a tiny atol for p ≈ 0).
void check_p(double got, double want, double rtol, const std::string& what) {
  CHECK_MESSAGE(std::fabs(got - want) <= 1e-300 + rtol * std::fabs(want),
                what << ": p = " << got << ", scipy " << want);
}

double binom(int n, int k) {
  double c = 1;
  for (int i = 1; i <= k; ++i) c = c * double(n - k + i) / double(i);
  return c;
}

struct Case {
  const char* name;
  std::vector<double> a, b;
  double u, p;  // scipy.stats.mannwhitneyu(a, b, alternative='two-sided'), see below
};

// Reference values from scipy 1.10.1 (/usr/bin/python3), method='exact' when both samples have
// at most 20 values and no ties, else method='asymptotic' (continuity and tie corrections):
//   from scipy.stats import mannwhitneyu
//   r = mannwhitneyu(a, b, alternative='two-sided', method=meth); print(r.statistic, r.pvalue)
// The random samples: numpy.random.default_rng(7), normal draws rounded to 4, 4, 1, 5 decimals.
const std::vector<Case>& scipy_cases() {
  static const std::vector<Case> cases = {
      {"separated 3 vs 3 (exact)", {1, 2, 3}, {4, 5, 6}, 0.0, 0.1},
      {"interleaved 3 vs 2 (exact)", {1, 3, 5}, {2, 4}, 3.0, 1.0},
      {"ties (asymptotic)", {1, 2, 2, 3}, {2, 3, 4, 5}, 2.5, 0.1366582477381475},
      {"n_a = 1 (exact)", {5}, {1, 2, 3}, 3.0, 0.5},
      {"n_a = n_b = 1 (exact)", {2}, {1}, 1.0, 1.0},
      {"identical samples (ties)", {1, 2, 3}, {1, 2, 3}, 4.5, 1.0},
      {"every value tied", {10, 10}, {10, 10, 10}, 3.0, 1.0},
      {"10 vs 12 (exact)",
       {88.0012, 88.2987, 87.7259, 87.1094, 87.5453, 87.0084, 88.0601, 89.3402, 87.5078, 87.3795},
       {87.4898, 87.3569, 87.1054, 86.0695, 86.9707, 87.6953, 85.6558, 86.5424, 85.0988, 85.7105, 85.1583, 86.7649},
       109.0, 0.000600019175870569},
      {"25 vs 30 (asymptotic, no ties)",
       {86.7326, 88.2713, 88.1568, 87.8131, 85.4832, 87.4613, 87.9515, 88.1133, 86.4699, 87.5222, 87.0215, 87.1912, 89.0609,
        87.1925, 87.9675, 88.8844, 87.4164, 87.8883, 88.1105, 88.0638, 86.7749, 88.0761, 89.3588, 86.4529, 88.8594},
       {87.6194, 86.8585, 89.5004, 88.2623, 86.3007, 87.5745, 88.0767, 87.3112, 88.1829, 87.4335,
        88.1672, 88.9385, 86.8243, 87.7031, 87.0367, 87.6273, 86.3128, 86.9207, 87.3038, 88.3988,
        88.6452, 86.1765, 86.7054, 88.1469, 85.5076, 87.0368, 87.4027, 88.757, 88.1894, 87.1728},
       406.0, 0.6061728644329493},
      {"30 vs 30 (asymptotic, many ties)",
       {85.4, 85.6, 88.3, 85.4, 85.5, 86.5, 85.8, 85.7, 84.3, 86.0, 85.3, 87.7, 87.0, 86.0, 87.0,
        85.5, 87.6, 86.0, 86.9, 84.1, 86.5, 83.5, 82.9, 85.5, 84.7, 86.2, 89.4, 84.8, 85.1, 86.3},
       {86.2, 85.2, 85.2, 86.6, 86.3, 83.9, 85.4, 85.6, 83.9, 85.9, 84.2, 87.0, 85.8, 85.6, 84.6,
        85.3, 82.5, 83.8, 86.0, 82.3, 86.8, 82.9, 86.6, 84.2, 86.7, 85.7, 83.2, 87.4, 87.7, 85.4},
       542.0, 0.17586319368730452},
      {"21 vs 4 (asymptotic: n_a > 20)",
       {-0.27392, -0.15987, -0.97515, 1.09859, -0.54289, -0.05119, -0.7933, -0.62607, -1.27773, 1.25707, -0.15409,
        0.96592, 0.01332, -0.6944, -0.32669, -0.56023, 0.00796, -0.37527, -0.29992, -1.37857, -0.80685},
       {2.45406, 0.12877, -0.25409, 1.13733},
       12.0, 0.028765492009884236},
  };
  return cases;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Summaries

TEST_CASE("mean, sd (n − 1), median and best_k") {
  const std::vector<double> x = {3, 1, 4, 1, 5, 9, 2, 6};
  CHECK(mean(x) == doctest::Approx(31.0 / 8));
  // Σ(x − 3.875)² = 52.875 → sd = sqrt(52.875 / 7) (python statistics.stdev: 2.748376…)
  CHECK(sd(x) == doctest::Approx(std::sqrt(52.875 / 7)));
  CHECK(median(x) == doctest::Approx(3.5));                  // even n: mean of 3 and 4
  CHECK(median(std::vector<double>{7, 1, 3}) == doctest::Approx(3));  // odd n
  CHECK(best_k(x, 3) == std::vector<double>{9, 6, 5});
  CHECK(best_k(x, 20).size() == x.size());  // fewer than k: all of them, largest first
  CHECK(best_k(x, 20).front() == 9);
  CHECK(sd(std::vector<double>{42}) == 0);  // n = 1
  CHECK(mean(std::vector<double>{}) == 0);
}

// ---------------------------------------------------------------------------------------------
// Mann–Whitney U

TEST_CASE("Mann–Whitney U and two-sided p match scipy.stats.mannwhitneyu") {
  for (const Case& c : scipy_cases()) {
    double p = -1;
    const double u = mann_whitney_u(c.a, c.b, &p);
    CHECK_MESSAGE(u == c.u, c.name << ": U = " << u << ", scipy " << c.u);
    check_p(p, c.p, 1e-9, c.name);
    // Swapping the samples: U_b = n_a·n_b − U_a, the same two-sided p.
    double p_swapped = -1;
    const double u_b = mann_whitney_u(c.b, c.a, &p_swapped);
    CHECK_MESSAGE(u_b == double(c.a.size() * c.b.size()) - c.u, c.name << ": U of b = " << u_b);
    check_p(p_swapped, c.p, 1e-12, std::string(c.name) + " (swapped)");
  }
}

TEST_CASE("fully separated samples: exact p = 2 / C(n_a + n_b, n_a)") {
  for (int na : {1, 2, 5, 10, 20})
    for (int nb : {1, 3, 7, 20}) {
      std::vector<double> a, b;
      for (int i = 0; i < na; ++i) a.push_back(100 + i);  // every a above every b
      for (int i = 0; i < nb; ++i) b.push_back(i);
      double p = -1;
      CHECK(mann_whitney_u(a, b, &p) == double(na * nb));
      const double want = std::min(1.0, 2.0 / binom(na + nb, na));
      check_p(p, want, 1e-12, "separated " + std::to_string(na) + " vs " + std::to_string(nb));
    }
  // 20 vs 20: scipy's exact p, 1.4508889103849684e-11.
  std::vector<double> a, b;
  for (int i = 0; i < 20; ++i) a.push_back(i), b.push_back(20 + i);
  double p = -1;
  CHECK(mann_whitney_u(a, b, &p) == 0);
  check_p(p, 1.4508889103849684e-11, 1e-12, "separated 20 vs 20");
}

TEST_CASE("the exact null distribution matches a brute-force enumeration") {
  // Every way to choose which n_a of the ranks 1 … n_a + n_b belong to a (bit masks); U_a of each.
  for (int na = 1; na <= 7; ++na)
    for (int nb = 1; nb <= 7; ++nb) {
      const int n = na + nb;
      std::vector<double> brute(size_t(na * nb + 1), 0.0);
      for (uint32_t mask = 0; mask < (1u << n); ++mask) {
        if (__builtin_popcount(mask) != na) continue;
        int u = 0, below_b = 0;  // U_a = Σ over a's values of the b's below it
        for (int r = 0; r < n; ++r) {
          if (mask >> r & 1) u += below_b;
          else ++below_b;
        }
        brute[size_t(u)] += 1;
      }
      const std::vector<double> c = mann_whitney_counts(size_t(na), size_t(nb));
      CHECK_MESSAGE(c == brute, "null distribution of U for n_a = " << na << ", n_b = " << nb);
    }
  // And the p-value of an arbitrary ordering: a holds ranks {2, 3, 7, 9} of 1 … 10.
  const std::vector<double> a = {2, 3, 7, 9}, b = {1, 4, 5, 6, 8, 10};
  double p = -1;
  const double u = mann_whitney_u(a, b, &p);
  CHECK(u == 1 + 1 + 4 + 5);  // b's below each of a's values
  const std::vector<double> c = mann_whitney_counts(4, 6);
  const double u_far = std::max(u, 24 - u);
  double tail = 0;
  for (size_t k = 0; k < c.size(); ++k) tail += double(k) >= u_far ? c[k] : 0.0;
  check_p(p, 2 * tail / binom(10, 4), 1e-12, "ranks {2, 3, 7, 9} of 10");
}

TEST_CASE("Mann–Whitney needs two non-empty samples") {
  double p;
  CHECK_THROWS_AS(mann_whitney_u({}, {1.0}, &p), dale::Error);
  CHECK_THROWS_AS(mann_whitney_u({1.0}, {}, &p), dale::Error);
  CHECK(mann_whitney_u({1.0, 2.0}, {1.5}, nullptr) == 1.0);  // U without p
}
