// Probe kernels for avx2 (to be written).
