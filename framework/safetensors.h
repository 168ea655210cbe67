// Safetensors checkpoints (SPEC §12): the interchange format shared with the PyTorch reference.
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value"}}
// then the byte buffer; offsets are relative to the buffer's start.
//
// The reader treats every file as hostile: all header numbers are checked against each other and
// against the file's real size before anything is allocated, and each failure is one
// dale::InputError line starting with the path. The writer is atomic: a crash leaves either the
// old checkpoint or the new one, never half of one.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dale {

// One tensor, row-major, held as float32 whatever its dtype on disk.
struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;  // empty = a scalar (one value)
  std::vector<float> data;     // product(shape) values
};

struct SafetensorsFile {
  std::vector<NamedTensor> tensors;  // in header order (the writer's order)
  std::map<std::string, std::string> metadata;

  // The tensor called `name`, or nullptr.
  const NamedTensor* find(const std::string& name) const;
};

// Reads F32 tensors, and I32/I64 tensors (labels) converted to float; throws InputError otherwise.
SafetensorsFile read_safetensors(const std::string& path);

// Writes F32 tensors in the given order, the buffer 8-byte aligned; replaces `path` atomically.
void write_safetensors(const std::string& path, const SafetensorsFile& file);

}  // namespace dale
