// Tensor: a float32 array of rank ≤ 3 on one device, with the autodiff bookkeeping the tape needs.
// A Tensor is a shared handle (copying it shares storage); storage is owned by the device's
// backend, which allocates and frees it. Ops treat a tensor as a matrix: rows = product of all
// dimensions but the last, cols = the last. A rank-3 tensor [K, rows, cols] is a stack of K
// models' matrices (an ensemble trained in lock step): matmul multiplies stack by stack, add_bias
// adds each model its own bias, mean and cross_entropy reduce each model on its own.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dale {

enum class Device : uint8_t { CPU, CUDA };
const char* device_name(Device d);

// Parameter groups of SPEC §8; the optimizer picks rate, momentum, clamping and decay by group.
enum class Group : uint8_t { None, Wex, Wix, Wei, Bix, Bei, Bias };
const char* group_name(Group g);

struct Shape {
  int64_t d[3] = {0, 0, 0};
  int rank = 0;
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  int64_t numel() const;
  int64_t cols() const { return rank == 0 ? 1 : d[rank - 1]; }
  int64_t rows() const { return cols() == 0 ? 0 : numel() / cols(); }
  int64_t stack() const { return rank == 3 ? d[0] : 1; }  // K of a model stack, else 1
  bool operator==(const Shape& o) const;
  std::string str() const;  // "[32, 784]"
};

// Device memory that frees itself through its backend; counts bytes per device.
struct Storage {
  float* ptr = nullptr;
  int64_t n = 0;
  Device dev = Device::CPU;
  Storage(int64_t n, Device dev);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};
int64_t bytes_allocated(Device d);

struct TensorImpl {
  Shape shape;
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;            // in floats, for views that share storage
  bool requires_grad = false;    // a leaf parameter, or an op output that depends on one
  std::shared_ptr<TensorImpl> grad;  // same shape; allocated (zeroed) on first accumulation
  uint64_t tape_generation = 0;  // which tape pass produced it (0 = leaf)
  Group group = Group::None;
  bool frozen = false;           // a parameter the optimizer never updates
  std::string name;              // "fc0.Wex" for parameters
  uint64_t version = 0;          // bumped by copy_from, so facts cached about the values refresh
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : p_(std::move(impl)) {}

  static Tensor empty(Shape s, Device dev = Device::CPU);
  static Tensor zeros(Shape s, Device dev = Device::CPU);
  static Tensor full(Shape s, float value, Device dev = Device::CPU);
  static Tensor from_vector(const std::vector<float>& v, Shape s, Device dev = Device::CPU);

  bool defined() const { return p_ != nullptr; }
  const Shape& shape() const { return p_->shape; }
  int64_t rows() const { return p_->shape.rows(); }
  int64_t cols() const { return p_->shape.cols(); }
  int64_t numel() const { return p_->shape.numel(); }
  Device device() const { return p_->storage->dev; }
  float* data() const { return p_->storage->ptr + p_->offset; }

  bool requires_grad() const { return p_->requires_grad; }
  Tensor& set_requires_grad(bool on);
  Tensor grad() const { return Tensor(p_->grad); }  // undefined until a backward reached it
  void zero_grad() { p_->grad.reset(); }
  // The gradient buffer, created zero-filled on first use (what backward closures accumulate into).
  Tensor grad_for_accumulation() const;

  Group group() const { return p_->group; }
  const std::string& name() const { return p_->name; }
  bool frozen() const { return p_->frozen; }
  Tensor& as_parameter(std::string name, Group g, bool frozen = false);

  std::vector<float> to_vector() const;  // host copy
  float item() const;                    // the single element of a one-element tensor
  void copy_from(const std::vector<float>& v);
  void copy_from(const Tensor& src);     // same numel, any devices
  Tensor to(Device dev) const;
  Tensor clone() const;                  // a new leaf holding a copy of the values
  // Same storage, same shape, no autodiff history: the stop-gradient sg(·) of SPEC.md.
  Tensor detach() const;

  TensorImpl* impl() const { return p_.get(); }
  const std::shared_ptr<TensorImpl>& shared() const { return p_; }

 private:
  std::shared_ptr<TensorImpl> p_;
};

}  // namespace dale
