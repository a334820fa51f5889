"""The built-in schedule families, one module each, registered in catalogue order on import."""
# ruff: noqa: I001 - catalogue order is the order users see

from __future__ import annotations

from autolr.schedules.builtin import (  # noqa: F401  (import registers)
    constant,
    step,
    multistep,
    exponential,
    cosine,
    cosine_restarts,
    linear,
    polynomial,
    onecycle,
    cyclic,
    wsd,
    rex,
    inverse_sqrt,
    plateau,
)
