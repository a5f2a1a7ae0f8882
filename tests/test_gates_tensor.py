import math
import warnings

import numpy as np
import pytest
from gradients import assert_gradients_pass
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from compgraph import ComputationalGraph
from compgraph.gradcheck import check_graph
from gates.shape import (
    BroadcastGate,
    ConcatGate,
    FlattenGate,
    IndexGate,
    NarrowGate,
    ReshapeGate,
    TransposeGate,
)
from gates.tensor import AffineGate, EmbeddingGate, MatMulGate, MeanGate, SumGate

seeds = st.integers(0, 2**32 - 1)
shapes = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
few = settings(max_examples=25, deadline=None)


def normal(seed, shape):
    return np.random.default_rng(seed).normal(size=shape)


# -- sum and mean ---------------------------------------------------------------


@few
@given(shape=shapes, seed=seeds, data=st.data(), keepdims=st.booleans())
def test_sum_and_mean_match_numpy_and_gradcheck(shape, seed, data, keepdims):
    x = normal(seed, shape)
    axis = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    for gate, reference in ((SumGate, np.sum), (MeanGate, np.mean)):
        out = gate(axis, keepdims).forward(x)
        np.testing.assert_allclose(out, reference(x, axis=axis, keepdims=keepdims))
        assert_gradients_pass(gate(axis, keepdims), x, seed=seed)


def test_mean_gate_spreads_gradient_evenly_over_tuple_axes():
    gate = MeanGate(axis=(0, 2))
    x = np.arange(24.0).reshape(2, 3, 4)

    out = gate.forward(x)
    (dx,) = gate.backward(np.array([8.0, 16.0, 24.0]))

    np.testing.assert_allclose(out, x.mean(axis=(0, 2)))
    np.testing.assert_allclose(dx[:, 1, :], np.full((2, 4), 2.0))  # 16 / 8 elements
    assert dx.shape == x.shape


def test_scalar_reductions_of_float64_are_python_floats_and_float32_stays():
    assert type(MeanGate().forward(np.ones(3))) is float
    assert type(SumGate().forward(np.ones(3))) is float
    assert MeanGate().forward(np.ones(3, np.float32)).dtype == np.float32
    assert SumGate().forward(np.ones(3, np.float32)).dtype == np.float32


def test_mean_gate_refuses_axis_out_of_range_and_empty_input():
    with pytest.raises(ValueError, match="MeanGate: axis 2 is out of range"):
        MeanGate(axis=2).forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match="MeanGate: cannot average zero elements"):
        MeanGate().forward(np.ones((0, 3)))


# -- matmul and affine ----------------------------------------------------------


@few
@given(n=st.integers(1, 4), d=st.integers(1, 4), m=st.integers(1, 4), seed=seeds)
def test_matmul_matches_numpy_and_gradcheck(n, d, m, seed):
    a, b = normal(seed, (n, d)), normal(seed + 1, (d, m))

    np.testing.assert_allclose(MatMulGate().forward(a, b), a @ b)
    assert_gradients_pass(MatMulGate(), a, b, seed=seed)


def test_matmul_names_both_shapes_when_inner_dimensions_differ():
    with pytest.raises(ValueError, match=r"got a \(2, 3\) and b \(4, 5\)"):
        MatMulGate().forward(np.ones((2, 3)), np.ones((4, 5)))


@few
@given(
    n=st.integers(1, 3),
    rest=array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=3),
    m=st.integers(1, 3),
    seed=seeds,
)
def test_affine_flattens_trailing_axes_and_gradcheck(n, rest, m, seed):
    x = normal(seed, (n, *rest))
    W, b = normal(seed + 1, (math.prod(rest), m)), normal(seed + 2, m)
    gate = AffineGate()

    out = gate.forward(x, W, b)
    dx, dW, db = gate.backward(np.ones((n, m)))

    np.testing.assert_allclose(out, x.reshape(n, -1) @ W + b)
    assert dx.shape == x.shape and dW.shape == W.shape and db.shape == b.shape
    np.testing.assert_allclose(db, np.full(m, float(n)))
    assert_gradients_pass(AffineGate(), x, W, b, seed=seed)


