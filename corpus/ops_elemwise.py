"""Seed builders for elementwise float and integer operators, casts and symbolic shapes."""

from __future__ import annotations

from typing import Callable

from tvm import te, tirx, topi

from tirfuzz.corpus.spec import SeedSpec, ph, registrar

SEEDS: list[SeedSpec] = []
seed = registrar(SEEDS)

SHAPE = (8, 32)


def unary(name: str, op: str, dtype: str, about: str, fn: Callable[[te.Tensor], te.Tensor],
          shape: tuple[int, ...] = SHAPE) -> None:
    """Register a one-input, one-output seed."""

    def build() -> list[te.Tensor]:
        x = ph(shape, dtype)
        return [x, fn(x)]

    seed(name, op, dtype, about)(build)


def binary(name: str, op: str, dtype: str, about: str, fn: Callable[[te.Tensor, te.Tensor], te.Tensor],
           shape_b: tuple[int, ...] = SHAPE) -> None:
    """Register a two-input, one-output seed (B may broadcast)."""

    def build() -> list[te.Tensor]:
        a, b = ph(SHAPE, dtype), ph(shape_b, dtype, "B")
        return [a, b, fn(a, b)]

    seed(name, op, dtype, about)(build)


def positive(x: te.Tensor) -> te.Tensor:
    """x*x + 1: a value >= 1 (or inf/nan), used to keep log/sqrt/division in their domains."""
    one = tirx.const(1.0, x.dtype)
    return te.compute(x.shape, lambda *i: x(*i) * x(*i) + one, name="positive")


def int_divisor(x: te.Tensor) -> te.Tensor:
    """(x & 15) + 1: an integer divisor in [1, 16], never 0 or -1."""
    return topi.add(topi.bitwise_and(x, tirx.const(15, x.dtype)), tirx.const(1, x.dtype))


def shift_amount(x: te.Tensor) -> te.Tensor:
    """x & (bits - 1): a shift amount below the bit width."""
    bits = int(str(x.dtype).removeprefix("u").removeprefix("int"))
    return topi.bitwise_and(x, tirx.const(bits - 1, x.dtype))


def finite_clip(x: te.Tensor, lo: float, hi: float) -> te.Tensor:
    """Clip x into [lo, hi] with NaN mapped to 0, so a float->int cast is defined."""
    zero = tirx.const(0.0, x.dtype)
    return te.compute(x.shape, lambda *i: tirx.if_then_else(
        tirx.isnan(x(*i)), zero, tirx.max(tirx.min(x(*i), tirx.const(hi, x.dtype)), tirx.const(lo, x.dtype))),
        name="finite_clip")


# ---- float32 unary -------------------------------------------------------------------------

unary("exp_f32", "topi.exp", "float32", "exp of 8x32", topi.exp)
unary("log_guarded", "topi.log", "float32", "log(x*x + 1) of 8x32", lambda x: topi.log(positive(x)))
unary("log2_guarded", "topi.log2", "float32", "log2(x*x + 1) of 8x32", lambda x: topi.log2(positive(x)))
unary("sqrt_guarded", "topi.sqrt", "float32", "sqrt(x*x + 1) of 8x32", lambda x: topi.sqrt(positive(x)))
unary("rsqrt_guarded", "topi.rsqrt", "float32", "rsqrt(x*x + 1) of 8x32", lambda x: topi.rsqrt(positive(x)))
unary("tanh_f32", "topi.tanh", "float32", "tanh of 8x32", topi.tanh)
unary("sigmoid_f32", "topi.sigmoid", "float32", "sigmoid of 8x32", topi.sigmoid)
unary("erf_f32", "topi.erf", "float32", "erf of 8x32", topi.erf)
unary("relu_f32", "topi.nn.relu", "float32", "relu of 8x32", topi.nn.relu)
unary("leaky_relu_f32", "topi.nn.leaky_relu", "float32", "leaky relu (alpha 0.1) of 8x32",
      lambda x: topi.nn.leaky_relu(x, 0.1))
