// The layers of SPEC §2 and their local losses (SPEC §3), each against an independent
// computation: the I-Norm layer is an exact layer norm at initialization; the stop-gradients route
// the task error to Wex, b and x only and the local loss to Wix, Bix (and Wei in the sub layer)
// only; the local-loss values match a double-precision host computation; the EI layer equals
// x (Wex − Wei Wix)ᵀ + b; finite-difference checks of the layers' tape graphs. Then every variant
// of SPEC §6 through the Network: names and shapes of SPEC §12, and each error-normalization mode
// of SPEC §4 checked end to end against the gradient of fc0.Wex computed by hand.
#include <algorithm>
#include <map>
#include <set>

#include "framework/check.h"
#include "framework/rng.h"
#include "models/inorm_layer.h"
#include "models/network.h"
#include "tests/testing.h"

using namespace dale;
using dale::test::expect_close;
using dale::test::random_tensor;

namespace {

using Mat = std::vector<double>;  // row-major, double, host

Mat to_d(const Tensor& t) {
  const auto v = t.to_vector();
  return Mat(v.begin(), v.end());
}
std::vector<float> to_f(const Mat& m) { return std::vector<float>(m.begin(), m.end()); }

// x (B × n) times Wᵀ (W: m × n) → B × m.
Mat matmul_t(const Mat& x, int64_t B, int64_t n, const Mat& W, int64_t m) {
  Mat y(static_cast<size_t>(B * m), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t k = 0; k < m; ++k) {
      double s = 0;
      for (int64_t j = 0; j < n; ++j) s += x[b * n + j] * W[k * n + j];
      y[b * m + k] = s;
    }
  return y;
}

void add_bias_h(Mat& y, int64_t B, int64_t m, const Mat& b) {
  for (int64_t r = 0; r < B; ++r)
    for (int64_t k = 0; k < m; ++k) y[r * m + k] += b[k];
}

double row_mean_h(const Mat& y, int64_t r, int64_t m) {
  double s = 0;
  for (int64_t k = 0; k < m; ++k) s += y[r * m + k];
  return s / double(m);
}
double row_var_h(const Mat& y, int64_t r, int64_t m) {
  const double mu = row_mean_h(y, r, m);
  double s = 0;
  for (int64_t k = 0; k < m; ++k) s += (y[r * m + k] - mu) * (y[r * m + k] - mu);
  return s / double(m);
}

Mat layer_norm_h(const Mat& y, int64_t B, int64_t m) {
  Mat out(y.size());
  for (int64_t r = 0; r < B; ++r) {
    const double mu = row_mean_h(y, r, m), sd = std::sqrt(row_var_h(y, r, m) + 1e-5);
    for (int64_t k = 0; k < m; ++k) out[r * m + k] = (y[r * m + k] - mu) / sd;
  }
  return out;
}

// The I-Norm layer's pieces on the host, in double, from its current weights.
struct INormHost {
  Mat e, inh, zd;  // B × ne each
};
INormHost inorm_host(const INormLayer& L, const Mat& x, int64_t B, int64_t n) {
  const int64_t ne = L.Wex.rows(), ni = L.Wix.rows();
  INormHost h;
  h.e = matmul_t(x, B, n, to_d(L.Wex), ne);
  add_bias_h(h.e, B, ne, to_d(L.bias));
  h.inh = matmul_t(matmul_t(x, B, n, to_d(L.Wix), ni), B, ni, to_d(L.Wei), ne);
  Mat sq = matmul_t(x, B, n, to_d(L.Bix), ne);
  for (auto& v : sq) v *= v;
  h.zd = matmul_t(sq, B, ne, to_d(L.Bei), ne);
  for (auto& v : h.zd) v = std::sqrt(v + 1e-5);
  return h;
}

// Scales a parameter's values in place (a perturbation away from the initialization).
void scale_param(Tensor& p, float s) {
  auto v = p.to_vector();
  for (auto& x : v) x *= s;
  p.copy_from(v);
}

Tensor nograd_forward(Layer& L, const Tensor& x, bool training) {
  NoGrad ng;
  return L.forward(x, training);
}

std::vector<float> grad_or_empty(const Tensor& p) {
  return p.grad().defined() ? p.grad().to_vector() : std::vector<float>();
}

bool grad_is_zero_or_absent(const Tensor& p) {
  if (!p.grad().defined()) return true;
  const auto g = p.grad().to_vector();
  return std::all_of(g.begin(), g.end(), [](float v) { return v == 0.f; });
}

const ErrNorm kAllModes[] = {ErrNorm::None,  ErrNorm::Full,        ErrNorm::Center,
                             ErrNorm::Scale, ErrNorm::Decorrelate, ErrNorm::FaCenter};

}  // namespace

