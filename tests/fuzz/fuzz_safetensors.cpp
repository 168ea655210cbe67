// libFuzzer target: the safetensors reader (framework/safetensors.h) on hostile files.
//
// Each input is written to a scratch file and read; dale::InputError is the only acceptable
// failure. Whatever reads successfully must survive a round trip: write_safetensors, then
// read_safetensors, gives the same names, shapes, metadata and bit-identical values (integer
// tensors come back as the F32 they were converted to).
// Usage: tools/fuzz [SECONDS] safetensors
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "framework/check.h"
#include "framework/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

using dale::fuzz::property_failed;

namespace {

const std::string& input_path() {
  static const std::string p = dale::fuzz::scratch_path("safetensors");
  return p;
}
const std::string& roundtrip_path() {
  static const std::string p = dale::fuzz::scratch_path("rt.safetensors");
  return p;
}

bool same(const dale::SafetensorsFile& a, const dale::SafetensorsFile& b) {
  if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const dale::NamedTensor &x = a.tensors[i], &y = b.tensors[i];
    if (x.name != y.name || x.shape != y.shape || x.data.size() != y.data.size()) return false;
    if (!x.data.empty() && std::memcmp(x.data.data(), y.data.data(), x.data.size() * sizeof(float)))
      return false;  // bitwise: NaN payloads and -0 must survive too
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dale::fuzz::write_file(input_path(), data, size);
  std::optional<dale::SafetensorsFile> file;
  try {
    file = dale::read_safetensors(input_path());
  } catch (const dale::InputError&) {
    return 0;
  }
  for (const dale::NamedTensor& t : file->tensors) {
    size_t numel = 1;
    for (int64_t d : t.shape) numel *= size_t(d);
    if (t.data.size() != numel) property_failed("read_safetensors: data size != product(shape)");
    if (file->find(t.name) != &t) property_failed("read_safetensors: find() misses a tensor");
  }
  // A file that was read must be writable (no InputError allowed here) and read back the same.
  dale::write_safetensors(roundtrip_path(), *file);
  if (!same(dale::read_safetensors(roundtrip_path()), *file))
    property_failed("write_safetensors then read_safetensors gives different tensors");
  return 0;
}
