"""Seed builders for reductions, scans, indexing, resizing and layout transforms."""

from __future__ import annotations

from tvm import te, tirx, topi

from tirfuzz.corpus.spec import SeedSpec, ph, registrar

SEEDS: list[SeedSpec] = []
seed = registrar(SEEDS)


def clamp_index(idx: te.Tensor, bound: int, name: str = "idx_safe") -> te.Tensor:
    """Clamp an integer index tensor into [0, bound) so that reads stay in bounds."""
    hi = tirx.const(bound - 1, idx.dtype)
    lo = tirx.const(0, idx.dtype)
    return te.compute(idx.shape, lambda *i: tirx.max(tirx.min(idx(*i), hi), lo), name=name)


# ---- reductions ----------------------------------------------------------------------------


@seed("sum_axis1", "topi.sum", "float32", "sum of 8x16x4 over axis 1")
def _sum_axis1():
    x = ph((8, 16, 4))
    return [x, topi.sum(x, axis=1)]


@seed("sum_all_int32", "topi.sum", "int32", "sum of every element of an int32 16x16")
def _sum_all():
    x = ph((16, 16), "int32")
    return [x, topi.sum(x)]


@seed("sum_keepdims_int64", "topi.sum", "int64", "sum of int64 4x8x8 over axes (0, 2), keepdims")
def _sum_i64():
    x = ph((4, 8, 8), "int64")
    return [x, topi.sum(x, axis=(0, 2), keepdims=True)]


@seed("max_axis0", "topi.max", "float32", "max of 16x12 over axis 0")
def _max_axis0():
    x = ph((16, 12))
    return [x, topi.max(x, axis=0)]


@seed("min_lastaxis_int8", "topi.min", "int8", "min of int8 8x32 over the last axis, keepdims")
def _min_i8():
    x = ph((8, 32), "int8")
    return [x, topi.min(x, axis=-1, keepdims=True)]


@seed("prod_axis1", "topi.prod", "float32", "product of 4x6x4 over axis 1")
def _prod():
    x = ph((4, 6, 4))
    return [x, topi.prod(x, axis=1)]


@seed("mean_axes23", "topi.sum/divide", "float32", "mean of 1x4x6x6 over the spatial axes")
def _mean():
    x = ph((1, 4, 6, 6))
    s = topi.sum(x, axis=(2, 3))
    return [x, topi.divide(s, tirx.const(36.0, "float32"))]


@seed("argmax_axis1", "topi.argmax", "float32", "argmax of 8x16 over axis 1")
def _argmax():
    x = ph((8, 16))
    return [x, topi.argmax(x, axis=1)]


@seed("argmin_axis0_int32", "topi.argmin", "int32", "argmin of int32 8x16 over axis 0, keepdims")
def _argmin():
    x = ph((8, 16), "int32")
    return [x, topi.argmin(x, axis=0, keepdims=True)]


@seed("all_any_bool", "topi.all/any", "bool", "all over axis 1 and any over axis 0 of a bool 8x8")
def _all_any():
    x = ph((8, 8), "bool")
    return [x, topi.all(x, axis=1), topi.any(x, axis=0)]


# ---- scans ---------------------------------------------------------------------------------


@seed("cumsum_axis1", "topi.cumsum", "float32", "cumulative sum of 4x16 along axis 1")
def _cumsum():
    x = ph((4, 16))
    return [x, topi.cumsum(x, axis=1)]


@seed("cumsum_exclusive_int32", "topi.cumsum", "int32", "exclusive cumulative sum of int32 8x8 along axis 0")
def _cumsum_excl():
    x = ph((8, 8), "int32")
    return [x, topi.cumsum(x, axis=0, exclusive=True)]


@seed("cumprod_axis0", "topi.cumprod", "float32", "cumulative product of 6x8 along axis 0")
def _cumprod():
    x = ph((6, 8))
    return [x, topi.cumprod(x, axis=0)]


# ---- indexing ------------------------------------------------------------------------------


@seed("gather_axis1", "topi.gather", "float32", "gather from 4x8 along axis 1 with clamped int32 indices 4x5")
def _gather():
    x, idx = ph((4, 8)), ph((4, 5), "int32", "indices")
    return [x, idx, topi.gather(x, 1, clamp_index(idx, 8))]


@seed("gather_nd_2d", "topi.gather_nd", "float32", "gather_nd from 6x8x4 with clamped int64 indices 2x5")
def _gather_nd():
    x, idx = ph((6, 8, 4)), ph((2, 5), "int64", "indices")
    safe = te.compute(idx.shape, lambda d, j: tirx.max(tirx.min(idx[d, j], tirx.Select(
        d == 0, tirx.const(5, "int64"), tirx.const(7, "int64"))), tirx.const(0, "int64")), name="idx_safe")
    return [x, idx, topi.gather_nd(x, safe)]


@seed("take_clip_axis0", "topi.take", "float32", "take rows of 10x6 by int32 indices 7, mode clip")
def _take_clip():
    x, idx = ph((10, 6)), ph((7,), "int32", "indices")
    return [x, idx, topi.take(x, idx, axis=0, mode="clip")]


@seed("take_wrap_flat_int8", "topi.take", "int8", "take from a flattened int8 4x8 by int32 indices 3x3, mode wrap")
def _take_wrap():
    x, idx = ph((4, 8), "int8"), ph((3, 3), "int32", "indices")
    return [x, idx, topi.take(x, idx, mode="wrap")]


