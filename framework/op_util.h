// Small helpers shared by the op implementations (framework/ops_*.cpp): argument checks that
// name the op and the shapes, and gradient-buffer access for backward closures.
#pragma once
#include "framework/backend.h"
#include "framework/check.h"
#include "framework/tape.h"
#include "framework/trace.h"

namespace dale::detail {

inline void check_defined(const char* op, const Tensor& a) {
  if (!a.defined()) throw Error(fmt::format("{}: input is an undefined tensor", op));
}
inline void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  if (a.device() != b.device())
    throw Error(fmt::format("{}: inputs on different devices ({} and {})", op,
                            device_name(a.device()), device_name(b.device())));
}
inline void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(op, a);
  check_defined(op, b);
  check_same_device(op, a, b);
  if (!(a.shape() == b.shape()))
    throw Error(fmt::format("{}: shapes {} and {} differ (binary maps need equal shapes; use "
                            "add_bias for a row vector)",
                            op, a.shape().str(), b.shape().str()));
}
inline int64_t stack_size(const Tensor& t) { return t.shape().stack(); }
// The gradient buffer of t to accumulate into, or null when t takes no gradient.
inline float* grad_of(const Tensor& t) {
  return t.defined() && t.requires_grad() ? t.grad_for_accumulation().data() : nullptr;
}

}  // namespace dale::detail
