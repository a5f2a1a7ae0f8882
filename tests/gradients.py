"""Test helper shared by the gate tests: a gradient check that must pass."""

from compgraph.gradcheck import check_gate


def assert_gradients_pass(gate, *inputs, seed=0):
    """Gradient-check ``gate`` in float64 with a random upstream gradient.

    The checker itself judges components below the rounding noise of a
    centered difference absolutely (see ``compgraph.gradcheck.noise_floor``),
    so its verdict is taken as it is.
    """
    report = check_gate(gate, *inputs, seed=seed)
    assert report.checks, "no float input was checked"
    assert report.passed, str(report)
    return report
