// Brightness jitter (SPEC §1) and batch assembly. Every time an image is drawn it gets one
// δ ~ U(−ε, ε) added to all its pixels, then clamped to [0, 1].
//
// δ is a pure function of (seed, epoch, sample index in the dataset): Philox with
//   key = seed, stream = kStreamJitter + (epoch << 8), counter = sample.
// The stream's low byte keeps jitter apart from every other RNG purpose, the bits above it give
// each epoch its own stream, and the counter gives each sample its own block; so draws are
// independent across (seed, epoch, sample), and an image gets the same δ in an epoch whichever
// batch it lands in and whichever backend builds the batch. The per-element functions are
// DALE_HD so the CUDA batch kernel calls this very code.
#pragma once
#include <cstdint>
#include <vector>

#include "datasets/fashion_mnist.h"
#include "framework/hd.h"
#include "framework/rng.h"

namespace dale {

DALE_HD uint64_t jitter_stream(uint32_t epoch) {
  return uint64_t(kStreamJitter) + (uint64_t(epoch) << 8);
}

// δ ~ U(−eps, eps). 2u − 1 is exact for a 24-bit u, and |2u − 1| ≤ 1 keeps |δ| ≤ eps after
// rounding. eps = 0 gives exactly +0 (not −0), without drawing.
DALE_HD float jitter_delta(uint64_t seed, uint32_t epoch, uint64_t sample, float eps) {
  if (eps == 0.0f) return 0.0f;
  const float u = rng_uniform(seed, jitter_stream(epoch), sample);
  return eps * (2.0f * u - 1.0f);
}

// clamp(p/255 + δ, 0, 1). The division is IEEE round-to-nearest on both sides (never a multiply
// by 1/255, never a fast-math approximation), so CPU and GPU agree bit for bit.
DALE_HD float jitter_pixel(uint8_t p, float delta) {
#ifdef __CUDA_ARCH__
  const float v = __fadd_rn(__fdiv_rn(float(p), 255.0f), delta);
#else
  const float v = float(p) / 255.0f + delta;
#endif
  return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

struct JitterSpec {
  float eps = 0;       // random δ ~ U(−eps, eps) per image
  bool fixed = false;  // instead: δ = shift for every image (SPEC's ε_eval)
  float shift = 0;
};

// x (B × d.dim, row-major) and y (B) for the samples indices[0..B): pixels through jitter_pixel,
// δ keyed by the dataset index indices[i].
void make_batch(const Dataset& d, const int64_t* indices, int B, const JitterSpec& j,
                uint64_t seed, uint32_t epoch, float* x, int32_t* y);

// The order of one epoch: 0..n−1 without shuffling, else a Fisher–Yates permutation drawn from
// RngStream(seed, kStreamShuffle + (epoch << 8)).
std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, uint32_t epoch);

}  // namespace dale
