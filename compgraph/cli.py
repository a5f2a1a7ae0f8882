"""The ``compgraph`` command.

Subcommands live in the modules that own them and are imported only when
run, so ``compgraph --help`` stays fast and each part keeps its own code.
"""

import importlib

import click

__all__ = ["main"]

#: Subcommand name -> "module:attribute" of its click command.
COMMANDS = {
    "demo": "compgraph.cli:demo",
    "grade": "compgraph.grading.cli:grade",
    "assignment": "compgraph.grading.cli:assignment",
    "train": "compgraph.train_cli:train",
    "evaluate": "compgraph.train_cli:evaluate",
    "predict": "compgraph.train_cli:predict",
}


class LazyGroup(click.Group):
    """A click group that imports each subcommand's module on first use."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attribute)


@click.group(cls=LazyGroup)
@click.version_option(package_name="compgraph")
def main():
    """compgraph: see backprop happen, gate by gate."""


@click.command()
def demo():
    """Run the lecture's two examples forward and backward, step by step."""
    from compgraph.lecture import (
        FIRST_CIRCUIT_INPUTS,
        SIGMOID_NEURON_INPUTS,
        first_circuit,
        sigmoid_neuron,
    )
    from compgraph.trace import Trace

    examples = [
        ("f = (x + y) * z", first_circuit(), FIRST_CIRCUIT_INPUTS),
        (
            "f = 1 / (1 + exp(-(w0*x0 + w1*x1 + w2))), as primitive gates",
            sigmoid_neuron(primitive=True),
            SIGMOID_NEURON_INPUTS,
        ),
        (
            "the same neuron with one sigmoid gate",
            sigmoid_neuron(primitive=False),
            SIGMOID_NEURON_INPUTS,
        ),
    ]
    for title, graph, inputs in examples:
        fed = ", ".join(f"{k} = {v:g}" for k, v in inputs.items())
        click.secho(f"\n{title}   at {fed}", bold=True)
        click.secho("forward", fg="green")
        click.echo(Trace(graph.forward_steps(**inputs)))
        click.secho("backward", fg="red")
        click.echo(Trace(graph.backward_steps()))
        grads = graph.backward()
        click.echo(
            "gradients: "
            + ", ".join(
                f"d{graph.output().name}/d{k} = {v:.10g}" for k, v in grads.items()
            )
        )
