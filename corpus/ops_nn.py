"""Seed builders for neural-network operators: convolutions, dense/matmul, softmax, pooling, norms."""

from __future__ import annotations

import tvm
from tvm import te, topi

from tirfuzz.corpus.spec import SeedSpec, ph, registrar

SEEDS: list[SeedSpec] = []
seed = registrar(SEEDS)


# ---- convolutions -------------------------------------------------------------------------


@seed("conv1d_ncw", "topi.nn.conv1d_ncw", "float32", "1-D conv, NCW 1x4x16, kernel 8x4x3, pad 1")
def _conv1d_ncw():
    x, w = ph((1, 4, 16)), ph((8, 4, 3), name="W")
    return [x, w, topi.nn.conv1d_ncw(x, w, 1, 1, 1)]


@seed("conv1d_nwc_stride2", "topi.nn.conv1d_nwc", "float32", "1-D conv, NWC 1x16x4, kernel 3x4x8, stride 2")
def _conv1d_nwc():
    x, w = ph((1, 16, 4)), ph((3, 4, 8), name="W")
    return [x, w, topi.nn.conv1d_nwc(x, w, 2, 1, 1)]


@seed("conv2d_nchw", "topi.nn.conv2d_nchw", "float32", "2-D conv, NCHW 1x4x10x10, kernel 8x4x3x3, pad 1")
def _conv2d_nchw():
    x, w = ph((1, 4, 10, 10)), ph((8, 4, 3, 3), name="W")
    return [x, w, topi.nn.conv2d_nchw(x, w, 1, 1, 1)]


@seed("conv2d_nchw_strided_dilated", "topi.nn.conv2d_nchw", "float32",
      "2-D conv, NCHW 1x3x12x12, kernel 4x3x3x3, stride 2, dilation 2, pad 2")
def _conv2d_nchw_sd():
    x, w = ph((1, 3, 12, 12)), ph((4, 3, 3, 3), name="W")
    return [x, w, topi.nn.conv2d_nchw(x, w, 2, 2, 2)]


@seed("conv2d_nhwc", "topi.nn.conv2d_nhwc", "float32", "2-D conv, NHWC 1x10x10x4, kernel HWIO 3x3x4x8, pad 1")
def _conv2d_nhwc():
    x, w = ph((1, 10, 10, 4)), ph((3, 3, 4, 8), name="W")
    return [x, w, topi.nn.conv2d_nhwc(x, w, 1, 1, 1)]


@seed("conv2d_hwcn", "topi.nn.conv2d_hwcn", "float32", "2-D conv, HWCN 8x8x4x2, kernel 3x3x4x4, pad 0")
def _conv2d_hwcn():
    x, w = ph((8, 8, 4, 2)), ph((3, 3, 4, 4), name="W")
    return [x, w, topi.nn.conv2d_hwcn(x, w, 1, 0, 1)]


@seed("conv2d_nchw_f64", "topi.nn.conv2d_nchw", "float64", "2-D conv in float64, NCHW 1x4x8x8, kernel 4x4x3x3")
def _conv2d_f64():
    x, w = ph((1, 4, 8, 8), "float64"), ph((4, 4, 3, 3), "float64", "W")
    return [x, w, topi.nn.conv2d_nchw(x, w, 1, 1, 1, out_dtype="float64")]


@seed("conv2d_nchw_int8", "topi.nn.conv2d_nchw", "int8", "2-D conv, int8 inputs accumulated in int32")
def _conv2d_int8():
    x, w = ph((1, 4, 8, 8), "int8"), ph((8, 4, 3, 3), "int8", "W")
    return [x, w, topi.nn.conv2d_nchw(x, w, 1, 1, 1, out_dtype="int32")]


@seed("conv2d_NCHWc", "topi.nn.conv2d_NCHWc", "float32", "packed 2-D conv, NCHW4c 1x2x8x8x4, OIHW4i4o")
def _conv2d_nchwc():
    x, w = ph((1, 2, 8, 8, 4)), ph((2, 2, 3, 3, 4, 4), name="W")
    with tvm.target.Target("llvm"):  # the topi function asks for a current target but does not use it
        out = topi.nn.conv2d_NCHWc(x, w, 1, 1, 1, "NCHW4c", "NCHW4c", "float32")
    return [x, w, out]