def test_affine_error_names_the_shapes_of_x_and_w():
    with pytest.raises(ValueError, match=r"W must have shape \(6, M\).*got W \(5, 2\)"):
        AffineGate().forward(np.ones((4, 2, 3)), np.ones((5, 2)), np.ones(2))
    with pytest.raises(
        ValueError, match=r"b shape \(M,\); got W \(6, 2\) and b \(3,\)"
    ):
        AffineGate().forward(np.ones((4, 6)), np.ones((6, 2)), np.ones(3))
    with pytest.raises(
        ValueError, match=r"batch of shape \(N, \.\.\.\); got shape \(3,\)"
    ):
        AffineGate().forward(np.ones(3), np.ones((3, 2)), np.ones(2))


# -- shape plumbing -------------------------------------------------------------


@few
@given(shape=shapes, seed=seeds)
def test_reshape_and_flatten_round_trip_gradients(shape, seed):
    x = normal(seed, shape)

    assert ReshapeGate(-1).forward(x).shape == (x.size,)
    assert FlattenGate().forward(x).shape == (shape[0], x.size // shape[0])
    assert_gradients_pass(ReshapeGate((x.size, 1)), x, seed=seed)
    assert_gradients_pass(FlattenGate(), x, seed=seed)


def test_reshape_refuses_a_size_change():
    with pytest.raises(ValueError, match=r"shape \(2, 3\) \(6 elements\) to \(4,\)"):
        ReshapeGate(4).forward(np.ones((2, 3)))


@few
@given(shape=shapes, seed=seeds, data=st.data())
def test_transpose_permutes_and_gradient_permutes_back(shape, seed, data):
    x = normal(seed, shape)
    axes = tuple(data.draw(st.permutations(range(len(shape)))))

    np.testing.assert_array_equal(TransposeGate(axes).forward(x), x.transpose(axes))
    np.testing.assert_array_equal(TransposeGate().forward(x), x.T)
    assert_gradients_pass(TransposeGate(axes), x, seed=seed)


def test_transpose_refuses_axes_that_are_not_a_permutation():
    with pytest.raises(ValueError, match=r"axes \(0, 0\)|repeats an axis"):
        TransposeGate((0, 0)).forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match="not a permutation of the 3 axes"):
        TransposeGate((1, 0)).forward(np.ones((2, 3, 4)))


@few
@given(
    sizes=st.lists(st.integers(1, 3), min_size=1, max_size=4),
    other=st.integers(1, 3),
    axis=st.sampled_from([0, 1, -1]),
    seed=seeds,
)
def test_concat_joins_any_number_of_inputs_and_splits_the_gradient(
    sizes, other, axis, seed
):
    xs = [
        normal(seed + k, (size, other) if axis == 0 else (other, size))
        for k, size in enumerate(sizes)
    ]
    gate = ConcatGate(axis)

    out = gate.forward(*xs)
    grads = gate.backward(out * 10)

    np.testing.assert_array_equal(out, np.concatenate(xs, axis=axis))
    for x, grad in zip(xs, grads):
        np.testing.assert_array_equal(grad, 10 * x)
    assert_gradients_pass(ConcatGate(axis), *xs, seed=seed)


def test_concat_error_lists_the_shapes():
    with pytest.raises(ValueError, match=r"shapes \(2, 3\), \(2, 4\) along axis 0"):
        ConcatGate(0).forward(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="at least one input"):
        ConcatGate().forward()


def test_concat_gives_an_integer_input_a_float_gradient():
    gate = ConcatGate()
    gate.forward(np.array([1.0, 2.0]), np.array([3, 4]))

    dx, dn = gate.backward(np.array([1.0, 2.0, 3.0, 4.0]))

    np.testing.assert_array_equal(dx, [1.0, 2.0])
    np.testing.assert_array_equal(dn, [3.0, 4.0])
    assert dn.dtype == np.float64


@few
@given(shape=shapes, seed=seeds, data=st.data())
def test_narrow_keeps_a_window_and_zeroes_the_rest_of_the_gradient(shape, seed, data):
    x = normal(seed, shape)
    axis = data.draw(st.integers(0, len(shape) - 1))
    start = data.draw(st.integers(0, shape[axis] - 1))
    length = data.draw(st.integers(0, shape[axis] - start))
    gate = NarrowGate(axis, start, length)
    cut = (slice(None),) * axis + (slice(start, start + length),)

    out = gate.forward(x)
    (dx,) = gate.backward(np.ones(out.shape))

    np.testing.assert_array_equal(out, x[cut])
    assert dx.sum() == out.size and np.all(dx[cut] == 1)
    if length:
        assert_gradients_pass(NarrowGate(axis, start, length), x, seed=seed)


