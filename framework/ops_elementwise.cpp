// Elementwise ops: forward and backward of each side by side, all through backend.map with the
// per-element rules of framework/math.h.
#include <cmath>

#include "framework/op_util.h"
#include "framework/ops.h"

namespace dale {
using namespace detail;

namespace {

Tensor map_forward(MapOp op, const Tensor& a, const Tensor& b, float s) {
  Tensor y = Tensor::empty(a.shape(), a.device());
  backend(a.device()).map(op, a.numel(), a.data(), b.defined() ? b.data() : nullptr, nullptr, s,
                          0.f, y.data());
  return y;
}

// d_in += apply_map(op, g, b, c, s): one accumulating map in a backward closure.
void accumulate(MapOp op, const Tensor& in, const Tensor& g, const float* b, const float* c,
                float s) {
  if (float* d = grad_of(in)) backend(g.device()).map(op, g.numel(), g.data(), b, c, s, 1.f, d);
}

// CPU-only domain checks: reading device memory would synchronize the GPU, so there the caller
// is trusted (the models only take sqrt of sums + ε and divide by such square roots).
void check_domain(const char* op, const Tensor& x, bool (*ok)(float), const char* expected) {
  if (x.device() != Device::CPU) return;
  const float* p = x.data();
  for (int64_t i = 0; i < x.numel(); ++i)
    if (!ok(p[i]))
      throw Error(fmt::format("{}: element {} of the {} input is {}, expected {}", op, i,
                              x.shape().str(), p[i], expected));
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  DALE_RANGE("add");
  check_same_shape("add", a, b);
  Tensor y = map_forward(MapOp::Add, a, b, 0.f);
  if (needs_grad({a, b}))
    record(y, [a, b](const Tensor& g) {
      accumulate(MapOp::Copy, a, g, nullptr, nullptr, 0.f);
      accumulate(MapOp::Copy, b, g, nullptr, nullptr, 0.f);
    });
  return y;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  DALE_RANGE("sub");
  check_same_shape("sub", a, b);
  Tensor y = map_forward(MapOp::Sub, a, b, 0.f);
  if (needs_grad({a, b}))
    record(y, [a, b](const Tensor& g) {
      accumulate(MapOp::Copy, a, g, nullptr, nullptr, 0.f);
      accumulate(MapOp::Scale, b, g, nullptr, nullptr, -1.f);
    });
  return y;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  DALE_RANGE("mul");
  check_same_shape("mul", a, b);
  Tensor y = map_forward(MapOp::Mul, a, b, 0.f);
  if (needs_grad({a, b}))
    record(y, [a, b](const Tensor& g) {
      accumulate(MapOp::Mul, a, g, b.data(), nullptr, 0.f);
      accumulate(MapOp::Mul, b, g, a.data(), nullptr, 0.f);
    });
  return y;
}

Tensor div(const Tensor& a, const Tensor& b) {
  DALE_RANGE("div");
  check_same_shape("div", a, b);
  check_domain("div", b, [](float v) { return v != 0.f; }, "a non-zero denominator");
  Tensor y = map_forward(MapOp::Div, a, b, 0.f);
  if (needs_grad({a, b}))
    record(y, [a, b](const Tensor& g) {
      accumulate(MapOp::Div, a, g, b.data(), nullptr, 0.f);               // g / b
      accumulate(MapOp::DivGradDen, b, g, a.data(), b.data(), 0.f);       // −g a / b²
    });
  return y;
}

Tensor add_bias(const Tensor& x, const Tensor& b) {
  DALE_RANGE("add_bias");
  check_defined("add_bias", x);
  check_defined("add_bias", b);
  check_same_device("add_bias", x, b);
  // A stack [K, rows, n] takes K biases (K·n elements, model k's bias for slice k).
  const int64_t K = stack_size(x);
  if (b.numel() != x.cols() * K)
    throw Error(fmt::format("add_bias: bias of shape {} ({} elements) for input {} needs {} "
                            "elements",
                            b.shape().str(), b.numel(), x.shape().str(), x.cols() * K));
  Tensor y = Tensor::empty(x.shape(), x.device());
  const int64_t rows = x.rows() / K;
  backend(x.device()).add_rowvec(K, rows, x.cols(), x.data(), b.data(), y.data());
  if (needs_grad({x, b}))
    record(y, [x, b, K, rows](const Tensor& g) {
      accumulate(MapOp::Copy, x, g, nullptr, nullptr, 0.f);
      if (float* db = grad_of(b)) backend(g.device()).col_sum(K, rows, g.cols(), g.data(), 1.f, db);
    });
  return y;
}

Tensor scale(const Tensor& x, float s) {
  DALE_RANGE("scale");
  check_defined("scale", x);
  Tensor y = map_forward(MapOp::Scale, x, Tensor(), s);
  if (needs_grad({x}))
    record(y, [x, s](const Tensor& g) { accumulate(MapOp::Scale, x, g, nullptr, nullptr, s); });
  return y;
}

Tensor add_scalar(const Tensor& x, float s) {
  DALE_RANGE("add_scalar");
  check_defined("add_scalar", x);
  Tensor y = map_forward(MapOp::AddScalar, x, Tensor(), s);
  if (needs_grad({x}))
    record(y, [x](const Tensor& g) { accumulate(MapOp::Copy, x, g, nullptr, nullptr, 0.f); });
  return y;
}

Tensor square(const Tensor& x) {
  DALE_RANGE("square");
  check_defined("square", x);
  Tensor y = map_forward(MapOp::Square, x, Tensor(), 0.f);
  if (needs_grad({x}))
    record(y, [x](const Tensor& g) { accumulate(MapOp::SquareGrad, x, g, x.data(), nullptr, 0.f); });
  return y;
}

Tensor sqrt(const Tensor& x) {
  DALE_RANGE("sqrt");
  check_defined("sqrt", x);
  // NaN passes: it is divergence, which the trainer reports, not misuse of sqrt.
  check_domain("sqrt", x, [](float v) { return !(v < 0.f); }, "a value ≥ 0");
  Tensor y = map_forward(MapOp::Sqrt, x, Tensor(), 0.f);
  if (needs_grad({x}))
    record(y, [x, y](const Tensor& g) { accumulate(MapOp::SqrtGrad, x, g, y.data(), nullptr, 0.f); });
  return y;
}

Tensor relu(const Tensor& x) {
  DALE_RANGE("relu");
  check_defined("relu", x);
  Tensor y = map_forward(MapOp::Relu, x, Tensor(), 0.f);
  if (needs_grad({x}))
    record(y, [x](const Tensor& g) { accumulate(MapOp::ReluGrad, x, g, x.data(), nullptr, 0.f); });
  return y;
}

Tensor stop_grad(const Tensor& x) {
  DALE_RANGE("stop_grad");
  check_defined("stop_grad", x);
  return x.detach();
}

}  // namespace dale
