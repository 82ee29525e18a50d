// shared_mapping.hpp — unit tests' shared mapping (anonymous, or of a file: what fork()ed processes
// share, as PostgreSQL's shared memory is), unpoisoned for AddressSanitizer before it is unmapped.
#pragma once

#include <sys/mman.h>
#include <cstddef>
#include <stdexcept>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace pm_test {

class Mapping {
  public:
    explicit Mapping(size_t size, int fd = -1) : size_(size) {
        void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                       MAP_SHARED | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
        if (p == MAP_FAILED)
            throw std::runtime_error("mmap failed");
        base_ = static_cast<char *>(p);
    }
    ~Mapping() {
#if defined(__SANITIZE_ADDRESS__)
        ASAN_UNPOISON_MEMORY_REGION(base_, size_);
#endif
        munmap(base_, size_);
    }
    Mapping(const Mapping &) = delete;
    Mapping &operator=(const Mapping &) = delete;
    char *base() const { return base_; }

  private:
    char *base_;
    size_t size_;
};

}  // namespace pm_test