@seed("conv3d_ncdhw", "topi.nn.conv3d_ncdhw", "float32", "3-D conv, NCDHW 1x2x6x6x6, kernel 4x2x3x3x3")
def _conv3d_ncdhw():
    x, w = ph((1, 2, 6, 6, 6)), ph((4, 2, 3, 3, 3), name="W")
    return [x, w, topi.nn.conv3d_ncdhw(x, w, 1, 1, 1, 1)]


@seed("conv3d_ndhwc", "topi.nn.conv3d_ndhwc", "float32", "3-D conv, NDHWC 1x6x6x6x2, kernel 3x3x3x2x4, stride 2")
def _conv3d_ndhwc():
    x, w = ph((1, 6, 6, 6, 2)), ph((3, 3, 3, 2, 4), name="W")
    return [x, w, topi.nn.conv3d_ndhwc(x, w, 2, 1, 1, 1)]


@seed("depthwise_conv2d_nchw", "topi.nn.depthwise_conv2d_nchw", "float32",
      "depthwise conv, NCHW 1x4x10x10, filter 4x1x3x3, pad 1")
def _dw_nchw():
    x, w = ph((1, 4, 10, 10)), ph((4, 1, 3, 3), name="W")
    return [x, w, topi.nn.depthwise_conv2d_nchw(x, w, 1, 1, 1)]


@seed("depthwise_conv2d_nhwc", "topi.nn.depthwise_conv2d_nhwc", "float32",
      "depthwise conv, NHWC 1x10x10x4, filter 3x3x4x1, stride 2")
def _dw_nhwc():
    x, w = ph((1, 10, 10, 4)), ph((3, 3, 4, 1), name="W")
    return [x, w, topi.nn.depthwise_conv2d_nhwc(x, w, 2, 1, 1)]


@seed("group_conv2d_nchw", "topi.nn.group_conv2d_nchw", "float32", "grouped conv, 2 groups, NCHW 1x8x8x8")
def _group_nchw():
    x, w = ph((1, 8, 8, 8)), ph((8, 4, 3, 3), name="W")
    return [x, w, topi.nn.group_conv2d_nchw(x, w, 1, 1, 1, 2)]


@seed("group_conv2d_nhwc", "topi.nn.group_conv2d_nhwc", "float32", "grouped conv, 4 groups, NHWC 1x8x8x8")
def _group_nhwc():
    x, w = ph((1, 8, 8, 8)), ph((3, 3, 2, 8), name="W")
    return [x, w, topi.nn.group_conv2d_nhwc(x, w, 1, 1, 1, 4)]


@seed("conv2d_transpose_nchw", "topi.nn.conv2d_transpose_nchw", "float32",
      "transposed conv, NCHW 1x4x6x6, filter 4x4x3x3, stride 2, output padding 1")
def _conv2d_t():
    x, w = ph((1, 4, 6, 6)), ph((4, 4, 3, 3), name="W")
    return [x, w, topi.nn.conv2d_transpose_nchw(x, w, (2, 2), (1, 1, 1, 1), "float32", (1, 1))]


@seed("conv1d_transpose_ncw", "topi.nn.conv1d_transpose_ncw", "float32",
      "transposed 1-D conv, NCW 1x4x8, filter 4x2x3, stride 2")
def _conv1d_t():
    x, w = ph((1, 4, 8)), ph((4, 2, 3), name="W")
    return [x, w, topi.nn.conv1d_transpose_ncw(x, w, 2, 1, "float32", 0)]


@seed("conv2d_winograd_nchw", "topi.nn.conv2d_winograd_nchw", "float32",
      "Winograd 3x3 conv, NCHW 1x4x8x8, kernel 4x4x3x3, pad 1")
def _winograd():
    x, w = ph((1, 4, 8, 8)), ph((4, 4, 3, 3), name="W")
    return [x, w, topi.nn.conv2d_winograd_nchw(x, w, 1, 1, 1, "float32")]


# ---- dense / matmul -----------------------------------------------------------------------


@seed("dense_bias", "topi.nn.dense", "float32", "dense 8x32 by weight 16x32, plus bias 16")
def _dense():
    x, w, b = ph((8, 32)), ph((16, 32), name="W"), ph((16,), name="bias")
    return [x, w, b, topi.nn.dense(x, w, b)]