def test_narrow_counts_a_negative_start_from_the_end():
    x = np.arange(5.0)

    np.testing.assert_array_equal(NarrowGate(0, -2, 2).forward(x), [3.0, 4.0])
    with pytest.raises(ValueError, match="do not fit in axis 0 of length 5"):
        NarrowGate(0, 3, 3).forward(x)


# -- index ----------------------------------------------------------------------


def test_index_gate_adds_up_repeated_indices():
    gate = IndexGate([0, 2, 0, 0])
    x = np.array([5.0, 6.0, 7.0])

    out = gate.forward(x)
    (dx,) = gate.backward(np.array([1.0, 2.0, 3.0, 4.0]))

    np.testing.assert_array_equal(out, [5.0, 7.0, 5.0, 5.0])
    np.testing.assert_array_equal(dx, [8.0, 0.0, 2.0])


@few
@given(shape=shapes, seed=seeds, data=st.data())
def test_index_gate_with_repeating_integer_arrays_gradchecks(shape, seed, data):
    x = normal(seed, shape)
    rows = data.draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1))
    index = (np.array(rows), Ellipsis) if data.draw(st.booleans()) else rows
    gate = IndexGate(index)

    out = gate.forward(x)
    (dx,) = gate.backward(np.ones(out.shape))

    np.testing.assert_array_equal(out, x[np.array(rows)])
    counts = np.bincount(np.array(rows) % shape[0], minlength=shape[0])
    np.testing.assert_array_equal(dx.reshape(shape[0], -1)[:, 0], counts)
    assert_gradients_pass(IndexGate(index), x, seed=seed)


@pytest.mark.parametrize(
    "index",
    [
        1,
        (slice(None), 0),
        (slice(1, None, 2), slice(None, 2)),
        (Ellipsis, None, 1),
        np.array([True, False, True]),
        (np.array([2, 2]), slice(0, 3, 2)),
    ],
)
def test_index_gate_matches_numpy_indexing_and_gradchecks(index):
    x = normal(7, (3, 4))

    np.testing.assert_array_equal(IndexGate(index).forward(x), x[index])
    assert_gradients_pass(IndexGate(index), x)


def test_index_gate_gives_a_python_float_for_one_element():
    gate = IndexGate((1, 2))

    assert gate.forward(np.arange(12.0).reshape(3, 4)) == 6.0
    assert type(gate.forward(np.arange(12.0).reshape(3, 4))) is float
    assert gate.backward(2.0)[0][1, 2] == 2.0


def test_index_gate_symbol_shows_the_index():
    assert IndexGate((slice(1, 3), 0)).label == "[1:3, 0]"
    assert IndexGate([0, 0]).label == "[[0 0]]"


def test_index_gate_refuses_float_arrays_and_out_of_range_indices():
    with pytest.raises(ValueError, match="integers or booleans; got .* float64"):
        IndexGate(np.array([0.0, 1.0]))
    with pytest.raises(
        ValueError, match=r"IndexGate: cannot take \[5\] .* shape \(3,\)"
    ):
        IndexGate(5).forward(np.ones(3))


# -- broadcast ------------------------------------------------------------------


@few
@given(shape=shapes, seed=seeds, data=st.data())
def test_broadcast_sums_the_gradient_back(shape, seed, data):
    source = tuple(data.draw(st.sampled_from([1, n])) for n in shape)
    x = normal(seed, source)
    gate = BroadcastGate((2, *shape))

    out = gate.forward(x)
    (dx,) = gate.backward(np.ones(out.shape))

    np.testing.assert_array_equal(out, np.broadcast_to(x, (2, *shape)))
    np.testing.assert_array_equal(dx, np.full(source, out.size / x.size))
    assert_gradients_pass(BroadcastGate((2, *shape)), x, seed=seed)


def test_broadcast_output_is_writable_and_errors_name_the_shapes():
    out = BroadcastGate((2, 3)).forward(np.ones(3))
    out[0, 0] = 5.0  # a copy, not a read-only view

    with pytest.raises(ValueError, match=r"shape \(3,\) to \(2, 4\)"):
        BroadcastGate((2, 4)).forward(np.ones(3))


# -- embedding ------------------------------------------------------------------


