"""The built-in schedule families, one module each (its ``FAMILY`` record), in catalogue order:
:mod:`autolr.schedules.registry` registers :data:`FAMILIES` when it first needs them."""
# ruff: noqa: I001 - catalogue order is the order users see

from __future__ import annotations

from autolr.schedules.builtin import (
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

FAMILIES = tuple(module.FAMILY for module in (
    constant, step, multistep, exponential, cosine, cosine_restarts, linear, polynomial,
    onecycle, cyclic, wsd, rex, inverse_sqrt, plateau,
))
