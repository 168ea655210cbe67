// The CUDA context of dale: one device (the current one at first use), one stream on which every
// kernel, copy and cuBLAS call of dale runs in order, one cuBLAS handle bound to that stream.
// One stream means no event bookkeeping: a buffer freed back to the cache (memory.cu) and handed
// out again is only touched by work queued after everything that used it before.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace dale::cuda {

struct Context {
  int device = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cudaDeviceProp prop{};
};

// Creates the context on first call (throws dale::Error if CUDA fails).
Context& ctx();
inline cudaStream_t stream() { return ctx().stream; }

// Number of CUDA devices, or 0 when there is no driver or no GPU (never throws).
int device_count();

// Threads per block for row kernels (one block per row) and for elementwise grid-stride loops.
constexpr int kBlock = 256;
inline unsigned grid_for(long long n, int per_block = kBlock) {
  const long long blocks = (n + per_block - 1) / per_block;
  return unsigned(blocks < 1 ? 1 : (blocks > 65535LL * 16 ? 65535LL * 16 : blocks));
}

}  // namespace dale::cuda
