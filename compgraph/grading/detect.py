"""Find graded code that imports, subclasses, calls or copies the library's own.

compgraph ships working gates and a working graph, so the easiest
"solution" is the library itself. Two checks run on the submission's source,
in the grader's process, without running it:

- *use*: static analysis of the code a graded class is made of (the class
  and the module-level functions and classes it refers to, transitively)
  for imports of the blocked modules, names bound to them, base classes
  taken from them, and run-time imports or ``exec`` that could hide either;
- *copy*: similarity of normalized tokens (docstrings and comments dropped,
  formatting normalized by ``ast.unparse``) between that code and the
  library's source of the same thing, as a whole and function by function.
  Short code is not compared: a correct ``AddGate`` is the same few tokens
  whoever writes it.
"""

import ast
import difflib
import functools
import inspect
import io
import sys
import tokenize

__all__ = [
    "Finding",
    "find_library_use",
    "blocked_imports",
    "similarity",
    "COPY_THRESHOLD",
]

#: Token similarity from which code counts as copied.
COPY_THRESHOLD = 0.85
#: Code with fewer tokens in its function bodies is never compared as a whole,
#: and a single function with fewer than MIN_FUNCTION_TOKENS is never compared.
MIN_TOKENS = 80
MIN_FUNCTION_TOKENS = 50
_DYNAMIC = {"__import__", "exec", "eval", "compile", "import_module", "__loader__"}


class Finding(str):
    """Why a graded class scores zero (a sentence)."""


def find_library_use(sources: dict, targets: dict, blocked, allowed) -> dict:
    r"""``{class name: Finding}`` for the graded classes that use the library.

    Parameters
    ----------
    sources : dict
        ``{file name: source text}`` of the submission.
    targets : dict
        ``{class name the student writes: the library's version (or None)}``.
    blocked, allowed : sequence of str
        Module prefixes that are the library, and exceptions (``gates.base``).

    Examples
    --------
    >>> from gates import MaxGate
    >>> code = "from gates import MaxGate as M\nclass MaxGate(M):\n    pass\n"
    >>> find_library_use({"my_gates.py": code}, {"MaxGate": MaxGate},
    ...                  ["gates"], ["gates.base"])
    {'MaxGate': "subclasses the library's gates.MaxGate"}
    """
    findings = {}
    for source in sources.values():
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        module = _Module(tree, blocked, allowed)
        for target, reference in targets.items():
            if target in findings:
                continue
            reason = module.use_of_library(target)
            if reason is None and reference is not None:
                reason = module.copy_of(target, reference)
            if reason is not None:
                findings[target] = Finding(reason)
    return findings


def blocked_imports(sources: dict, blocked, allowed) -> list[str]:
    """Every blocked module a submission imports, anywhere in its files.

    >>> blocked_imports({"a.py": "import compgraph.gradcheck"}, ["compgraph"], [])
    ['compgraph.gradcheck']
    """
    found = []
    for source in sources.values():
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        module = _Module(tree, blocked, allowed)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                # ``from gates import base`` takes only the allowed gates.base
                taken = [f"{node.module}.{alias.name}" for alias in node.names]
                names = [node.module] if any(map(module._library, taken)) else []
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found += [n for n in names if module._library(n) and n not in found]
    return found


