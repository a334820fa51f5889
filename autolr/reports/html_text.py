"""How the report page writes values as HTML text: escaping for text and attributes, JSON safe
inside a ``<script>`` element, and numbers and counts as the page shows them.

Shared by every module that writes part of the page (:mod:`autolr.reports.html` and the modules
of its sections), so that all of them escape and format alike.
"""

from __future__ import annotations

import html


def e(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def safe_json(text: str) -> str:
    """JSON that can sit inside a <script> element: no ``<``, ``>`` or ``&`` left raw, and the
    two line separators JavaScript once rejected escaped."""
    return (
        text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )


def num(value: float | None, digits: int = 5) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def count(value: int) -> str:
    return f"{value:,}"

