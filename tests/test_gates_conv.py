"""Convolution and pooling gates against loop references, finite differences, torch."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compgraph.gradcheck import check_gate
from gates.conv import Conv2dGate
from gates.pooling import AvgPool2dGate, MaxPool2dGate

# -- direct nested-loop references: one output cell at a time ----------------


def conv_reference(x, w, b, stride, padding):
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph : ph + h, pw : pw + wd] = x
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, f, oh, ow))
    for a in range(n):
        for k in range(f):
            for r in range(oh):
                for s in range(ow):
                    total = b[k]
                    for ch in range(c):
                        for i in range(kh):
                            for j in range(kw):
                                cell = xp[a, ch, r * sh + i, s * sw + j]
                                total += w[k, ch, i, j] * cell
                    out[a, k, r, s] = total
    return out


def pool_windows_reference(x, kernel, stride):
    """Yield (n, c, r, s, window) for every pooling window, by loops."""
    (kh, kw), (sh, sw) = kernel, stride
    n, c, h, wd = x.shape
    for a in range(n):
        for ch in range(c):
            for r in range((h - kh) // sh + 1):
                for s in range((wd - kw) // sw + 1):
                    rows = slice(r * sh, r * sh + kh)
                    cols = slice(s * sw, s * sw + kw)
                    yield a, ch, r, s, rows, cols


def max_pool_reference(x, kernel, stride, upstream=None):
    """Forward values and, given an upstream gradient, the 1/k tie rule's dx."""
    (kh, kw), (sh, sw) = kernel, stride
    n, c, h, wd = x.shape
    out = np.zeros((n, c, (h - kh) // sh + 1, (wd - kw) // sw + 1))
    dx = np.zeros(x.shape)
    for a, ch, r, s, rows, cols in pool_windows_reference(x, kernel, stride):
        window = x[a, ch, rows, cols]
        out[a, ch, r, s] = window.max()
        if upstream is not None:
            winners = window == window.max()
            dx[a, ch, rows, cols] += winners * upstream[a, ch, r, s] / winners.sum()
    return out, dx


def avg_pool_reference(x, kernel, stride):
    (kh, kw), (sh, sw) = kernel, stride
    n, c, h, wd = x.shape
    out = np.zeros((n, c, (h - kh) // sh + 1, (wd - kw) // sw + 1))
    for a, ch, r, s, rows, cols in pool_windows_reference(x, kernel, stride):
        out[a, ch, r, s] = x[a, ch, rows, cols].sum() / (kh * kw)
    return out


# -- random small problems ----------------------------------------------------


ANY_STRIDE = st.integers(1, 3)


@st.composite
def conv_problems(draw, strides=ANY_STRIDE):
    """Shapes, strides and paddings, including ones that do not divide evenly."""
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), 6))
    w = draw(st.integers(max(1, kw - 2 * pw), 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    return dict(
        x=rng.normal(size=(n, c, h, w)),
        w=rng.normal(size=(f, c, kh, kw)),
        b=rng.normal(size=f),
        stride=(draw(strides), draw(strides)),
        padding=(ph, pw),
        seed=int(rng.integers(1000)),
    )


@st.composite
def pool_problems(draw):
    """Windows that overlap (stride < kernel), tile, or skip cells (stride > kernel)."""
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(kh, 6)), draw(st.integers(kw, 6))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # Distinct values at least 0.1 apart: no ties, and no finite-difference
    # step can change which cell holds a window's maximum.
    x = rng.permutation(n * c * h * w).reshape(n, c, h, w) * 0.1
    x = x + rng.uniform(0, 0.01, size=x.shape)
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return dict(x=x, kernel=(kh, kw), stride=stride, seed=int(rng.integers(1000)))


def assert_all_pass(report):
    """No input fails, and every element agrees to round-off of the output sum.

    A small element of a large gradient can be "doubtful" by relative error
    alone: the finite difference of a sum of many terms carries an absolute
    round-off of about 1e-9. A "vacuous" verdict is right when no window
    reads x (every window sits on padding); the true gradient is then 0.
    """
    assert report.passed, str(report)
    for check in report.checks:
        scale = max(1.0, float(np.abs(check.numeric).max(initial=0.0)))
        gap = float(np.abs(check.analytic - check.numeric).max(initial=0.0))
        assert gap < 1e-6 * scale, str(report)


# -- Conv2dGate ---------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(conv_problems())
def test_conv_forward_matches_loop_reference(p):
    gate = Conv2dGate(stride=p["stride"], padding=p["padding"])
    got = gate.forward(p["x"], p["w"], p["b"])
    want = conv_reference(p["x"], p["w"], p["b"], p["stride"], p["padding"])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(conv_problems())
def test_conv_gradients_match_finite_differences(p):
    gate = Conv2dGate(stride=p["stride"], padding=p["padding"])
    report = check_gate(gate, p["x"], p["w"], p["b"], seed=p["seed"])
    assert_all_pass(report)


@settings(max_examples=20, deadline=None)
@given(conv_problems(strides=st.just(1)))
def test_conv_unit_stride_fast_path_matches_reference_and_finite_differences(p):
    # Stride 1 takes its own col2im (contiguous runs over padded rows).
    gate = Conv2dGate(stride=1, padding=p["padding"])
    got = gate.forward(p["x"], p["w"], p["b"])
    want = conv_reference(p["x"], p["w"], p["b"], (1, 1), p["padding"])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert_all_pass(check_gate(gate, p["x"], p["w"], p["b"], seed=p["seed"]))


@pytest.mark.parametrize(
    "shape, kernel, stride, padding",
    [
        ((2, 3, 7, 6), (4, 3, 3, 3), 1, 1),
        ((2, 2, 9, 8), (3, 2, 3, 2), (2, 3), (1, 0)),
        ((1, 1, 16, 16), (1, 1, 7, 7), 3, 2),
        ((3, 2, 5, 5), (2, 2, 1, 1), 2, 0),
    ],
)
def test_conv_matches_torch_values_and_gradients(shape, kernel, stride, padding):
    torch = pytest.importorskip("torch", reason="torch is the reference convolution")
    rng = np.random.default_rng(7)
    x, w = rng.normal(size=shape), rng.normal(size=kernel)
    b = rng.normal(size=kernel[0])
    gate = Conv2dGate(stride=stride, padding=padding)
    out = gate.forward(x, w, b)
    upstream = rng.normal(size=out.shape)
    grads = gate.backward(upstream)

    tensors = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    ref = torch.nn.functional.conv2d(*tensors, stride=stride, padding=padding)
    ref.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    for grad, tensor in zip(grads, tensors):
        np.testing.assert_allclose(grad, tensor.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_conv_c17_stride_two_skips_last_row_and_column():
    gate = Conv2dGate(stride=2)
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    out = gate.forward(x, np.ones((1, 1, 3, 3)), np.zeros(1))
    dx, dw, db = gate.backward(np.ones((1, 1, 1, 1)))

    np.testing.assert_array_equal(out, [[[[45.0]]]])
    expected = np.zeros((4, 4))
    expected[:3, :3] = 1.0
    np.testing.assert_array_equal(dx[0, 0], expected)
    np.testing.assert_array_equal(dw[0, 0], x[0, 0, :3, :3])
    np.testing.assert_array_equal(db, [1.0])


def test_conv_c18_uneven_stride_with_padding_matches_numerical_gradient():
    rng = np.random.default_rng(18)
    x, w, b = rng.normal(size=(1, 1, 16, 16)), rng.normal(size=(1, 1, 7, 7)), [0.5]
    gate = Conv2dGate(stride=3, padding=2)
    out = gate.forward(x, w, np.array(b))
    assert out.shape == (1, 1, 5, 5)  # (16 + 4 - 7) // 3 + 1
    report = check_gate(gate, x, w, np.array(b), seed=18)
    assert report["x0"].analytic.shape == (1, 1, 16, 16)
    assert_all_pass(report)


def test_conv_cells_read_by_no_window_get_zero_gradient():
    # 7 + 0 - 3 = 4 is not a multiple of 3: windows start at rows 0 and 3,
    # so row 6 and column 6 are never read.
    gate = Conv2dGate(stride=3)
    rng = np.random.default_rng(1)
    gate.forward(
        rng.normal(size=(2, 2, 7, 7)), rng.normal(size=(3, 2, 3, 3)), np.ones(3)
    )
    dx = gate.backward(rng.normal(size=(2, 3, 2, 2)))[0]
    assert np.all(dx[:, :, 6, :] == 0) and np.all(dx[:, :, :, 6] == 0)
    assert np.all(dx[:, :, :6, :6] != 0)


def test_conv_keeps_float32_in_float32():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 5, 5)).astype(np.float32)
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    b = np.zeros(4, np.float32)
    gate = Conv2dGate(padding=1)
    out = gate.forward(x, w, b)
    grads = gate.backward(np.ones(out.shape, np.float32))
    assert out.dtype == np.float32
    assert [g.dtype for g in grads] == [np.float32] * 3
    want = conv_reference(x, w, b, (1, 1), (1, 1))
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)


