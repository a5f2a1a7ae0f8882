"""Student skeletons: signatures and docstrings of the graded classes, no bodies."""

import inspect
import textwrap

__all__ = ["gate_skeleton"]

HEADER = '''"""{title}

Fill in every method that raises NotImplementedError, then check yourself:

    compgraph grade {filename} --assignment {name} --public

The public tasks are a part of the grade; hidden tasks run after the deadline.
Do not import or copy compgraph's own gates: such a class scores zero.
"""

import numpy as np

from gates.base import Gate, unbroadcast  # the contract and a helper you may use
'''


def gate_skeleton(assignment, gates) -> str:
    """Source of a file with one empty class per ``(name, reference[, note])``.

    Each class keeps the reference's constructor and forward signatures and
    the first paragraph of its docstring (function and local gradients).

    >>> from gates import ExpGate
    >>> from compgraph.grading.api import Assignment
    >>> a = Assignment("demo", "Demo gates", "my_gates.py", [])
    >>> print(gate_skeleton(a, [("ExpGate", ExpGate)]).splitlines()[-1].strip())
    raise NotImplementedError("ExpGate.backward: implement me (tasks ExpGate.*)")
    """
    text = HEADER.format(
        title=assignment.title, filename=assignment.filename, name=assignment.name
    )
    for name, reference, *note in gates:
        doc = (inspect.getdoc(reference) or name).split("\n\n")[0]
        if note:
            doc += "\n\n" + textwrap.fill(note[0], 76)
        doc = "\n    ".join(doc.splitlines()).replace("\n    \n", "\n\n")
        text += f'\n\nclass {name}(Gate):\n    """{doc}"""\n'
        if "__init__" in vars(reference):
            signature = inspect.signature(reference.__init__)
            params = [p for p in signature.parameters if p != "self"]
            text += f"\n    def __init__{_plain(signature)}:\n"
            text += "".join(f"        self.{p} = {p}\n" for p in params)
        forward = _plain(inspect.signature(reference.forward))
        text += (
            f"\n    def forward{forward}:\n"
            '        """Return the output; keep on self what backward needs."""\n'
            f'        raise NotImplementedError("{name}.forward: implement me '
            f'(tasks {name}.*)")\n'
            "\n    def backward(self, upstream):\n"
            '        """Return one gradient per input (a tuple), like the inputs."""\n'
            f'        raise NotImplementedError("{name}.backward: implement me '
            f'(tasks {name}.*)")\n'
        )
    return text


def _plain(signature) -> str:
    """A signature without annotations (the skeleton imports nothing for them)."""
    params = [
        p.replace(annotation=inspect.Parameter.empty)
        for p in signature.parameters.values()
    ]
    return str(
        signature.replace(parameters=params, return_annotation=inspect.Signature.empty)
    )
