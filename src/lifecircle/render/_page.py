"""What the map and the report do alike: accept a siting, write the page.

Both outputs take an optional solved :class:`~lifecircle.siting.SitingSolution` and refuse
one built from another audit or not yet solved (:func:`check_siting`), and both end
as one self-contained HTML file written atomically (:func:`write_html`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..io.outputs import write_atomic

if TYPE_CHECKING:
    from ..pipeline import AuditResult
    from ..siting import SitingProblem, SitingSolution


def check_siting(result: AuditResult, siting: SitingSolution | SitingProblem) -> None:
    """Refuse a siting that cannot be drawn over ``result``.

    Parameters
    ----------
    result
        The audit result being rendered.
    siting
        The siting to show with it.

    Raises
    ------
    ValueError
        If ``siting`` was built from another audit result, or has not been solved.
    """
    if siting.result is not result:
        msg = "the siting was built from another audit result"
        raise ValueError(msg)
    if not getattr(siting, "model", ""):  # a SitingProblem has no model: not solved
        msg = "the siting has not been solved: call SitingProblem.solve() first"
        raise ValueError(msg)


def write_html(path: str | Path, page: str) -> Path:
    """Write a rendered page as UTF-8, atomically.

    Parameters
    ----------
    path
        The HTML file to write.
    page
        The page's HTML.

    Returns
    -------
    pathlib.Path
        ``path``, as a :class:`~pathlib.Path`.
    """
    target = Path(path)
    return write_atomic(target, lambda tmp: tmp.write_text(page, encoding="utf-8"))
