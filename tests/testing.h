// Test helpers: the one tolerance rule, deterministic random data, and the finite-difference
// gradient check every tape op goes through.
//
// Tolerance rule (written once): per element |a − b| ≤ atol + rtol·|ref|. A failure prints the
// first few offending pairs and the worst one. Whole tensors: rel_error = ‖a − b‖ / ‖b‖.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <functional>
#include <string>
#include <vector>

#include "framework/ops.h"
#include "framework/tape.h"

namespace dale::test {

inline void expect_close(const std::vector<float>& got, const std::vector<float>& ref,
                         double atol, double rtol, const std::string& what) {
  REQUIRE_MESSAGE(got.size() == ref.size(), what << ": " << got.size() << " vs " << ref.size()
                                                 << " elements");
  int bad = 0;
  size_t worst = 0;
  double worst_excess = -1;
  std::string report;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(double(got[i]) - double(ref[i]));
    const double lim = atol + rtol * std::fabs(double(ref[i]));
    const bool ok = d <= lim && std::isfinite(got[i]) == std::isfinite(ref[i]);
    if (!ok) {
      if (bad < 5) report += " [" + std::to_string(i) + "] got " + std::to_string(got[i]) +
                             " want " + std::to_string(ref[i]) + ";";
      ++bad;
      if (d - lim > worst_excess || !std::isfinite(d)) worst_excess = d - lim, worst = i;
    }
  }
  if (bad)
    FAIL_CHECK(what << ": " << bad << " of " << got.size() << " elements off:" << report
                    << " worst at [" << worst << "] got " << got[worst] << " want "
                    << ref[worst]);
  else
    CHECK(true);
}

inline double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

// Deterministic uniform values in [lo, hi) (a 64-bit LCG: the same on every platform).
inline std::vector<float> random_vector(int64_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  std::vector<float> v(static_cast<size_t>(n));
  uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (auto& x : v) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    x = lo + (hi - lo) * float(double(s >> 40) / double(1ULL << 24));
  }
  return v;
}

inline Tensor random_tensor(Shape s, uint64_t seed, float lo = -1.f, float hi = 1.f,
                            bool requires_grad = true) {
  Tensor t = Tensor::from_vector(random_vector(s.numel(), seed, lo, hi), s);
  t.set_requires_grad(requires_grad);
  return t;
}

// Central finite differences of L = Σ_i out_i · R_i (accumulated in double on the host, so the
// only float32 rounding is the op's own) against the tape's gradient for every input that
// requires one. Checks up to `max_elems` elements per input, spread over the tensor.
inline void gradcheck(const std::string& name, const std::function<Tensor(std::vector<Tensor>&)>& f,
                      std::vector<Tensor> inputs, double h = 1e-2, double atol = 2e-3,
                      double rtol = 1e-2, int64_t max_elems = 97) {
  for (auto& t : inputs) t.zero_grad();
  Tensor out = f(inputs);
  const auto R = random_vector(out.numel(), 7777, -1.f, 1.f);
  Tensor Rt = Tensor::from_vector(R, out.shape());
  backward(sum(mul(out, Rt)));

  auto loss = [&]() {
    NoGrad ng;
    const auto o = f(inputs).to_vector();
    double L = 0;
    for (size_t i = 0; i < o.size(); ++i) L += double(o[i]) * R[i];
    return L;
  };
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    REQUIRE_MESSAGE(x.grad().defined(), name << ": input " << k << " received no gradient");
    const auto analytic = x.grad().to_vector();
    auto values = x.to_vector();
    const int64_t n = x.numel(), stride = std::max<int64_t>(1, n / max_elems);
    std::vector<float> got, want;
    for (int64_t i = 0; i < n; i += stride) {
      const float orig = values[i];
      values[i] = orig + float(h);
      x.copy_from(values);
      const double lp = loss();
      values[i] = orig - float(h);
      x.copy_from(values);
      const double lm = loss();
      values[i] = orig;
      x.copy_from(values);
      // the step actually taken in float32, not the nominal h
      const double step = double(orig + float(h)) - double(orig - float(h));
      want.push_back(float((lp - lm) / step));
      got.push_back(analytic[i]);
    }
    expect_close(got, want, atol, rtol, name + " d/dinput" + std::to_string(k));
  }
}

// A fresh directory for one test, removed with everything in it when the test ends.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dale-test-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  std::string str() const { return path.string(); }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

// Whole files as text, for the end-to-end tests of the dale executable.
inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  REQUIRE(f.good());
}
// `s` as one word for /bin/sh (std::system): single quotes, with ' written as '\''.
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// One run of a shell command line (its words quoted by the caller, e.g. with shell_quote): the exit
// status (−1 if it did not exit normally) and what it printed, stdout and stderr captured in
// `<log_stem>.out` and `<log_stem>.err`, standard input closed.
struct CommandResult {
  int rc = -1;
  std::string out, err;
  std::vector<std::string> err_lines;
};
inline CommandResult run_captured(const std::string& cmd, const std::string& log_stem) {
  const std::string o = log_stem + ".out", e = log_stem + ".err";
  const int status = std::system((cmd + " >" + shell_quote(o) + " 2>" + shell_quote(e) + " </dev/null").c_str());
  CommandResult r;
  r.rc = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(o);
  r.err = read_text(e);
  std::stringstream ss(r.err);
  for (std::string l; std::getline(ss, l);) r.err_lines.push_back(l);
  return r;
}

}  // namespace dale::test
