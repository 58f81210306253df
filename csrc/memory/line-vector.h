// Vectors whose storage starts on a 64-byte cache line, for data the kernels read as whole vectors
// (weight panels, per-channel scales, biases and start values, correction rows, requantization and
// depthwise tables). From malloc's 16-byte alignment every AVX-512 load of them split two lines.
#pragma once
#include <cstddef>
#include <new>
#include <vector>

namespace bitconv {

template <class T>
struct LineAllocator {
  using value_type = T;
  LineAllocator() = default;
  template <class U>
  LineAllocator(const LineAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(64)); }
  template <class U>
  bool operator==(const LineAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const LineAllocator<U>&) const { return false; }
};

template <class T>
using LineVector = std::vector<T, LineAllocator<T>>;

}  // namespace bitconv
