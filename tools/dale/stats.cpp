// Statistics of `dale report`: summaries and the Mann–Whitney U test (see stats.h).
#include "tools/dale/stats.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <optional>
#include <string_view>

#include "framework/check.h"

namespace dale::stats {

// ---------------------------------------------------------------------------------------------
// Summaries

double mean(const std::vector<double>& x) {
  if (x.empty()) return 0.0;
  return std::accumulate(x.begin(), x.end(), 0.0) / double(x.size());
}

double sd(const std::vector<double>& x) {
  if (x.size() < 2) return 0.0;
  const double m = mean(x);
  double q = 0;
  for (double v : x) q += (v - m) * (v - m);
  return std::sqrt(q / double(x.size() - 1));
}

double median(const std::vector<double>& x) {
  if (x.empty()) return 0.0;
  std::vector<double> s = x;
  std::sort(s.begin(), s.end());
  const size_t n = s.size();
  return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

std::vector<double> best_k(const std::vector<double>& x, size_t k) {
  std::vector<double> s = x;
  std::sort(s.begin(), s.end(), std::greater<>());
  if (s.size() > k) s.resize(k);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Mann–Whitney U, as scipy.stats.mannwhitneyu (scipy 1.10.1, scipy/stats/_mannwhitneyu.py)

std::optional<MwuMethod> parse_mwu_method(std::string_view name) {
  if (name == "auto") return MwuMethod::automatic;
  if (name == "exact") return MwuMethod::exact;
  if (name == "asymptotic") return MwuMethod::asymptotic;
  return std::nullopt;
}

const char* mwu_method_name(MwuMethod m) {
  switch (m) {
    case MwuMethod::automatic: return "auto";
    case MwuMethod::exact: return "exact";
    case MwuMethod::asymptotic: return "asymptotic";
  }
  return "?";
}

// scipy's _mwu_choose_method: both samples larger than 8 → asymptotic; else any tie → asymptotic;
// else exact.
MwuMethod mwu_auto_choice(size_t n_a, size_t n_b, bool ties) {
  if (n_a > 8 && n_b > 8) return MwuMethod::asymptotic;
  return ties ? MwuMethod::asymptotic : MwuMethod::exact;
}

// counts[m][n][u] = counts[m−1][n][u−n] + counts[m][n−1][u]: the largest of the m + n values is
// either one of a's (then it beats all n of b's) or one of b's (it adds nothing to U_a).
std::vector<double> mann_whitney_counts(size_t n_a, size_t n_b) {
  // f[n][u] for the current m; exact in double while C(n_a + n_b, n_a) < 2^53 (every n_a + n_b ≤ 56),
  // correct to rounding beyond.
  std::vector<std::vector<double>> f(n_b + 1);
  for (size_t n = 0; n <= n_b; ++n) f[n].assign(1, 1.0);  // m = 0: U = 0 in one way
  for (size_t m = 1; m <= n_a; ++m) {
    std::vector<std::vector<double>> g(n_b + 1);
    g[0].assign(1, 1.0);  // n = 0: U = 0 in one way
    for (size_t n = 1; n <= n_b; ++n) {
      g[n].assign(m * n + 1, 0.0);
      for (size_t u = 0; u < f[n].size(); ++u) g[n][u + n] += f[n][u];  // largest is a's
      for (size_t u = 0; u < g[n - 1].size(); ++u) g[n][u] += g[n - 1][u];  // largest is b's
    }
    f = std::move(g);
  }
  return f[n_b];
}

MannWhitney mann_whitney(const std::vector<double>& a, const std::vector<double>& b, MwuMethod method) {
  DALE_CHECK(!a.empty() && !b.empty(), "Mann–Whitney U needs two non-empty samples (n_a = {}, n_b = {})",
             a.size(), b.size());
  const size_t na = a.size(), nb = b.size(), n = na + nb;
  // Mid-ranks of the pooled sample; tie groups of size t add t³ − t to the tie term.
  std::vector<std::pair<double, bool>> pooled;  // value, from a
  pooled.reserve(n);
  for (double v : a) pooled.emplace_back(v, true);
  for (double v : b) pooled.emplace_back(v, false);
  for (const auto& [v, from_a] : pooled)
    DALE_CHECK(!std::isnan(v), "Mann–Whitney U: a sample holds NaN");
  std::sort(pooled.begin(), pooled.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  double rank_sum_a = 0, tie_term = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && pooled[j].first == pooled[i].first) ++j;
    const double mid_rank = 0.5 * double(i + 1 + j);  // ranks i+1 … j
    for (size_t k = i; k < j; ++k)
      if (pooled[k].second) rank_sum_a += mid_rank;
    const double t = double(j - i);
    tie_term += t * t * t - t;
    i = j;
  }
  const double mn = double(na) * double(nb);
  const double u_a = rank_sum_a - double(na) * double(na + 1) / 2.0;
  const double u_max = std::max(u_a, mn - u_a);  // the two-sided test uses the larger statistic
  if (method == MwuMethod::automatic) method = mwu_auto_choice(na, nb, tie_term > 0);

  double p;
  if (method == MwuMethod::exact) {
    // p = 2·P(U ≥ k), k = ⌊u_max⌋ (scipy: U.astype(int)); by symmetry P(U ≥ k) = P(U ≤ mn − k),
    // summed from the far tail, smallest terms first, as scipy's cdf does.
    const std::vector<double> c = mann_whitney_counts(na, nb);
    const size_t k = size_t(std::floor(u_max));
    double total = 0, tail = 0;
    for (size_t u = 0; u < c.size(); ++u) {
      total += c[u];
      if (u + k <= c.size() - 1) tail += c[u];
    }
    p = 2.0 * tail / total;
  } else {
    // z = (u_max − mu − ½) / s with the tie-corrected s; p = 2·(1 − Φ(z)) = erfc(z/√2).
    const double nd = double(n);
    const double mu = mn / 2.0;
    const double var = mn / 12.0 * ((nd + 1) - tie_term / (nd * (nd - 1)));
    if (var > 0) {
      const double z = (u_max - mu - 0.5) / std::sqrt(var);
      p = std::erfc(z * std::sqrt(0.5));
    } else {
      p = 1.0;  // every value tied: z = −½/0 = −∞, p = 2·1 clipped to 1, as scipy
    }
  }
  return {u_a, std::clamp(p, 0.0, 1.0), method};
}

}  // namespace dale::stats
