// The first CUDA translation unit: asks the runtime how many GPUs there are. The CUDA backend
// (a later issue) grows from here; this file proves the toolchain wiring compiles and links.
#include <cuda_runtime.h>

namespace dale::cuda {

// Number of CUDA devices, or 0 when there is no driver or no GPU (never throws).
int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

}  // namespace dale::cuda
