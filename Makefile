# The README's two commands, and a few helpers.
#   make run    install what is missing, build, start the server (127.0.0.1:8080, var/carepath.db)
#   make test   install what is missing, build, run every test with ctest
#   make fuzz   build the fuzz harnesses with clang in build-fuzz/ and run each FUZZ_SECONDS
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

CAREPATH := $(BUILD_DIR)/engine/src/app/carepath

.PHONY: all deps configure build run test fuzz bench validate clean format format-check

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# The master key encrypts sensitive fields (docs/data-protection.md). A development key is made
# under var/ on the first run; a real installation keeps its key apart from the database.
MASTER_KEY ?= var/master.key

run: build
	@mkdir -p var
	@if [ ! -f $(MASTER_KEY) ]; then \
	  $(CAREPATH) keys init $(MASTER_KEY) >/dev/null && \
	  echo "make run: created a development master key in $(MASTER_KEY); sensitive fields in var/carepath.db are encrypted under it, so keep the two together here and apart in production"; \
	fi
	$(CAREPATH) serve --config config/carepath.yaml --master-key $(MASTER_KEY)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# libFuzzer harnesses (fuzz/, docs/reliability.md): clang, ASan and UBSan in build-fuzz/, each
# harness run for FUZZ_SECONDS over a copy of its corpus; fails when one finds a crash.
# Not part of `make test`, which runs every corpus file once with the normal compiler.
FUZZ_SECONDS ?= 60

fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) bash scripts/fuzz.sh

# Speed and memory targets (bench/README.md); not part of `make test`.
bench: build
	$(BUILD_DIR)/bench/timers_bench
	$(BUILD_DIR)/bench/migration_bench

validate: build
	$(CAREPATH) validate workflows/*.yaml --plugins $(BUILD_DIR)/plugins

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.h' '*.c')

# Fails when a C/C++ file is not formatted as .clang-format says; skipped without clang-format.
format-check:
	@if command -v clang-format >/dev/null 2>&1; then \
	  clang-format --dry-run -Werror $$(git ls-files '*.cpp' '*.hpp' '*.h' '*.c') && echo "format: ok"; \
	else echo "format: clang-format not installed, check skipped"; fi

clean:
	rm -rf $(BUILD_DIR) build-fuzz
