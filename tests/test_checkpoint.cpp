// Network checkpoints (SPEC §12): state() names and shapes, a safetensors round trip that restores
// a differently seeded network bit for bit (parameters, logits, gradients), and the refusals —
// missing tensor, wrong shape, a tensor of another variant — each an InputError naming the file,
// raised before anything is copied so a failed load leaves the network as it was.
#include <unistd.h>

#include <filesystem>
#include <map>

#include "framework/check.h"
#include "framework/safetensors.h"
#include "models/network.h"
#include "tests/testing.h"

using namespace dale;
using dale::test::expect_close;
namespace fs = std::filesystem;

namespace {
using dale::test::TempDir;


NetworkConfig config(const std::string& variant, uint64_t seed, int64_t width = 12) {
  NetworkConfig c;
  c.variant = variant;
  c.width = width;
  c.inputs = 20;
  c.seed = seed;
  return c;
}

std::map<std::string, std::vector<float>> values(const Network& net) {
  std::map<std::string, std::vector<float>> m;
  for (const Tensor& p : net.parameters()) m[p.name()] = p.to_vector();
  return m;
}

Tensor batch_x() { return dale::test::random_tensor({5, 20}, 31, 0.f, 1.f, false); }
Tensor batch_y() { return Tensor::from_vector({1, 7, 3, 0, 9}, {5}); }

std::vector<float> logits(Network& net) {
  NoGrad ng;
  return net.forward(batch_x(), false).to_vector();
}

// The fc0.Wex gradient of task + local loss on the fixed batch (exercises G's fixed weights too).
std::vector<float> wex_grad(Network& net) {
  for (Tensor p : net.parameters()) p.zero_grad();
  Tensor out = net.forward(batch_x(), true);
  Tensor loss = cross_entropy(out, batch_y(), 0.1f);
  if (net.local_loss().defined()) loss = add(loss, net.local_loss());
  backward(loss);
  for (const Tensor& p : net.parameters())
    if (p.name() == "fc0.Wex") return p.grad().to_vector();
  FAIL("no fc0.Wex");
  return {};
}

// Expects load_state to throw an InputError whose message holds the path and `needle`, and the
// network to be exactly as it was.
void expect_refused(Network& net, const SafetensorsFile& f, const std::string& path,
                    const std::string& needle) {
  const auto before = values(net);
  try {
    net.load_state(f, path);
    FAIL("load_state accepted a mismatched checkpoint; expected: " << needle);
  } catch (const InputError& e) {
    const std::string msg = e.what();
    CHECK_MESSAGE(msg.find(path) != std::string::npos, msg);
    CHECK_MESSAGE(msg.find(needle) != std::string::npos, msg);
  }
  CHECK_MESSAGE(values(net) == before, "a failed load changed the network");
}

}  // namespace

TEST_CASE("state(): SPEC §12 names and shapes, the values of the parameters, and metadata") {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"inorm+", {"Wex", "Wix", "Wei", "bias", "Bix", "Bei"}},
      {"inorm-sub+", {"Wex", "Wix", "Wei", "bias"}},
      {"ei-ln+", {"Wex", "Wix", "Wei", "bias"}},
      {"e-ln-", {"Wex", "bias"}}};
  const int64_t h = 12, n = 20, ni = inhibitory_units(h);
  for (const auto& [variant, hidden] : cases) {
    CAPTURE(variant);
    Network net(config(variant, 1));
    const SafetensorsFile f = net.state();
    std::map<std::string, std::vector<int64_t>> want;
    for (const std::string l : {"fc0", "fc1"}) {
      const int64_t in = l == "fc0" ? n : h;
      const std::map<std::string, std::vector<int64_t>> shapes = {
          {"Wex", {h, in}}, {"Wix", {ni, in}}, {"Wei", {h, ni}},
          {"bias", {h, 1}}, {"Bix", {h, in}},  {"Bei", {h, h}}};
      for (const std::string& p : hidden) want[l + "." + p] = shapes.at(p);
    }
    want["fc_output.Wex"] = {10, h};
    want["fc_output.Wix"] = {1, h};
    want["fc_output.Wei"] = {10, 1};
    want["fc_output.bias"] = {10, 1};
    std::map<std::string, std::vector<int64_t>> got;
    for (const NamedTensor& t : f.tensors) {
      got[t.name] = t.shape;
      int64_t numel = 1;
      for (int64_t d : t.shape) numel *= d;
      CHECK_MESSAGE(int64_t(t.data.size()) == numel, t.name);
    }
    CHECK(got == want);
    CHECK(f.tensors.size() == want.size());  // no duplicates
    for (const Tensor& p : net.parameters()) {
      const NamedTensor* t = f.find(p.name());
      REQUIRE_MESSAGE(t != nullptr, p.name());
      CHECK(t->data == p.to_vector());
    }
    CHECK(f.metadata.at("variant") == variant);
    CHECK(f.metadata.at("hidden_layer_width") == "12");
  }
}

