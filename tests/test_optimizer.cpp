// The optimizer of SPEC §8 against updates computed by hand (in double) on tiny tensors: the
// group learning rates, momentum vs inhibitory momentum, Nesterov, weight decay only for the
// non-inhibitory groups, the non-negativity clamp for the sign-constrained groups, frozen and
// gradient-less parameters, exponentiated gradient (with the lab's momentum, Nesterov and
// sign(p) decay) and the study's AdamW (its eps, decay of every group after the update); the
// optimizer state through a checkpoint; then one step on a real network.
//
// The references below are written from the rules of the lab's Python code (the study's
// danns_eg/optimisation.py, linclab/EG_optimiser's optim_eg/sgd_eg.py), not from dale's kernels.
#include <cmath>
#include <cstring>

#include "framework/check.h"
#include "framework/optimizer.h"
#include "models/network.h"
#include "tests/testing.h"

using namespace dale;
using dale::test::expect_close;

namespace {

Tensor make_param(const std::string& name, Group g, const std::vector<float>& v, bool frozen = false) {
  Tensor t = Tensor::from_vector(v, {int64_t(v.size())});
  t.as_parameter(name, g, frozen);
  return t;
}

void set_grad(const Tensor& p, const std::vector<float>& g) { p.grad_for_accumulation().copy_from(g); }

// Host reference values are computed in double from the same float inputs; the kernels work in
// float, so allow float rounding of a few operations (1e-6 relative, 1e-7 absolute near 0).
void expect_values(const Tensor& p, const std::vector<double>& want, const std::string& what) {
  expect_close(p.to_vector(), std::vector<float>(want.begin(), want.end()), 1e-7, 1e-6, what);
}

const std::vector<float> kP = {0.5f, 1.25f, 2.0f};
const std::vector<float> kG1 = {0.3f, -0.8f, 1.1f};
const std::vector<float> kG2 = {-0.2f, 0.6f, 0.4f};

OptimConfig sgd(float lr, float lr_wix, float lr_wei) {
  OptimConfig c;
  c.algorithm = Algorithm::SGD;
  c.lr = lr;
  c.lr_wix = lr_wix;
  c.lr_wei = lr_wei;
  return c;
}

struct Groups {
  Tensor wex = make_param("l.Wex", Group::Wex, kP), wix = make_param("l.Wix", Group::Wix, kP),
         wei = make_param("l.Wei", Group::Wei, kP), bix = make_param("l.Bix", Group::Bix, kP),
         bei = make_param("l.Bei", Group::Bei, kP), bias = make_param("l.bias", Group::Bias, kP);
  std::vector<Tensor> all() const { return {wex, wix, wei, bix, bei, bias}; }
  void grads(const std::vector<float>& g) const {
    for (const Tensor& p : all()) set_grad(p, g);
  }
};

}  // namespace

TEST_CASE("update_args: rates, momentum, decay and clamp by group") {
  OptimConfig c = sgd(0.1f, 0.01f, 0.001f);
  c.momentum = 0.9f;
  c.inhib_momentum = 0.5f;
  c.wd = 0.2f;
  c.nesterov = true;
  struct Row {
    Group g;
    float lr, mu, wd;
    bool clamp;
  };
  for (const Row& r : {Row{Group::Wex, 0.1f, 0.9f, 0.2f, true}, Row{Group::Bias, 0.1f, 0.9f, 0.2f, false},
                       Row{Group::Wix, 0.01f, 0.5f, 0.f, true}, Row{Group::Bix, 0.01f, 0.5f, 0.f, false},
                       Row{Group::Wei, 0.001f, 0.5f, 0.f, true}, Row{Group::Bei, 0.001f, 0.5f, 0.f, true}}) {
    CAPTURE(group_name(r.g));
    const UpdateArgs a = update_args(c, r.g, 3);
    CHECK(a.lr == r.lr);
    CHECK(a.momentum == r.mu);
    CHECK(a.wd == r.wd);
    CHECK(a.clamp_nonneg == r.clamp);
    CHECK(a.nesterov);
    CHECK(a.step == 3);
  }
  CHECK(is_inhibitory(Group::Wix));
  CHECK(is_inhibitory(Group::Bei));
  CHECK_FALSE(is_inhibitory(Group::Wex));
  CHECK_FALSE(is_inhibitory(Group::Bias));
  CHECK(is_sign_constrained(Group::Bei));
  CHECK_FALSE(is_sign_constrained(Group::Bix));
  CHECK_FALSE(is_sign_constrained(Group::Bias));
}

