// Elementwise maps and broadcasts on the CPU. The switch over MapOp is hoisted out of the loop
// by instantiating the loop once per op, so each map is a tight, vectorizable loop.
#include "framework/cpu/kernels.h"

namespace dale::cpu {

template <MapOp Op>
static void map_loop(int64_t n, const float* a, const float* b, const float* c, float s,
                     float beta, float* y) {
  // Inputs a, b, c may alias y (in-place maps), so read before writing each element.
  if (beta == 0.f) {
    for (int64_t i = 0; i < n; ++i)
      y[i] = apply_map(Op, a[i], b ? b[i] : 0.f, c ? c[i] : 0.f, s);
  } else {
    for (int64_t i = 0; i < n; ++i)
      y[i] = beta * y[i] + apply_map(Op, a[i], b ? b[i] : 0.f, c ? c[i] : 0.f, s);
  }
}

void map(MapOp op, int64_t n, const float* a, const float* b, const float* c, float s, float beta,
         float* y) {
  switch (op) {
#define DALE_MAP_CASE(OP) \
  case MapOp::OP: return map_loop<MapOp::OP>(n, a, b, c, s, beta, y);
    DALE_MAP_CASE(Copy) DALE_MAP_CASE(Add) DALE_MAP_CASE(Sub) DALE_MAP_CASE(Mul)
    DALE_MAP_CASE(Div) DALE_MAP_CASE(Scale) DALE_MAP_CASE(AddScalar) DALE_MAP_CASE(Square)
    DALE_MAP_CASE(Sqrt) DALE_MAP_CASE(Relu) DALE_MAP_CASE(ReluGrad) DALE_MAP_CASE(SquareGrad)
    DALE_MAP_CASE(SqrtGrad) DALE_MAP_CASE(DivGradDen)
#undef DALE_MAP_CASE
  }
}

void add_scalar_ptr(int64_t n, const float* s, float alpha, float* y) {
  const float v = alpha * s[0];
  for (int64_t i = 0; i < n; ++i) y[i] += v;
}

void add_rowvec(int64_t batch, int64_t rows, int64_t cols, const float* x, const float* v, float* y) {
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t r = b * rows; r < (b + 1) * rows; ++r)
      for (int64_t k = 0; k < cols; ++k) y[r * cols + k] = x[r * cols + k] + v[b * cols + k];
}

}  // namespace dale::cpu