unary("clip_f32", "topi.clip", "float32", "clip of 8x32 into [-0.5, 2]", lambda x: topi.clip(x, -0.5, 2.0))
unary("floor_f32", "topi.floor", "float32", "floor of 8x32", topi.floor)
unary("ceil_f32", "topi.ceil", "float32", "ceil of 8x32", topi.ceil)
unary("round_f32", "topi.round", "float32", "round of 8x32", topi.round)
unary("trunc_f32", "topi.trunc", "float32", "trunc of 8x32", topi.trunc)
unary("sin_cos_f32", "topi.sin/cos", "float32", "sin(x) + cos(x) of 8x32", lambda x: topi.add(topi.sin(x), topi.cos(x)))
unary("negative_f32", "topi.negative", "float32", "negation of 8x32", topi.negative)
unary("sign_f32", "topi.sign", "float32", "sign of 8x32", topi.sign)
unary("softplus_f32", "topi.nn.softplus", "float32", "softplus of 8x32", topi.nn.softplus)
unary("fast_exp_f32", "topi.fast_exp", "float32", "fast (polynomial) exp of 8x32", topi.fast_exp)
unary("fast_tanh_f32", "topi.fast_tanh", "float32", "fast (rational) tanh of 8x32", topi.fast_tanh)
unary("fast_erf_f32", "topi.fast_erf", "float32", "fast (rational) erf of 8x32", topi.fast_erf)
unary("isnan_select_f32", "topi.isnan", "float32", "x with NaN replaced by 0 and clipped to [-1e6, 1e6]",
      lambda x: finite_clip(x, -1e6, 1e6))

# ---- float32 binary ------------------------------------------------------------------------

binary("add_broadcast_f32", "topi.add", "float32", "8x32 + 32 (broadcast)", topi.add, (32,))
binary("multiply_f32", "topi.multiply", "float32", "8x32 * 8x32", topi.multiply)
binary("maximum_f32", "topi.maximum", "float32", "elementwise max of 8x32 and 8x1", topi.maximum, (8, 1))
binary("divide_guarded", "topi.divide", "float32", "a / (b*b + 1) of 8x32",
       lambda a, b: topi.divide(a, positive(b)))
binary("power_guarded", "topi.power", "float32", "(a*a + 1) ** clip(b, -4, 4) of 8x32",
       lambda a, b: topi.power(positive(a), topi.clip(b, -4.0, 4.0)))
binary("atan2_f32", "topi.atan2", "float32", "atan2 of 8x32 and 8x32", topi.atan2)
binary("prelu_f32", "topi.nn.prelu", "float32", "prelu of 8x32 with per-column slope 32",
       lambda a, b: topi.nn.prelu(a, b, axis=1), (32,))

# ---- float64, uint8, int16 ----------------------------------------------------------------

unary("exp_f64", "topi.exp", "float64", "exp of float64 8x32", topi.exp)
binary("add_uint8", "topi.add", "uint8", "uint8 8x32 + 8x32, wrapping", topi.add)
binary("multiply_add_int16", "topi.multiply/add", "int16", "int16 a * b + a",
       lambda a, b: topi.add(topi.multiply(a, b), a))
unary("relu_int8", "topi.nn.relu", "int8", "relu of int8 8x32", topi.nn.relu)

# ---- integers ------------------------------------------------------------------------------

binary("add_int32", "topi.add", "int32", "int32 8x32 + 32 (broadcast)", topi.add, (32,))
binary("multiply_int64", "topi.multiply", "int64", "int64 8x32 * 8x32", topi.multiply)
binary("subtract_int8", "topi.subtract", "int8", "int8 8x32 - 8x32", topi.subtract)
binary("floor_divide_int32", "topi.floor_divide", "int32", "int32 a // ((b & 15) + 1)",
       lambda a, b: topi.floor_divide(a, int_divisor(b)))
binary("floor_mod_int32", "topi.floor_mod", "int32", "int32 a floormod ((b & 15) + 1)",
       lambda a, b: topi.floor_mod(a, int_divisor(b)))