TEST_CASE("write, read, load into a network of another seed: same parameters, logits, gradients") {
  TempDir dir;
  for (const char* variant : {"inorm+", "inorm-fa", "inorm-sub+", "ei-ln+", "e-ln+", "ei"}) {
    CAPTURE(variant);
    Network a(config(variant, 1));
    // Move a away from its initialization so no value could come from the init by chance.
    for (Tensor p : a.parameters()) {
      auto v = p.to_vector();
      for (size_t i = 0; i < v.size(); ++i) v[i] = v[i] * 1.01f + 0.001f * float(i % 7);
      p.copy_from(v);
    }
    const std::string path = dir / (std::string(variant) + ".safetensors");
    write_safetensors(path, a.state());

    Network b(config(variant, 2));
    REQUIRE(values(b) != values(a));
    REQUIRE(logits(b) != logits(a));
    b.load_state(read_safetensors(path), path);
    CHECK(values(b) == values(a));
    CHECK(logits(b) == logits(a));
    // The backward too: for inorm-fa this needs fc*.fa_w, G's fixed lateral weights.
    CHECK(wex_grad(b) == wex_grad(a));
  }
}

TEST_CASE("inorm-fa checkpoints carry the fixed lateral weights fa_w") {
  Network net(config("inorm-fa", 3));
  const SafetensorsFile f = net.state();
  for (const char* name : {"fc0.fa_w", "fc1.fa_w"}) {
    const NamedTensor* t = f.find(name);
    REQUIRE_MESSAGE(t != nullptr, name);
    CHECK(t->shape == std::vector<int64_t>{12});
    double s = 0;
    for (float v : t->data) s += v;
    CHECK(std::fabs(s - 1.0) < 1e-5);
  }
}

TEST_CASE("load_state refuses a missing tensor, naming the file and the tensor") {
  TempDir dir;
  const std::string path = dir / "missing.safetensors";
  Network src(config("inorm+", 1));
  SafetensorsFile f = src.state();
  // Drop the last tensor, so every other one would have been valid to copy.
  const std::string dropped = f.tensors.back().name;
  f.tensors.pop_back();
  write_safetensors(path, f);
  Network net(config("inorm+", 2));
  expect_refused(net, read_safetensors(path), path, "'" + dropped + "'");
  // An E/EI checkpoint into an I-Norm network misses Bix/Bei.
  Network ei(config("ei", 1));
  write_safetensors(path, ei.state());
  expect_refused(net, read_safetensors(path), path, "Bix");
}

TEST_CASE("load_state refuses a wrong shape: a width-12 checkpoint into a width-13 network") {
  TempDir dir;
  const std::string path = dir / "w12.safetensors";
  Network src(config("inorm+", 1, 12));
  write_safetensors(path, src.state());
  Network net(config("inorm+", 2, 13));
  expect_refused(net, read_safetensors(path), path, "shape");
  // A single wrong tensor, last in the file, after every valid one.
  SafetensorsFile f = Network(config("ei", 1)).state();
  NamedTensor& last = f.tensors.back();
  last.shape = {1, int64_t(last.data.size())};  // same count, transposed
  write_safetensors(path, f);
  Network ei(config("ei", 2));
  expect_refused(ei, read_safetensors(path), path, "'" + last.name + "'");
}

TEST_CASE("load_state refuses a tensor of another variant (Bix into an ei network)") {
  TempDir dir;
  const std::string path = dir / "extra.safetensors";
  Network ei_src(config("ei", 1));
  SafetensorsFile f = ei_src.state();
  Network inorm(config("inorm+", 1));
  const SafetensorsFile g = inorm.state();
  f.tensors.push_back(*g.find("fc0.Bix"));
  write_safetensors(path, f);
  Network ei(config("ei", 2));
  expect_refused(ei, read_safetensors(path), path, "'fc0.Bix'");
  // A whole inorm+ checkpoint into an ei network of the same width: every ei tensor is there
  // with the right shape, but Bix/Bei are not parameters of ei.
  write_safetensors(path, g);
  expect_refused(ei, read_safetensors(path), path, "not a parameter");
}