@seed("take_fast_clamped", "topi.take", "float32", "take (mode fast) along axis 1 of 4x9 with clamped indices")
def _take_fast():
    x, idx = ph((4, 9)), ph((5,), "int32", "indices")
    return [x, idx, topi.take(x, clamp_index(idx, 9), axis=1, mode="fast")]


@seed("one_hot_int32", "topi.one_hot", "int32", "one-hot of int32 indices 6 into depth 8, float32 output")
def _one_hot():
    idx = ph((6,), "int32", "indices")
    on, off = tirx.const(1.0, "float32"), tirx.const(0.0, "float32")
    return [idx, topi.one_hot(idx, on, off, 8, -1, "float32")]


# ---- resize --------------------------------------------------------------------------------


@seed("resize2d_linear", "topi.image.resize2d", "float32", "bilinear resize of NCHW 1x2x6x6 to 9x11")
def _resize_linear():
    x = ph((1, 2, 6, 6))
    return [x, topi.image.resize2d(x, (0.0, 0.0, 0.0, 0.0), (9, 11), method="linear")]


@seed("resize2d_nearest_nhwc", "topi.image.resize2d", "float32",
      "nearest-neighbour resize of NHWC 1x5x5x3 to 10x8, asymmetric")
def _resize_nearest():
    x = ph((1, 5, 5, 3))
    return [x, topi.image.resize2d(x, (0.0, 0.0, 0.0, 0.0), (10, 8), layout="NHWC", method="nearest_neighbor",
                                   coordinate_transformation_mode="asymmetric", rounding_method="floor")]


@seed("resize2d_cubic", "topi.image.resize2d", "float32", "bicubic resize of NCHW 1x1x6x6 to 8x8, align corners")
def _resize_cubic():
    x = ph((1, 1, 6, 6))
    return [x, topi.image.resize2d(x, (0.0, 0.0, 0.0, 0.0), (8, 8), method="cubic",
                                   coordinate_transformation_mode="align_corners")]


@seed("upsampling_nearest", "topi.nn.upsampling", "float32", "nearest upsampling by 2 of NCHW 1x3x4x4")
def _upsampling():
    x = ph((1, 3, 4, 4))
    return [x, topi.nn.upsampling(x, 2, 2)]


# ---- layout transforms ---------------------------------------------------------------------


@seed("transpose_3d", "topi.transpose", "float32", "transpose of 4x6x8 with axes (2, 0, 1)")
def _transpose():
    x = ph((4, 6, 8))
    return [x, topi.transpose(x, (2, 0, 1))]


@seed("reshape_int32", "topi.reshape", "int32", "reshape of int32 4x6x8 to 12x16")
def _reshape():
    x = ph((4, 6, 8), "int32")
    return [x, topi.reshape(x, (12, 16))]


@seed("concatenate_axis1", "topi.concatenate", "float32", "concatenate 4x3, 4x5 and 4x2 along axis 1")
def _concat():
    a, b, c = ph((4, 3)), ph((4, 5), name="B"), ph((4, 2), name="C")
    return [a, b, c, topi.concatenate([a, b, c], axis=1)]


@seed("split_sections", "topi.split", "float32", "split 6x8 into 3 sections along axis 0")
def _split():
    x = ph((6, 8))
    return [x, *topi.split(x, 3, axis=0)]


@seed("split_indices_int8", "topi.split", "int8", "split int8 4x10 at indices (3, 7) along axis 1")
def _split_idx():
    x = ph((4, 10), "int8")
    return [x, *topi.split(x, [3, 7], axis=1)]


@seed("strided_slice_step2", "topi.strided_slice", "float32", "slice 8x12[1:7:2, 10:1:-3]")
def _strided_slice():
    x = ph((8, 12))
    return [x, topi.strided_slice(x, [1, 10], [7, 1], [2, -3])]


@seed("pad_constant", "topi.nn.pad", "float32", "pad 1x3x5x5 by (0,0,1,2) before and (0,0,2,1) after with 0.5")
def _pad():
    x = ph((1, 3, 5, 5))
    return [x, topi.nn.pad(x, (0, 0, 1, 2), (0, 0, 2, 1), pad_value=0.5)]


@seed("mirror_pad_reflect", "topi.nn.mirror_pad", "float32", "reflect-pad 6x6 by 2 on each side")
def _mirror_pad():
    x = ph((6, 6))
    return [x, topi.nn.mirror_pad(x, (2, 2), (2, 2), mode="REFLECT")]


@seed("flip_axis1", "topi.flip", "int64", "reverse an int64 4x8 along axis 1")
def _flip():
    x = ph((4, 8), "int64")
    return [x, topi.flip(x, axis=1)]


@seed("tile_repeat", "topi.tile/repeat", "float32", "tile 3x4 by (2, 3) and repeat it 2 times along axis 0")
def _tile_repeat():
    x = ph((3, 4))
    return [x, topi.tile(x, (2, 3)), topi.repeat(x, 2, 0)]


@seed("broadcast_to_expand", "topi.broadcast_to", "float32", "expand 4x1 to 4x1x1 and broadcast to 4x6x5")
def _broadcast():
    x = ph((4, 1))
    return [x, topi.broadcast_to(topi.expand_dims(x, 1), (4, 6, 5))]


@seed("depth_to_space", "topi.nn.depth_to_space", "float32", "depth to space, block 2, NCHW 1x8x3x3")
def _d2s():
    x = ph((1, 8, 3, 3))
    return [x, topi.nn.depth_to_space(x, 2)]


@seed("trilu_upper", "topi.trilu", "float32", "upper triangle of 8x8 above diagonal 1")
def _trilu():
    x = ph((8, 8))
    return [x, topi.trilu(x, tirx.const(1, "int32"), True)]
