// Probe kernels for avx512 (to be written).