binary("floor_divide_int64", "topi.floor_divide", "int64", "int64 a // ((b & 15) + 1)",
       lambda a, b: topi.floor_divide(a, int_divisor(b)))
binary("floor_mod_int8", "topi.floor_mod", "int8", "int8 a floormod ((b & 15) + 1)",
       lambda a, b: topi.floor_mod(a, int_divisor(b)))
binary("trunc_mod_int32", "topi.mod", "int32", "int32 truncated a % ((b & 15) + 1)",
       lambda a, b: topi.mod(a, int_divisor(b)))
binary("bitwise_and_int32", "topi.bitwise_and", "int32", "int32 a & b", topi.bitwise_and)
binary("bitwise_or_int8", "topi.bitwise_or", "int8", "int8 a | b", topi.bitwise_or)
binary("bitwise_xor_int64", "topi.bitwise_xor", "int64", "int64 a ^ b", topi.bitwise_xor)
unary("bitwise_not_int32", "topi.bitwise_not", "int32", "int32 ~a", topi.bitwise_not)
binary("left_shift_int32", "topi.left_shift", "int32", "int32 a << (b & 31)",
       lambda a, b: topi.left_shift(a, shift_amount(b)))
binary("right_shift_int32", "topi.right_shift", "int32", "int32 a >> (b & 31), arithmetic",
       lambda a, b: topi.right_shift(a, shift_amount(b)))
binary("right_shift_int8", "topi.right_shift", "int8", "int8 a >> (b & 7), arithmetic",
       lambda a, b: topi.right_shift(a, shift_amount(b)))
binary("where_greater_int32", "topi.where", "int32", "where(a > b, a, b) of int32",
       lambda a, b: topi.where(topi.greater(a, b), a, b))
binary("maximum_minimum_int8", "topi.maximum/minimum", "int8", "max(a, b) - min(a, b) of int8",
       lambda a, b: topi.subtract(topi.maximum(a, b), topi.minimum(a, b)))
binary("equal_int64", "topi.equal", "int64", "a == b of int64, bool output", topi.equal)
unary("abs_int32", "topi.abs", "int32", "|a| of int32", topi.abs)

# ---- casts ---------------------------------------------------------------------------------

unary("cast_f32_to_int32", "topi.cast", "float32", "float32 (NaN -> 0, clipped to +-1e6) cast to int32",
      lambda x: topi.cast(finite_clip(x, -1e6, 1e6), "int32"))
unary("cast_int8_to_f32", "topi.cast", "int8", "int8 cast to float32, times 0.5",
      lambda x: topi.multiply(topi.cast(x, "float32"), tirx.const(0.5, "float32")))
unary("cast_int64_to_int32", "topi.cast", "int64", "int64 cast (truncated) to int32", lambda x: topi.cast(x, "int32"))
unary("cast_f32_to_f64", "topi.cast", "float32", "float32 cast to float64", lambda x: topi.cast(x, "float64"))
unary("cast_int32_to_int8", "topi.cast", "int32", "int32 cast (truncated) to int8", lambda x: topi.cast(x, "int8"))
unary("cast_uint8_to_int32", "topi.cast", "uint8", "uint8 cast to int32, minus 128",
      lambda x: topi.subtract(topi.cast(x, "int32"), tirx.const(128, "int32")))


# ---- symbolic shapes -----------------------------------------------------------------------


@seed("exp_add_symbolic", "topi.exp/add", "float32", "exp(a) + b of n x 16, n a symbolic dimension")
def _symbolic_exp():
    n = te.var("n")
    a, b = ph((n, 16)), ph((n, 16), name="B")
    return [a, b, topi.add(topi.exp(a), b)]


@seed("sum_symbolic_int32", "topi.sum", "int32", "int32 sum over the symbolic axis of n x 8")
def _symbolic_sum():
    n = te.var("n")
    x = ph((n, 8), "int32")
    return [x, topi.sum(x, axis=0)]
