"""The built-in assignments: ``gates``, ``graph`` and ``layers``.

Each module defines ``build()``, which returns its
:class:`~compgraph.grading.api.Assignment`.
"""

__all__ = []
