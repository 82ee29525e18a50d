// hooks.cpp — chains the extension's planner-level hooks onto PostgreSQL's.
#include "pg/hooks.hpp"

#include "pg/pg.hpp"

namespace pm::pg {

void install_executor_hooks() {
    // The ParallelMaterial planner pass registers itself here (see material_planner.cpp).
}

}  // namespace pm::pg
