// Profiler ranges (see trace.h).
#include "framework/trace.h"

namespace dale {

TraceHooks g_trace;
static thread_local const char* t_range = "";

const char* current_range() { return t_range; }

TraceRange::TraceRange(const char* name) : outer_(t_range) {
  t_range = name;
  if (g_trace.push) g_trace.push(name);
}
TraceRange::~TraceRange() {
  t_range = outer_;
  if (g_trace.pop) g_trace.pop();
}

}  // namespace dale
