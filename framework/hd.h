// DALE_HD marks per-element math that both backends share: plain inline functions on the
// host, __host__ __device__ under nvcc. Writing the math once lets CPU tests cover what the GPU runs.
#pragma once
#ifdef __CUDACC__
#define DALE_HD __host__ __device__ inline
#else
#define DALE_HD inline
#endif
