"""Any valid subgradient at a tie or kink is accepted; anything else is not.

C06: at ``max(x, y)`` with ``x == y`` the two gradients sum to the upstream
(half and half, or one winner takes it all), never the upstream to both.
"""

import numpy as np
import pytest

import gates
from compgraph.grading.subgradients import PIECEWISE_LINEAR, subgradient_problem
from gates import ClampGate, L1LossGate, MaxGate, MaxPool2dGate, ReLUGate


def reference(gate_class, *args):
    def forwards(batch):
        return [gate_class(*args).forward(*inputs) for inputs in batch]

    return forwards


@pytest.mark.parametrize("upstream", [1.0, -3.0])
@pytest.mark.parametrize("share", [0.0, 0.25, 0.5, 1.0])
def test_max_at_a_tie_accepts_every_split_that_sums_to_the_upstream(upstream, share):
    grads = [share * upstream, (1 - share) * upstream]
    kinks, problem = subgradient_problem(
        reference(MaxGate), [2.0, 2.0], upstream, grads
    )
    assert (kinks, problem) == (2, None)


@pytest.mark.parametrize(
    "grads, why",
    [
        ([1.0, 1.0], "tied or at a kink together: the gradients of input 0, input 1 "
         "sum to 2, but must sum to 1"),
        ([0.0, 0.0], "sum to 0, but must sum to 1"),
        ([-0.5, 1.5], "input 0 is -0.5, but it sits at a tie or kink where it must "
         "lie between the one-sided slopes 0 and 1"),
    ],
)  # fmt: skip
def test_max_at_a_tie_rejects_shares_that_do_not_split_the_upstream(grads, why):
    _, problem = subgradient_problem(reference(MaxGate), [2.0, 2.0], 1.0, grads)
    assert why in problem
    assert "as long as the shares sum to the upstream" in problem


def test_ties_in_vectors_are_judged_each_on_its_own():
    x, y = np.array([1.0, 3.0, -2.0]), np.array([1.0, 0.5, -2.0])
    upstream = np.array([2.0, -1.0, 4.0])
    good = [np.array([2.0, -1.0, 0.0]), np.array([0.0, 0.0, 4.0])]
    assert subgradient_problem(reference(MaxGate), [x, y], upstream, good) == (4, None)
    # Totals right over the vector, but tie 0 gets twice and tie 2 nothing.
    bad = [np.array([2.0, -1.0, 2.0]), np.array([2.0, 0.0, 0.0])]
    _, problem = subgradient_problem(reference(MaxGate), [x, y], upstream, bad)
    assert "sum to 4, but must sum to 2" in problem


def test_a_wrong_gradient_away_from_the_tie_is_still_wrong():
    x, y = np.array([1.0, 3.0]), np.array([1.0, 0.5])
    upstream = np.array([1.0, 1.0])
    grads = [np.array([0.5, 2.0]), np.array([0.5, 0.0])]
    exact = [np.array([0.5, 1.0]), np.array([0.5, 0.0])]
    _, problem = subgradient_problem(reference(MaxGate), [x, y], upstream, grads, exact)
    assert problem == (
        "gradient of input 0 at index (1,): expected 1, received 2 (relative error 0.5)"
    )


@pytest.mark.parametrize("slope", [0.0, 0.5, 1.0, 0.3])
def test_relu_at_zero_accepts_any_local_gradient_in_zero_one(slope):
    x = np.array([-2.0, 0.0, 3.0])
    upstream = np.array([1.5, -2.0, 0.5])
    grads = [upstream * np.array([0.0, slope, 1.0])]
    assert subgradient_problem(reference(ReLUGate), [x], upstream, grads) == (1, None)


@pytest.mark.parametrize("slope", [-0.5, 1.5, 2.0])
def test_relu_at_zero_rejects_a_local_gradient_outside_zero_one(slope):
    x = np.array([-2.0, 0.0, 3.0])
    upstream = np.array([1.5, -2.0, 0.5])
    grads = [upstream * np.array([0.0, slope, 1.0])]
    _, problem = subgradient_problem(reference(ReLUGate), [x], upstream, grads)
    assert "between the one-sided slopes -2 and 0" in problem


def max_pool_case():
    # Windows 2x2, stride 1: the top-right window has two tied 5s, and the
    # left 5 is also the only maximum of the top-left window.
    x = np.array([[1.0, 5, 5], [2, 3, 0], [5, 1, 4]]).reshape(1, 1, 3, 3)
    upstream = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    return x, upstream


def pool_grad(left_share):
    grad = np.zeros((1, 1, 3, 3))
    grad[0, 0, 0, 1] = 1.0 + 2.0 * left_share
    grad[0, 0, 0, 2] = 2.0 * (1 - left_share)
    grad[0, 0, 2, 0] = 3.0
    grad[0, 0, 2, 2] = 4.0
    return grad


@pytest.mark.parametrize("left_share", [0.0, 0.5, 1.0])
def test_max_pool_tie_accepts_any_split_inside_the_window(left_share):
    x, upstream = max_pool_case()
    forwards = reference(MaxPool2dGate, 2, 1)
    kinks, problem = subgradient_problem(
        forwards, [x], upstream, [pool_grad(left_share)]
    )
    assert (kinks, problem) == (2, None)


def test_max_pool_tie_rejects_the_full_gradient_to_every_tied_maximum():
    x, upstream = max_pool_case()
    grad = pool_grad(1.0)
    grad[0, 0, 0, 2] = 2.0  # both 5s take the window's whole upstream
    _, problem = subgradient_problem(
        reference(MaxPool2dGate, 2, 1), [x], upstream, [grad]
    )
    assert "sum to 5, but must sum to 3" in problem


def test_no_kink_means_the_reference_decides():
    kinks, problem = subgradient_problem(
        reference(MaxGate), [3.0, 2.0], 1.0, [1.0, 0.0], exact=[1.0, 0.0]
    )
    assert (kinks, problem) == (0, None)


def test_every_gate_named_for_ties_and_kinks_exists_in_the_library():
    assert sorted(n for n in PIECEWISE_LINEAR if not hasattr(gates, n)) == []


@pytest.mark.parametrize("slope", [0.0, 0.5, 1.0])
def test_clamp_at_its_bound_accepts_any_local_gradient_in_zero_one(slope):
    kinks, problem = subgradient_problem(
        reference(ClampGate, -1.0, 1.0), [1.0], 1.0, [slope]
    )
    assert (kinks, problem) == (1, None)


def test_l1_loss_at_a_zero_error_rejects_a_slope_outside_its_one_sided_slopes():
    kinks, problem = subgradient_problem(
        reference(L1LossGate), [2.0, 2.0], 1.0, [3.0, -3.0]
    )
    assert kinks >= 1
    assert "must lie between the one-sided slopes -1 and 1" in problem
