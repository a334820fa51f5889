"""A schedule as a file: standalone Python that needs only torch, or JSON, at any run length.

- ``export``: :func:`autolr.export` and the stored winner's spec; ``python``: the Python file of
  a closed-form family; ``plateau``: the file of the metric-driven plateau family; ``source``: a
  family's closed form as source text; ``text``: the header, docstrings and markers both share.

May import: ``autolr.schedules`` and the base modules only (light: no Optuna).
"""
