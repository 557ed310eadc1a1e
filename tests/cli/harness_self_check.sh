#!/bin/sh
# The CUDA-vs-CPU harness (tests/gpu_backend.c) run against itself on the CPU: a second CPU
# backend takes the GPU's place, with its networks in the dense expert form the CUDA backend
# uses (the first keeps the grouped form), so every comparison, tolerance and exact check of
# `make test-gpu` is exercised here without a device, and the two forms must agree.
set -eu
B=$1
$B/tests/gpu_backend --cpu-vs-cpu