@few
@given(
    index_shape=array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=4),
    vocabulary=st.integers(1, 5),
    depth=st.integers(1, 3),
    seed=seeds,
)
def test_embedding_looks_up_rows_and_adds_up_repeats(
    index_shape, vocabulary, depth, seed
):
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, vocabulary, index_shape)
    table = rng.normal(size=(vocabulary, depth))
    gate = EmbeddingGate()

    out = gate.forward(indices, table)
    dindices, dtable = gate.backward(np.ones(out.shape))

    assert out.shape == (*index_shape, depth)
    np.testing.assert_array_equal(out, table[indices])
    assert dindices is None
    counts = np.bincount(np.ravel(indices), minlength=vocabulary)
    np.testing.assert_array_equal(dtable, np.repeat(counts[:, None], depth, axis=1))
    assert_gradients_pass(EmbeddingGate(), indices, table, seed=seed)


def test_embedding_matches_torch_forward_and_backward():
    torch = pytest.importorskip("torch", reason="torch is the reference for embedding")
    rng = np.random.default_rng(3)
    indices = np.array([[1, 4, 1], [0, 1, 3]])
    table = rng.normal(size=(5, 3))
    upstream = rng.normal(size=(2, 3, 3))
    gate = EmbeddingGate()
    weight = torch.tensor(table, requires_grad=True)

    expected = torch.nn.functional.embedding(torch.tensor(indices), weight)
    expected.backward(torch.tensor(upstream))

    np.testing.assert_allclose(gate.forward(indices, table), expected.detach().numpy())
    np.testing.assert_allclose(gate.backward(upstream)[1], weight.grad.numpy())


def test_embedding_refuses_out_of_range_and_float_indices():
    table = np.ones((4, 2))
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 4\); got 4"):
        EmbeddingGate().forward(np.array([0, 4]), table)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 4\); got -1"):
        EmbeddingGate().forward(np.array([-1, 2]), table)
    with pytest.raises(ValueError, match=r"integers in \[0, 4\); .* dtype float64"):
        EmbeddingGate().forward(np.array([0.0, 1.0]), table)
    with pytest.raises(ValueError, match=r"table must have shape \(V, D\)"):
        EmbeddingGate().forward(np.array([0]), np.ones(4))


# -- dtypes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gate", "shapes_"),
    [
        (MeanGate(axis=0), [(3, 2)]),
        (MatMulGate(), [(3, 2), (2, 4)]),
        (AffineGate(), [(3, 2, 2), (4, 5), (5,)]),
        (FlattenGate(), [(3, 2, 2)]),
        (TransposeGate(), [(3, 2)]),
        (ConcatGate(1), [(3, 2), (3, 1)]),
        (NarrowGate(0, 1, 1), [(3, 2)]),
        (IndexGate([0, 0]), [(3, 2)]),
        (BroadcastGate((4, 3, 2)), [(3, 2)]),
    ],
)
def test_float32_inputs_give_float32_values_and_gradients(gate, shapes_):
    inputs = [normal(1, s).astype(np.float32) for s in shapes_]

    out = gate.forward(*inputs)
    grads = gate.backward(np.ones(out.shape))  # a float64 upstream gradient

    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads)


def test_plumbing_on_huge_values_raises_no_warning():
    x = np.array([[1e308, -1e308], [1e8, -1e8]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = AffineGate().forward(x, np.eye(2), np.zeros(2))
        means = MeanGate(axis=1).forward(x)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(means, [0.0, 0.0])


def test_mean_of_huge_values_is_finite_where_their_sum_is_not():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mean = MeanGate().forward(np.array([1e308, 1e308, 1e308]))

    assert mean == pytest.approx(1e308, rel=1e-15)


# -- in a graph -----------------------------------------------------------------


def test_plumbing_gates_pass_check_graph_in_place():
    rng = np.random.default_rng(4)
    g = ComputationalGraph()
    a, table = g.input("a"), g.parameter("table", rng.normal(size=(4, 3)))
    words = g.input("words")
    looked_up = g.add_gate(EmbeddingGate(), [words, table])  # (2, 3)
    joined = g.add_gate(ConcatGate(axis=0), [a, looked_up, a])  # (6, 3), a twice
    picked = joined.apply(IndexGate(([0, 5, 2, 2], slice(1, None))))
    g.add_gate(MeanGate(), [picked.apply(TransposeGate())])

    inputs = {"a": rng.normal(size=(2, 3)), "words": np.array([3, 3])}
    gate_reports, report = check_graph(g, **inputs)

    assert all(r.passed for r in gate_reports.values()), gate_reports
    assert report.passed, str(report)
    assert {c.name for c in report.checks} == {"a", "table"}
