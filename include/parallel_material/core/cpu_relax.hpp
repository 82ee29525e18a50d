// cpu_relax.hpp — the spin-wait hint shared by core's busy-wait loops.
#pragma once

namespace pm::core {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

}  // namespace pm::core
