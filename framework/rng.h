// Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy
// as 1, 2, 3", SC'11), written from the published algorithm and checked against Random123's
// known-answer vectors in tests/test_rng.cpp.
//
// Why counter-based: a draw is a pure function of (seed, stream, index), so the CPU backend and a
// CUDA kernel produce the same jitter for the same sample without sharing any generator state, and
// a run is reproducible whatever the batch order or the number of threads.
//
// Keying, used by both rng_uniform and RngStream:
//   key     = {seed lo, seed hi}
//   counter = {index lo, index hi, stream lo, stream hi}
// A stream id's low byte names the purpose (RngStreamId); callers put an epoch or a layer number
// above it (stream = id + (k << 8)), so different purposes never share a counter.
//
// CUDA sources include this header, so it stays free of fmt (and thus of check.h): fmt 9's headers
// do not compile under nvcc 13 in C++20 mode.
#pragma once
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "framework/hd.h"

namespace dale {

enum RngStreamId : uint64_t {
  kStreamInit = 1,     // weight initialization (SPEC §7)
  kStreamShuffle = 2,  // per-epoch order of the training set
  kStreamJitter = 3,   // brightness jitter δ per (epoch, sample) (SPEC §1)
  kStreamFa = 4,       // fixed random weights of fa_center (SPEC §4)
  kStreamSweep = 5,    // random sweep configurations (SPEC §9)
  kStreamLowRank = 6,  // factors of low-rank excitatory weights (models/init.h), + layer index << 8
};

// ---------------------------------------------------------------------------------------------
// Philox4x32-10: ten rounds of two 32×32→64 multiplies, the key bumped by the Weyl constants
// between rounds.
DALE_HD void philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  const uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  const uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {  // the key schedule: round r uses key + r·Weyl
      k0 += kWeyl0;
      k1 += kWeyl1;
    }
    const uint64_t p0 = uint64_t(kMul0) * c0;
    const uint64_t p1 = uint64_t(kMul1) * c2;
    const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

// Uniform in [0, 1) from the top 24 bits: every value is exactly representable in float, so the
// result never rounds up to 1 and is the same on every device.
DALE_HD float u01(uint32_t bits) { return float(bits >> 8) * (1.0f / 16777216.0f); }

// One uniform for a (seed, stream, index) key: the first output word of one Philox block.
DALE_HD float rng_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  const uint32_t ctr[4] = {uint32_t(index), uint32_t(index >> 32), uint32_t(stream),
                           uint32_t(stream >> 32)};
  const uint32_t key[2] = {uint32_t(seed), uint32_t(seed >> 32)};
  uint32_t out[4];
  philox4x32(ctr, key, out);
  return u01(out[0]);
}

// ---------------------------------------------------------------------------------------------
// Host-side sequential stream: blocks 0, 1, 2, … of (seed, stream), four words per block, used in
// order. Its first word equals the bits behind rng_uniform(seed, stream, 0). Only integer
// arithmetic and IEEE-exact conversions decide the outputs (no std:: distributions, whose
// algorithms differ between standard libraries); normal() also uses std::log/std::sqrt/std::cos.
class RngStream {
 public:
  RngStream(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}

  uint32_t next_u32() {
    if (pos_ == 4) refill();
    return buf_[pos_++];
  }
  uint64_t next_u64() {
    const uint64_t hi = next_u32();
    return (hi << 32) | next_u32();
  }
  // [0, 1) with 53 random bits (two words): exact in double.
  double uniform() { return double(next_u64() >> 11) * (1.0 / 9007199254740992.0); }
  // Standard normal by Box–Muller; always consumes exactly two uniforms (four words), so the
  // position of later draws does not depend on a cached spare.
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // Unbiased integer in [0, n): reject the 2^64 mod n lowest values so that every residue is hit
  // by the same number of 64-bit words.
  uint64_t below(uint64_t n) {
    if (n == 0) throw std::invalid_argument("RngStream::below(0): the range [0, n) needs n >= 1");
    const uint64_t threshold = (0 - n) % n;  // = 2^64 mod n
    for (;;) {
      const uint64_t x = next_u64();
      if (x >= threshold) return x % n;
    }
  }

 private:
  void refill() {
    const uint32_t ctr[4] = {uint32_t(block_), uint32_t(block_ >> 32), uint32_t(stream_),
                             uint32_t(stream_ >> 32)};
    const uint32_t key[2] = {uint32_t(seed_), uint32_t(seed_ >> 32)};
    philox4x32(ctr, key, buf_);
    ++block_;
    pos_ = 0;
  }

  uint64_t seed_, stream_;
  uint64_t block_ = 0;
  uint32_t buf_[4] = {0, 0, 0, 0};
  int pos_ = 4;  // empty: the first draw generates block 0
};

}  // namespace dale
