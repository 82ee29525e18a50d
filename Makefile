# Makefile — PGXS build of the parallel_material extension (C++17 over PostgreSQL 15).
# `make` builds parallel_material.so, `make install` installs it with its control and SQL files.
# PG_CONFIG may be overridden: make PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config

PG_CONFIG ?= pg_config
PG_REQUIRED_MAJOR := 15

PG_CONFIG_PATH := $(shell command -v $(PG_CONFIG) 2>/dev/null)
ifeq ($(PG_CONFIG_PATH),)
$(error pg_config not found ($(PG_CONFIG)): run tools/deps as root, or set PG_CONFIG=/path/to/pg_config of PostgreSQL $(PG_REQUIRED_MAJOR))
endif
PG_MAJOR := $(shell $(PG_CONFIG) --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
ifneq ($(PG_MAJOR),$(PG_REQUIRED_MAJOR))
$(error $(PG_CONFIG) is PostgreSQL $(PG_MAJOR), this extension needs $(PG_REQUIRED_MAJOR): set PG_CONFIG=/usr/lib/postgresql/$(PG_REQUIRED_MAJOR)/bin/pg_config)
endif
ifeq ($(wildcard $(shell $(PG_CONFIG) --includedir-server)/postgres.h),)
$(error PostgreSQL $(PG_MAJOR) server headers are missing: run tools/deps as root (installs postgresql-server-dev-$(PG_REQUIRED_MAJOR)))
endif

EXTENSION = parallel_material
MODULE_big = parallel_material
DATA = parallel_material--0.1.sql
CORE_SRCS := $(sort $(wildcard src/core/*.cpp))
PG_SRCS := $(sort $(wildcard src/pg/*.cpp))
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

PG_CPPFLAGS = -Iinclude -Isrc
PG_CXXFLAGS = -std=gnu++17 -Wall -Wextra -Werror -fvisibility=hidden -fvisibility-inlines-hidden -fexceptions
SHLIB_LINK = -luring -lstdc++

# Debian's PGXS would emit LLVM bitcode for every .cpp with clang, without our C++ flags.
override with_llvm = no
override autodepend = yes

EXTRA_CLEAN = .deps

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PostgreSQL's headers are not warning-clean C++: include them as system headers so that
# -Wall -Wextra -Werror applies to our code only.
override CPPFLAGS := -Iinclude -Isrc $(patsubst -I%,-isystem %,$(filter-out -Iinclude -Isrc,$(CPPFLAGS)))

.PHONY: unit
unit:
	$(MAKE) -C test/unit
