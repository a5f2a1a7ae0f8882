"""Names: the default name of an unnamed gate, and messages for unknown names.

Unnamed gates are named after their class (``add1``, ``multiply2``); a name
that is not in the graph gets a message that says what it was renamed to,
or suggests the closest name there is.
"""

import difflib
import functools

__all__ = ["default_prefix", "unknown_input_message", "unknown_node_message"]


def default_prefix(gate) -> str:
    """Name stem for an unnamed gate: its class name, lower case, minus "gate".

    A stem that ends in a digit gets an underscore, so numbers stay apart:

    >>> from gates import AddGate
    >>> default_prefix(AddGate())
    'add'
    """
    return _class_prefix(type(gate))


@functools.cache  # one string per gate class, not one per gate added
def _class_prefix(cls) -> str:
    prefix = cls.__name__.lower()
    if prefix.endswith("gate") and prefix != "gate":
        prefix = prefix[: -len("gate")]
    return prefix + "_" if prefix[-1:].isdigit() else prefix


def unknown_input_message(graph, name, expected) -> str:
    """Why ``forward`` cannot take ``name``, with a "did you mean" when close."""
    listed = ", ".join(expected) or "none"
    if name in graph:
        return (
            f"forward() was given {name!r}, which is a {graph.kind(name)}, not an "
            f"input; the graph's inputs are {listed}"
        )
    close = difflib.get_close_matches(name, expected, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"forward() got an unknown input {name!r}; the graph's inputs are "
        f"{listed}.{hint}"
    )


def unknown_node_message(name, names, renamed=None) -> str:
    """No node ``name``; say what it was renamed to, or suggest the closest one."""
    if renamed and name in renamed:
        return (
            f"the graph has no node named {name!r}: it was renamed to "
            f"{renamed[name]!r}; use the handle that rename returned"
        )
    close = difflib.get_close_matches(str(name), map(str, names), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"the graph has no node named {name!r}{hint}"
