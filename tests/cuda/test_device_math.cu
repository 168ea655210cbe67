// The first CUDA suite: runs the shared per-element math (framework/math.h) in a kernel and
// compares with the same functions on the host. Without a GPU it exits 77, which ctest reports
// as skipped (not passed).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <vector>

#include "framework/math.h"

namespace dale::cuda {
int device_count();
}

static __global__ void map_kernel(dale::MapOp op, int n, const float* a, const float* b, float* y) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = dale::apply_map(op, a[i], b[i], b[i], 0.5f);
}

TEST_CASE("apply_map on the GPU equals apply_map on the host") {
  const int n = 1000;  // not a multiple of the block size
  std::vector<float> a(n), b(n), y(n);
  for (int i = 0; i < n; ++i) a[i] = 0.01f * float(i - 500), b[i] = 0.5f + 0.003f * float(i);
  float *da, *db, *dy;
  REQUIRE(cudaMalloc(&da, n * sizeof(float)) == cudaSuccess);
  REQUIRE(cudaMalloc(&db, n * sizeof(float)) == cudaSuccess);
  REQUIRE(cudaMalloc(&dy, n * sizeof(float)) == cudaSuccess);
  cudaMemcpy(da, a.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(db, b.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  for (dale::MapOp op : {dale::MapOp::Add, dale::MapOp::Mul, dale::MapOp::Div, dale::MapOp::Sqrt,
                         dale::MapOp::Relu, dale::MapOp::DivGradDen}) {
    const std::vector<float>& in = op == dale::MapOp::Sqrt ? b : a;  // sqrt of positive values
    cudaMemcpy(da, in.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    cudaMemset(dy, 0xff, n * sizeof(float));  // poison: NaN until written
    map_kernel<<<(n + 255) / 256, 256>>>(op, n, da, db, dy);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    cudaMemcpy(y.data(), dy, n * sizeof(float), cudaMemcpyDeviceToHost);
    int bad = 0;
    for (int i = 0; i < n; ++i)  // IEEE-rounded +, ·, /, sqrt: identical on both sides
      bad += !(y[i] == dale::apply_map(op, in[i], b[i], b[i], 0.5f));
    CHECK_MESSAGE(bad == 0, "op " << int(op) << ": " << bad << " of " << n << " elements differ");
  }
  cudaFree(da);
  cudaFree(db);
  cudaFree(dy);
}

int main(int argc, char** argv) {
  if (dale::cuda::device_count() == 0) {
    std::printf("no CUDA device: skipping\n");
    return 77;
  }
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