@seed("dense_int16", "topi.nn.dense", "int16", "dense of int16 8x16 by 8x16, int32 accumulator")
def _dense_i16():
    x, w = ph((8, 16), "int16"), ph((8, 16), "int16", "W")
    return [x, w, topi.nn.dense(x, w, out_dtype="int32")]


@seed("matmul_nn", "topi.matmul", "float32", "matrix product 8x16 @ 16x12")
def _matmul():
    a, b = ph((8, 16)), ph((16, 12), name="B")
    return [a, b, topi.matmul(a, b)]


@seed("matmul_transposed_a", "topi.nn.matmul", "float32", "matrix product with transposed A: (16x8)^T @ 16x12")
def _matmul_ta():
    a, b = ph((16, 8)), ph((16, 12), name="B")
    return [a, b, topi.nn.matmul(a, b, transpose_a=True)]


@seed("matmul_int8", "topi.nn.matmul", "int8", "int8 x int8 matrix product 8x16 @ 16x8 into int32")
def _matmul_int8():
    a, b = ph((8, 16), "int8"), ph((16, 8), "int8", "B")
    return [a, b, topi.nn.matmul(a, b, out_dtype="int32")]


@seed("batch_matmul_nt", "topi.nn.batch_matmul", "float32", "batched product 2x8x16 @ (2x12x16)^T")
def _bmm():
    a, b = ph((2, 8, 16)), ph((2, 12, 16), name="B")
    return [a, b, topi.nn.batch_matmul(a, b)]


@seed("batch_matmul_broadcast", "topi.nn.batch_matmul", "float32", "batched product 3x4x8 @ 1x8x6, batch broadcast")
def _bmm_bcast():
    a, b = ph((3, 4, 8)), ph((1, 8, 6), name="B")
    return [a, b, topi.nn.batch_matmul(a, b, transpose_b=False)]


@seed("batch_matmul_int8", "topi.nn.batch_matmul", "int8", "batched int8 product into int32, 2x8x16 @ (2x8x16)^T")
def _bmm_int8():
    a, b = ph((2, 8, 16), "int8"), ph((2, 8, 16), "int8", "B")
    return [a, b, topi.nn.batch_matmul(a, b, out_dtype="int32")]


@seed("einsum_bilinear", "topi.einsum", "float32", "einsum 'bi,ij,bj->b' over 4x8, 8x8, 4x8")
def _einsum():
    a, m, c = ph((4, 8)), ph((8, 8), name="M"), ph((4, 8), name="C")
    return [a, m, c, topi.einsum("bi,ij,bj->b", a, m, c)]


# ---- softmax -------------------------------------------------------------------------------


@seed("softmax_lastaxis", "topi.nn.softmax", "float32", "softmax over the last axis of 4x32")
def _softmax():
    x = ph((4, 32))
    return [x, topi.nn.softmax(x)]


@seed("softmax_axis1_4d", "topi.nn.softmax", "float32", "softmax over the channel axis of 1x8x4x4")
def _softmax4d():
    x = ph((1, 8, 4, 4))
    return [x, topi.nn.softmax(x, axis=1)]


@seed("log_softmax_lastaxis", "topi.nn.log_softmax", "float32", "log-softmax over the last axis of 4x32")
def _log_softmax():
    x = ph((4, 32))
    return [x, topi.nn.log_softmax(x)]


@seed("fast_softmax_lastaxis", "topi.nn.fast_softmax", "float32", "fast (approximate exp) softmax of 4x32")
def _fast_softmax():
    x = ph((4, 32))
    return [x, topi.nn.fast_softmax(x)]


# ---- pooling -------------------------------------------------------------------------------


@seed("pool2d_max", "topi.nn.pool2d", "float32", "3x3 max pool, stride 2, pad 1, NCHW 1x4x10x10")
def _maxpool():
    x = ph((1, 4, 10, 10))
    return [x, topi.nn.pool2d(x, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), "max")]


@seed("pool2d_avg_nhwc", "topi.nn.pool2d", "float32", "2x2 average pool, NHWC 1x8x8x4, padding excluded")
def _avgpool():
    x = ph((1, 8, 8, 4))
    return [x, topi.nn.pool2d(x, (2, 2), (2, 2), (1, 1), (1, 1, 0, 0), "avg", layout="NHWC",
                              count_include_pad=False)]


