// I-Norm layer (SPEC §2.3): inhibition trained to layer-normalize activity.
//   e   = x Wexᵀ + b                              task path
//   inh = (sg(x) Wixᵀ) Weiᵀ                       subtractive inhibition
//   zd  = sqrt((sg(x) Bixᵀ)² Beiᵀ + ε_norm)       divisive (shunting) inhibition
//   z   = (e − sg(inh)) / sg(zd),  out = G(z)     G: the error-normalization mode (SPEC §4)
// Local loss (SPEC §3): u = (sg(e) − inh)/zd, L = λ_var · mean_b(mean_k(u)² + (var_k(u) − 1)²);
// it trains Wix and Bix alone. Wei and Bei are frozen.
//
// I-Norm (sub) (SPEC §2.4) is the subtractive half: z = e − sg(inh), out = G(z) with G = center
// or none, local loss u = sg(e) − inh, L = λ · mean_b(mean_k(u)²), training Wix and Wei.
#pragma once
#include "framework/math.h"
#include "framework/ops.h"
#include "framework/rng.h"
#include "models/layer.h"

namespace dale {

class INormLayer : public Layer {
 public:
  // fa_seed/fa_stream key fa_center's lateral weights apart from `rng`, so inorm-fa draws the
  // same Wex, Wix, Wei, Bix as every other I-Norm variant of the same seed (paired comparisons).
  INormLayer(std::string name, int64_t n, int64_t ne, ErrNorm mode, float lambda_var,
             RngStream& rng, Device dev, uint64_t fa_seed = 0, uint64_t fa_stream = kStreamFa,
             const ExcitatoryInit& e = {});
  Tensor forward(const Tensor& x, bool training) override;
  Tensor forward_z(const Tensor& x) override { return epilogue(x).z; }
  std::vector<Tensor> parameters() const override { return {Wex, Wix, Wei, bias, Bix, Bei}; }
  // Whether Bei is 1/ne everywhere (re-read from Bei only when its values were replaced).
  bool bei_is_uniform();
  Tensor Wex, Wix, Wei, bias, Bix, Bei;
  Tensor fa_w;  // fa_center's fixed lateral weights (ne), undefined for other modes
  ErrNorm mode;
  float lambda_var;

 private:
  // Bei is frozen at 1/ne (SPEC §7), so s Beiᵀ is each row's mean of s broadcast across the
  // row: row_mean, then a rank-1 product with ones (1 × ne), instead of an ne × ne GEMM forward
  // and backward (about 15 % of an I-Norm step's FLOPs). Any other Bei (a checkpoint's, a
  // test's) takes the GEMM: copy_from bumps Bei's version, and the check is redone then.
  INormEpilogue epilogue(const Tensor& x);
  bool bei_uniform_ = true;
  uint64_t bei_version_ = 0;
  Tensor ones_;
};

class INormSubLayer : public Layer {
 public:
  INormSubLayer(std::string name, int64_t n, int64_t ne, ErrNorm mode, float lambda,
                RngStream& rng, Device dev, const ExcitatoryInit& e = {});
  Tensor forward(const Tensor& x, bool training) override;
  Tensor forward_z(const Tensor& x) override;
  std::vector<Tensor> parameters() const override { return {Wex, Wix, Wei, bias}; }
  Tensor Wex, Wix, Wei, bias;
  ErrNorm mode;
  float lambda;
};

}  // namespace dale
