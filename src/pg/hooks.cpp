// hooks.cpp — chains the extension's planner-level hooks onto PostgreSQL's.
#include "pg/hooks.hpp"

#include "pg/arrangement/arrangement.hpp"
#include "pg/arrangement/arrangement_join.hpp"
#include "pg/material/material_node.hpp"

namespace pm::pg {

void install_executor_hooks() {
    register_material_methods();
    install_material_planner();
    install_material_paths();
    arr::register_join_methods();
    arr::install_join_hook();
    arr::define_build_gucs();
}

}  // namespace pm::pg