TEST_CASE("update_args by algorithm: EG for the sign-constrained groups, AdamW decays every group") {
  OptimConfig c = sgd(0.1f, 0.01f, 0.001f);
  c.wd = 0.2f;
  const Group all[] = {Group::Wex, Group::Wix, Group::Wei, Group::Bix, Group::Bei, Group::Bias};
  for (Algorithm alg : {Algorithm::SGD, Algorithm::EG, Algorithm::AdamW}) {
    c.algorithm = alg;
    for (Group g : all) {
      CAPTURE(algorithm_name(alg));
      CAPTURE(group_name(g));
      const UpdateArgs a = update_args(c, g, 1);
      CHECK(a.exponentiated == (alg == Algorithm::EG && is_sign_constrained(g)));
      CHECK(a.wd == (alg == Algorithm::AdamW || !is_inhibitory(g) ? 0.2f : 0.f));
      CHECK(a.clamp_nonneg == is_sign_constrained(g));
    }
  }
  // The study's AdamW constants (its optimiser's defaults; its get_optimizer passes none).
  const UpdateArgs a = update_args(c, Group::Wex, 1);
  CHECK(a.beta1 == 0.9f);
  CHECK(a.beta2 == 0.999f);
  CHECK(a.adam_eps == 1e-6f);
}

TEST_CASE("SGD: each group moves by its own learning rate") {
  Groups G;
  G.grads(kG1);
  Optimizer opt(G.all(), sgd(0.1f, 0.01f, 0.001f));
  opt.step();
  CHECK(opt.steps() == 1);
  auto want = [&](double lr) {
    std::vector<double> w;
    for (size_t i = 0; i < kP.size(); ++i) w.push_back(double(kP[i]) - lr * double(kG1[i]));
    return w;
  };
  expect_values(G.wex, want(0.1f), "wex: lr");
  expect_values(G.bias, want(0.1f), "bias: lr");
  expect_values(G.wix, want(0.01f), "wix: lr_wix");
  expect_values(G.bix, want(0.01f), "bix: lr_wix");
  expect_values(G.wei, want(0.001f), "wei: lr_wei");
  expect_values(G.bei, want(0.001f), "bei: lr_wei");
}

TEST_CASE("SGD momentum: μ for wex/bias, inhib_momentum for wix/wei/bix/bei, over two steps") {
  for (bool nesterov : {false, true}) {
    CAPTURE(nesterov);
    Groups G;
    OptimConfig c = sgd(0.1f, 0.1f, 0.1f);  // one rate: only the momentum differs by group
    c.momentum = 0.9f;
    c.inhib_momentum = 0.5f;
    c.nesterov = nesterov;
    Optimizer opt(G.all(), c);
    G.grads(kG1);
    opt.step();
    G.grads(kG2);
    opt.step();
    auto want = [&](double mu) {
      std::vector<double> w;
      for (size_t i = 0; i < kP.size(); ++i) {
        double p = kP[i], v = 0;
        for (const auto* g : {&kG1, &kG2}) {
          v = mu * v + double((*g)[i]);
          const double step = nesterov ? double((*g)[i]) + mu * v : v;
          p -= 0.1 * step;
        }
        w.push_back(p);
      }
      return w;
    };
    expect_values(G.wex, want(0.9f), "wex: momentum");
    expect_values(G.bias, want(0.9f), "bias: momentum");
    for (const Tensor& p : {G.wix, G.wei, G.bix, G.bei}) expect_values(p, want(0.5f), p.name() + ": inhib_momentum");
    // The momentum really acted: plain SGD would be elsewhere.
    CHECK(std::fabs(G.wex.to_vector()[0] - (kP[0] - 0.1f * (kG1[0] + kG2[0]))) > 1e-3);
  }
}

