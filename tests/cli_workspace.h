// The workspace of an end-to-end test of the `dale` executable: a temporary directory holding
// data/ (the small synthetic FashionMNIST), out/ (where a case points its outputs; after bad input
// it must still be empty) and logs/ (captured stdout and stderr), removed when the case ends.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/synthetic_data.h"
#include "tests/testing.h"

namespace dale::test {

struct CliWorkspace {
  TempDir tmp;
  std::string data = tmp / "data";
  int runs = 0;  // numbers each run's log files
  explicit CliWorkspace(int64_t n_train = 100, int64_t n_test = 40) {
    for (const char* d : {"data", "out", "logs"}) std::filesystem::create_directories(tmp / d);
    write_synthetic_fashion_mnist(data, n_train, n_test);
  }
  std::string operator/(const std::string& name) const { return tmp / name; }
  std::string out(const std::string& name) const { return tmp / ("out/" + name); }
  std::vector<std::string> outputs() const {  // what is in out/, top level
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(tmp.path / "out")) names.push_back(e.path().string());
    return names;
  }
};

}  // namespace dale::test
