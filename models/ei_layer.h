// E layer (SPEC §2.1, excitatory only) and EI layer (SPEC §2.2, DANN: subtractive feed-forward
// inhibition, W = Wex − Wei Wix, all trained by the task loss). The output layer is an EI layer
// with ne = 10, ni = 1.
#pragma once
#include "framework/rng.h"
#include "models/layer.h"

namespace dale {

class ELayer : public Layer {
 public:
  ELayer(std::string name, int64_t n, int64_t ne, RngStream& rng, Device dev, const ExcitatoryInit& e = {});
  Tensor forward(const Tensor& x, bool training) override;
  std::vector<Tensor> parameters() const override { return {Wex, bias}; }
  Tensor Wex, bias;
};

class EILayer : public Layer {
 public:
  EILayer(std::string name, int64_t n, int64_t ne, int64_t ni, RngStream& rng, Device dev,
          const ExcitatoryInit& e = {});
  Tensor forward(const Tensor& x, bool training) override;
  std::vector<Tensor> parameters() const override { return {Wex, Wix, Wei, bias}; }
  Tensor Wex, Wix, Wei, bias;
};

}  // namespace dale