def test_conv_accepts_integer_images():
    gate = Conv2dGate()
    out = gate.forward(np.arange(9).reshape(1, 1, 3, 3), np.ones((1, 1, 2, 2)), [0.0])
    np.testing.assert_array_equal(out[0, 0], [[8.0, 12.0], [20.0, 24.0]])


@pytest.mark.parametrize(
    "x_shape, w_shape, b_shape, match",
    [
        (
            (3, 4, 4),
            (1, 3, 2, 2),
            (1,),
            r"Conv2dGate: x must have shape \(N, C, H, W\)",
        ),
        ((1, 3, 4, 4), (3, 2, 2), (1,), r"w must have shape \(F, C, KH, KW\), got .*"),
        ((1, 3, 4, 4), (2, 2, 2, 2), (2,), r"x has 3 channels .* filters w expect 2"),
        ((1, 3, 4, 4), (2, 3, 2, 2), (3,), r"b must have shape \(2,\).* got shape"),
        ((1, 1, 4, 4), (1, 1, 5, 2), (1,), r"kernel 5x2 is larger than the padded"),
    ],
)
def test_conv_rejects_bad_shapes_with_a_clear_message(x_shape, w_shape, b_shape, match):
    with pytest.raises(ValueError, match=match):
        Conv2dGate().forward(np.zeros(x_shape), np.zeros(w_shape), np.zeros(b_shape))


