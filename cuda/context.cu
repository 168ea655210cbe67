// The CUDA context (see context.h).
#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/cublas_api.h"

namespace dale::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

namespace {
__global__ void probe_kernel() {}
}  // namespace

Context& ctx() {
  static Context* c = [] {
    auto* k = new Context;  // never destroyed: kernels may still run at static destruction
    DALE_CUDA_CHECK(cudaGetDevice(&k->device));
    DALE_CUDA_CHECK(cudaGetDeviceProperties(&k->prop, k->device));
    // A GPU of another architecture than the build's has no kernel image: say so now, not at the
    // first launch of a training step.
    cudaFuncAttributes attr{};
    if (const cudaError_t e = cudaFuncGetAttributes(&attr, probe_kernel); e != cudaSuccess) {
      cudaGetLastError();
      throw Error(fmt::format("{} (sm_{}{}) cannot run this build's kernels ({}); rebuild with "
                              "tools/build -DCMAKE_CUDA_ARCHITECTURES={}{}",
                              k->prop.name, k->prop.major, k->prop.minor, cudaGetErrorString(e), k->prop.major,
                              k->prop.minor));
    }
    DALE_CUDA_CHECK(cudaStreamCreateWithFlags(&k->stream, cudaStreamNonBlocking));
    const CublasApi& blas = cublas_api();
    DALE_CUBLAS_CHECK(blas.create(&k->cublas));
    DALE_CUBLAS_CHECK(blas.set_stream(k->cublas, k->stream));
    // A workspace of our own, set after set_stream (which resets it to cuBLAS's default pool):
    // with the default, cuBLAS under stream capture may take its workspace with cudaMallocAsync,
    // i.e. allocation nodes inside our graph, and a new one per capture (cuBLAS docs, "CUDA
    // Graphs Support"; PyTorch sets one for the same reason). Size as cublasSetWorkspace's docs
    // recommend (32 MiB from Hopper on, 4 MiB before); never freed, like the context.
    const size_t workspace = size_t(k->prop.major >= 9 ? 32 : 4) << 20;
    void* ws = nullptr;
    DALE_CUDA_CHECK(cudaMalloc(&ws, workspace));
    DALE_CUBLAS_CHECK(blas.set_workspace(k->cublas, ws, workspace));
    // Plain FP32 GEMMs (no TF32): the GPU must agree with the CPU reference to 1e-4.
    DALE_CUBLAS_CHECK(blas.set_math_mode(k->cublas, CUBLAS_DEFAULT_MATH));
    return k;
  }();
  return *c;
}

}  // namespace dale::cuda
