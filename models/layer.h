// The interface every layer of SPEC §2 implements. A layer owns its parameters (named as in
// SPEC §12, e.g. "fc0.Wex") and computes z from its input; layers with inhibitory plasticity
// also produce their local loss (SPEC §3) during training.
#pragma once
#include <string>
#include <vector>

#include "framework/tensor.h"
#include "models/init.h"

namespace dale {

class Layer {
 public:
  virtual ~Layer() = default;
  // z for input x (rows = samples). With `training`, layers with a local loss compute it too.
  virtual Tensor forward(const Tensor& x, bool training) = 0;
  // The value forward emits, before the error-normalization G of I-Norm layers (SPEC §4; G's
  // forward is the identity, so the values are equal): z with the layer's own stop-gradients,
  // the reference the study's alignment diagnostics normalize. E/EI layers have no G.
  virtual Tensor forward_z(const Tensor& x) { return forward(x, false); }
  // Every parameter, frozen ones included (they are part of the checkpoint).
  virtual std::vector<Tensor> parameters() const = 0;
  // The local inhibitory loss of the last training forward (λ included); undefined if none.
  const Tensor& local_loss() const { return local_loss_; }
  const std::string& name() const { return name_; }

 protected:
  explicit Layer(std::string name) : name_(std::move(name)) {}
  Tensor param(const std::vector<float>& v, Shape s, const char* what, Group g, Device dev,
               bool frozen = false) const;
  // The four parameters every E/I layer shares (SPEC §7 weights, zero bias), named and grouped.
  void dale_params(const DaleInit& w, Device dev, bool wei_frozen, Tensor& Wex, Tensor& Wix,
                   Tensor& Wei, Tensor& bias) const;
  std::string name_;
  Tensor local_loss_;
};

}  // namespace dale
