// Finite-difference gradient checks of every differentiable op in framework/ops.h, on awkward
// shapes (not multiples of anything), through the tape.
#include "tests/testing.h"

using namespace dale;
using dale::test::gradcheck;
using dale::test::random_tensor;

namespace {
const Shape kShapes[] = {{1, 1}, {7, 33}, {31, 10}, {3, 234}};
}

TEST_CASE("matmul: all four transpose combinations") {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      const int64_t M = 5, K = 7, N = 3;
      Tensor a = random_tensor(ta ? Shape{K, M} : Shape{M, K}, 1 + ta);
      Tensor b = random_tensor(tb ? Shape{N, K} : Shape{K, N}, 3 + tb);
      gradcheck("matmul ta=" + std::to_string(ta) + " tb=" + std::to_string(tb),
                [=](std::vector<Tensor>& in) { return matmul(in[0], in[1], ta, tb); }, {a, b});
    }
}

TEST_CASE("linear: x Wᵀ on a layer-like shape") {
  gradcheck("linear", [](std::vector<Tensor>& in) { return linear(in[0], in[1]); },
            {random_tensor({33, 17}, 5), random_tensor({9, 17}, 6)});
}

TEST_CASE("binary maps") {
  for (const Shape& s : kShapes) {
    Tensor a = random_tensor(s, 11), b = random_tensor(s, 12);
    gradcheck("add " + s.str(), [](std::vector<Tensor>& in) { return add(in[0], in[1]); }, {a, b});
    gradcheck("sub " + s.str(), [](std::vector<Tensor>& in) { return sub(in[0], in[1]); }, {a, b});
    gradcheck("mul " + s.str(), [](std::vector<Tensor>& in) { return mul(in[0], in[1]); }, {a, b});
    Tensor den = random_tensor(s, 13, 0.5f, 2.f);
    gradcheck("div " + s.str(), [](std::vector<Tensor>& in) { return div(in[0], in[1]); }, {a, den});
  }
}

TEST_CASE("add_bias: row-vector broadcast, bias stored as n × 1") {
  gradcheck("add_bias", [](std::vector<Tensor>& in) { return add_bias(in[0], in[1]); },
            {random_tensor({31, 10}, 21), random_tensor({10, 1}, 22)});
}

TEST_CASE("unary maps") {
  for (const Shape& s : kShapes) {
    Tensor x = random_tensor(s, 31);
    gradcheck("scale", [](std::vector<Tensor>& in) { return scale(in[0], -2.5f); }, {x});
    gradcheck("add_scalar", [](std::vector<Tensor>& in) { return add_scalar(in[0], 0.3f); }, {x});
    gradcheck("square", [](std::vector<Tensor>& in) { return square(in[0]); }, {x});
    gradcheck("sqrt", [](std::vector<Tensor>& in) { return sqrt(in[0]); },
              {random_tensor(s, 32, 0.5f, 2.f)});
    // relu: keep inputs away from the kink by more than the finite-difference step
    auto v = dale::test::random_vector(s.numel(), 33);
    for (auto& e : v) e = e < 0 ? e - 0.05f : e + 0.05f;
    Tensor r = Tensor::from_vector(v, s);
    r.set_requires_grad(true);
    gradcheck("relu", [](std::vector<Tensor>& in) { return relu(in[0]); }, {r});
  }
}

TEST_CASE("reductions") {
  for (const Shape& s : kShapes) {
    Tensor x = random_tensor(s, 41);
    gradcheck("row_mean", [](std::vector<Tensor>& in) { return row_mean(in[0]); }, {x});
    gradcheck("row_var", [](std::vector<Tensor>& in) { return row_var(in[0]); }, {x});
    gradcheck("sum", [](std::vector<Tensor>& in) { return sum(in[0]); }, {x});
    gradcheck("mean", [](std::vector<Tensor>& in) { return mean(in[0]); }, {x});
  }
}

TEST_CASE("normalizations, exact backward") {
  for (const Shape& s : {Shape{7, 33}, Shape{3, 234}, Shape{31, 10}}) {
    Tensor z = random_tensor(s, 51, -2.f, 3.f);
    for (NormKind k : {NormKind::Layer, NormKind::Mean, NormKind::Divisive})
      gradcheck("normalize kind " + std::to_string(int(k)) + " " + s.str(),
                [k](std::vector<Tensor>& in) { return normalize(in[0], k, false); }, {z}, 3e-3);
  }
}

TEST_CASE("cross-entropy with label smoothing") {
  for (int64_t B : {1, 7, 33}) {
    Tensor logits = random_tensor({B, 10}, 61, -3.f, 3.f);
    std::vector<float> y(static_cast<size_t>(B));
    for (int64_t i = 0; i < B; ++i) y[size_t(i)] = float((i * 7 + 3) % 10);
    Tensor labels = Tensor::from_vector(y, {B});
    gradcheck("cross_entropy B=" + std::to_string(B),
              [labels](std::vector<Tensor>& in) { return cross_entropy(in[0], labels, 0.1f); },
              {logits});
  }
}

TEST_CASE("a composite: the I-Norm forward's divisive path sqrt((x Bᵀ)² Beiᵀ + ε)") {
  // Checks that ops compose on the tape: gradients through three ops to two leaves.
  gradcheck("divisive path",
            [](std::vector<Tensor>& in) {
              return sqrt(add_scalar(linear(square(linear(in[0], in[1])), in[2]), 1e-5f));
            },
            {random_tensor({5, 12}, 71), random_tensor({6, 12}, 72),
             random_tensor({6, 6}, 73, 0.1f, 1.f)});
}
