// hooks.hpp — installs the planner and path hooks (ParallelMaterial and later features).
#pragma once

namespace pm::pg {
void install_executor_hooks();
}
