// See geometry.h. Everything is computed in double on host copies, at the logging interval only.
#include "models/geometry.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "framework/check.h"
#include "framework/ops.h"
#include "framework/optimizer.h"
#include "framework/spectral.h"
#include "framework/tape.h"

namespace dale {

using json = nlohmann::json;
static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double ks_distance_normal(std::vector<double> x, double mu, double sd) {
  if (x.empty() || !(sd > 0)) return kNaN;
  std::sort(x.begin(), x.end());
  const double n = double(x.size());
  double d = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double f = 0.5 * std::erfc(-(x[i] - mu) / (sd * std::sqrt(2.0)));
    d = std::max({d, double(i + 1) / n - f, f - double(i) / n});
  }
  return d;
}

// Population mean and central moments m2, m3, m4 of v.
struct Moments {
  double mean = 0, m2 = 0, m3 = 0, m4 = 0;
};
static Moments moments(const std::vector<double>& v) {
  Moments m;
  for (double x : v) m.mean += x;
  m.mean /= double(v.size());
  for (double x : v) {
    const double d = x - m.mean, d2 = d * d;
    m.m2 += d2, m.m3 += d2 * d, m.m4 += d2 * d2;
  }
  m.m2 /= double(v.size()), m.m3 /= double(v.size()), m.m4 /= double(v.size());
  return m;
}

WeightStats weight_stats(const std::vector<float>& w, int64_t rows, int64_t cols, const std::vector<float>& w0) {
  WeightStats s;
  s.n = int64_t(w.size());
  s.log10_hist.assign(kHistBins, 0);
  std::vector<double> all(w.begin(), w.end()), pos, logs;
  if (all.empty()) return s;
  const Moments a = moments(all);
  s.mean = a.mean, s.sd = std::sqrt(a.m2);
  for (double x : all)
    if (x > kWeightFloor) {
      pos.push_back(x);
      logs.push_back(std::log(x));
      const double bin = std::floor((std::log10(x) - kHistLo) / kHistWidth);
      if (bin < 0) ++s.hist_below;
      else if (bin >= kHistBins) ++s.hist_above;
      else ++s.log10_hist[size_t(bin)];
    }
  s.positive = int64_t(pos.size());
  s.floor_frac = double(s.n - s.positive) / double(s.n);
  s.log_mean = s.log_sd = s.log_skew = s.log_kurt = s.ks_lognormal = s.ks_normal = kNaN;
  if (pos.size() >= 2) {
    const Moments l = moments(logs), p = moments(pos);
    s.log_mean = l.mean, s.log_sd = std::sqrt(l.m2);
    if (l.m2 > 0) s.log_skew = l.m3 / std::pow(l.m2, 1.5), s.log_kurt = l.m4 / (l.m2 * l.m2) - 3.0;
    s.ks_lognormal = ks_distance_normal(logs, s.log_mean, s.log_sd);
    s.ks_normal = ks_distance_normal(pos, p.mean, std::sqrt(p.m2));
  }
  DALE_CHECK(w0.empty() || w0.size() == w.size(), "weight_stats: W₀ has {} values, W {}", w0.size(), w.size());
  if (!w0.empty()) {
    double diff = 0, ref = 0;
    for (size_t i = 0; i < w.size(); ++i) diff += (double(w[i]) - w0[i]) * (double(w[i]) - w0[i]), ref += double(w0[i]) * w0[i];
    s.rel_change = ref > 0 ? std::sqrt(diff / ref) : kNaN;
  }
  s.erank = effective_rank(singular_values(w.data(), rows, cols));
  return s;
}

json to_json(const WeightStats& s) {
  return {{"n", s.n},
          {"positive", s.positive},
          {"mean", s.mean},
          {"sd", s.sd},
          {"floor_frac", s.floor_frac},
          {"log_mean", s.log_mean},
          {"log_sd", s.log_sd},
          {"log_skew", s.log_skew},
          {"log_kurt", s.log_kurt},
          {"ks_lognormal", s.ks_lognormal},
          {"ks_normal", s.ks_normal},
          {"log10_hist", s.log10_hist},
          {"hist_below", s.hist_below},
          {"hist_above", s.hist_above},
          {"rel_change", s.rel_change},
          {"erank", s.erank}};
}

std::vector<double> centered_gram(const std::vector<float>& x, int64_t n, int64_t p) {
  std::vector<double> c(x.begin(), x.end());
  for (int64_t j = 0; j < p; ++j) {  // centring the columns: Xc Xcᵀ = H X Xᵀ H
    double m = 0;
    for (int64_t i = 0; i < n; ++i) m += c[i * p + j];
    m /= double(n);
    for (int64_t i = 0; i < n; ++i) c[i * p + j] -= m;
  }
  std::vector<double> k(size_t(n * n), 0.0);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), int(n), int(p), 1.0, c.data(), int(p), c.data(),
              int(p), 0.0, k.data(), int(n));
  return k;
}

double linear_cka(const std::vector<double>& kx, const std::vector<double>& ky) {
  double xy = 0, xx = 0, yy = 0;
  for (size_t i = 0; i < kx.size(); ++i) xy += kx[i] * ky[i], xx += kx[i] * kx[i], yy += ky[i] * ky[i];
  return xx > 0 && yy > 0 ? xy / std::sqrt(xx * yy) : kNaN;
}

// ---------------------------------------------------------------------------------------------

GeometryProbe::GeometryProbe(Network& net, Tensor test_x) : x_(std::move(test_x)) {
  std::vector<Tensor> params = net.parameters();
  for (const Tensor& p : params) {
    if (!is_sign_constrained(p.group()) || p.frozen()) continue;
    const std::string& name = p.name();  // "fc0.Wex"
    const size_t dot = name.find('.');
    matrices_.push_back({name.substr(0, dot), name.substr(dot + 1), p, p.to_vector()});
  }
  for (const Matrix& m : matrices_) init_[m.layer][m.param] = to_json(weight_stats(m.w0, m.p.rows(), m.p.cols(), {}));
  gram0_ = grams(net);
}

std::vector<std::vector<double>> GeometryProbe::grams(Network& net) const {
  NoGrad ng;
  std::vector<std::vector<double>> out;
  Tensor h = x_;
  for (size_t l = 0; l < net.hidden().size(); ++l) {
    h = relu(net.hidden_forward(l, h, false));
    out.push_back(centered_gram(h.to_vector(), h.rows(), h.cols()));
  }
  return out;
}

json GeometryProbe::measure(Network& net, bool with_init) const {
  json j = {{"hist", {{"lo", kHistLo}, {"width", kHistWidth}, {"bins", kHistBins}}}};
  const std::vector<std::vector<double>> now = grams(net);
  for (size_t l = 0; l < now.size(); ++l) j[net.hidden()[l]->name()]["cka"] = linear_cka(gram0_[l], now[l]);
  for (const Matrix& m : matrices_)
    j[m.layer][m.param] = to_json(weight_stats(m.p.to_vector(), m.p.rows(), m.p.cols(), m.w0));
  if (with_init) j["init"] = init_;
  return j;
}

}  // namespace dale
