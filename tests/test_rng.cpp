// Tests of framework/rng.h: Philox4x32-10 against Random123's known answers, the keying of
// rng_uniform and RngStream, and the statistics of every derived distribution.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <vector>

#include "framework/rng.h"

using namespace dale;

// ---------------------------------------------------------------------------------------------
// Known-answer vectors: Random123's tests/kat_vectors, the three "philox4x32 10" lines
// (github.com/DEShawResearch/random123); columns counter[4], key[2] → output[4].
TEST_CASE("philox4x32-10 matches the Random123 known-answer vectors") {
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  };
  const Kat kats[] = {
      {{0x00000000, 0x00000000, 0x00000000, 0x00000000},
       {0x00000000, 0x00000000},
       {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    uint32_t out[4];
    philox4x32(k.ctr, k.key, out);
    for (int w = 0; w < 4; ++w) CHECK(out[w] == k.out[w]);
  }
}

TEST_CASE("u01 maps 32 bits to [0,1) with 24-bit resolution") {
  CHECK(u01(0) == 0.0f);
  CHECK(u01(0xffffffffu) == 1.0f - 1.0f / 16777216.0f);  // never 1
  CHECK(u01(0xffffffffu) < 1.0f);
  CHECK(u01(0x80000000u) == 0.5f);
  CHECK(u01(0x000000ffu) == 0.0f);  // the low 8 bits are dropped
  CHECK(u01(0x00000100u) == 1.0f / 16777216.0f);
}

TEST_CASE("rng_uniform is the first word of the Philox block keyed by (seed, stream, index)") {
  const uint64_t seed = 0x0123456789abcdefull, stream = 0xfedcba9876543210ull;
  const uint64_t index = 0x1122334455667788ull;
  const uint32_t ctr[4] = {0x55667788u, 0x11223344u, 0x76543210u, 0xfedcba98u};
  const uint32_t key[2] = {0x89abcdefu, 0x01234567u};
  uint32_t out[4];
  philox4x32(ctr, key, out);
  CHECK(rng_uniform(seed, stream, index) == u01(out[0]));
}

TEST_CASE("rng_uniform is deterministic and every key word matters") {
  const float base = rng_uniform(42, kStreamJitter, 7);
  CHECK(rng_uniform(42, kStreamJitter, 7) == base);
  CHECK(rng_uniform(43, kStreamJitter, 7) != base);
  CHECK(rng_uniform(42 + (1ull << 32), kStreamJitter, 7) != base);  // high seed word
  CHECK(rng_uniform(42, kStreamShuffle, 7) != base);
  CHECK(rng_uniform(42, kStreamJitter + (1ull << 40), 7) != base);  // high stream word
  CHECK(rng_uniform(42, kStreamJitter, 8) != base);
  CHECK(rng_uniform(42, kStreamJitter, 7 + (1ull << 32)) != base);  // high index word
}

TEST_CASE("rng_uniform: mean, variance and no duplicates over 1e5 draws") {
  const int n = 100000;
  double sum = 0, sum2 = 0;
  std::set<float> distinct;
  for (int i = 0; i < n; ++i) {
    const double u = rng_uniform(1234, kStreamJitter, uint64_t(i));
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum += u;
    sum2 += u * u;
    distinct.insert(float(u));
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  // Standard error of the mean is sqrt(1/12/n) ≈ 0.0009; 5 sigma.
  CHECK(std::abs(mean - 0.5) < 0.0046);
  CHECK(std::abs(var - 1.0 / 12.0) < 0.002);
  // 1e5 draws from 2^24 values: about 300 collisions expected (birthday), not thousands.
  CHECK(distinct.size() > size_t(n - 1000));
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("RngStream walks the Philox blocks of (seed, stream) in order") {
  const uint64_t seed = 0xa4093822299f31d0ull, stream = 77;
  RngStream rng(seed, stream);
  const uint32_t key[2] = {uint32_t(seed), uint32_t(seed >> 32)};
  for (uint32_t block = 0; block < 3; ++block) {
    const uint32_t ctr[4] = {block, 0, uint32_t(stream), 0};
    uint32_t out[4];
    philox4x32(ctr, key, out);
    for (int w = 0; w < 4; ++w) CHECK(rng.next_u32() == out[w]);
  }
  // The first word of a stream is the bits behind rng_uniform(seed, stream, 0).
  RngStream again(seed, stream);
  CHECK(u01(again.next_u32()) == rng_uniform(seed, stream, 0));
}

TEST_CASE("RngStream is deterministic; streams and seeds differ") {
  RngStream a(5, kStreamInit), b(5, kStreamInit), c(5, kStreamShuffle), d(6, kStreamInit);
  int same_c = 0, same_d = 0;
  for (int i = 0; i < 1000; ++i) {
    const uint32_t va = a.next_u32();
    CHECK(va == b.next_u32());
    same_c += va == c.next_u32();
    same_d += va == d.next_u32();
  }
  CHECK(same_c < 3);
  CHECK(same_d < 3);
}

TEST_CASE("RngStream::uniform: [0,1), 53-bit, mean and variance") {
  RngStream rng(2024, kStreamInit);
  const int n = 100000;
  double sum = 0, sum2 = 0;
  bool fine_bits = false;  // some draw uses bits below float's 24-bit resolution
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    fine_bits |= double(float(u)) != u;
    sum += u;
    sum2 += u * u;
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  CHECK(fine_bits);
  CHECK(std::abs(mean - 0.5) < 0.0046);
  CHECK(std::abs(var - 1.0 / 12.0) < 0.002);
}

TEST_CASE("RngStream::normal: moments of a standard normal") {
  RngStream rng(7, kStreamInit);
  const int n = 100000;
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
  int beyond2 = 0;
  for (int i = 0; i < n; ++i) {
    const double z = rng.normal();
    REQUIRE(std::isfinite(z));
    s1 += z;
    s2 += z * z;
    s3 += z * z * z;
    s4 += z * z * z * z;
    beyond2 += std::abs(z) > 2.0;
  }
  const double mean = s1 / n, var = s2 / n - mean * mean;
  // Standard errors: mean 0.0032, variance 0.0045, skewness 0.0077, kurtosis 0.015; ~5 sigma.
  CHECK(std::abs(mean) < 0.016);
  CHECK(std::abs(var - 1.0) < 0.025);
  CHECK(std::abs(s3 / n) < 0.04);
  CHECK(std::abs(s4 / n - 3.0) < 0.08);
  // P(|z| > 2) = 0.0455; binomial sd over 1e5 ≈ 0.00066.
  CHECK(std::abs(beyond2 / double(n) - 0.0455) < 0.0035);
}

TEST_CASE("RngStream::normal consumes exactly four words") {
  RngStream a(11, kStreamInit), b(11, kStreamInit);
  a.normal();
  for (int i = 0; i < 4; ++i) b.next_u32();
  CHECK(a.next_u32() == b.next_u32());
}

TEST_CASE("RngStream::below is in range and unbiased") {
  RngStream rng(99, kStreamShuffle);
  CHECK_THROWS_AS(rng.below(0), std::invalid_argument);
  for (int i = 0; i < 100; ++i) CHECK(rng.below(1) == 0);

  // Chi-square over 10 bins, 1e5 draws: 9 degrees of freedom, P(chi2 > 33.7) ≈ 1e-4.
  const int n = 100000, bins = 10;
  std::vector<int> count(bins, 0);
  for (int i = 0; i < n; ++i) {
    const uint64_t v = rng.below(bins);
    REQUIRE(v < uint64_t(bins));
    ++count[size_t(v)];
  }
  double chi2 = 0;
  for (int c : count) chi2 += (c - n / double(bins)) * (c - n / double(bins)) / (n / double(bins));
  CHECK(chi2 < 33.7);

  // n just above 2^63: half of all 64-bit words are rejected; results still fall in range and
  // cover both halves.
  const uint64_t big = (1ull << 63) + 1;
  int upper = 0;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t v = rng.below(big);
    REQUIRE(v < big);
    upper += v >= (1ull << 62);
  }
  CHECK(upper > 400);  // P(v ≥ 2^62) ≈ 1/2; sd over 1000 draws ≈ 16
  CHECK(upper < 600);
}
