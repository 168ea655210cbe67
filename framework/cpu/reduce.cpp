// Row and column reductions on the CPU, accumulated in double: these are the oracle for the
// float accumulations of the GPU, so they should be the more exact side.
#include "framework/cpu/kernels.h"

namespace dale::cpu {

void row_moments(const float* x, int64_t cols, double& mean, double& var) {
  double s = 0;
  for (int64_t k = 0; k < cols; ++k) s += x[k];
  mean = s / double(cols);
  double q = 0;
  for (int64_t k = 0; k < cols; ++k) q += (x[k] - mean) * (x[k] - mean);
  var = q / double(cols);  // population variance: divide by the number of units
}

void col_sum(int64_t batch, int64_t rows, int64_t cols, const float* x, float beta, float* out) {
  for (int64_t b = 0; b < batch; ++b, x += rows * cols, out += cols)
    for (int64_t k = 0; k < cols; ++k) {
      double s = 0;
      for (int64_t r = 0; r < rows; ++r) s += x[r * cols + k];
      out[k] = float((beta == 0.f ? 0.0 : beta * double(out[k])) + s);
    }
}

void row_mean(int64_t rows, int64_t cols, const float* x, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    double m, v;
    row_moments(x + r * cols, cols, m, v);
    out[r] = float(m);
  }
}

void row_var(int64_t rows, int64_t cols, const float* x, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    double m, v;
    row_moments(x + r * cols, cols, m, v);
    out[r] = float(v);
  }
}

void row_mean_backward(int64_t rows, int64_t cols, const float* g, float* dx) {
  for (int64_t r = 0; r < rows; ++r) {
    const float v = g[r] / float(cols);
    for (int64_t k = 0; k < cols; ++k) dx[r * cols + k] += v;
  }
}

void row_var_backward(int64_t rows, int64_t cols, const float* g, const float* x, float* dx) {
  for (int64_t r = 0; r < rows; ++r) {
    double m, v;
    row_moments(x + r * cols, cols, m, v);
    const double f = 2.0 * g[r] / double(cols);
    for (int64_t k = 0; k < cols; ++k) dx[r * cols + k] += float(f * (x[r * cols + k] - m));
  }
}

void sum_all(int64_t n, const float* x, float* out) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  out[0] = float(s);
}

}  // namespace dale::cpu
