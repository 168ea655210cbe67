// The position of the next batch in an epoch's sample order, kept in device memory. A captured
// training step (framework/step_graph.h) replays its kernels with frozen arguments, so a batch
// start passed from the host would fetch the same batch on every replay; the gather reads this
// cursor instead and a kernel queued after it moves the cursor on, so each replay fetches the
// next batch. On the CPU the "device" int64 is host memory and the same code runs.
#pragma once
#include <cstdint>

#include "framework/tensor.h"

namespace dale {

class BatchCursor {
 public:
  explicit BatchCursor(Device dev, int64_t start = 0);
  ~BatchCursor();
  BatchCursor(const BatchCursor&) = delete;
  BatchCursor& operator=(const BatchCursor&) = delete;

  // A host write that waits for the copy: call it between steps (at an epoch's start), never
  // inside a captured step.
  void set(int64_t start);
  // Queues position += by on the device, after everything queued before (the gather).
  void advance(int64_t by);
  const int64_t* position() const { return p_; }  // device pointer
  Device device() const { return dev_; }

 private:
  int64_t* p_ = nullptr;
  Device dev_;
};

}  // namespace dale