// ---------------------------------------------------------------------------------------------
TEST_CASE("I-Norm at initialization computes an exact layer norm of e = x Wexᵀ + b") {
  const std::vector<std::pair<int64_t, int64_t>> sizes = {{97, 33}, {784, 234}};
  for (auto [n, ne] : sizes) {
    CAPTURE(n);
    CAPTURE(ne);
    RngStream rng(1, kStreamInit);
    INormLayer L("fc0", n, ne, ErrNorm::None, 0.01f, rng, Device::CPU);
    const int64_t B = 16;
    Tensor x = random_tensor({B, n}, 40 + n, 0.f, 1.f, false);  // pixel-like, ≥ 0
    const Tensor z = nograd_forward(L, x, false);
    REQUIRE(z.shape() == Shape({B, ne}));

    // Independent reference: e in double, then LayerNorm with the same ε_norm.
    Mat e = matmul_t(to_d(x), B, n, to_d(L.Wex), ne);
    add_bias_h(e, B, ne, to_d(L.bias));
    const Mat ln = layer_norm_h(e, B, ne);
    // Exact in exact arithmetic: e − inh = e − mean_k(e) (W's columns sum to zero) and
    // zd² = mean_k((x Bixᵀ)²) + ε = var_k(e) + ε. What remains is float32 rounding, dominated by
    // the cancellation e − inh: |e| ≈ 20 while e − inh ≈ σ ≈ 1 at n = 784, so the ~1e-6 relative
    // error of a 784-term float dot product of e becomes ≈ 2e-5 of z. Hence 1e-4.
    expect_close(z.to_vector(), to_f(ln), 1e-4, 1e-4, "I-Norm z vs LayerNorm(e), double reference");
    // …and against dale's own LayerNorm op applied to e (a second, float path).
    Tensor e_t, ln_t;
    {
      NoGrad ng;
      e_t = add_bias(linear(x, L.Wex), L.bias);
      ln_t = normalize(e_t, NormKind::Layer, false);
    }
    expect_close(z.to_vector(), ln_t.to_vector(), 1e-4, 1e-4, "I-Norm z vs normalize(e)");

    // At an exact layer norm the local loss (mean 0, var 1) is ≈ 0: u's variance is
    // var/(var + ε), off by ≈ 1e-5, squared 1e-10.
    nograd_forward(L, x, true);
    REQUIRE(L.local_loss().defined());
    CHECK(L.local_loss().item() >= 0.f);
    CHECK(L.local_loss().item() < 1e-8f);
  }
}