TEST_CASE("SGD inhibitory momentum 0 with momentum > 0: inhibitory groups take plain steps") {
  Groups G;
  OptimConfig c = sgd(0.1f, 0.1f, 0.1f);
  c.momentum = 0.9f;
  Optimizer opt(G.all(), c);
  G.grads(kG1);
  opt.step();
  G.grads(kG2);
  opt.step();
  std::vector<double> plain;
  for (size_t i = 0; i < kP.size(); ++i) plain.push_back(double(kP[i]) - 0.1 * kG1[i] - 0.1 * kG2[i]);
  for (const Tensor& p : {G.wix, G.wei, G.bix, G.bei}) expect_values(p, plain, p.name() + ": no momentum");
}

TEST_CASE("weight decay: p − lr·g, then − lr·wd·p, for wex and bias only") {
  Groups G;
  G.grads(kG1);
  OptimConfig c = sgd(0.1f, 0.05f, 0.02f);
  c.wd = 0.3f;
  Optimizer opt(G.all(), c);
  opt.step();
  auto want = [&](double lr, double wd) {
    std::vector<double> w;
    for (size_t i = 0; i < kP.size(); ++i) {
      double x = double(kP[i]) - lr * kG1[i];
      x -= lr * wd * x;
      w.push_back(x);
    }
    return w;
  };
  expect_values(G.wex, want(0.1f, 0.3f), "wex: decayed");
  expect_values(G.bias, want(0.1f, 0.3f), "bias: decayed");
  expect_values(G.wix, want(0.05f, 0), "wix: not decayed");
  expect_values(G.bix, want(0.05f, 0), "bix: not decayed");
  expect_values(G.wei, want(0.02f, 0), "wei: not decayed");
  expect_values(G.bei, want(0.02f, 0), "bei: not decayed");
}

TEST_CASE("clamp at 0 for wex/wix/wei/bei; bix and bias may go negative") {
  Groups G;
  G.grads({10.f, -1.f, 30.f});  // p − 0.1·g: {−0.5, 1.35, −1.0}
  Optimizer opt(G.all(), sgd(0.1f, 0.1f, 0.1f));
  opt.step();
  const std::vector<double> clamped = {0.0, 1.35, 0.0}, free = {-0.5, 1.35, -1.0};
  for (const Tensor& p : {G.wex, G.wix, G.wei, G.bei}) expect_values(p, clamped, p.name() + ": clamped");
  for (const Tensor& p : {G.bix, G.bias}) expect_values(p, free, p.name() + ": free sign");
  CHECK(G.bix.to_vector()[0] < 0.f);
}

// The lab's sign-freezing GD (EG_optimiser's freeze_gd_signs): the crossing weight is left at
// +1e-18 exactly — not 0, not its negative value — and can then grow back; others step as usual.
TEST_CASE("gd_sign_freeze: a GD step across zero leaves the weight at 1e-18; bix and bias still go negative") {
  Groups G;
  G.grads({10.f, -1.f, 30.f});  // p − 0.1·g: {−0.5, 1.35, −1.0}
  OptimConfig c = sgd(0.1f, 0.1f, 0.1f);
  c.gd_sign_freeze = true;
  Optimizer opt(G.all(), c);
  opt.step();
  for (const Tensor& p : {G.wex, G.wix, G.wei, G.bei}) {
    const std::vector<float> v = p.to_vector();
    CHECK_MESSAGE(v[0] == 1e-18f, p.name());
    CHECK_MESSAGE(v[2] == 1e-18f, p.name());
    CHECK_MESSAGE(v[1] == doctest::Approx(1.35).epsilon(1e-6), p.name());
  }
  for (const Tensor& p : {G.bix, G.bias}) expect_values(p, {-0.5, 1.35, -1.0}, p.name() + ": free sign");
  G.grads({-1.f, 0.f, 0.f});  // the frozen weight grows back: 1e-18 + 0.1
  opt.step();
  CHECK(G.wex.to_vector()[0] == doctest::Approx(0.1).epsilon(1e-6));
  // The multi-tensor update (the trainer's step_all) passes the rule through too.
  Groups H;
  H.grads({10.f, -1.f, 30.f});
  Optimizer multi(H.all(), c);
  step_all({&multi});
  for (const Tensor& p : {H.wex, H.wix, H.wei, H.bei}) CHECK_MESSAGE(p.to_vector()[2] == 1e-18f, p.name());
  // AdamW takes the same rule; EG refuses it (validated in TrainConfig).
  Tensor wex = make_param("l.Wex", Group::Wex, {0.001f});
  set_grad(wex, {1.f});
  c.algorithm = Algorithm::AdamW;
  Optimizer adamw({wex}, c);
  adamw.step();
  CHECK(wex.to_vector()[0] == 1e-18f);
}

