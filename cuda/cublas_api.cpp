// cuBLAS loaded on first use (see cublas_api.h).
#include "cuda/cublas_api.h"

#include <dlfcn.h>

#include <string>

#include "framework/check.h"

namespace dale::cuda {

const CublasApi& cublas_api() {
  static const CublasApi api = [] {
    const std::string lib = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
    void* h = ::dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) throw Error(fmt::format("CUDA: cannot load {} ({}); install the CUDA toolkit's cuBLAS", lib, ::dlerror()));
    auto sym = [&](const char* name) {
      void* p = ::dlsym(h, name);
      if (!p) throw Error(fmt::format("CUDA: {} has no symbol {}", lib, name));
      return p;
    };
    CublasApi a{};
    a.create = reinterpret_cast<decltype(a.create)>(sym("cublasCreate_v2"));
    a.set_stream = reinterpret_cast<decltype(a.set_stream)>(sym("cublasSetStream_v2"));
    a.set_math_mode = reinterpret_cast<decltype(a.set_math_mode)>(sym("cublasSetMathMode"));
    a.set_workspace = reinterpret_cast<decltype(a.set_workspace)>(sym("cublasSetWorkspace_v2"));
    a.sgemm = reinterpret_cast<decltype(a.sgemm)>(sym("cublasSgemm_v2"));
    a.sgemm_strided_batched = reinterpret_cast<decltype(a.sgemm_strided_batched)>(sym("cublasSgemmStridedBatched"));
    a.status_string = reinterpret_cast<decltype(a.status_string)>(sym("cublasGetStatusString"));
    return a;
  }();
  return api;
}

}  // namespace dale::cuda
