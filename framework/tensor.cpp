// Tensor storage, construction and host transfer.
#include "framework/tensor.h"

#include <atomic>

#include "framework/backend.h"
#include "framework/check.h"

namespace dale {

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

const char* group_name(Group g) {
  switch (g) {
    case Group::None: return "none";
    case Group::Wex: return "wex";
    case Group::Wix: return "wix";
    case Group::Wei: return "wei";
    case Group::Bix: return "bix";
    case Group::Bei: return "bei";
    case Group::Bias: return "bias";
  }
  return "?";
}

Shape::Shape(std::initializer_list<int64_t> dims) {
  DALE_CHECK(dims.size() <= 3, "tensors have rank ≤ 3, got rank {}", dims.size());
  for (int64_t v : dims) {
    DALE_CHECK(v >= 0, "negative dimension {}", v);
    d[rank++] = v;
  }
}
int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) n *= d[i];
  return n;
}
bool Shape::operator==(const Shape& o) const {
  if (rank != o.rank) return false;
  for (int i = 0; i < rank; ++i)
    if (d[i] != o.d[i]) return false;
  return true;
}
std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank; ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

static std::atomic<int64_t> g_bytes[2];
int64_t bytes_allocated(Device d) { return g_bytes[int(d)].load(); }

Storage::Storage(int64_t n_, Device dev_) : n(n_), dev(dev_) {
  ptr = backend(dev).alloc(n);
  g_bytes[int(dev)] += n * int64_t(sizeof(float));
}
Storage::~Storage() {
  backend(dev).free(ptr);
  g_bytes[int(dev)] -= n * int64_t(sizeof(float));
}

Tensor Tensor::empty(Shape s, Device dev) {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = s;
  impl->storage = std::make_shared<Storage>(s.numel(), dev);
  return Tensor(impl);
}
Tensor Tensor::full(Shape s, float value, Device dev) {
  Tensor t = empty(s, dev);
  backend(dev).fill(t.numel(), value, t.data());
  return t;
}
Tensor Tensor::zeros(Shape s, Device dev) { return full(s, 0.f, dev); }
Tensor Tensor::from_vector(const std::vector<float>& v, Shape s, Device dev) {
  Tensor t = empty(s, dev);
  t.copy_from(v);
  return t;
}

Tensor& Tensor::set_requires_grad(bool on) {
  p_->requires_grad = on;
  return *this;
}
Tensor& Tensor::as_parameter(std::string name, Group g, bool frozen) {
  p_->name = std::move(name);
  p_->group = g;
  p_->frozen = frozen;
  p_->requires_grad = !frozen;  // a frozen parameter costs no gradient computation
  return *this;
}

Tensor Tensor::grad_for_accumulation() const {
  if (!p_->grad) p_->grad = zeros(shape(), device()).shared();
  return Tensor(p_->grad);
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> v(static_cast<size_t>(numel()));
  backend(device()).to_host(numel(), data(), v.data());
  return v;
}
float Tensor::item() const {
  DALE_CHECK(numel() == 1, "item() of a tensor of shape {}: it needs exactly one element",
             shape().str());
  return to_vector()[0];
}
void Tensor::copy_from(const std::vector<float>& v) {
  DALE_CHECK(int64_t(v.size()) == numel(), "copy_from: {} values into a tensor of shape {}",
             v.size(), shape().str());
  backend(device()).from_host(numel(), v.data(), data());
  ++p_->version;
}
void Tensor::copy_from(const Tensor& src) {
  DALE_CHECK(src.numel() == numel(), "copy_from: shape {} into shape {}", src.shape().str(),
             shape().str());
  if (src.device() != device()) return copy_from(src.to_vector());
  backend(device()).copy(numel(), src.data(), data());
  ++p_->version;
}
Tensor Tensor::to(Device dev) const {
  Tensor t = empty(shape(), dev);
  t.copy_from(*this);
  return t;
}
Tensor Tensor::clone() const { return to(device()); }

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = p_->shape;
  impl->storage = p_->storage;
  impl->offset = p_->offset;
  return Tensor(impl);
}

}  // namespace dale
