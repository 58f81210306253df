// Probe kernels for neon (to be written).
