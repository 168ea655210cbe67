// I-Norm and I-Norm (sub) layers; see inorm_layer.h for the equations. The stop-gradients are
// what make one backward of (task loss + local losses) give each parameter exactly its own
// gradient: the task error reaches Wex, b and x only; the local loss reaches Wix, Bix (and Wei
// in the sub layer) only.
#include "models/inorm_layer.h"

#include <algorithm>

#include "framework/ops.h"
#include "models/init.h"

namespace dale {

INormLayer::INormLayer(std::string name, int64_t n, int64_t ne, ErrNorm mode_, float lambda_var_,
                       RngStream& rng, Device dev, uint64_t fa_seed, uint64_t fa_stream,
                       const ExcitatoryInit& e)
    : Layer(std::move(name)), mode(mode_), lambda_var(lambda_var_) {
  const DaleInit w = dale_init(n, ne, inhibitory_units(ne), rng, e);
  dale_params(w, dev, /*wei_frozen=*/true, Wex, Wix, Wei, bias);
  Bix = param(inorm_bix(w), {ne, n}, "Bix", Group::Bix, dev);
  Bei = param(std::vector<float>(size_t(ne * ne), 1.f / float(ne)), {ne, ne}, "Bei", Group::Bei,
              dev, /*frozen=*/true);
  ones_ = Tensor::full({1, ne}, 1.f, dev);
  if (mode == ErrNorm::FaCenter) {
    RngStream fa(fa_seed, fa_stream);
    fa_w = Tensor::from_vector(fa_weights(ne, fa), {ne}, dev);
  }
}

INormEpilogue INormLayer::epilogue(const Tensor& x) {
  const Tensor xs = stop_grad(x);
  const Tensor e = add_bias(linear(x, Wex), bias);
  const Tensor inh = linear(linear(xs, Wix), Wei);
  const Tensor sq = square(linear(xs, Bix));
  const Tensor pooled = bei_is_uniform() ? matmul(row_mean(sq), ones_) : linear(sq, Bei);
  // z, and the local loss's per-row terms, in one fused op (inorm_epilogue_unfused is its oracle).
  return inorm_epilogue(e, inh, pooled);
}

Tensor INormLayer::forward(const Tensor& x, bool training) {
  const INormEpilogue ep = epilogue(x);
  local_loss_ = training ? scale(mean(ep.terms), lambda_var) : Tensor();
  return error_normalize(ep.z, mode, fa_w);
}

bool INormLayer::bei_is_uniform() {
  if (Bei.impl()->version != bei_version_) {  // a host read, only after Bei was replaced
    const std::vector<float> v = Bei.to_vector();
    const float uniform = 1.f / float(Bei.cols());
    bei_uniform_ = std::all_of(v.begin(), v.end(), [&](float b) { return b == uniform; });
    bei_version_ = Bei.impl()->version;
  }
  return bei_uniform_;
}

INormSubLayer::INormSubLayer(std::string name, int64_t n, int64_t ne, ErrNorm mode_, float lambda_,
                             RngStream& rng, Device dev, const ExcitatoryInit& e)
    : Layer(std::move(name)), mode(mode_), lambda(lambda_) {
  // Wei is trained here, by the mean local loss.
  dale_params(dale_init(n, ne, inhibitory_units(ne), rng, e), dev, false, Wex, Wix, Wei, bias);
}

Tensor INormSubLayer::forward_z(const Tensor& x) {
  const Tensor e = add_bias(linear(x, Wex), bias);
  return sub(e, stop_grad(linear(linear(stop_grad(x), Wix), Wei)));
}

Tensor INormSubLayer::forward(const Tensor& x, bool training) {
  const Tensor e = add_bias(linear(x, Wex), bias);
  const Tensor inh = linear(linear(stop_grad(x), Wix), Wei);
  const Tensor z = sub(e, stop_grad(inh));
  local_loss_ = Tensor();
  if (training) {
    const Tensor u = sub(stop_grad(e), inh);
    local_loss_ = scale(mean(square(row_mean(u))), lambda);
  }
  return error_normalize(z, mode, Tensor());
}

}  // namespace dale
