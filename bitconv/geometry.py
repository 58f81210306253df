"""Convolution geometry on plain integers, shared by the plan tables, the references, conv2d and the
bench (no imports, so the reference does not pull in the plan-file package)."""


def output_size(size, kernel, stride, padding, dilation):
    """Output length along one axis; < 1 means the (dilated) kernel does not fit the padded input."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
