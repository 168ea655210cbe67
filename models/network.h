// The study's network (SPEC §6): 784 → h → … → h → 10. L hidden layers fc0 … fc{L−1} (L = 2 in
// the study's figures) of the variant's kind, each followed by the variant's explicit
// normalization (if any) and a ReLU; the output layer fc_output is an EI layer with ne = 10,
// ni = 1 and no normalization. (The study's code spells L = 2 as num_layers=1: it counts the
// hidden layers after fc0.)
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "framework/safetensors.h"
#include "models/ei_layer.h"
#include "models/variants.h"

namespace dale {

struct NetworkConfig {
  std::string variant = "inorm+";
  int64_t width = 0;  // 0: the variant's default (500 E/EI, 234 I-Norm)
  int64_t num_layers = 2;  // hidden layers L
  int64_t inputs = 784, classes = 10;
  float lambda_homeo = 0.01f, lambda_homeo_var = 0.01f;  // λ (I-Norm sub), λ_var (I-Norm)
  // The hidden layers' excitatory initialization (models/init.h ExcitatoryInit): rank 0 is
  // SPEC §7's full-rank draw; gain scales Wex. The output layer keeps SPEC §7's.
  int64_t init_rank = 0;
  float init_gain = 1.f;
  uint64_t seed = 0;
  Device device = Device::CPU;
};

class Network {
 public:
  explicit Network(const NetworkConfig& cfg);
  // Logits for a batch x (rows × inputs). `training` computes the layers' local losses.
  Tensor forward(const Tensor& x, bool training);
  // Hidden layer l alone: its z (layer, then the variant's explicit normalization), before ReLU.
  Tensor hidden_forward(size_t l, const Tensor& h, bool training);
  // The variant's explicit normalization (SPEC §5) of a hidden layer's output; identity if none.
  Tensor explicit_norm(const Tensor& z) const;
  // Σ of the hidden layers' local losses from the last training forward; undefined if none.
  Tensor local_loss() const;
  std::vector<Tensor> local_losses() const;  // per hidden layer (undefined entries when none)
  std::vector<Tensor> parameters() const;
  // z of each hidden layer in the last forward: the value that goes into the ReLU.
  const std::vector<Tensor>& hidden_z() const { return hidden_z_; }
  const std::vector<std::unique_ptr<Layer>>& hidden() const { return hidden_; }
  Layer& output() { return *output_; }

  // Checkpoint I/O (SPEC §12 names). Loading checks every name and shape against this network.
  SafetensorsFile state() const;
  void load_state(const SafetensorsFile& f, const std::string& path);

  const Variant& variant;
  const NetworkConfig config;
  const int64_t width;

 private:
  std::vector<std::unique_ptr<Layer>> hidden_;
  std::unique_ptr<EILayer> output_;
  std::vector<Tensor> hidden_z_;
};

}  // namespace dale
