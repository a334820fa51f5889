"""Copying a function's source verbatim into an exported file (internal to :mod:`autolr.export`).

:func:`function_source` returns the dedented source of a family's ``factor`` (or of autolr's
warmup), after checking that it stands alone in a module that imports only ``math`` and
``torch``: a plain, undecorated, module-level ``def`` that reads no global name but builtins,
``math`` and ``torch``, assigns none, and whose source file has not changed since it was imported.
Every refusal is an :class:`~autolr.ExportError` that says what to change.
"""

from __future__ import annotations

import ast
import builtins
import dis
import inspect
import textwrap
import types
from dataclasses import dataclass
from typing import Any

from autolr.errors import ExportError

ALLOWED_MODULES = ("math", "torch")
BUILTIN_NAMES = frozenset(dir(builtins))


@dataclass(frozen=True)
class Source:
    name: str
    text: str
    modules: frozenset[str]  # which of math / torch the function uses


def function_source(fn: Any, what: str, fix_name: str) -> Source:
    """The dedented source of ``fn``, checked to stand alone in a module that imports only
    ``math`` and ``torch``. ``what`` names the function in messages."""
    how = (
        f"Write it as a plain module-level function, `def {fix_name}(step, total_steps, ...)`, "
        "that uses only its arguments, builtins, math and torch, and register that."
    )
    if not isinstance(fn, types.FunctionType):
        raise ExportError(
            f"{what} is a {type(fn).__name__} object, not a plain function, so its source cannot "
            f"be copied into the exported file. {how}"
        )
    if fn.__name__ == "<lambda>":
        raise ExportError(
            f"{what} is a lambda, which cannot be copied into the exported file as a function. "
            f"{how}"
        )
    if fn.__closure__:
        names = ", ".join(fn.__code__.co_freevars)
        raise ExportError(
            f"{what} ({fn.__name__}) is a closure: it reads {names} from the function that "
            f"defined it, which the exported file would not have. Make {names} parameters with "
            "defaults, or write the values into the function, and register it at module level."
        )
    try:
        text = inspect.getsource(fn)
    except (OSError, TypeError) as exc:
        raise ExportError(
            f"{what} ({fn.__name__}) has no source code autolr can read ({exc}). Define it in a "
            f".py file rather than at the interactive prompt or with exec. {how}"
        ) from None
    text = textwrap.dedent(text)
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise ExportError(f"The source of {what} ({fn.__name__}) does not parse alone: {exc}. "
                          f"{how}") from None
    node = tree.body[0] if len(tree.body) == 1 else None
    if not isinstance(node, ast.FunctionDef) or node.name != fn.__name__:
        raise ExportError(
            f"The source autolr finds for {what} ({fn.__name__}) is not one `def "
            f"{fn.__name__}`. {how}"
        )
    if node.decorator_list:
        raise ExportError(
            f"{what} ({fn.__name__}) is decorated; the exported file would need the decorator "
            "too. Register the plain, undecorated function."
        )
    names, imports, stores = _code_names(fn.__code__)
    for expr in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
        names |= {sub.id for sub in ast.walk(expr) if isinstance(sub, ast.Name)}
    if stores:
        raise ExportError(
            f"{what} ({fn.__name__}) assigns the global name(s) {', '.join(sorted(stores))}; a "
            "factor must be a pure function of its arguments. Use local variables instead."
        )
    bad_imports = sorted(imports - set(ALLOWED_MODULES))
    if bad_imports:
        raise ExportError(
            f"{what} ({fn.__name__}) imports {', '.join(bad_imports)}; the exported file may "
            "import only math and torch. Write the formula with math (or torch) instead."
        )
    modules = set(imports)
    outside = []
    for name in sorted(names):
        value = fn.__globals__.get(name, _MISSING)
        if name in ALLOWED_MODULES:
            if not (isinstance(value, types.ModuleType) and value.__name__ == name):
                outside.append(name)
            modules.add(name)
        elif name == fn.__name__:
            if value is not fn:
                outside.append(name)
        elif name not in BUILTIN_NAMES or value is not _MISSING:
            outside.append(name)
    if outside:
        raise ExportError(
            f"{what} ({fn.__name__}) uses the name(s) {', '.join(outside)} from its module, "
            "which the exported file would not define. Move what they do into the function, or "
            "make the values parameters with defaults: only builtins, math and torch are "
            "available there."
        )
    if not _compiles_to(text, fn):
        raise ExportError(
            f"The source file of {what} ({fn.__name__}) changed since it was imported, so the "
            "copy would not be the function that ran. Restart Python (or reload the module) and "
            "export again."
        )
    return Source(fn.__name__, text.rstrip() + "\n", frozenset(modules))


_MISSING = object()
_NAME_OPS = {"LOAD_GLOBAL", "LOAD_NAME"}
_STORE_OPS = {"STORE_GLOBAL", "DELETE_GLOBAL", "STORE_NAME", "DELETE_NAME"}


def _code_names(code: types.CodeType) -> tuple[set[str], set[str], set[str]]:
    """Global names read, modules imported and global names stored by ``code`` and the code
    nested in it (comprehensions, inner functions)."""
    names: set[str] = set()
    imports: set[str] = set()
    stores: set[str] = set()
    for instruction in dis.get_instructions(code):
        if instruction.opname in _NAME_OPS:
            names.add(instruction.argval)
        elif instruction.opname in _STORE_OPS:
            stores.add(instruction.argval)
        elif instruction.opname == "IMPORT_NAME":
            imports.add(instruction.argval.partition(".")[0])
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            inner = _code_names(const)
            names |= inner[0]
            imports |= inner[1]
            stores |= inner[2]
    return names, imports, stores


def _compiles_to(text: str, fn: types.FunctionType) -> bool:
    """True when ``text`` compiles to a function like ``fn``: a check that the source file did not
    change after ``fn`` was imported."""
    try:
        module = compile(text, "<export>", "exec", dont_inherit=True)
    except SyntaxError:
        return False
    for const in module.co_consts:
        if isinstance(const, types.CodeType) and const.co_name == fn.__name__:
            return _same_code(const, fn.__code__)
    return False


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    """Compare what survives recompiling: names, arguments and constants. (Bytecode itself
    differs between compiler runs, so it is not compared.)"""
    if (a.co_names, a.co_varnames, a.co_argcount, a.co_kwonlyargcount) != (
        b.co_names, b.co_varnames, b.co_argcount, b.co_kwonlyargcount
    ):
        return False
    consts_a = [c for c in a.co_consts if not isinstance(c, types.CodeType)]
    consts_b = [c for c in b.co_consts if not isinstance(c, types.CodeType)]
    if [(type(c), repr(c)) for c in consts_a] != [(type(c), repr(c)) for c in consts_b]:
        return False
    inner_a = [c for c in a.co_consts if isinstance(c, types.CodeType)]
    inner_b = [c for c in b.co_consts if isinstance(c, types.CodeType)]
    return len(inner_a) == len(inner_b) and all(map(_same_code, inner_a, inner_b))
