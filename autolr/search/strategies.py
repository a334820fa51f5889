"""The search strategies by name: ``search=NAME`` (``autolr.tune``, the study's settings) picks
one. The built-in ones are ``ladder``, ``full`` and ``lr_first``; :func:`register_strategy`
adds one of the user's (a :class:`~autolr.search.strategy.SearchStrategy` subclass with a
``name``).
"""

from __future__ import annotations

from autolr.search.full_search import FullSearch
from autolr.search.ladder_search import LadderSearch
from autolr.search.lr_first import LrFirstSearch
from autolr.search.strategy import SearchStrategy

BUILT_IN: dict[str, type[SearchStrategy]] = {
    "ladder": LadderSearch, "full": FullSearch, "lr_first": LrFirstSearch,
}
_STRATEGIES: dict[str, type[SearchStrategy]] = dict(BUILT_IN)


def register_strategy(cls: type[SearchStrategy]) -> type[SearchStrategy]:
    """Make ``cls`` the strategy of ``search=cls.name`` (usable as a class decorator)."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"A search strategy needs a name that is an identifier; got {name!r}.")
    if name in BUILT_IN and BUILT_IN[name] is not cls:
        raise ValueError(f"{name!r} is a built-in search strategy; give yours another name.")
    _STRATEGIES[name] = cls
    return cls


def unregister_strategy(name: str) -> None:
    """Remove a strategy registered with :func:`register_strategy` (the built-in ones stay)."""
    if name in BUILT_IN:
        raise ValueError(f"The built-in search strategy {name!r} cannot be removed.")
    _STRATEGIES.pop(name, None)


def strategy_names() -> tuple[str, ...]:
    """Every registered strategy's name, the built-in ones first."""
    return tuple(_STRATEGIES)


def strategy_class(name: str) -> type[SearchStrategy]:
    """The strategy registered as ``name`` (KeyError when there is none)."""
    return _STRATEGIES[name]