TEST_CASE("frozen parameters and parameters without a gradient are untouched; grads are cleared") {
  Tensor wei_frozen = make_param("l.Wei", Group::Wei, kP, true);
  Tensor bei_frozen = make_param("l.Bei", Group::Bei, kP, true);
  Tensor wex = make_param("l.Wex", Group::Wex, kP);
  Tensor no_grad = make_param("m.Wex", Group::Wex, kP);
  set_grad(wei_frozen, kG1);  // a gradient that must be ignored
  set_grad(bei_frozen, kG1);
  set_grad(wex, kG1);
  OptimConfig c = sgd(0.1f, 0.1f, 0.1f);
  c.momentum = 0.9f;
  c.inhib_momentum = 0.9f;
  c.wd = 0.5f;  // decay alone would move a parameter that the step visits
  Optimizer opt({wei_frozen, bei_frozen, wex, no_grad}, c);
  opt.step();
  CHECK(wei_frozen.to_vector() == kP);
  CHECK(bei_frozen.to_vector() == kP);
  CHECK(no_grad.to_vector() == kP);
  CHECK(wex.to_vector() != kP);
  CHECK_FALSE(wex.grad().defined());
  CHECK_FALSE(no_grad.grad().defined());
  // A later step with a gradient for the previously skipped parameter: a first step from rest.
  set_grad(no_grad, kG2);
  opt.step();
  std::vector<double> want;
  for (size_t i = 0; i < kP.size(); ++i) {
    double x = double(kP[i]) - 0.1 * kG2[i];
    want.push_back(std::max(0.0, x - 0.1 * 0.5 * x));
  }
  expect_values(no_grad, want, "first step of a late parameter");
  CHECK(wei_frozen.to_vector() == kP);
  opt.zero_grad();
  CHECK_FALSE(no_grad.grad().defined());
}

TEST_CASE("the optimizer refuses a tensor that is not a parameter") {
  Tensor loose = Tensor::from_vector(kP, {3});
  loose.set_requires_grad(true);
  CHECK_THROWS_AS(Optimizer({loose}, OptimConfig{}), Error);
}