@seed("pool1d_max_ceil", "topi.nn.pool1d", "float32", "max pool 1-D, kernel 3, stride 2, ceil mode, NCW 1x4x15")
def _pool1d():
    x = ph((1, 4, 15))
    return [x, topi.nn.pool1d(x, (3,), (2,), (1,), (0, 0), "max", ceil_mode=True)]


@seed("pool3d_avg", "topi.nn.pool3d", "float32", "average pool 3-D, kernel 2, NCDHW 1x2x6x6x6")
def _pool3d():
    x = ph((1, 2, 6, 6, 6))
    return [x, topi.nn.pool3d(x, (2, 2, 2), (2, 2, 2), (1, 1, 1), (0, 0, 0, 0, 0, 0), "avg")]


@seed("global_pool_avg", "topi.nn.global_pool", "float32", "global average pool, NCHW 1x8x6x6")
def _gap():
    x = ph((1, 8, 6, 6))
    return [x, topi.nn.global_pool(x, "avg")]


@seed("global_pool_max_int8", "topi.nn.global_pool", "int8", "global max pool of int8, NCHW 1x8x6x6")
def _gmp():
    x = ph((1, 8, 6, 6), "int8")
    return [x, topi.nn.global_pool(x, "max")]


@seed("adaptive_pool_avg", "topi.nn.adaptive_pool", "float32", "adaptive average pool 1x4x10x10 to 3x3")
def _adaptive_avg():
    x = ph((1, 4, 10, 10))
    return [x, topi.nn.adaptive_pool(x, (3, 3), "avg")]


@seed("adaptive_pool_max", "topi.nn.adaptive_pool", "float32", "adaptive max pool 1x4x9x7 to 4x2")
def _adaptive_max():
    x = ph((1, 4, 9, 7))
    return [x, topi.nn.adaptive_pool(x, (4, 2), "max")]


# ---- normalisation -------------------------------------------------------------------------


@seed("layer_norm_lastaxis", "topi.nn.layer_norm", "float32", "layer norm over the last axis of 4x32")
def _layer_norm():
    x, g, b = ph((4, 32)), ph((32,), name="gamma"), ph((32,), name="beta")
    return [x, g, b, topi.nn.layer_norm(x, g, b, [1])]


@seed("batch_norm_inference", "topi.nn.batch_norm", "float32",
      "batch norm (inference) of 1x4x6x6 with squared moving variance")
def _batch_norm():
    x, g, b = ph((1, 4, 6, 6)), ph((4,), name="gamma"), ph((4,), name="beta")
    mean, var = ph((4,), name="moving_mean"), ph((4,), name="moving_var")
    var_sq = te.compute(var.shape, lambda c: var[c] * var[c], name="var_sq")
    out = topi.nn.batch_norm(x, g, b, mean, var_sq, axis=1, epsilon=1e-5)
    return [x, g, b, mean, var, out[0]]


@seed("group_norm", "topi.nn.group_norm", "float32", "group norm, 2 groups, NCHW 1x4x6x6")
def _group_norm():
    x, g, b = ph((1, 4, 6, 6)), ph((4,), name="gamma"), ph((4,), name="beta")
    return [x, g, b, topi.nn.group_norm(x, g, b, 2, 1, [2, 3])]


@seed("instance_norm", "topi.nn.instance_norm", "float32", "instance norm, NCHW 1x4x6x6")
def _instance_norm():
    x, g, b = ph((1, 4, 6, 6)), ph((4,), name="gamma"), ph((4,), name="beta")
    return [x, g, b, topi.nn.instance_norm(x, g, b, 1, [2, 3])]


@seed("rms_norm", "topi.nn.rms_norm", "float32", "RMS norm over the last axis of 4x32")
def _rms_norm():
    x, w = ph((4, 32)), ph((32,), name="weight")
    return [x, w, topi.nn.rms_norm(x, w, [1])]


@seed("lrn_across_channels", "topi.nn.lrn", "float32", "local response norm, size 3, NCHW 1x6x4x4")
def _lrn():
    x = ph((1, 6, 4, 4))
    return [x, topi.nn.lrn(x, 3)]
