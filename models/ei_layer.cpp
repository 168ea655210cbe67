// E and EI layers. The EI layer computes x Wexᵀ − (x Wixᵀ) Weiᵀ + b rather than forming
// W = Wex − Wei Wix: the same function and gradients, but the inhibitory path costs
// B·n·ni + B·ni·ne multiply-adds instead of ne·ni·n per step (39 MFLOP → 4 MFLOP for fc0).
#include "models/ei_layer.h"

#include "framework/ops.h"
#include "models/init.h"

namespace dale {

Tensor Layer::param(const std::vector<float>& v, Shape s, const char* what, Group g, Device dev,
                    bool frozen) const {
  Tensor t = Tensor::from_vector(v, s, dev);
  t.as_parameter(name_ + "." + what, g, frozen);
  return t;
}

void Layer::dale_params(const DaleInit& w, Device dev, bool wei_frozen, Tensor& Wex, Tensor& Wix,
                        Tensor& Wei, Tensor& bias) const {
  Wex = param(w.Wex, {w.ne, w.n}, "Wex", Group::Wex, dev);
  Wix = param(w.Wix, {w.ni, w.n}, "Wix", Group::Wix, dev);
  Wei = param(w.Wei, {w.ne, w.ni}, "Wei", Group::Wei, dev, wei_frozen);
  bias = param(std::vector<float>(size_t(w.ne), 0.f), {w.ne, 1}, "bias", Group::Bias, dev);
}

ELayer::ELayer(std::string name, int64_t n, int64_t ne, RngStream& rng, Device dev, const ExcitatoryInit& e)
    : Layer(std::move(name)) {
  // Same log-normal Wex as the EI layer (SPEC §7); an E layer simply has no inhibition.
  DaleInit w = dale_init(n, ne, 1, rng, e);
  Wex = param(w.Wex, {ne, n}, "Wex", Group::Wex, dev);
  bias = param(std::vector<float>(size_t(ne), 0.f), {ne, 1}, "bias", Group::Bias, dev);
}

Tensor ELayer::forward(const Tensor& x, bool) { return add_bias(linear(x, Wex), bias); }

EILayer::EILayer(std::string name, int64_t n, int64_t ne, int64_t ni, RngStream& rng, Device dev,
                 const ExcitatoryInit& e)
    : Layer(std::move(name)) {
  dale_params(dale_init(n, ne, ni, rng, e), dev, false, Wex, Wix, Wei, bias);
}

Tensor EILayer::forward(const Tensor& x, bool) {
  return add_bias(sub(linear(x, Wex), linear(linear(x, Wix), Wei)), bias);
}

}  // namespace dale