TEST_CASE("I-Norm: no local loss outside training") {
  RngStream rng(2, kStreamInit);
  INormLayer L("fc0", 10, 6, ErrNorm::Full, 0.01f, rng, Device::CPU);
  nograd_forward(L, random_tensor({3, 10}, 1, 0.f, 1.f, false), false);
  CHECK_FALSE(L.local_loss().defined());
  nograd_forward(L, random_tensor({3, 10}, 1, 0.f, 1.f, false), true);
  CHECK(L.local_loss().defined());
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("I-Norm gradient routing: task loss → Wex, b, x; local loss → Wix, Bix; Wei, Bei frozen") {
  const int64_t n = 30, ne = 12, B = 5;
  for (ErrNorm mode : kAllModes) {
    CAPTURE(int(mode));
    RngStream rng(3, kStreamInit);
    INormLayer L("fc0", n, ne, mode, 0.5f, rng, Device::CPU);
    // Away from the initialization so the local loss has a real gradient.
    scale_param(L.Wix, 0.9f);
    scale_param(L.Bix, 1.1f);
    CHECK(L.Wei.frozen());
    CHECK(L.Bei.frozen());
    CHECK_FALSE(L.Wei.requires_grad());
    CHECK_FALSE(L.Bei.requires_grad());
    Tensor x = random_tensor({B, n}, 50, 0.f, 1.f, true);
    const Tensor R = random_tensor({B, ne}, 51, -1.f, 1.f, false);
    auto zero_all = [&] {
      for (Tensor p : L.parameters()) p.zero_grad();
      x.zero_grad();
    };

    // (A) task + local, one backward.
    zero_all();
    Tensor out = L.forward(x, true);
    backward(add(sum(mul(out, R)), L.local_loss()));
    REQUIRE(L.Wex.grad().defined());
    REQUIRE(L.bias.grad().defined());
    REQUIRE(L.Wix.grad().defined());
    REQUIRE(L.Bix.grad().defined());
    REQUIRE(x.grad().defined());
    CHECK_FALSE(L.Wei.grad().defined());
    CHECK_FALSE(L.Bei.grad().defined());
    const auto both_wex = L.Wex.grad().to_vector(), both_b = L.bias.grad().to_vector();
    const auto both_wix = L.Wix.grad().to_vector(), both_bix = L.Bix.grad().to_vector();
    const auto both_x = x.grad().to_vector();
    CHECK_FALSE(grad_is_zero_or_absent(L.Wix));
    CHECK_FALSE(grad_is_zero_or_absent(L.Bix));

    // (B) the local loss alone: exactly the same Wix/Bix gradients; nothing reaches Wex, b, x.
    zero_all();
    L.forward(x, true);
    backward(L.local_loss());
    expect_close(grad_or_empty(L.Wix), both_wix, 0, 0, "Wix: local alone vs task + local");
    expect_close(grad_or_empty(L.Bix), both_bix, 0, 0, "Bix: local alone vs task + local");
    CHECK(grad_is_zero_or_absent(L.Wex));
    CHECK(grad_is_zero_or_absent(L.bias));
    CHECK(grad_is_zero_or_absent(x));

    // (C) the task loss alone: Wix/Bix get nothing; Wex, b, x get what (A) gave them.
    zero_all();
    out = L.forward(x, false);
    backward(sum(mul(out, R)));
    CHECK(grad_is_zero_or_absent(L.Wix));
    CHECK(grad_is_zero_or_absent(L.Bix));
    CHECK_FALSE(L.Wei.grad().defined());
    CHECK_FALSE(L.Bei.grad().defined());
    expect_close(grad_or_empty(L.Wex), both_wex, 0, 0, "Wex: task alone vs task + local");
    expect_close(grad_or_empty(L.bias), both_b, 0, 0, "bias: task alone vs task + local");
    expect_close(grad_or_empty(x), both_x, 0, 0, "x: task alone vs task + local");
  }
}

TEST_CASE("I-Norm (mode none): the error reaches x through Wex alone, divided by the detached zd") {
  const int64_t n = 23, ne = 11, B = 4;
  RngStream rng(4, kStreamInit);
  INormLayer L("fc0", n, ne, ErrNorm::None, 0.01f, rng, Device::CPU);
  scale_param(L.Bix, 1.3f);  // zd ≠ σ(e): a wrong divisor would show
  Tensor x = random_tensor({B, n}, 60, 0.f, 1.f, true);
  const Tensor R = random_tensor({B, ne}, 61, -1.f, 1.f, false);
  backward(sum(mul(L.forward(x, false), R)));
  const auto gx = x.grad().to_vector(), gwex = L.Wex.grad().to_vector();

  // By hand with ops: z = (x Wexᵀ + b − C) / D with C, D constants (the values of inh and zd).
  const INormHost h = inorm_host(L, to_d(x), B, n);
  const Tensor C = Tensor::from_vector(to_f(h.inh), {B, ne}), D = Tensor::from_vector(to_f(h.zd), {B, ne});
  Tensor x2 = x.clone();
  x2.set_requires_grad(true);
  Tensor wex2 = L.Wex.clone();
  wex2.set_requires_grad(true);
  backward(sum(mul(div(sub(add_bias(linear(x2, wex2), L.bias), C), D), R)));
  // Same ops on the same values; D differs from the layer's float zd by rounding only.
  expect_close(gx, x2.grad().to_vector(), 1e-7, 1e-5, "dL/dx: I-Norm vs E-like path / sg(zd)");
  expect_close(gwex, wex2.grad().to_vector(), 1e-7, 1e-5, "dL/dWex: I-Norm vs E-like path / sg(zd)");
  // And in closed form: dx = (R / zd) Wex.
  const auto r = R.to_vector();
  Mat dz(static_cast<size_t>(B * ne));
  for (size_t i = 0; i < dz.size(); ++i) dz[i] = double(r[i]) / h.zd[i];
  const Mat wex = to_d(L.Wex);
  Mat dx(static_cast<size_t>(B * n), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t k = 0; k < ne; ++k) dx[b * n + j] += dz[b * ne + k] * wex[k * n + j];
  expect_close(gx, to_f(dx), 1e-6, 1e-5, "dL/dx = (R / zd) Wex");
}

TEST_CASE("I-Norm pooling: Bei = 1/ne takes the row-mean shortcut, any other Bei the GEMM; both match") {
  const int64_t n = 29, ne = 13, B = 5;
  RngStream rng(12, kStreamInit);
  INormLayer L("fc0", n, ne, ErrNorm::Full, 0.5f, rng, Device::CPU);
  scale_param(L.Bix, 1.7f);  // zd ≠ σ(e), so the pooled variance matters
  const Tensor x = random_tensor({B, n}, 70, 0.f, 1.f, false);
  REQUIRE(L.bei_is_uniform());
  // Uniform Bei: the shortcut against the host formula with the full Bei GEMM, in double.
  const auto z_short = nograd_forward(L, x, false).to_vector();
  INormHost h = inorm_host(L, to_d(x), B, n);
  Mat z(static_cast<size_t>(B * ne));
  for (size_t i = 0; i < z.size(); ++i) z[i] = (h.e[i] - h.inh[i]) / h.zd[i];
  expect_close(z_short, to_f(z), 1e-6, 1e-5, "z with Bei = 1/ne (row-mean shortcut)");
  // Its gradients reach Bix through the shortcut as through the GEMM (the local loss trains Bix).
  {
    const Tensor R = random_tensor({B, ne}, 71, -1.f, 1.f, false);
    Tensor xin = x.clone();
    backward(add(sum(mul(L.forward(xin, true), R)), L.local_loss()));
    const auto g_short = L.Bix.grad().to_vector();
    L.Bix.zero_grad();
    std::vector<float> same = L.Bei.to_vector();
    same[0] = std::nextafter(same[0], 1.f);  // one ulp: not uniform any more, pooling ≈ unchanged
    L.Bei.copy_from(same);  // copy_from bumps Bei's version: the layer re-checks it
    REQUIRE_FALSE(L.bei_is_uniform());
    backward(add(sum(mul(L.forward(xin, true), R)), L.local_loss()));
    expect_close(g_short, L.Bix.grad().to_vector(), 1e-6, 1e-4, "dL/dBix: shortcut vs GEMM");
  }
  // A non-uniform Bei (a loaded checkpoint) takes the GEMM and follows it.
  std::vector<float> bei = L.Bei.to_vector();
  for (size_t i = 0; i < bei.size(); ++i) bei[i] = 0.5f / float(ne) + float(i % 7) / float(7 * ne);
  L.Bei.copy_from(bei);
  REQUIRE_FALSE(L.bei_is_uniform());
  const auto z_gemm = nograd_forward(L, x, false).to_vector();
  h = inorm_host(L, to_d(x), B, n);
  for (size_t i = 0; i < z.size(); ++i) z[i] = (h.e[i] - h.inh[i]) / h.zd[i];
  expect_close(z_gemm, to_f(z), 1e-6, 1e-5, "z with a non-uniform Bei (GEMM)");
  CHECK(dale::test::rel_error(z_gemm, z_short) > 1e-3);  // the pooling weights matter: not the shortcut's result
  // And back to 1/ne: the shortcut again.
  L.Bei.copy_from(std::vector<float>(size_t(ne * ne), 1.f / float(ne)));
  CHECK(L.bei_is_uniform());
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("I-Norm local loss = λ_var · mean_b(mean_k(u)² + (var_k(u) − 1)²), u = (e − inh)/zd") {
  const std::vector<std::pair<int64_t, int64_t>> sizes = {{97, 33}, {784, 234}};
  for (auto [n, ne] : sizes) {
    CAPTURE(n);
    RngStream rng(5, kStreamInit);
    const float lambda_var = 0.37f;
    INormLayer L("fc1", n, ne, ErrNorm::Full, lambda_var, rng, Device::CPU);
    scale_param(L.Bix, 1.1f);
    scale_param(L.Wix, 0.9f);
    {  // a nonzero bias too: inh does not see it, so it shifts mean_k(u)
      auto b = dale::test::random_vector(ne, 70, -0.2f, 0.2f);
      L.bias.copy_from(b);
    }
    const int64_t B = 9;
    Tensor x = random_tensor({B, n}, 71, 0.f, 1.f, false);
    nograd_forward(L, x, true);
    REQUIRE(L.local_loss().defined());
    REQUIRE(L.local_loss().numel() == 1);

    const INormHost h = inorm_host(L, to_d(x), B, n);
    Mat u(h.e.size());
    for (size_t i = 0; i < u.size(); ++i) u[i] = (h.e[i] - h.inh[i]) / h.zd[i];
    double total = 0;
    for (int64_t b = 0; b < B; ++b) {
      const double m = row_mean_h(u, b, ne), v = row_var_h(u, b, ne);
      total += m * m + (v - 1) * (v - 1);
    }
    const double want = lambda_var * total / double(B);
    // Both terms are O(0.01–0.1) after the perturbation. Float rounding of u is ≈ 1e-6 relative
    // after the e − inh cancellation (|e| / σ ≈ 20), amplified a few times by var_k(u) − 1:
    // 1e-5 of the loss.
    CHECK(want > 1e-3);
    expect_close({L.local_loss().item()}, {float(want)}, 0, 1e-5, "local loss");
  }
}

TEST_CASE("I-Norm local loss: finite-difference gradients wrt Wix and Bix") {
  const int64_t n = 8, ne = 6, B = 5;
  RngStream rng(6, kStreamInit);
  INormLayer L("fc0", n, ne, ErrNorm::None, 1.f, rng, Device::CPU);
  scale_param(L.Wix, 0.8f);
  scale_param(L.Bix, 1.2f);
  Tensor x = random_tensor({B, n}, 80, 0.f, 1.f, false);
  // λ_var = 1 so the gradients (≈ 0.01 – 2 here) are not scaled down by 0.01.
  dale::test::gradcheck(
      "I-Norm local loss",
      [&L](std::vector<Tensor>& in) {
        L.Wix = in[1];
        L.Bix = in[2];
        L.forward(in[0], true);
        return L.local_loss();
      },
      {x, L.Wix, L.Bix});
}

TEST_CASE("I-Norm task output: finite-difference gradients wrt Wex and b (inh, zd do not depend on them)") {
  const int64_t n = 9, ne = 7, B = 4;
  RngStream rng(7, kStreamInit);
  INormLayer L("fc0", n, ne, ErrNorm::None, 1.f, rng, Device::CPU);
  scale_param(L.Bix, 1.2f);
  Tensor x = random_tensor({B, n}, 90, 0.f, 1.f, false);
  dale::test::gradcheck(
      "I-Norm output",
      [&L](std::vector<Tensor>& in) {
        L.Wex = in[1];
        L.bias = in[2];
        return L.forward(in[0], false);
      },
      {x, L.Wex, L.bias});
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("I-Norm (sub): z = e − inh, centered rows at init, mean local loss trains Wix and Wei") {
  const int64_t n = 97, ne = 33, B = 8;
  RngStream rng(8, kStreamInit);
  const float lambda = 0.25f;
  INormSubLayer L("fc0", n, ne, ErrNorm::Center, lambda, rng, Device::CPU);
  CHECK_FALSE(L.Wei.frozen());
  REQUIRE(L.parameters().size() == 4);
  Tensor x = random_tensor({B, n}, 100, 0.f, 1.f, false);

  // At init (bias 0) the rows of z are centered: mean_k(z) ≈ 0 relative to the size of e.
  {
    const Tensor z = nograd_forward(L, x, true);
    const Mat zd = to_d(z);
    const Mat e = matmul_t(to_d(x), B, n, to_d(L.Wex), ne);
    std::vector<float> means, zeros(static_cast<size_t>(B), 0.f);
    double scale = 0;
    for (int64_t b = 0; b < B; ++b) means.push_back(float(row_mean_h(zd, b, ne)));
    for (double v : e) scale = std::max(scale, std::fabs(v));
    // cancellation of e ≈ inh ≈ scale: float leaves ≈ 1e-7 · scale
    expect_close(means, zeros, 1e-6 * scale, 0, "mean_k(z) at init");
    CHECK(L.local_loss().item() < 1e-10f * float(scale * scale) + 1e-12f);
  }

  // Perturbed: z and the local loss against the host.
  scale_param(L.Wix, 0.9f);
  L.bias.copy_from(dale::test::random_vector(ne, 101, -0.3f, 0.3f));
  const Tensor z = nograd_forward(L, x, true);
  Mat e = matmul_t(to_d(x), B, n, to_d(L.Wex), ne);
  add_bias_h(e, B, ne, to_d(L.bias));
  const Mat inh = matmul_t(matmul_t(to_d(x), B, n, to_d(L.Wix), L.Wix.rows()), B, L.Wix.rows(),
                           to_d(L.Wei), ne);
  Mat u(e.size());
  for (size_t i = 0; i < u.size(); ++i) u[i] = e[i] - inh[i];
  expect_close(z.to_vector(), to_f(u), 1e-5, 1e-5, "I-Norm (sub) z = e − inh");
  double total = 0;
  for (int64_t b = 0; b < B; ++b) total += row_mean_h(u, b, ne) * row_mean_h(u, b, ne);
  const double want = lambda * total / double(B);
  CHECK(want > 1e-4);
  expect_close({L.local_loss().item()}, {float(want)}, 0, 1e-4, "I-Norm (sub) local loss");

  // One backward of the local loss alone: Wix and Wei get gradients, Wex and b none.
  for (Tensor p : L.parameters()) p.zero_grad();
  L.forward(x, true);
  backward(L.local_loss());
  REQUIRE(L.Wei.grad().defined());
  REQUIRE(L.Wix.grad().defined());
  CHECK_FALSE(grad_is_zero_or_absent(L.Wei));
  CHECK_FALSE(grad_is_zero_or_absent(L.Wix));
  CHECK(grad_is_zero_or_absent(L.Wex));
  CHECK(grad_is_zero_or_absent(L.bias));

  // The task loss alone reaches Wex and b but neither Wix nor Wei.
  for (Tensor p : L.parameters()) p.zero_grad();
  backward(sum(mul(L.forward(x, false), random_tensor({B, ne}, 102, -1.f, 1.f, false))));
  CHECK_FALSE(grad_is_zero_or_absent(L.Wex));
  CHECK_FALSE(grad_is_zero_or_absent(L.bias));
  CHECK(grad_is_zero_or_absent(L.Wix));
  CHECK(grad_is_zero_or_absent(L.Wei));
}

TEST_CASE("I-Norm (sub) local loss: finite-difference gradients wrt Wix and Wei") {
  const int64_t n = 8, ne = 10, B = 4;  // ne = 10 → ni = 1
  RngStream rng(9, kStreamInit);
  INormSubLayer L("fc0", n, ne, ErrNorm::None, 1.f, rng, Device::CPU);
  scale_param(L.Wix, 0.7f);
  Tensor x = random_tensor({B, n}, 110, 0.f, 1.f, false);
  dale::test::gradcheck(
      "I-Norm (sub) local loss",
      [&L](std::vector<Tensor>& in) {
        L.Wix = in[1];
        L.Wei = in[2];
        L.forward(in[0], true);
        return L.local_loss();
      },
      {x, L.Wix, L.Wei});
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("EI layer equals x (Wex − Wei Wix)ᵀ + b with W formed explicitly") {
  const int64_t n = 97, ne = 33, ni = 3, B = 7;
  RngStream rng(10, kStreamInit);
  EILayer L("fc0", n, ne, ni, rng, Device::CPU);
  CHECK(L.Wex.shape() == Shape({ne, n}));
  CHECK(L.Wix.shape() == Shape({ni, n}));
  CHECK(L.Wei.shape() == Shape({ne, ni}));
  CHECK(L.bias.shape() == Shape({ne, 1}));
  CHECK_FALSE(L.Wei.frozen());
  L.bias.copy_from(dale::test::random_vector(ne, 120, -0.5f, 0.5f));
  scale_param(L.Wix, 0.8f);  // away from the centered initialization
  Tensor x = random_tensor({B, n}, 121, 0.f, 1.f, false);
  const Tensor z = nograd_forward(L, x, false);
  const Mat wex = to_d(L.Wex), wix = to_d(L.Wix), wei = to_d(L.Wei);
  Mat W(static_cast<size_t>(ne * n));
  for (int64_t k = 0; k < ne; ++k)
    for (int64_t j = 0; j < n; ++j) {
      double inh = 0;
      for (int64_t i = 0; i < ni; ++i) inh += wei[k * ni + i] * wix[i * n + j];
      W[k * n + j] = wex[k * n + j] - inh;
    }
  Mat want = matmul_t(to_d(x), B, n, W, ne);
  add_bias_h(want, B, ne, to_d(L.bias));
  // x Wexᵀ ≈ 7 and x (Wei Wix)ᵀ ≈ 6 (n = 97, s ≈ 0.15, x ≈ 0.5) cancel to ≈ 1.4: float error
  // ≈ 1e-6 absolute.
  expect_close(z.to_vector(), to_f(want), 1e-5, 1e-5, "EI z");
  CHECK_FALSE(L.local_loss().defined());
}

TEST_CASE("EI and E layers: finite-difference gradients wrt every input") {
  const int64_t n = 7, ne = 5, ni = 2, B = 3;
  RngStream rng(11, kStreamInit);
  EILayer L("fc0", n, ne, ni, rng, Device::CPU);
  dale::test::gradcheck(
      "EI layer",
      [&L](std::vector<Tensor>& in) {
        L.Wex = in[1];
        L.Wix = in[2];
        L.Wei = in[3];
        L.bias = in[4];
        return L.forward(in[0], false);
      },
      {random_tensor({B, n}, 130, 0.f, 1.f, true), L.Wex, L.Wix, L.Wei,
       random_tensor({ne, 1}, 131, -0.5f, 0.5f, true)});
  ELayer E("fc1", n, ne, rng, Device::CPU);
  REQUIRE(E.parameters().size() == 2);
  dale::test::gradcheck(
      "E layer",
      [&E](std::vector<Tensor>& in) {
        E.Wex = in[1];
        E.bias = in[2];
        return E.forward(in[0], false);
      },
      {random_tensor({B, n}, 132, 0.f, 1.f, true), E.Wex, random_tensor({ne, 1}, 133, -0.5f, 0.5f, true)});
}

// ---------------------------------------------------------------------------------------------
namespace {

NetworkConfig small_config(const std::string& variant, uint64_t seed = 0, int64_t width = 12) {
  NetworkConfig c;
  c.variant = variant;
  c.width = width;
  c.inputs = 20;
  c.seed = seed;
  return c;
}

Tensor param(const Network& net, const std::string& name) {
  for (const Tensor& p : net.parameters())
    if (p.name() == name) return p;
  FAIL("network has no parameter " << name);
  return Tensor();
}

struct Batch {
  Tensor x, y;
};
Batch batch(int64_t B, int64_t inputs, uint64_t seed) {
  std::vector<float> y;
  for (int64_t i = 0; i < B; ++i) y.push_back(float((i * 3 + int64_t(seed)) % 10));
  return {random_tensor({B, inputs}, seed, 0.f, 1.f, false), Tensor::from_vector(y, {B})};
}

// Task loss + local losses, one backward; returns the logits.
Tensor train_backward(Network& net, const Batch& b) {
  Tensor logits = net.forward(b.x, true);
  Tensor loss = cross_entropy(logits, b.y, 0.1f);
  if (net.local_loss().defined()) loss = add(loss, net.local_loss());
  backward(loss);
  return logits;
}

void zero_grads(const Network& net) {
  for (Tensor p : net.parameters()) p.zero_grad();
}

}  // namespace

TEST_CASE("every variant builds, runs forward and backward, and names its parameters as SPEC §12") {
  REQUIRE(all_variants().size() == 17);
  const int64_t h = 12, inputs = 20, B = 6;
  const int64_t ni = inhibitory_units(h);
  for (const Variant& v : all_variants()) {
    CAPTURE(v.name);
    Network net(small_config(v.name));
    CHECK(net.width == h);
    CHECK(&find_variant(v.name) == &net.variant);

    std::map<std::string, std::vector<int64_t>> want;
    for (const char* l : {"fc0", "fc1"}) {
      const int64_t n = std::string(l) == "fc0" ? inputs : h;
      const std::string p = std::string(l) + ".";
      want[p + "Wex"] = {h, n};
      want[p + "bias"] = {h, 1};
      if (v.hidden != HiddenKind::E) {
        want[p + "Wix"] = {ni, n};
        want[p + "Wei"] = {h, ni};
      }
      if (v.hidden == HiddenKind::INorm) {
        want[p + "Bix"] = {h, n};
        want[p + "Bei"] = {h, h};
      }
    }
    want["fc_output.Wex"] = {10, h};
    want["fc_output.Wix"] = {1, h};
    want["fc_output.Wei"] = {10, 1};
    want["fc_output.bias"] = {10, 1};

    std::map<std::string, std::vector<int64_t>> got;
    for (const Tensor& p : net.parameters()) {
      std::vector<int64_t> s;
      for (int i = 0; i < p.shape().rank; ++i) s.push_back(p.shape().d[i]);
      CHECK_MESSAGE(got.count(p.name()) == 0, "duplicate parameter " << p.name());
      got[p.name()] = s;
      CHECK(p.group() != Group::None);
      // Only the I-Norm layer's Wei and Bei are frozen.
      const bool frozen_expected = v.hidden == HiddenKind::INorm && p.name().rfind("fc_output", 0) != 0 &&
                                   (p.name().ends_with(".Wei") || p.name().ends_with(".Bei"));
      CHECK_MESSAGE(p.frozen() == frozen_expected, p.name());
    }
    CHECK(got == want);

    const Batch b = batch(B, inputs, 3);
    const Tensor logits = train_backward(net, b);
    CHECK(logits.shape() == Shape({B, 10}));
    REQUIRE(net.hidden_z().size() == 2);
    CHECK(net.hidden_z()[0].shape() == Shape({B, h}));
    const bool has_local = v.hidden == HiddenKind::INorm || v.hidden == HiddenKind::INormSub;
    CHECK(net.local_loss().defined() == has_local);
    // Every trainable parameter got a finite gradient from task + local losses; frozen ones none.
    for (const Tensor& p : net.parameters()) {
      if (p.frozen()) {
        CHECK_MESSAGE(!p.grad().defined(), p.name());
        continue;
      }
      REQUIRE_MESSAGE(p.grad().defined(), p.name() << " received no gradient");
      const auto g = p.grad().to_vector();
      CHECK_MESSAGE(std::all_of(g.begin(), g.end(), [](float x) { return std::isfinite(x); }), p.name());
    }
    {  // evaluation: no local losses
      NoGrad ng;
      net.forward(b.x, false);
      CHECK_FALSE(net.local_loss().defined());
    }
  }
}

TEST_CASE("default widths: 500 for E/EI networks, 234 for I-Norm networks") {
  for (const Variant& v : all_variants()) {
    const bool inorm = v.hidden == HiddenKind::INorm || v.hidden == HiddenKind::INormSub;
    CHECK_MESSAGE(v.default_width == (inorm ? 234 : 500), v.name);
  }
  for (const char* name : {"ei", "e-ln+", "inorm+", "inorm-sub-"}) {
    NetworkConfig c;
    c.variant = name;
    c.inputs = 20;  // the width, not the input size, is under test
    Network net(c);
    const int64_t want = std::string(name).starts_with("inorm") ? 234 : 500;
    CHECK(net.width == want);
    CHECK(param(net, "fc0.Wex").shape() == Shape({want, 20}));
    CHECK(param(net, "fc1.Wex").shape() == Shape({want, want}));
    CHECK(param(net, "fc_output.Wex").shape() == Shape({10, want}));
  }
}

TEST_CASE("an unknown variant throws InputError naming it and every valid name") {
  NetworkConfig c = small_config("inorm*");
  try {
    Network net(c);
    FAIL("no exception for an unknown variant");
  } catch (const InputError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("'inorm*'") != std::string::npos);
    for (const Variant& v : all_variants()) CHECK_MESSAGE(msg.find(v.name) != std::string::npos, v.name);
  }
  CHECK_THROWS_AS(find_variant(""), InputError);
  CHECK_THROWS_AS(find_variant("EI"), InputError);
  CHECK_THROWS_AS(Network(small_config("ei", 0, 1)), InputError);  // width 1 is no layer
}

TEST_CASE("G changes only the backward: ± variants share forward logits, not fc0.Wex gradients") {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"inorm+", "inorm-"}, {"ei-ln+", "ei-ln-"}, {"e-ln+", "e-ln-"},
      {"inorm-center", "inorm-scale"}, {"inorm-sub+", "inorm-sub-"}, {"ei-mean+", "ei-mean-"},
      {"ei-div+", "ei-div-"}};
  const Batch b = batch(8, 20, 5);
  for (const auto& [plus, minus] : pairs) {
    CAPTURE(plus);
    Network a(small_config(plus, 17)), c(small_config(minus, 17));
    const auto la = train_backward(a, b).to_vector();
    const auto lc = train_backward(c, b).to_vector();
    expect_close(la, lc, 0, 0, plus + " vs " + minus + " logits");
    const auto ga = param(a, "fc0.Wex").grad().to_vector(), gc = param(c, "fc0.Wex").grad().to_vector();
    const double diff = dale::test::rel_error(ga, gc);
    CHECK_MESSAGE(diff > 0.01, plus << " vs " << minus << ": fc0.Wex gradients differ by only " << diff);
    // The output layer sees the same activity and error in both: its gradient is the same.
    expect_close(param(a, "fc_output.Wex").grad().to_vector(), param(c, "fc_output.Wex").grad().to_vector(),
                 0, 0, "fc_output.Wex gradient");
  }
}

TEST_CASE("each error-normalization mode through the network: ∇Wex = (G(g)/zd)ᵀ x per SPEC §4") {
  // For every I-Norm variant: take the error g arriving at each hidden layer's output (the grad
  // of hidden_z) and its forward value z, apply SPEC §4's formula for the variant's mode on the
  // host in double, divide by zd (I-Norm) and contract with the layer's input: that must be the
  // gradient the tape gave Wex and b. The local losses are in the objective and must not leak in.
  const int64_t B = 7, inputs = 20, h = 12;
  const Batch b = batch(B, inputs, 9);
  for (const Variant& v : all_variants()) {
    if (v.hidden != HiddenKind::INorm && v.hidden != HiddenKind::INormSub) continue;
    CAPTURE(v.name);
    Network net(small_config(v.name, 4, h));
    // Off the initialization, so z is not already normalized (else full ≈ center + decorrelate
    // would hide mistakes in σ) and the local losses have gradients.
    for (const auto& layer : net.hidden()) {
      for (Tensor p : layer->parameters()) {
        if (p.name().ends_with("Bix")) scale_param(p, 1.4f);
        if (p.name().ends_with("Wix")) scale_param(p, 0.8f);
      }
    }
    train_backward(net, b);
    Mat input = to_d(b.x);
    int64_t n = inputs;
    for (size_t l = 0; l < 2; ++l) {
      CAPTURE(l);
      const Tensor& zt = net.hidden_z()[l];
      REQUIRE(zt.grad().defined());
      const Mat z = to_d(zt), g = to_d(zt.grad());
      Mat w(static_cast<size_t>(h), 1.0 / double(h));
      if (v.errnorm == ErrNorm::FaCenter) {
        auto* in = dynamic_cast<INormLayer*>(net.hidden()[l].get());
        REQUIRE(in != nullptr);
        REQUIRE(in->fa_w.defined());
        w = to_d(in->fa_w);
      }
      Mat dz(z.size());
      for (int64_t r = 0; r < B; ++r) {
        double mean_g = 0, sum_gz = 0;
        for (int64_t k = 0; k < h; ++k) mean_g += w[k] * g[r * h + k], sum_gz += g[r * h + k] * z[r * h + k];
        const double sigma = std::sqrt(row_var_h(z, r, h) + 1e-5), D = double(h);
        for (int64_t k = 0; k < h; ++k) {
          const double gk = g[r * h + k], zk = z[r * h + k];
          double out = gk;
          switch (v.errnorm) {
            case ErrNorm::None: out = gk; break;
            case ErrNorm::Full: out = (gk - mean_g - zk * sum_gz / D) / sigma; break;
            case ErrNorm::Center:
            case ErrNorm::FaCenter: out = gk - mean_g; break;
            case ErrNorm::Scale: out = gk / sigma; break;
            case ErrNorm::Decorrelate: out = gk - zk * sum_gz / D; break;
          }
          dz[r * h + k] = out;
        }
      }
      if (v.hidden == HiddenKind::INorm) {
        const INormHost hh = inorm_host(dynamic_cast<const INormLayer&>(*net.hidden()[l]), input, B, n);
        for (size_t i = 0; i < dz.size(); ++i) dz[i] /= hh.zd[i];
      }
      Mat dwex(static_cast<size_t>(h * n), 0.0), dbias(static_cast<size_t>(h), 0.0);
      for (int64_t r = 0; r < B; ++r)
        for (int64_t k = 0; k < h; ++k) {
          dbias[k] += dz[r * h + k];
          for (int64_t j = 0; j < n; ++j) dwex[k * n + j] += dz[r * h + k] * input[r * n + j];
        }
      const std::string name = net.hidden()[l]->name();
      double gscale = 0;
      for (double x : dwex) gscale = std::max(gscale, std::fabs(x));
      // float32 sums of ≤ 7·12 terms (≈ 1e-7 of the largest entry): 1e-6 of the largest entry
      // plus 1e-4 per element. A wrong mode is off by tens of percent (for I-Norm, σ(z) ≈ 0.7
      // after Bix × 1.4, so even a missing 1/σ shows).
      expect_close(param(net, name + ".Wex").grad().to_vector(), to_f(dwex), 1e-6 * gscale, 1e-4,
                   v.name + " " + name + ".Wex gradient");
      expect_close(param(net, name + ".bias").grad().to_vector(), to_f(dbias), 1e-6 * gscale, 1e-4,
                   v.name + " " + name + ".bias gradient");
      // The next layer's input is relu(z).
      input = z;
      for (auto& x : input) x = std::max(x, 0.0);
      n = h;
    }
  }
}

TEST_CASE("networks are seeded: same seed, same logits; another seed, other logits") {
  const Batch b = batch(4, 20, 2);
  NoGrad ng;
  for (const char* name : {"ei", "inorm+", "inorm-fa"}) {
    CAPTURE(name);
    Network a(small_config(name, 5)), a2(small_config(name, 5)), c(small_config(name, 6));
    const auto la = a.forward(b.x, false).to_vector();
    CHECK(la == a2.forward(b.x, false).to_vector());
    CHECK(la != c.forward(b.x, false).to_vector());
  }
}
