// A Dataset on the training device: the uint8 images and labels are copied there once, and every
// batch is gathered, jittered and converted to float there by the backend's gather_batch (on CUDA
// one kernel per batch, no host copy inside a step). The sample order of an epoch is uploaded
// once per epoch. On the CPU the same code runs the reference kernel.
#pragma once
#include <memory>
#include <vector>

#include "datasets/batch_cursor.h"
#include "datasets/fashion_mnist.h"
#include "datasets/jitter.h"
#include "framework/backend.h"
#include "framework/tensor.h"

namespace dale {

// Raw bytes on a device, freed through its backend.
class DeviceBytes {
 public:
  DeviceBytes(int64_t bytes, const void* host, Device dev);
  ~DeviceBytes();
  DeviceBytes(const DeviceBytes&) = delete;
  DeviceBytes& operator=(const DeviceBytes&) = delete;
  template <typename T>
  const T* as() const { return static_cast<const T*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  Device dev_;
};

struct Batch {
  Tensor x, y;  // B × dim pixels in [0, 1]; B labels as floats
};

class DeviceDataset {
 public:
  DeviceDataset(const Dataset& d, Device dev);
  int64_t size() const { return n_; }
  int64_t dim() const { return dim_; }

  // An order of sample indices (each checked < size()), on the device; identity() is 0..n−1.
  std::shared_ptr<const DeviceBytes> upload_order(const std::vector<int64_t>& order) const;
  const std::shared_ptr<const DeviceBytes>& identity() const { return identity_; }

  // The samples order[start, start + B): δ per image from `j` (datasets/jitter.h).
  Batch batch(const DeviceBytes& order, int64_t start, int64_t B, const JitterSpec& j, uint64_t seed,
              uint32_t epoch) const;
  // The same batch at start = the cursor's position, read on the device, then the cursor moves
  // on by B: the form a captured training step uses (datasets/batch_cursor.h). The caller keeps
  // position + B within the order (the device cannot check it without a host read).
  Batch next_batch(const DeviceBytes& order, BatchCursor& cursor, int64_t B, const JitterSpec& j, uint64_t seed,
                   uint32_t epoch) const;
  // next_batch written into x (B × dim floats) and y (B) that the caller owns: one model's slice
  // of an ensemble's stacked batch, so the stack is gathered in place, not copied together.
  void next_batch_into(const DeviceBytes& order, BatchCursor& cursor, int64_t B, const JitterSpec& j, uint64_t seed,
                       uint32_t epoch, float* x, float* y) const;

 private:
  // B samples from order[(*start or 0) + i] into x and y.
  void gather(const int64_t* order, const int64_t* start, int64_t B, const JitterSpec& j, uint64_t seed,
              uint32_t epoch, float* x, float* y) const;

  int64_t n_, dim_;
  Device dev_;
  std::unique_ptr<DeviceBytes> images_, labels_;
  std::shared_ptr<const DeviceBytes> identity_;
};

}  // namespace dale
