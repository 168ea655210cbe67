// Softmax cross-entropy with label smoothing, and accuracy counting, on the CPU.
#include <cmath>

#include "framework/check.h"
#include "framework/cpu/kernels.h"

namespace dale::cpu {

void xent_forward(int64_t rows, int64_t classes, const float* logits, const float* labels,
                  float smoothing, float* loss_rows, float* probs) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* l = logits + r * classes;
    const int y = int(labels[r]);
    DALE_CHECK(y >= 0 && y < classes, "cross_entropy: label {} of row {} is not in [0, {})", y, r,
               classes);
    double mx = l[0];
    for (int64_t c = 1; c < classes; ++c) mx = std::max<double>(mx, l[c]);
    double z = 0;
    for (int64_t c = 0; c < classes; ++c) z += std::exp(l[c] - mx);
    const double logz = mx + std::log(z);
    double loss = 0;
    for (int64_t c = 0; c < classes; ++c) {
      const double logp = l[c] - logz;
      probs[r * classes + c] = float(std::exp(logp));
      loss -= smoothed_target(int(c), y, smoothing, int(classes)) * logp;
    }
    loss_rows[r] = float(loss);
  }
}

void xent_backward(int64_t rows, int64_t classes, const float* probs, const float* labels,
                   float smoothing, const float* g, int64_t group_rows, float scale, float* dlogits) {
  for (int64_t r = 0; r < rows; ++r) {
    const float f = g[r / group_rows] * scale;
    const int y = int(labels[r]);
    for (int64_t c = 0; c < classes; ++c)
      dlogits[r * classes + c] +=
          f * (probs[r * classes + c] - smoothed_target(int(c), y, smoothing, int(classes)));
  }
}

void count_correct(int64_t rows, int64_t classes, const float* logits, const float* labels,
                   float* out) {
  int64_t n = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* l = logits + r * classes;
    int64_t best = 0;  // first maximum wins, as torch.argmax
    for (int64_t c = 1; c < classes; ++c)
      if (l[c] > l[best]) best = c;
    n += best == int64_t(labels[r]);
  }
  out[0] = float(n);
}

}  // namespace dale::cpu
