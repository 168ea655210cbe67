// Reductions: per-row mean and population variance (the statistics of SPEC.md, over the units
// of one sample), and whole-tensor sum and mean.
#include "framework/op_util.h"
#include "framework/ops.h"

namespace dale {
using namespace detail;

Tensor row_mean(const Tensor& x) {
  DALE_RANGE("row_mean");
  check_defined("row_mean", x);
  Tensor y = Tensor::empty({x.rows(), 1}, x.device());
  backend(x.device()).row_mean(x.rows(), x.cols(), x.data(), y.data());
  if (needs_grad({x}))
    record(y, [x](const Tensor& g) {
      if (float* dx = grad_of(x)) backend(g.device()).row_mean_backward(x.rows(), x.cols(), g.data(), dx);
    });
  return y;
}

Tensor row_var(const Tensor& x) {
  DALE_RANGE("row_var");
  check_defined("row_var", x);
  Tensor y = Tensor::empty({x.rows(), 1}, x.device());
  backend(x.device()).row_var(x.rows(), x.cols(), x.data(), y.data());
  if (needs_grad({x}))
    record(y, [x](const Tensor& g) {
      if (float* dx = grad_of(x))
        backend(g.device()).row_var_backward(x.rows(), x.cols(), g.data(), x.data(), dx);
    });
  return y;
}

static Tensor reduce_all(const Tensor& x, float factor) {
  Tensor y = Tensor::empty({1}, x.device());
  const Backend& be = backend(x.device());
  be.sum_all(x.numel(), x.data(), y.data());
  if (factor != 1.f) be.map(MapOp::Scale, 1, y.data(), nullptr, nullptr, factor, 0.f, y.data());
  if (needs_grad({x}))
    record(y, [x, factor](const Tensor& g) {
      if (float* dx = grad_of(x)) backend(g.device()).add_scalar_ptr(x.numel(), g.data(), factor, dx);
    });
  return y;
}

Tensor sum(const Tensor& x) {
  DALE_RANGE("sum");
  check_defined("sum", x);
  return reduce_all(x, 1.f);
}

Tensor mean(const Tensor& x) {
  DALE_RANGE("mean");
  check_defined("mean", x);
  if (x.numel() == 0) throw Error("mean: of an empty tensor");
  return reduce_all(x, 1.f / float(x.numel()));
}

}  // namespace dale
