// Profiler ranges: DALE_RANGE("name") opens a range over the rest of its scope. The CUDA backend
// installs NVTX push/pop hooks, so Nsight Systems shows dale's structure (forward, each layer and
// op, backward with each op's backward, optimizer); without hooks a range costs two branches.
// The innermost open range also names the tape node an op records, so an op's backward runs
// inside a range of the same name.
#pragma once

namespace dale {

struct TraceHooks {
  void (*push)(const char* name) = nullptr;
  void (*pop)() = nullptr;
};
extern TraceHooks g_trace;

// The innermost open range on this thread ("" outside any).
const char* current_range();

class TraceRange {
 public:
  explicit TraceRange(const char* name);
  ~TraceRange();
  TraceRange(const TraceRange&) = delete;
  TraceRange& operator=(const TraceRange&) = delete;

 private:
  const char* outer_;
};

}  // namespace dale

#define DALE_RANGE_CAT2(a, b) a##b
#define DALE_RANGE_CAT(a, b) DALE_RANGE_CAT2(a, b)
#define DALE_RANGE(name) ::dale::TraceRange DALE_RANGE_CAT(dale_range_, __LINE__)(name)
