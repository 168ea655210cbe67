// A Dataset on the training device (see device_dataset.h).
#include "datasets/device_dataset.h"

#include <numeric>

#include "framework/check.h"

namespace dale {

DeviceBytes::DeviceBytes(int64_t bytes, const void* host, Device dev) : dev_(dev) {
  const Backend& be = backend(dev);
  ptr_ = be.alloc_bytes(bytes);
  be.bytes_from_host(bytes, host, ptr_);
}
DeviceBytes::~DeviceBytes() { backend(dev_).free_bytes(ptr_); }

DeviceDataset::DeviceDataset(const Dataset& d, Device dev) : n_(d.n), dim_(d.dim), dev_(dev) {
  DALE_CHECK(int64_t(d.images.size()) == d.n * d.dim && int64_t(d.labels.size()) == d.n,
             "DeviceDataset: {} images of {} pixels, but {} pixel bytes and {} labels", d.n, d.dim,
             d.images.size(), d.labels.size());
  images_ = std::make_unique<DeviceBytes>(int64_t(d.images.size()), d.images.data(), dev);
  labels_ = std::make_unique<DeviceBytes>(int64_t(d.labels.size()), d.labels.data(), dev);
  std::vector<int64_t> id(static_cast<size_t>(d.n));
  std::iota(id.begin(), id.end(), int64_t(0));
  identity_ = upload_order(id);
}

std::shared_ptr<const DeviceBytes> DeviceDataset::upload_order(const std::vector<int64_t>& order) const {
  for (size_t i = 0; i < order.size(); ++i)
    DALE_CHECK(order[i] >= 0 && order[i] < n_, "sample order: index {} at {} is outside the dataset of {}",
               order[i], i, n_);
  return std::make_shared<const DeviceBytes>(int64_t(order.size() * sizeof(int64_t)), order.data(), dev_);
}

Batch DeviceDataset::batch(const DeviceBytes& order, int64_t start, int64_t B, const JitterSpec& j, uint64_t seed,
                           uint32_t epoch) const {
  Batch b{Tensor::empty({B, dim_}, dev_), Tensor::empty({B}, dev_)};
  gather(order.as<int64_t>() + start, nullptr, B, j, seed, epoch, b.x.data(), b.y.data());
  return b;
}

Batch DeviceDataset::next_batch(const DeviceBytes& order, BatchCursor& cursor, int64_t B, const JitterSpec& j,
                                uint64_t seed, uint32_t epoch) const {
  Batch b{Tensor::empty({B, dim_}, dev_), Tensor::empty({B}, dev_)};
  next_batch_into(order, cursor, B, j, seed, epoch, b.x.data(), b.y.data());
  return b;
}

void DeviceDataset::next_batch_into(const DeviceBytes& order, BatchCursor& cursor, int64_t B, const JitterSpec& j,
                                    uint64_t seed, uint32_t epoch, float* x, float* y) const {
  DALE_CHECK(cursor.device() == dev_, "next_batch: a {} cursor for a {} dataset", device_name(cursor.device()),
             device_name(dev_));
  gather(order.as<int64_t>(), cursor.position(), B, j, seed, epoch, x, y);
  cursor.advance(B);
}

void DeviceDataset::gather(const int64_t* order, const int64_t* start, int64_t B, const JitterSpec& j, uint64_t seed,
                           uint32_t epoch, float* x, float* y) const {
  const BatchJitter bj{j.eps, j.shift, j.fixed, seed, epoch};
  backend(dev_).gather_batch(B, dim_, images_->as<uint8_t>(), labels_->as<uint8_t>(), order, start, bj, x, y);
}

}  // namespace dale
