"""Facilities clustered per category with Leaflet.markercluster, inlined (no CDN).

Each category gets its own cluster group, so the layer control still switches
categories on and off. A cluster is a disc in the category's colour showing how
many facilities it holds; zooming in (or clicking it) splits it down to single
facilities, drawn as small circles in the same colour. Facilities at the same
spot fan out ("spiderfy") at the highest zoom.

The group is a ``clusters`` part of the data island, built by ``assets/map.js``
with the vendored plugin (``assets/markercluster/``), which the page inlines.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CLUSTER_RADIUS_PX", "cluster_icon_html", "facility_clusters"]

#: Facilities closer than this on screen (px) merge into a cluster.
CLUSTER_RADIUS_PX = 80

#: Colour of the cluster drawn in the legend (a neutral grey: clusters take their
#: category's colour on the map).
_KEY_COLOUR = "#666666"


def cluster_icon_html(n: int, colour: str = _KEY_COLOUR) -> str:
    """A cluster icon as drawn on the map, for the legend (``n`` facilities, ``colour``)."""
    return (
        f'<span class="lc-cluster lc-cluster-key"><span style="background:{colour};'
        f'box-shadow:0 0 0 3px {colour}59">{int(n)}</span></span>'
    )


def facility_clusters(
    xy: list[list[float]], tips: list[str] | dict[str, Any], *, colour: str, pane: str
) -> dict[str, Any]:
    """A ``clusters`` part: one category's facilities, clustered, in its colour.

    Parameters
    ----------
    xy
        ``[lon, lat]`` of each facility.
    tips
        Tooltip of each facility (escaped HTML shown on hover), or the tooltips as
        columns of plain text (:func:`lifecircle.render._overlays.facility_tip_table`).
    colour
        The category's colour, ``#rrggbb`` (the page refuses anything else).
    pane
        Leaflet pane of the facilities and of their clusters.

    Returns
    -------
    dict
        The part, as it goes into the map's data island.
    """
    return {
        "kind": "clusters",
        "pane": pane,
        "xy": xy,
        "tip": tips,
        "colour": colour,
        "radiusPx": CLUSTER_RADIUS_PX,
        "style": {
            "radius": 3.5,
            "color": "#ffffff",
            "weight": 0.8,
            "fill": True,
            "fillColor": colour,
            "fillOpacity": 0.95,
        },
    }