TEST_CASE("EG: p·exp(−lr·sign(p)·g) for sign-constrained groups, plain SGD for bix and bias") {
  Groups G;
  const std::vector<float> g = {0.3f, -0.8f, 50.f};  // the last would clamp under SGD
  G.grads(g);
  OptimConfig c = sgd(0.1f, 0.05f, 0.02f);
  c.algorithm = Algorithm::EG;
  Optimizer opt(G.all(), c);
  opt.step();
  auto eg = [&](double lr) {
    std::vector<double> w;
    for (size_t i = 0; i < kP.size(); ++i) w.push_back(double(kP[i]) * std::exp(-lr * g[i]));
    return w;
  };
  auto sgd_step = [&](double lr) {
    std::vector<double> w;
    for (size_t i = 0; i < kP.size(); ++i) w.push_back(double(kP[i]) - lr * g[i]);
    return w;
  };
  expect_values(G.wex, eg(0.1f), "wex: EG");
  expect_values(G.wix, eg(0.05f), "wix: EG");
  expect_values(G.wei, eg(0.02f), "wei: EG");
  expect_values(G.bei, eg(0.02f), "bei: EG");
  expect_values(G.bix, sgd_step(0.05f), "bix: SGD under EG");
  expect_values(G.bias, sgd_step(0.1f), "bias: SGD under EG");
  for (const Tensor& p : {G.wex, G.wix, G.wei, G.bei})
    for (float v : p.to_vector()) CHECK_MESSAGE(v > 0.f, p.name() << ": EG keeps the sign");
  CHECK(G.bix.to_vector()[2] < 0.f);

  // A negative value in a sign-constrained group stays negative: sign(p) = −1 flips the exponent.
  Tensor neg = make_param("n.Wex", Group::Wex, {-0.5f, 0.f});
  set_grad(neg, {2.f, 3.f});
  Optimizer opt2({neg}, c);
  opt2.step();
  expect_values(neg, {-0.5 * std::exp(0.1f * 2.0), 0.0}, "EG with p < 0 and p = 0");
}

// The lab's EG (linclab/EG_optimiser, SGD with update_alg="eg"), per element, in double:
// d = g + wd·sign(p); v = d on the first step, then μ·v + d (no dampening); d = d + μ·v
// (Nesterov) or v; p ← p · exp(−lr · sign(p) · d).
struct EgRef {
  double p, v = 0;
  bool started = false;
  void step(double g, double lr, double mu, double wd, bool nesterov) {
    const double s = p > 0 ? 1 : (p < 0 ? -1 : 0);
    double d = g + wd * s;
    if (mu != 0) {
      v = started ? mu * v + d : d;
      started = true;
      d = nesterov ? d + mu * v : v;
    }
    p *= std::exp(-lr * s * d);
  }
};

// dale's SGD (the study's), per element, in double: what bix and bias get under EG.
struct SgdRef {
  double p, v = 0;
  void step(double g, double lr, double mu, double wd, bool nesterov, bool clamp) {
    if (mu > 0) {
      v = mu * v + g;
      g = nesterov ? g + mu * v : v;
    }
    p -= lr * g;
    p -= lr * wd * p;
    if (clamp) p = std::max(p, 0.0);
  }
};