def test_conv_padding_makes_room_for_a_large_kernel():
    out = Conv2dGate(padding=1).forward(
        np.ones((1, 1, 3, 3)), np.ones((1, 1, 5, 5)), [0]
    )
    np.testing.assert_array_equal(out, [[[[9.0]]]])


@pytest.mark.parametrize("stride", [0, -1, 1.5, True, (1, 2, 3), "2"])
def test_conv_rejects_bad_strides(stride):
    with pytest.raises(ValueError, match=r"Conv2dGate: stride must be an int >= 1"):
        Conv2dGate(stride=stride)


def test_conv_rejects_negative_padding():
    with pytest.raises(ValueError, match=r"Conv2dGate: padding must be an int >= 0"):
        Conv2dGate(padding=(1, -1))


# -- MaxPool2dGate ------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(pool_problems())
def test_max_pool_forward_matches_loop_reference(p):
    got = MaxPool2dGate(p["kernel"], stride=p["stride"]).forward(p["x"])
    want, _ = max_pool_reference(p["x"], p["kernel"], p["stride"])
    np.testing.assert_array_equal(got, want)


@settings(max_examples=20, deadline=None)
@given(pool_problems())
def test_max_pool_gradients_match_finite_differences(p):
    gate = MaxPool2dGate(p["kernel"], stride=p["stride"])
    assert_all_pass(check_gate(gate, p["x"], seed=p["seed"]))


def test_max_pool_c16_one_dimensional_overlap_adds_up():
    gate = MaxPool2dGate((1, 2), stride=1)
    out = gate.forward(np.array([1.0, 5.0, 2.0]).reshape(1, 1, 1, 3))
    np.testing.assert_array_equal(out.ravel(), [5.0, 5.0])
    dx = gate.backward(np.ones((1, 1, 1, 2)))[0]
    np.testing.assert_array_equal(dx.ravel(), [0.0, 2.0, 0.0])


def test_max_pool_c16_two_dimensional_overlap_adds_up():
    gate = MaxPool2dGate(2, stride=1)
    x = np.array([[1.0, 2, 3], [4, 9, 5], [6, 7, 8]]).reshape(1, 1, 3, 3)
    gate.forward(x)
    dx = gate.backward(np.ones((1, 1, 2, 2)))[0]
    np.testing.assert_array_equal(dx[0, 0], [[0, 0, 0], [0, 4, 0], [0, 0, 0]])


def test_max_pool_two_way_tie_splits_evenly_as_finite_differences_measure():
    x = np.array([[3.0, 3.0], [1.0, 2.0]]).reshape(1, 1, 2, 2)
    gate = MaxPool2dGate(2)
    gate.forward(x)
    dx = gate.backward(np.full((1, 1, 1, 1), 2.0))[0]
    np.testing.assert_array_equal(dx[0, 0], [[1.0, 1.0], [0.0, 0.0]])
    report = check_gate(gate, x, upstream=np.full((1, 1, 1, 1), 2.0))
    np.testing.assert_allclose(report["x0"].numeric, dx, atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(pool_problems(), st.integers(0, 2**32 - 1))
def test_max_pool_ties_share_one_over_k_and_conserve_the_gradient(p, seed):
    # Few distinct values: windows with 2, 3, 4 ... tied maxima.
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=p["x"].shape).astype(float)
    gate = MaxPool2dGate(p["kernel"], stride=p["stride"])
    out = gate.forward(x)
    upstream = rng.normal(size=out.shape)
    dx = gate.backward(upstream)[0]
    _, want = max_pool_reference(x, p["kernel"], p["stride"], upstream)
    np.testing.assert_allclose(dx, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx.sum(), upstream.sum(), rtol=1e-9, atol=1e-9)


