"""Random DAGs of the lecture's gates against finite differences and HIPS autograd.

A seeded generator writes a *recipe*: a list of operations, each reading
earlier nodes, recent ones more often, so nodes fan out. The recipe is built
once as a ComputationalGraph and once as a plain function of
``autograd.numpy``; the two must agree on the value and on every gradient.
"""

import numpy as np
import pytest

from compgraph import ComputationalGraph
from compgraph.gradcheck import numerical_gradient

autograd = pytest.importorskip("autograd", reason="autograd is the independent oracle")
anp = pytest.importorskip("autograd.numpy")

# name: (arity, graph builder, autograd builder). Log, sqrt and divide read
# a shifted square, so every value stays in their domain.
OPS = {
    "add": (2, lambda a, b: a + b, lambda a, b: a + b),
    "sub": (2, lambda a, b: a - b, lambda a, b: a - b),
    "mul": (2, lambda a, b: a * b, lambda a, b: a * b),
    "div": (2, lambda a, b: a / (b.square() + 1), lambda a, b: a / (b * b + 1)),
    "max": (2, lambda a, b: a.max(b), anp.maximum),
    "min": (2, lambda a, b: a.min(b), anp.minimum),
    "neg": (1, lambda a: -a, lambda a: -a),
    "scale": (1, lambda a: 0.7 * a, lambda a: 0.7 * a),
    "shift": (1, lambda a: a - 0.3, lambda a: a - 0.3),
    "exp": (1, lambda a: a.exp(), anp.exp),
    "log": (1, lambda a: (a * a + 1).log(), lambda a: anp.log(a * a + 1)),
    "sigmoid": (1, lambda a: a.sigmoid(), lambda a: 1 / (1 + anp.exp(-a))),
    "tanh": (1, lambda a: a.tanh(), anp.tanh),
    "relu": (1, lambda a: a.relu(), lambda a: anp.maximum(a, 0.0)),
    "abs": (1, lambda a: a.abs(), anp.abs),
    "square": (1, lambda a: a.square(), lambda a: a * a),
    "cube": (1, lambda a: a**3, lambda a: a**3),
    "sqrt": (1, lambda a: (a * a + 0.5).sqrt(), lambda a: anp.sqrt(a * a + 0.5)),
    "recip": (1, lambda a: 1 / (a.square() + 1), lambda a: 1 / (a * a + 1)),
}
SHAPES = [[(), (), ()], [(3,), (3,), ()], [(2, 3), (3,), (2, 1)], [(4,), (1,), (4,)]]


def make_recipe(seed, size=20):
    """Inputs (name -> value) and a list of (op, argument indices) steps.

    Steps whose value would leave [-30, 30] are replaced by a tanh, so
    values stay where finite differences are accurate.
    """
    rng = np.random.default_rng(seed)
    shapes = SHAPES[seed % len(SHAPES)]
    inputs = {
        f"x{i}": float(rng.uniform(-2, 2)) if s == () else rng.uniform(-2, 2, s)
        for i, s in enumerate(shapes)
    }
    values, steps = list(inputs.values()), []
    names = list(OPS)
    for _ in range(size):
        op = names[rng.integers(len(names))]
        arity = OPS[op][0]
        # Recent nodes are read more often; every node may be read again.
        weights = np.arange(1, len(values) + 1, dtype=float) ** 2
        args = tuple(rng.choice(len(values), arity, p=weights / weights.sum()))
        with np.errstate(all="ignore"):
            out = OPS[op][2](*(values[i] for i in args))
        if not np.all(np.abs(out) < 30):
            op, args = "tanh", args[:1]
            out = np.tanh(values[args[0]])
        values.append(out)
        steps.append((op, args))
    return inputs, steps


def build_graph(inputs, steps):
    g = ComputationalGraph()
    nodes = [g.input(name) for name in inputs]
    for op, args in steps:
        nodes.append(OPS[op][1](*(nodes[i] for i in args)))
    total = nodes[-1] + nodes[-2] + nodes[-3]  # several sinks, so more fan-out
    g.output(total.sum() if np.ndim(g.forward(**inputs)) else total)
    return g


def build_function(steps):
    def f(*inputs):
        values = list(inputs)
        for op, args in steps:
            values.append(OPS[op][2](*(values[i] for i in args)))
        return anp.sum(values[-1] + values[-2] + values[-3])

    return f


SEEDS = range(240)


# autograd warns when an input does not reach the output; its gradient is 0.
@pytest.mark.filterwarnings("ignore:Output seems independent of input")
@pytest.mark.parametrize("seed", SEEDS)
def test_random_dag_matches_autograd(seed):
    inputs, steps = make_recipe(seed)
    g = build_graph(inputs, steps)
    value = g.forward(**inputs)
    grads = g.backward()

    f = build_function(steps)
    assert value == pytest.approx(float(f(*inputs.values())), rel=1e-12, abs=1e-12)
    for port, name in enumerate(inputs):
        expected = autograd.grad(f, port)(*inputs.values())
        assert np.shape(grads[name]) == np.shape(inputs[name])
        np.testing.assert_allclose(grads[name], expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS[::2])
def test_random_dag_matches_centered_differences(seed):
    inputs, steps = make_recipe(seed)
    g = build_graph(inputs, steps)
    g.forward(**inputs)
    grads = g.backward()

    for name, value in inputs.items():

        def f(x, name=name):
            return float(g.forward(**{**inputs, name: x if np.ndim(x) else float(x)}))

        numeric, kinks = numerical_gradient(f, value)
        smooth = ~kinks  # a step that crossed a relu/abs/max corner proves nothing
        np.testing.assert_allclose(
            np.asarray(grads[name])[smooth], numeric[smooth], rtol=1e-5, atol=1e-6
        )


def test_random_dags_have_fan_out_and_use_every_operation():
    used, fanned = set(), 0
    for seed in SEEDS:
        inputs, steps = make_recipe(seed)
        used.update(op for op, _ in steps)
        g = build_graph(inputs, steps)
        fanned += any(g.dag.out_degree(n) > 1 for n in g.dag)
    assert used == set(OPS)
    assert fanned == len(SEEDS)