TEST_CASE("EG with momentum, Nesterov and sign(p) weight decay: three steps, every group") {
  const std::vector<float> g3 = {1.5f, -0.4f, -2.f};
  const std::vector<float> signs = {-0.5f, 0.f, 0.75f};  // a Wex below and at zero
  for (bool nesterov : {false, true}) {
    CAPTURE(nesterov);
    Groups G;
    Tensor mixed = make_param("m.Wex", Group::Wex, signs);
    OptimConfig c = sgd(0.1f, 0.05f, 0.02f);
    c.algorithm = Algorithm::EG;
    c.momentum = 0.9f;
    c.inhib_momentum = 0.5f;
    c.wd = 0.3f;
    c.nesterov = nesterov;
    std::vector<Tensor> params = G.all();
    params.push_back(mixed);
    Optimizer opt(params, c);
    for (const auto* g : {&kG1, &kG2, &g3}) {
      G.grads(*g);
      set_grad(mixed, *g);
      opt.step();
    }
    auto eg = [&](const std::vector<float>& p0, double lr, double mu, double wd) {
      std::vector<double> w;
      for (size_t i = 0; i < p0.size(); ++i) {
        EgRef r{p0[i]};
        for (const auto* g : {&kG1, &kG2, &g3}) r.step((*g)[i], lr, mu, wd, nesterov);
        w.push_back(r.p);
      }
      return w;
    };
    auto gd = [&](double lr, double mu, double wd) {
      std::vector<double> w;
      for (size_t i = 0; i < kP.size(); ++i) {
        SgdRef r{kP[i]};
        for (const auto* g : {&kG1, &kG2, &g3}) r.step((*g)[i], lr, mu, wd, nesterov, false);
        w.push_back(r.p);
      }
      return w;
    };
    expect_values(G.wex, eg(kP, 0.1f, 0.9f, 0.3f), "wex: EG, momentum, decay wd·sign(p)");
    expect_values(mixed, eg(signs, 0.1f, 0.9f, 0.3f), "wex with p < 0 and p = 0");
    expect_values(G.wix, eg(kP, 0.05f, 0.5f, 0), "wix: EG, inhib_momentum, no decay");
    expect_values(G.wei, eg(kP, 0.02f, 0.5f, 0), "wei: EG, inhib_momentum, no decay");
    expect_values(G.bei, eg(kP, 0.02f, 0.5f, 0), "bei: EG, inhib_momentum, no decay");
    expect_values(G.bix, gd(0.05f, 0.5f, 0), "bix: SGD under EG");
    expect_values(G.bias, gd(0.1f, 0.9f, 0.3f), "bias: SGD under EG, decoupled decay");
    const auto m = mixed.to_vector();
    CHECK(m[0] < 0.f);  // a negative weight stays negative ...
    CHECK(m[1] == 0.f);  // ... and sign(0) = 0 keeps a zero weight at zero
    CHECK(m[2] > 0.f);
    // The references tell the rules apart: without momentum, or with decay wd·p instead of
    // wd·sign(p), or decay added after the momentum, wex would be elsewhere.
    const double got = eg(kP, 0.1f, 0.9f, 0.3f)[0];
    EgRef plain{kP[0]}, after{kP[0]};
    double v = 0;
    for (const auto* g : {&kG1, &kG2, &g3}) {
      plain.step((*g)[0], 0.1, 0, 0.3, nesterov);
      v = 0.9 * v + (*g)[0];  // momentum of the raw gradient, decay added after it
      after.p *= std::exp(-0.1 * ((nesterov ? (*g)[0] + 0.9 * v : v) + 0.3));
    }
    CHECK(std::fabs(plain.p - got) > 1e-3);
    CHECK(std::fabs(after.p - got) > 1e-3);
    EgRef by_value{kP[0]};
    for (const auto* g : {&kG1, &kG2, &g3}) by_value.step((*g)[0], 0.1, 0.9, 0.3 * kP[0], nesterov);
    CHECK(std::fabs(by_value.p - got) > 1e-3);
  }
}

// The optimizer state through a checkpoint: a fresh optimizer that loads it continues exactly as
// the original does (EG's momentum buffer, AdamW's moments and per-parameter step counts).
TEST_CASE("save_state/load_state: EG momentum and AdamW moments continue bit for bit") {
  for (Algorithm alg : {Algorithm::EG, Algorithm::AdamW}) {
    CAPTURE(algorithm_name(alg));
    OptimConfig c = sgd(0.1f, 0.05f, 0.02f);
    c.algorithm = alg;
    c.momentum = 0.9f;
    c.inhib_momentum = 0.5f;
    c.wd = 0.1f;
    c.nesterov = true;
    Groups A;
    Optimizer a(A.all(), c);
    for (const auto* g : {&kG1, &kG2}) {
      A.grads(*g);
      a.step();
    }
    SafetensorsFile f;
    a.save_state(f);
    CHECK(f.find("opt.l.Wex.v") != nullptr);  // EG: momentum; AdamW: second moment
    CHECK((f.find("opt.l.Wex.m") != nullptr) == (alg == Algorithm::AdamW));
    Groups B, C;  // the same values; B's optimizer loads the state, C's starts from rest
    for (size_t i = 0; i < A.all().size(); ++i) {
      B.all()[i].copy_from(A.all()[i].to_vector());
      C.all()[i].copy_from(A.all()[i].to_vector());
    }
    Optimizer b(B.all(), c), fresh(C.all(), c);
    b.load_state(f, "state.safetensors");
    CHECK(b.steps() == 2);
    for (Groups* G : {&A, &B, &C}) G->grads(kG1);
    a.step();
    b.step();
    fresh.step();
    for (size_t i = 0; i < A.all().size(); ++i) {
      const auto x = A.all()[i].to_vector(), y = B.all()[i].to_vector();
      CAPTURE(A.all()[i].name());
      CHECK(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0);
      CHECK(C.all()[i].to_vector() != x);  // the state carried something
    }
  }
}

