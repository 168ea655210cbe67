// Softmax cross-entropy with label smoothing, and accuracy counting, on the GPU. Ten classes per
// row: one thread per row, in double like the CPU reference (the rows are the parallelism).
#include <cub/block/block_reduce.cuh>

#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/kernels.h"

namespace dale::cuda {
namespace {

// One row: the CPU's arithmetic (double), for row r.
__device__ void xent_row(int64_t r, int64_t classes, const float* logits, const float* labels, float smoothing,
                         float* loss_rows, float* probs) {
  const float* l = logits + r * classes;
  const int y = int(labels[r]);
  if (y < 0 || y >= classes) {  // cannot throw here: NaNs stop training as a divergence
    const float nan = __int_as_float(0x7fc00000);
    loss_rows[r] = nan;
    for (int64_t c = 0; c < classes; ++c) probs[r * classes + c] = nan;
    return;
  }
  double mx = l[0];
  for (int64_t c = 1; c < classes; ++c) mx = fmax(mx, double(l[c]));
  double z = 0;
  for (int64_t c = 0; c < classes; ++c) z += exp(double(l[c]) - mx);
  const double logz = mx + log(z);
  double loss = 0;
  for (int64_t c = 0; c < classes; ++c) {
    const double logp = double(l[c]) - logz;
    probs[r * classes + c] = float(exp(logp));
    loss -= double(smoothed_target(int(c), y, smoothing, int(classes))) * logp;
  }
  loss_rows[r] = float(loss);
}

__global__ void xent_forward_kernel(int64_t rows, int64_t classes, const float* logits, const float* labels,
                                    float smoothing, float* loss_rows, float* probs) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x)
    xent_row(r, classes, logits, labels, smoothing, loss_rows, probs);
}

__global__ void xent_backward_kernel(int64_t rows, int64_t classes, const float* probs, const float* labels,
                                     float smoothing, const float* g, int64_t group_rows, float scale,
                                     float* dlogits) {
  const int64_t n = rows * classes;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / classes, c = i % classes;
    const float f = g[r / group_rows] * scale;
    dlogits[i] += f * (probs[i] - smoothed_target(int(c), int(labels[r]), smoothing, int(classes)));
  }
}

__global__ void count_correct_kernel(int64_t rows, int64_t classes, const float* logits, const float* labels,
                                     float* out) {
  using Reduce = cub::BlockReduce<int, kBlock>;
  __shared__ typename Reduce::TempStorage tmp;
  int n = 0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    const float* l = logits + r * classes;
    int64_t best = 0;  // first maximum wins, as torch.argmax
    for (int64_t c = 1; c < classes; ++c)
      if (l[c] > l[best]) best = c;
    n += best == int64_t(labels[r]);
  }
  const int total = Reduce(tmp).Sum(n);
  if (threadIdx.x == 0) out[0] = float(total);
}

}  // namespace

void xent_forward(int64_t rows, int64_t classes, const float* logits, const float* labels, float smoothing,
                  float* loss_rows, float* probs) {
  if (rows <= 0) return;
  xent_forward_kernel<<<grid_for(rows, 128), 128, 0, stream()>>>(rows, classes, logits, labels, smoothing,
                                                                  loss_rows, probs);
  DALE_LAUNCH_CHECK(xent_forward_kernel);
}

void xent_backward(int64_t rows, int64_t classes, const float* probs, const float* labels, float smoothing,
                   const float* g, int64_t group_rows, float scale, float* dlogits) {
  if (rows <= 0) return;
  xent_backward_kernel<<<grid_for(rows * classes), kBlock, 0, stream()>>>(rows, classes, probs, labels, smoothing,
                                                                          g, group_rows, scale, dlogits);
  DALE_LAUNCH_CHECK(xent_backward_kernel);
}

void count_correct(int64_t rows, int64_t classes, const float* logits, const float* labels, float* out) {
  count_correct_kernel<<<1, kBlock, 0, stream()>>>(rows, classes, logits, labels, out);
  DALE_LAUNCH_CHECK(count_correct_kernel);
}

}  // namespace dale::cuda