class _Module:
    def __init__(self, tree, blocked, allowed):
        self.tree = tree
        self.blocked, self.allowed = tuple(blocked), tuple(allowed)
        self.definitions, self.bindings, self.aliases = {}, {}, {}
        # The library base of each class, judged where the class is defined:
        # ``class AddGate(AddGate)`` subclasses the import it then replaces.
        self.library_bases = {}
        # In module order, so that the last statement to bind a name wins:
        # a class defined after ``from gates import AddGate`` replaces it.
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                bases = getattr(node, "bases", [])
                origins = [o for o in map(self._origin, bases) if o]
                self.library_bases[node.name] = origins[0] if origins else None
                self.definitions[node.name] = node
                self.bindings.pop(node.name, None)
                self.aliases.pop(node.name, None)
            for name, origin in _imports(node).items():
                self.bindings[name] = origin
                self.aliases.pop(name, None)
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                if isinstance(node.targets[0], ast.Name):
                    self.aliases[node.targets[0].id] = node.value
                    self.bindings.pop(node.targets[0].id, None)

    def _library(self, dotted: str) -> bool:
        matches = lambda prefixes: any(  # noqa: E731
            dotted == p or dotted.startswith(p + ".") for p in prefixes
        )
        return matches(self.blocked) and not matches(self.allowed)

    def _origin(self, expression) -> str | None:
        """The library name an expression refers to (``gates.MaxGate``), if any."""
        parts = []
        while isinstance(expression, ast.Attribute):
            parts.append(expression.attr)
            expression = expression.value
        if not isinstance(expression, ast.Name):
            return None
        bound = self.bindings.get(expression.id)
        if bound is None:
            alias = self.aliases.get(expression.id)
            bound = self._origin(alias) if alias is not None else None
            if bound is None:
                return None
        dotted = ".".join([bound, *reversed(parts)])
        return dotted if self._library(dotted) else None

    def region(self, name):
        """The definitions ``name`` is made of: itself and what it refers to."""
        seen, stack = [], [name]
        while stack:
            current = stack.pop()
            node = self.definitions.get(current)
            if node is None or node in seen:
                continue
            seen.append(node)
            stack += [
                n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id != name
            ]
        return seen

    def use_of_library(self, target) -> str | None:
        if target in self.bindings and self._origin(ast.Name(id=target)):
            return f"is the library's own {self._origin(ast.Name(id=target))}"
        if target in self.aliases and self._origin(self.aliases[target]):
            return f"is the library's own {self._origin(self.aliases[target])}"
        definition = self.definitions.get(target)
        if not isinstance(definition, ast.ClassDef):
            return None
        if self.library_bases.get(target):
            return f"subclasses the library's {self.library_bases[target]}"
        for node in self.region(target):
            # A name that starts an attribute chain is judged with its chain.
            roots = {
                id(n.value)
                for n in ast.walk(node)
                if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
            }
            for inner in ast.walk(node):
                for dotted in _imported_modules(inner):
                    if self._library(dotted):
                        return f"imports the library's {dotted} in its code"
                if (
                    isinstance(inner, ast.Name)
                    and isinstance(inner.ctx, ast.Load)
                    and id(inner) not in roots
                ):
                    origin = self._origin(inner)
                    if origin:
                        return f"uses the library's {origin} in its code"
                if isinstance(inner, ast.Attribute) and isinstance(inner.ctx, ast.Load):
                    origin = self._origin(inner)
                    if origin:
                        return f"uses the library's {origin} in its code"
                called = _dynamic_call(inner)
                if called:
                    return (
                        f"calls {called}() in its code; the grader cannot check "
                        "code or imports built at run time"
                    )
        return None

    def copy_of(self, target, reference) -> str | None:
        if target not in self.definitions:
            return None
        mine = _functions(self.region(target), target)
        theirs = theirs_functions(reference)
        whole = similarity(sum(mine, []), sum(theirs, []))
        if min(len(sum(mine, [])), len(sum(theirs, []))) >= MIN_TOKENS:
            if whole >= COPY_THRESHOLD:
                return (
                    f"is a copy of the library's {reference.__name__} "
                    f"(token similarity {whole:.2f})"
                )
        for a in (m for m in mine if len(m) >= MIN_FUNCTION_TOKENS):
            for b in (t for t in theirs if len(t) >= MIN_FUNCTION_TOKENS):
                ratio = similarity(a, b)
                if ratio >= COPY_THRESHOLD:
                    return (
                        f"copies a function of the library's "
                        f"{reference.__name__} (token similarity {ratio:.2f})"
                    )
        return None


def _imports(node) -> dict:
    """Names a statement binds by importing: ``{local name: dotted origin}``."""
    bound = {}
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                bound[alias.asname] = alias.name
            else:
                bound[alias.name.split(".")[0]] = alias.name.split(".")[0]
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        for alias in node.names:
            bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def _imported_modules(node) -> list[str]:
    """The full dotted names an import statement brings in."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [f"{node.module}.{alias.name}" for alias in node.names]
    return []


def _dynamic_call(node) -> str | None:
    """The name of a call that builds code or imports at run time, if it is one.

    Bare ``exec(...)``, ``eval(...)``, ``compile(...)``, ``__import__(...)``,
    the same through ``builtins``, and ``import_module`` anywhere; a method
    that only shares a name (``re.compile``, ``df.eval``) is not one.
    """
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Name):
        return func.id if func.id in _DYNAMIC else None
    if not isinstance(func, ast.Attribute):
        return None
    owner = func.value.id if isinstance(func.value, ast.Name) else None
    if func.attr in ("import_module", "__import__") or owner == "__loader__":
        return func.attr
    if owner in ("builtins", "__builtins__") and func.attr in _DYNAMIC:
        return func.attr
    return None


@functools.cache
def theirs_functions(reference) -> list[list[str]]:
    """Normalized tokens of each function in the library's version."""
    tree = ast.parse(inspect.getsource(sys.modules[reference.__module__]))
    module = _Module(tree, (), ())
    return _functions(module.region(reference.__name__), reference.__name__)


def _functions(nodes, name) -> list[list[str]]:
    """Normalized tokens of each function's body (signatures left out)."""
    return [
        _tokens("\n".join(ast.unparse(statement) for statement in inner.body), name)
        for node in nodes
        for inner in ast.walk(node)
        if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def _tokens(source: str, class_name: str) -> list[str]:
    """Tokens of code with docstrings gone and the class name made neutral."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(
                body[0].value.value, str
            ):
                body.pop(0)
                if not body:
                    body.append(ast.Pass())
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    tokens = []
    for token in tokenize.generate_tokens(io.StringIO(ast.unparse(tree)).readline):
        if token.type in skip or token.type == tokenize.ENDMARKER:
            continue
        tokens.append("CLASS" if token.string == class_name else token.string)
    return tokens


def similarity(a: list, b: list) -> float:
    """Share of matching tokens between two token lists, 0 to 1.

    >>> similarity(list("abcd"), list("abcx"))
    0.75
    """
    if not a or not b:
        return 0.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