// The study's AdamW, per element, in double: moments, eps added to √v, the bias correction in
// the step size, then decay of the updated value, then the clamp.
struct AdamRef {
  double p, m = 0, v = 0;
  int t = 0;
  void step(double g, double lr, double wd, bool clamp, double eps = 1e-6) {
    const double b1 = 0.9, b2 = 0.999;
    ++t;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const double step_size = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
    p -= step_size * m / (std::sqrt(v) + eps);
    p -= lr * wd * p;
    if (clamp) p = std::max(p, 0.0);
  }
};

TEST_CASE("AdamW: three steps, bias correction, decay after the update for every group") {
  Groups G;
  OptimConfig c = sgd(0.01f, 0.02f, 0.03f);
  c.algorithm = Algorithm::AdamW;
  c.wd = 0.5f;
  Optimizer opt(G.all(), c);
  const std::vector<float> g3 = {0.05f, -0.1f, 2.5f};
  for (const auto* g : {&kG1, &kG2, &g3}) {
    G.grads(*g);
    opt.step();
  }
  auto want = [&](double lr, bool clamp) {
    std::vector<double> w;
    for (size_t i = 0; i < kP.size(); ++i) {
      AdamRef r{kP[i]};
      for (const auto* g : {&kG1, &kG2, &g3}) r.step((*g)[i], lr, 0.5f, clamp);
      w.push_back(r.p);
    }
    return w;
  };
  expect_values(G.wex, want(0.01f, true), "wex: AdamW, decayed");
  expect_values(G.bias, want(0.01f, false), "bias: AdamW, decayed");
  expect_values(G.wix, want(0.02f, true), "wix: AdamW, decayed at lr_wix");
  expect_values(G.bix, want(0.02f, false), "bix: AdamW, decayed at lr_wix");
  expect_values(G.wei, want(0.03f, true), "wei: AdamW, decayed at lr_wei");
  expect_values(G.bei, want(0.03f, true), "bei: AdamW, decayed at lr_wei");
  // Bias correction matters: the first step of Adam moves each weight by ≈ lr regardless of |g|.
  Tensor fresh = make_param("f.Wix", Group::Wix, kP);
  set_grad(fresh, kG1);
  OptimConfig ca = sgd(0.02f, 0.02f, 0.02f);
  ca.algorithm = Algorithm::AdamW;
  Optimizer adam({fresh}, ca);
  adam.step();
  CHECK(std::fabs(fresh.to_vector()[2] - (kP[2] - 0.02f)) < 1e-5f);
  // The references can tell decay after the update from decay before it (AdamW as PyTorch has
  // it): (p − u)(1 − lr·wd) and p(1 − lr·wd) − u differ by u·lr·wd, far above the tolerance.
  AdamRef after{kP[2]}, before{kP[2] * (1 - 0.01 * 0.5)};
  after.step(kG1[2], 0.01, 0.5, false);
  before.step(kG1[2], 0.01, 0, false);
  CHECK(std::fabs(after.p - before.p) > 2e-5);
}

