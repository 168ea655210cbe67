// A batch cursor in device memory (see batch_cursor.h).
#include "datasets/batch_cursor.h"

#include "framework/backend.h"

namespace dale {

BatchCursor::BatchCursor(Device dev, int64_t start) : dev_(dev) {
  p_ = static_cast<int64_t*>(backend(dev).alloc_bytes(int64_t(sizeof(int64_t))));
  set(start);
}
BatchCursor::~BatchCursor() { backend(dev_).free_bytes(p_); }

void BatchCursor::set(int64_t start) { backend(dev_).bytes_from_host(int64_t(sizeof(int64_t)), &start, p_); }
void BatchCursor::advance(int64_t by) { backend(dev_).advance_cursor(p_, by); }

}  // namespace dale
