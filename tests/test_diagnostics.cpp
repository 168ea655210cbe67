// The study's per-layer measurements (models/diagnostics.h) against values computed
// independently in float64 PyTorch from the study's definitions (tools/make_diagnostics_fixtures.py
// → tests/fixtures/diagnostics/<variant>.safetensors): random weights far from a layer-normalizing
// state, two hidden layers, a batch of 32. Every cosine, moment, eigenvalue and local-loss
// distance of every layer must match, so a wrong reference (LN of the excitatory drive rather
// than of the layer's output, an evaluation batch, a sample variance) cannot pass.
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "framework/safetensors.h"
#include "models/diagnostics.h"
#include "tests/testing.h"

using namespace dale;

namespace {

struct Fixture {
  Network net;
  Tensor x, y;
  nlohmann::json expected;
};

NetworkConfig config_of(const SafetensorsFile& f) {
  NetworkConfig c;
  c.variant = f.metadata.at("variant");
  c.width = std::stoll(f.metadata.at("width"));
  c.inputs = std::stoll(f.metadata.at("inputs"));
  c.num_layers = std::stoll(f.metadata.at("num_layers"));
  return c;
}

Fixture load(const std::string& variant) {
  const std::string path = std::string(DALE_TEST_DATA) + "/fixtures/diagnostics/" + variant + ".safetensors";
  const SafetensorsFile f = read_safetensors(path);
  SafetensorsFile params;
  Fixture fx{Network(config_of(f)), {}, {}, nlohmann::json::parse(f.metadata.at("expected"))};
  for (const NamedTensor& t : f.tensors) {
    if (t.name == "x") fx.x = Tensor::from_vector(t.data, {t.shape[0], t.shape[1]});
    else if (t.name == "y") fx.y = Tensor::from_vector(t.data, {t.shape[0]});
    else params.tensors.push_back(t);
  }
  fx.net.load_state(params, path);
  return fx;
}

// |got − want| ≤ atol + rtol·|want| per layer; NaN expected where the fixture holds null.
void check_layers(const std::vector<double>& got, const nlohmann::json& want, double atol, double rtol,
                  const std::string& what) {
  REQUIRE_MESSAGE(got.size() == want.size(), what);
  for (size_t l = 0; l < got.size(); ++l) {
    if (want[l].is_null()) {
      CHECK_MESSAGE(std::isnan(got[l]), what << " fc" << l << ": expected NaN, got " << got[l]);
      continue;
    }
    const double w = want[l].get<double>();
    CHECK_MESSAGE(std::fabs(got[l] - w) <= atol + rtol * std::fabs(w),
                  what << " fc" << l << ": got " << got[l] << ", want " << w);
  }
}

}  // namespace

TEST_CASE("diagnostics: every measurement of every layer equals the independent reference") {
  for (const std::string variant : {"ei", "ei-ln+", "e-ln+", "inorm-", "inorm+", "inorm-scale", "inorm-fa", "inorm-sub+"}) {
    CAPTURE(variant);
    Fixture fx = load(variant);
    const Diagnostics d = diagnose(fx.net, fx.x, fx.y);
    const nlohmann::json& e = fx.expected;
    // float32 against float64: sums over ≤ 30 × 24 products; cosines and moments are O(1).
    check_layers(d.mu, e["mu"], 1e-5, 1e-5, variant + " mu");
    check_layers(d.var, e["var"], 1e-5, 1e-5, variant + " var");
    check_layers(d.out_cos, e["out_cos"], 1e-5, 0, variant + " out_cos");
    check_layers(d.grad_cos, e["grad_cos"], 1e-5, 0, variant + " grad_cos");
    // The error carries 1/B per row: eigenvalues are ~1e-4; compare relatively.
    check_layers(d.err_eig, e["err_eig"], 1e-10, 1e-4, variant + " err_eig");
    check_layers(d.local_ln_mse, e["local_ln_mse"], 1e-6, 1e-4, variant + " local_ln_mse");
  }
}

TEST_CASE("diagnostics: the references differ where the study's definitions say they should") {
  // Guards the fixture itself: at these weights the I-Norm layer's z is far from LN(e) (so a
  // reference built on e would be caught), and inorm-fa's gradient reference (centering) is not
  // LN's.
  Fixture fx = load("inorm-");
  const auto& e = fx.expected;
  CHECK(e["out_cos"][0].get<double>() < 0.99);
  Fixture fa = load("inorm-fa");
  CHECK(fa.expected["grad_cos"][0].get<double>() > 0.9);  // centering vs fa_center: close
  Fixture plus = load("inorm+");
  CHECK(std::fabs(plus.expected["grad_cos"][0].get<double>()) < 0.9);
}

TEST_CASE("diagnostics: the largest covariance eigenvalue by hand") {
  // g = [[1, 0], [−1, 0], [0, 2], [0, −2]]: column means 0; cov = gᵀg/3 = diag(2/3, 8/3).
  const std::vector<float> g = {1, 0, -1, 0, 0, 2, 0, -2};
  CHECK(largest_covariance_eigenvalue(g, 4, 2) == doctest::Approx(8.0 / 3.0).epsilon(1e-12));
  // A constant error has no variance.
  CHECK(largest_covariance_eigenvalue({3, 3, 3, 3, 3, 3}, 3, 2) == doctest::Approx(0.0));
}
