// Reductions: per-row mean and population variance (the statistics of SPEC.md, over the units
// of one sample), whole-tensor sum, and mean (per model of a stack).
#include "framework/op_util.h"
#include "framework/ops.h"

namespace dale {
using namespace detail;

// rows × 1, or [K, rows, 1] for a stack (it stays a stack).
static Shape row_stat_shape(const Tensor& x) {
  const Shape& s = x.shape();
  return s.rank == 3 ? Shape{s.d[0], s.d[1], 1} : Shape{x.rows(), 1};
}

Tensor row_mean(const Tensor& x) {
  DALE_RANGE("row_mean");
  check_defined("row_mean", x);
  Tensor y = Tensor::empty(row_stat_shape(x), x.device());
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
  Tensor y = Tensor::empty(row_stat_shape(x), x.device());
  backend(x.device()).row_var(x.rows(), x.cols(), x.data(), y.data());
  if (needs_grad({x}))
    record(y, [x](const Tensor& g) {
      if (float* dx = grad_of(x))
        backend(g.device()).row_var_backward(x.rows(), x.cols(), g.data(), x.data(), dx);
    });
  return y;
}

Tensor sum(const Tensor& x) {
  DALE_RANGE("sum");
  check_defined("sum", x);
  Tensor y = Tensor::empty({1}, x.device());
  backend(x.device()).sum_all(x.numel(), x.data(), y.data());
  if (needs_grad({x}))
    record(y, [x](const Tensor& g) {
      if (float* dx = grad_of(x)) backend(g.device()).add_scalar_ptr(x.numel(), g.data(), 1.f, dx);
    });
  return y;
}

// The mean of each model of a stack ([K]; [1] for anything else), in double as a row mean of
// the K × (numel / K) view, so a model's loss and gradient do not depend on K.
Tensor mean(const Tensor& x) {
  DALE_RANGE("mean");
  check_defined("mean", x);
  if (x.numel() == 0) throw Error("mean: of an empty tensor");
  const int64_t K = stack_size(x), n = x.numel() / K;
  Tensor y = Tensor::empty({K}, x.device());
  backend(x.device()).row_mean(K, n, x.data(), y.data());
  if (needs_grad({x}))
    record(y, [x, K, n](const Tensor& g) {
      if (float* dx = grad_of(x)) backend(g.device()).row_mean_backward(K, n, g.data(), dx);
    });
  return y;
}

}  // namespace dale
