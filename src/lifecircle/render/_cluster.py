"""Facilities clustered per category with Leaflet.markercluster, inlined (no CDN).

Each category gets its own cluster group, so the layer control still switches
categories on and off. A cluster is a disc in the category's colour showing how
many facilities it holds; zooming in (or clicking it) splits it down to single
facilities, drawn as small circles in the same colour. Facilities at the same
spot fan out ("spiderfy") at the highest zoom.

folium's :class:`~folium.plugins.MarkerCluster` links the plugin from a CDN;
:class:`FacilityClusters` links nothing and inlines the vendored copy
(``assets/markercluster/``) into the page's header instead.
"""

from __future__ import annotations

import json
from typing import Any

import folium
from folium.plugins import MarkerCluster
from folium.utilities import JsCode

from ._assets import Raw, markercluster_css, markercluster_js

__all__ = ["CLUSTER_RADIUS_PX", "FacilityClusters", "cluster_icon_html"]

#: Facilities closer than this on screen (px) merge into a cluster.
CLUSTER_RADIUS_PX = 80

#: Cluster icon: a disc in the category's colour with a translucent halo, the count
#: inside; the larger the cluster, the larger the disc (px).
_ICON = """function (cluster) {
    var n = cluster.getChildCount(), colour = %s;
    var size = n < 10 ? 20 : n < 100 ? 25 : 31;
    return L.divIcon({
        html: '<div style="background:' + colour + ';box-shadow:0 0 0 3px ' + colour
            + '59"><span>' + n + '</span></div>',
        className: "marker-cluster lc-cluster",
        iconSize: L.point(size, size)
    });
}"""

#: Colour of the cluster drawn in the legend (a neutral grey: clusters take their
#: category's colour on the map).
_KEY_COLOUR = "#666666"


def cluster_icon_html(n: int, colour: str = _KEY_COLOUR) -> str:
    """A cluster icon as drawn on the map, for the legend (``n`` facilities, ``colour``)."""
    return (f'<span class="lc-cluster lc-cluster-key"><span style="background:{colour};'
            f'box-shadow:0 0 0 3px {colour}59">{int(n)}</span></span>')


#: One tooltip per facility (a tooltip bound to the GeoJSON layer would never open:
#: the cluster group takes the facilities out of it). Tips are escaped HTML.
_TOOLTIP = JsCode("function (feature, layer) {"
                  " layer.bindTooltip(feature.properties.tip, {sticky: true}); }")


class FacilityClusters(MarkerCluster):
    """A layer of facilities of one category, clustered, in the category's colour.

    Parameters
    ----------
    data
        A GeoJSON FeatureCollection of points, each with a ``tip`` property
        (escaped HTML shown on hover).
    name
        Name in the layer control (HTML).
    colour
        The category's colour, ``#rrggbb``.
    pane
        Leaflet pane of the facilities and of their clusters.
    show
        Whether the layer is on when the map opens.
    """

    default_js: list[tuple[str, str]] = []
    default_css: list[tuple[str, str]] = []

    def __init__(self, data: dict[str, Any], *, name: str, colour: str, pane: str,
                 show: bool = True) -> None:
        super().__init__(name=name, show=show, icon_create_function=_ICON % json.dumps(colour),
                         cluster_pane=pane, max_cluster_radius=CLUSTER_RADIUS_PX,
                         show_coverage_on_hover=False, spiderfy_on_max_zoom=True)
        folium.GeoJson(
            data, control=False, on_each_feature=_TOOLTIP,
            marker=folium.CircleMarker(radius=3.5, pane=pane, color="#ffffff", weight=0.8,
                                       fill=True, fill_color=colour, fill_opacity=0.95),
        ).add_to(self)

    def render(self, **kwargs: Any) -> None:
        header = self.get_root().header
        header.add_child(Raw(f"<style>{markercluster_css()}</style>"), name="markercluster_css")
        header.add_child(Raw(f"<script>{markercluster_js()}</script>"),
                         name="markercluster_js")
        super().render(**kwargs)
