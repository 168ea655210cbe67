// cuBLAS, loaded when the CUDA backend starts rather than when dale starts. Linking libcublas
// makes every process map and relocate it — over 200 MB resident before the first CPU step —
// so the functions dale calls are looked up with dlopen/dlsym on first use instead.
#pragma once
#include <cublas_v2.h>

namespace dale::cuda {

struct CublasApi {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasSetStream_v2) set_stream;
  decltype(&cublasSetMathMode) set_math_mode;
  decltype(&cublasSetWorkspace_v2) set_workspace;
  decltype(&cublasSgemm_v2) sgemm;
  decltype(&cublasSgemmStridedBatched) sgemm_strided_batched;
  decltype(&cublasGetStatusString) status_string;
};

// Loads libcublas.so.<major of the headers> once; throws dale::Error naming the library if it
// or a symbol is missing.
const CublasApi& cublas_api();

}  // namespace dale::cuda