def test_max_pool_window_with_nan_gives_nan_and_passes_no_gradient():
    x = np.array([[1.0, np.nan, 3.0, 4.0]]).reshape(1, 1, 1, 4)
    gate = MaxPool2dGate((1, 2))
    out = gate.forward(x)
    assert np.isnan(out[0, 0, 0, 0]) and out[0, 0, 0, 1] == 4.0
    dx = gate.backward(np.ones((1, 1, 1, 2)))[0]
    np.testing.assert_array_equal(dx.ravel(), [0.0, 0.0, 0.0, 1.0])


@pytest.mark.parametrize(
    "shape, kernel, stride",
    [((2, 3, 8, 8), 2, None), ((2, 2, 7, 9), (3, 2), (2, 1)), ((1, 2, 6, 6), 3, 1)],
)
def test_max_pool_matches_torch_values_and_gradients(shape, kernel, stride):
    torch = pytest.importorskip("torch", reason="torch is the reference pooling")
    rng = np.random.default_rng(3)
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.5
    gate = MaxPool2dGate(kernel, stride=stride)
    out = gate.forward(x)
    upstream = rng.normal(size=out.shape)
    dx = gate.backward(upstream)[0]

    tx = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.max_pool2d(tx, kernel, stride=stride)
    ref.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(out, ref.detach().numpy())
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_max_pool_keeps_float32_in_float32():
    x = np.random.default_rng(4).normal(size=(2, 2, 4, 4)).astype(np.float32)
    gate = MaxPool2dGate(2)
    out = gate.forward(x)
    assert out.dtype == np.float32
    assert gate.backward(np.ones(out.shape, np.float32))[0].dtype == np.float32


def test_max_pool_stride_defaults_to_kernel_size():
    gate = MaxPool2dGate((2, 3))
    assert gate.stride == (2, 3)
    assert gate.forward(np.zeros((1, 1, 5, 7))).shape == (1, 1, 2, 2)


def test_max_pool_rejects_bad_input_with_a_clear_message():
    with pytest.raises(
        ValueError, match=r"MaxPool2dGate: x must have shape .* \(4, 4\)"
    ):
        MaxPool2dGate(2).forward(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"MaxPool2dGate: the kernel 3x3 is larger"):
        MaxPool2dGate(3).forward(np.zeros((1, 1, 2, 5)))
    with pytest.raises(ValueError, match=r"MaxPool2dGate: kernel_size must be"):
        MaxPool2dGate(0)


# -- AvgPool2dGate ------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(pool_problems())
def test_avg_pool_forward_matches_loop_reference(p):
    got = AvgPool2dGate(p["kernel"], stride=p["stride"]).forward(p["x"])
    want = avg_pool_reference(p["x"], p["kernel"], p["stride"])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(pool_problems())
def test_avg_pool_gradients_match_finite_differences(p):
    gate = AvgPool2dGate(p["kernel"], stride=p["stride"])
    assert_all_pass(check_gate(gate, p["x"], seed=p["seed"]))


def test_avg_pool_overlapping_windows_add_up():
    gate = AvgPool2dGate(2, stride=1)
    gate.forward(np.zeros((1, 1, 3, 3)))
    dx = gate.backward(np.ones((1, 1, 2, 2)))[0]
    np.testing.assert_array_equal(
        dx[0, 0], [[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]]
    )


@pytest.mark.parametrize(
    "shape, kernel, stride", [((2, 3, 8, 8), 2, None), ((2, 2, 7, 9), (3, 2), (2, 1))]
)
def test_avg_pool_matches_torch_values_and_gradients(shape, kernel, stride):
    torch = pytest.importorskip("torch", reason="torch is the reference pooling")
    rng = np.random.default_rng(5)
    x = rng.normal(size=shape)
    gate = AvgPool2dGate(kernel, stride=stride)
    out = gate.forward(x)
    upstream = rng.normal(size=out.shape)
    dx = gate.backward(upstream)[0]

    tx = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.avg_pool2d(tx, kernel, stride=stride)
    ref.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_avg_pool_keeps_float32_and_averages_integers_in_float64():
    x32 = np.ones((1, 1, 2, 2), np.float32)
    assert AvgPool2dGate(2).forward(x32).dtype == np.float32
    out = AvgPool2dGate(2).forward(np.arange(4).reshape(1, 1, 2, 2))
    assert out.dtype == np.float64 and out.item() == 1.5


def test_pool_gates_have_symbols_and_readable_reprs():
    assert MaxPool2dGate(2).label == "maxpool"
    assert AvgPool2dGate(2).label == "avgpool"
    assert Conv2dGate().label == "conv"
    assert repr(MaxPool2dGate(2)) == "MaxPool2dGate(kernel_size=(2, 2), stride=(2, 2))"
