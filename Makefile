# Keel — the two commands: `make run` and `make test`. CMake does the building.
#
#   make run [FIRMWARE=bios|uefi] [SMP=2] [MEM=512M]   boot Keel in QEMU, console on this terminal
#   make test                                         every test suite; ends with "N passed, N failed"
#   make build                                        kernel, boot images and host tests
#   make bench                                        instruction-count benchmarks (guest instructions/op)
#   make clean
BUILD ?= build
FIRMWARE ?= bios
SMP ?= 2
MEM ?= 512M

.PHONY: all deps configure build run test bench clean
all: build

deps:
	@tools/install-deps

configure: deps
	@if [ ! -f $(BUILD)/build.ninja ]; then \
	  cmake -S . -B $(BUILD) -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null; \
	fi

build: configure
	@cmake --build $(BUILD)

run: build
	@tools/run-qemu --firmware $(FIRMWARE) --smp $(SMP) --mem $(MEM) $(BUILD)/keel.iso

test: build
	@tools/keel-test --build $(BUILD)

bench: build
	@tools/keel-bench --build $(BUILD)

clean:
	rm -rf $(BUILD)
