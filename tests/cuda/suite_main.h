// The main() of a CUDA test suite: doctest, or exit code 77 (ctest: skipped) when no GPU is
// present. A GPU without a usable backend (registration not linked, or a device that does not
// start) is a failure, not a skip. Include after defining DOCTEST_CONFIG_IMPLEMENT.
#pragma once
#include <cuda_runtime_api.h>
#include <doctest/doctest.h>

#include <cstdio>
#include <exception>

#include "framework/backend.h"

namespace dale::test {

inline int run_cuda_suite(const char* suite, int argc, char** argv) {
  try {
    if (!backend_available(Device::CUDA)) {
      int gpus = 0;
      if (cudaGetDeviceCount(&gpus) != cudaSuccess) gpus = 0;
      if (gpus > 0) {
        std::fprintf(stderr,
                     "%s: %d GPU(s) present but the CUDA backend is unavailable (not linked, or the device "
                     "did not start)\n",
                     suite, gpus);
        return 1;
      }
      std::fprintf(stderr, "%s: no GPU present; skipped\n", suite);
      return 77;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: probing the CUDA backend failed: %s\n", suite, e.what());
    return 1;
  }
  doctest::Context ctx(argc, argv);
  return ctx.run();
}

}  // namespace dale::test
