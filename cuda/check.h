// Every CUDA runtime and cuBLAS call, and every kernel launch, goes through these checks: a
// failure throws dale::Error with the file, the line, the call and the CUDA error string.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "cuda/cublas_api.h"
#include "framework/check.h"

namespace dale::cuda {

[[noreturn]] inline void fail(const char* what, const char* detail, const char* file, int line) {
  throw Error(fmt::format("{}:{}: CUDA: {} failed: {}", file, line, what, detail));
}

}  // namespace dale::cuda

#define DALE_CUDA_CHECK(call)                                                             \
  do {                                                                                    \
    const cudaError_t dale_err_ = (call);                                                 \
    if (dale_err_ != cudaSuccess)                                                         \
      ::dale::cuda::fail(#call, cudaGetErrorString(dale_err_), __FILE__, __LINE__);       \
  } while (0)

#define DALE_CUBLAS_CHECK(call)                                                           \
  do {                                                                                    \
    const cublasStatus_t dale_st_ = (call);                                               \
    if (dale_st_ != CUBLAS_STATUS_SUCCESS)                                                \
      ::dale::cuda::fail(#call, ::dale::cuda::cublas_api().status_string(dale_st_), __FILE__, __LINE__); \
  } while (0)

// After a <<<…>>> launch: a bad configuration is reported at once (asynchronous faults surface
// at the next synchronizing call, which is checked too).
#define DALE_LAUNCH_CHECK(name) DALE_CUDA_CHECK(cudaPeekAtLastError())
