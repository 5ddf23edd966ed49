"""oneDNN's sgemm for torch tensors, for the kernel scripts next to this file
(gemm_shapes.py, ceiling.py): libdnnl.so.2 is the library Debian's LibTorch
links, and dnnl_sgemm is what worker/models/cpu_gemm.h calls. Also the
median timer they share.
"""
import ctypes
import time


def load():
    """Returns matmul(a, b, c): c = a b for float32 CPU tensors, row-major,
    as cpu_gemm.cc calls it (a transposed view of a contiguous matrix is
    passed as 'T' of that matrix, so no copy is made)."""
    sgemm = ctypes.CDLL("libdnnl.so.2").dnnl_sgemm
    sgemm.argtypes = [ctypes.c_char, ctypes.c_char] + [ctypes.c_int64] * 3 + [
        ctypes.c_float, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
        ctypes.c_int64, ctypes.c_float, ctypes.c_void_p, ctypes.c_int64]

    def operand(m):
        if not m.is_contiguous() and m.t().is_contiguous():
            return b"T", m.t()
        return b"N", m.contiguous()

    def matmul(a, b, c):
        ta, base_a = operand(a)
        tb, base_b = operand(b)
        status = sgemm(ta, tb, c.shape[0], c.shape[1], a.shape[1], 1.0,
                       base_a.data_ptr(), base_a.shape[1], base_b.data_ptr(),
                       base_b.shape[1], 0.0, c.data_ptr(), c.shape[1])
        if status != 0:
            raise RuntimeError("dnnl_sgemm failed with status %d" % status)

    return matmul


def median_ms(fn, iterations):
    """The median wall time of `iterations` calls of fn, after one warm-up."""
    fn()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1000