TEST_CASE("AdamW eps: added to √v before the bias correction, 1e-6") {
  // Gradients of 1e-6: √v ≈ 3e-8 at step 1, so eps dominates the denominator, and where it goes
  // changes the step many-fold. PyTorch's placement, m̂/(√v̂ + 1e-8), would move p by ≈ lr.
  Tensor bias = make_param("l.bias", Group::Bias, {0.5f, -0.25f});
  OptimConfig c = sgd(0.01f, 0.01f, 0.01f);
  c.algorithm = Algorithm::AdamW;
  Optimizer opt({bias}, c);
  const std::vector<std::vector<float>> grads = {{1e-6f, -2e-6f}, {3e-6f, 1e-6f}};
  AdamRef r0{0.5}, r1{-0.25};
  for (const auto& g : grads) {
    set_grad(bias, g);
    opt.step();
    r0.step(g[0], 0.01f, 0, false);
    r1.step(g[1], 0.01f, 0, false);
  }
  expect_values(bias, {r0.p, r1.p}, "bias: eps-dominated AdamW steps");
  CHECK(std::fabs(bias.to_vector()[0] - 0.5f) < 0.002f);  // ≪ lr: eps really dominated
  CHECK(std::fabs(bias.to_vector()[0] - 0.5f) > 1e-4f);   // but it moved
}

TEST_CASE("AdamW clamps sign-constrained groups at 0") {
  Tensor wex = make_param("l.Wex", Group::Wex, {0.001f});
  Tensor bix = make_param("l.Bix", Group::Bix, {0.001f});
  set_grad(wex, {1.f});
  set_grad(bix, {1.f});
  OptimConfig c = sgd(0.1f, 0.1f, 0.1f);
  c.algorithm = Algorithm::AdamW;
  Optimizer opt({wex, bix}, c);
  opt.step();  // first step moves by ≈ lr = 0.1
  CHECK(wex.to_vector()[0] == 0.f);
  CHECK(bix.to_vector()[0] == doctest::Approx(0.001 - 0.1).epsilon(1e-5));
}

TEST_CASE("parse_algorithm and algorithm_name") {
  CHECK(parse_algorithm("sgd") == Algorithm::SGD);
  CHECK(parse_algorithm("eg") == Algorithm::EG);
  CHECK(parse_algorithm("adamw") == Algorithm::AdamW);
  for (Algorithm a : {Algorithm::SGD, Algorithm::EG, Algorithm::AdamW})
    CHECK(parse_algorithm(algorithm_name(a)) == a);
  for (const char* bad : {"SGD", "adam", "", "sgd "}) {
    CAPTURE(bad);
    try {
      parse_algorithm(bad);
      FAIL("no exception");
    } catch (const InputError& e) {
      const std::string msg = e.what();
      CHECK(msg.find("'" + std::string(bad) + "'") != std::string::npos);
      CHECK(msg.find("sgd") != std::string::npos);
      CHECK(msg.find("adamw") != std::string::npos);
    }
  }
}

TEST_CASE("one SGD step on an inorm+ network: Wei and Bei frozen, the rest moves") {
  NetworkConfig nc;
  nc.variant = "inorm+";
  nc.width = 12;
  nc.inputs = 20;
  Network net(nc);
  Tensor x = dale::test::random_tensor({6, 20}, 3, 0.f, 1.f, false);
  Tensor y = Tensor::from_vector({0, 1, 2, 3, 4, 5}, {6});
  for (Tensor p : net.parameters())  // off the init, so the local losses have real gradients
    if (p.name().ends_with(".Wix")) {
      auto v = p.to_vector();
      for (auto& e : v) e *= 0.8f;
      p.copy_from(v);
    }
  std::vector<std::vector<float>> before;
  for (const Tensor& p : net.parameters()) before.push_back(p.to_vector());
  Tensor logits = net.forward(x, true);
  backward(add(cross_entropy(logits, y, 0.1f), net.local_loss()));
  Optimizer opt(net.parameters(), sgd(0.5f, 0.5f, 0.5f));
  opt.step();
  const auto params = net.parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    CAPTURE(p.name());
    CHECK_FALSE(p.grad().defined());  // cleared (frozen ones never had one)
    const bool hidden = p.name().rfind("fc_output", 0) != 0;
    if (hidden && (p.name().ends_with(".Wei") || p.name().ends_with(".Bei"))) {
      CHECK(p.frozen());
      CHECK(p.to_vector() == before[i]);
    } else {
      CHECK(p.to_vector() != before[i]);  // Wex, bias, Wix, Bix, and the output layer's weights
    }
  }
}
