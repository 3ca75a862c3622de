/* lifecircle map: builds the Leaflet map from the page's JSON data island (#lc-data).
 *
 * A constant file of the lifecircle package: no data is ever part of this script,
 * and nothing from the data is ever run. The island is parsed with JSON.parse.
 * Strings the island marks as HTML -- tooltips and popups given as arrays of
 * strings ("tip", "popup"), the labels of a popup table ("rows[].label"), layer
 * names ("name"), the legend and the attributions -- were built by lifecircle with
 * every data string HTML-escaped, and are inserted as HTML; every other string
 * (unit names, coded columns, the heading, the layer-control headings, numbers) is
 * inserted as text (textContent / text nodes), never parsed.
 *
 * Coded columns ({values, index}) hold each distinct string once: feature i's
 * string is values[index[i]], none when index[i] is -1.
 *
 * Parts of a layer (see lifecircle/render/_features.py and _themes.py):
 *   shapes   polygons: geometry (or shared: the finest units of data.units), styles,
 *            style_of, fill (colours, or a coded column), highlight, tip (HTML
 *            strings, or {lines} built here with the unit names of data.units),
 *            popup (HTML strings, or a popup table), interactive
 *   cells    residents not covered: one count per cell of data.cells (0: no circle),
 *            radius from data.radius, tooltip [before, after] the count (text)
 *   circles  circle markers: xy ([lon, lat]), style, radius, colour, tip, popup
 *   clusters one category's facilities in a Leaflet.markercluster group
 *   sites    proposed sites, numbered by rank
 * A layer's parts are built the first time it is shown (a city has dozens of themes
 * over thousands of units).
 */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("lc-data").textContent);
  var HEX_COLOUR = /^#[0-9a-fA-F]{6}$/;

  function colour(value, fallback) {
    return typeof value === "string" && HEX_COLOUR.test(value) ? value : fallback;
  }

  function extend(target) {
    for (var i = 1; i < arguments.length; i++) {
      var source = arguments[i];
      if (!source) { continue; }
      for (var key in source) {
        if (Object.prototype.hasOwnProperty.call(source, key)) { target[key] = source[key]; }
      }
    }
    return target;
  }

  function latLng(xy) {
    return [xy[1], xy[0]];
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  // lines and polygons come as {type, delta}: GeoJSON's nesting with each sequence of
  // positions flattened to integer steps of 1e-6 degree (see _features.geometries)
  var DELTA_DEPTH = {LineString: 0, Polygon: 1, MultiLineString: 1, MultiPolygon: 2};

  // integer steps per degree (1e5: about 1 m); older islands were written in 1e-6 degree
  var DELTA = typeof data.delta === "number" && data.delta > 0 ? data.delta : 1e6;

  function undelta(steps, depth) {
    var out = [];
    if (depth > 0) {
      for (var i = 0; i < steps.length; i++) { out.push(undelta(steps[i], depth - 1)); }
      return out;
    }
    var x = 0, y = 0;
    for (var j = 0; j + 1 < steps.length; j += 2) {
      x += steps[j];
      y += steps[j + 1];
      out.push([x / DELTA, y / DELTA]);
    }
    return out;
  }

  // feature i's string of a coded column, or null
  function pick(column, i) {
    if (!column || !column.index) { return null; }
    var k = column.index[i];
    return typeof k === "number" && k >= 0 && k < column.values.length
      ? String(column.values[k]) : null;
  }

  // "<b>title</b>" then one line per entry: "label: <b>value</b>" or the value alone
  function tipNode(title, tip, i) {
    var node = element("div", "lc-tip");
    if (title !== null && title !== undefined) { node.appendChild(element("b", null, title)); }
    for (var l = 0; l < tip.lines.length; l++) {
      var line = tip.lines[l];
      var value = pick(line.value, i);
      if (value === null) { continue; }
      if (node.firstChild) { node.appendChild(element("br")); }
      if (line.label !== undefined && line.label !== null) {
        node.appendChild(document.createTextNode(String(line.label) + ": "));
        node.appendChild(element("b", null, value));
      } else {
        node.appendChild(document.createTextNode(value));
      }
    }
    return node;
  }

  // a unit's popup from a popup table (_features.unit_popups); row labels are HTML
  // built by lifecircle, every value is text
  function popupNode(table, i) {
    var node = element("div", "lc-popup");
    node.appendChild(element("h4", null, pick(table.title, i)));
    node.appendChild(element("div", "lc-sub", pick(table.sub, i)));
    var note = pick(table.note, i);
    if (note !== null) { node.appendChild(element("div", "lc-partly", note)); }
    var body = element("table");
    for (var r = 0; r < table.rows.length; r++) {
      var value = pick(table.rows[r].value, i);
      if (value === null) { continue; }
      var tr = element("tr");
      var th = element("th");
      th.innerHTML = table.rows[r].label;
      var td = element("td");
      td.appendChild(table.strong && table.strong[i] === r
        ? element("b", null, value) : document.createTextNode(value));
      tr.appendChild(th);
      tr.appendChild(td);
      body.appendChild(tr);
    }
    node.appendChild(body);
    return node;
  }

  function thousands(n) {
    return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function geoJSONGeometry(geometry) {
    if (!geometry || !geometry.delta
        || !Object.prototype.hasOwnProperty.call(DELTA_DEPTH, geometry.type)) {
      return geometry;
    }
    return {type: geometry.type,
            coordinates: undelta(geometry.delta, DELTA_DEPTH[geometry.type])};
  }

  // tooltips and popups: HTML strings (arrays), or built when first opened from
  // a tip ({lines}) or a popup table
  function bindDetails(layer, tips, popups, i, title) {
    if (tips && tips.lines) {
      layer.bindTooltip(function () {
        return tipNode(title ? title(i) : pick(tips.title, i), tips, i);
      }, {sticky: true});
    } else if (tips) {
      layer.bindTooltip(tips[i], {sticky: true});
    }
    if (popups && popups.rows) {
      layer.bindPopup(function () { return popupNode(popups, i); }, {maxWidth: 360});
    } else if (popups) {
      layer.bindPopup(popups[i], {maxWidth: 360});
    }
  }

  var sharedUnits = null;

  // above this many features a part is drawn on a canvas (one per pane) rather than as
  // SVG elements: a city's 8,000 units or 30,000 cells switch in a fraction of the time
  var CANVAS_FROM = typeof data.canvasFrom === "number" ? data.canvasFrom : 3000;
  var canvases = {};

  function rendererFor(pane, n) {
    if (n < CANVAS_FROM) { return undefined; }
    if (!canvases[pane]) { canvases[pane] = L.canvas({pane: pane}); }
    return canvases[pane];
  }

  function unitName(i) {
    return data.units.name ? String(data.units.name[i]) : null;
  }

  function fillOf(fill, i) {
    return colour(fill.index ? pick(fill, i) : fill[i], "#bdbdbd");
  }

  function shapesPart(part) {
    var interactive = part.interactive !== false;
    var features;
    if (part.shared && sharedUnits) {
      features = sharedUnits;
    } else {
      var geometry = part.shared ? data.units.geometry : part.geometry;
      features = [];
      for (var i = 0; i < geometry.length; i++) {
        features.push({type: "Feature", properties: {i: i},
                       geometry: geoJSONGeometry(geometry[i])});
      }
      if (part.shared) { sharedUnits = features; }
    }
    var popups = part.popup || (part.shared ? data.units.popup : null);
    var title = part.shared ? unitName : null;
    var group = L.geoJSON({type: "FeatureCollection", features: features}, {
      pane: part.pane,
      renderer: rendererFor(part.pane, features.length),
      interactive: interactive,
      style: function (feature) {
        var j = feature.properties.i;
        var style = extend({}, part.styles[part.style_of ? part.style_of[j] : 0]);
        if (part.fill) { style.fillColor = fillOf(part.fill, j); }
        return style;
      },
      onEachFeature: function (feature, layer) {
        if (!interactive) { return; }
        bindDetails(layer, part.tip, popups, feature.properties.i, title);
        if (part.highlight) {
          layer.on("mouseover", function () { layer.setStyle(part.highlight); });
          layer.on("mouseout", function () { group.resetStyle(layer); });
        }
      }
    });
    return group;
  }

  function circlesPart(part) {
    var group = L.featureGroup();
    for (var i = 0; i < part.xy.length; i++) {
      var options = extend({pane: part.pane}, part.style);
      if (part.radius) { options.radius = part.radius[i]; }
      if (part.colour) { options.color = colour(part.colour[i], "#666666"); }
      var marker = L.circleMarker(latLng(part.xy[i]), options);
      bindDetails(marker, part.tip, part.popup, i);
      group.addLayer(marker);
    }
    return group;
  }

  // the residents a theme leaves uncovered, one circle per cell of data.cells
  var cellXY = null;

  function cellsPart(part) {
    if (!cellXY) { cellXY = undelta(data.cells.xy, 0); }
    var group = L.featureGroup();
    var scale = data.radius;
    var before = String(part.tip[0]), after = String(part.tip[1]);
    var drawn = 0;
    for (var c = 0; c < part.count.length; c++) { if (part.count[c] > 0) { drawn++; } }
    var renderer = rendererFor(part.pane, drawn);
    for (var i = 0; i < part.count.length && i < cellXY.length; i++) {
      var n = part.count[i];
      if (!(n > 0)) { continue; }
      var radius = Math.max(scale.minPx, scale.maxPx * Math.sqrt(n / scale.max));
      var marker = L.circleMarker(latLng(cellXY[i]),
                                  extend({pane: part.pane, renderer: renderer}, part.style,
                                         {radius: Math.round(radius * 10) / 10}));
      marker.bindTooltip(document.createTextNode(before + thousands(n) + after),
                         {sticky: true});
      group.addLayer(marker);
    }
    return group;
  }

  function clustersPart(part) {
    var fill = colour(part.colour, "#666666");
    var group = L.markerClusterGroup({
      clusterPane: part.pane,
      maxClusterRadius: part.radiusPx,
      showCoverageOnHover: false,
      spiderfyOnMaxZoom: true,
      iconCreateFunction: function (cluster) {
        var n = cluster.getChildCount();
        var size = n < 10 ? 20 : n < 100 ? 25 : 31;
        var disc = element("div");
        disc.style.background = fill;
        disc.style.boxShadow = "0 0 0 3px " + fill + "59";
        disc.appendChild(element("span", null, n));
        return L.divIcon({html: disc, className: "marker-cluster lc-cluster",
                          iconSize: L.point(size, size)});
      }
    });
    var markers = [];
    for (var i = 0; i < part.xy.length; i++) {
      var marker = L.circleMarker(latLng(part.xy[i]),
                                  extend({pane: part.pane}, part.style, {fillColor: fill}));
      bindDetails(marker, part.tip, part.popup, i);
      markers.push(marker);
    }
    group.addLayers(markers);
    return group;
  }

  function sitesPart(part) {
    var group = L.featureGroup();
    var fill = colour(part.colour, "#3f007d");
    for (var i = 0; i < part.xy.length; i++) {
      var badge = element("div", "lc-site", Number(part.rank[i]));
      badge.style.background = fill;
      var marker = L.marker(latLng(part.xy[i]), {
        pane: part.pane,
        icon: L.divIcon({html: badge, iconSize: [24, 24], iconAnchor: [12, 12],
                         className: "lc-site-icon"})
      });
      bindDetails(marker, part.tip, part.popup, i);
      group.addLayer(marker);
    }
    return group;
  }

  var PARTS = {shapes: shapesPart, cells: cellsPart, circles: circlesPart,
               clusters: clustersPart, sites: sitesPart};

  // a layer group filled with its parts the first time it is added to the map
  function buildLayer(spec) {
    var group = L.layerGroup();
    var built = false;
    group.on("add", function () {
      if (built) { return; }
      built = true;
      for (var i = 0; i < spec.parts.length; i++) {
        group.addLayer(PARTS[spec.parts[i].kind](spec.parts[i]));
      }
    });
    return group;
  }

  function control(position, className, fill) {
    var Control = L.Control.extend({
      options: {position: position},
      onAdd: function () {
        var div = element("div", className);
        fill(div);
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
      }
    });
    return new Control();
  }

  // ------------------------------------------------------------------ the map

  var map = L.map("lc-map", {zoomSnap: 0.25, maxZoom: data.maxZoom, zoomControl: false});
  window.lcMap = map;

  control("topleft", "lc-heading", function (div) {
    div.appendChild(element("h1", null, data.heading.title));
    if (data.heading.sub) { div.appendChild(element("div", "lc-heading-sub", data.heading.sub)); }
  }).addTo(map);
  L.control.zoom({position: "topleft"}).addTo(map);
  L.control.scale().addTo(map);

  for (var p = 0; p < data.panes.length; p++) {
    map.createPane(data.panes[p][0]).style.zIndex = String(data.panes[p][1]);
  }
  map.fitBounds(data.bounds, {paddingTopLeft: data.padding.topLeft,
                              paddingBottomRight: data.padding.bottomRight});

  if (data.tiles) {
    L.tileLayer(data.tiles.url, {attribution: data.tiles.attribution,
                                 subdomains: data.tiles.subdomains,
                                 maxZoom: data.tiles.maxZoom}).addTo(map);
  }
  map.attributionControl.addAttribution(data.attribution);

  var layers = L.control.layers(null, null, {collapsed: false, position: "topright"});
  var t, o, layer;
  for (t = 0; t < data.themes.length; t++) {
    layer = buildLayer(data.themes[t]);
    layers.addBaseLayer(layer, data.themes[t].name);
    if (data.themes[t].show) { layer.addTo(map); }
  }
  for (o = 0; o < data.overlays.length; o++) {
    layer = buildLayer(data.overlays[o]);
    layers.addOverlay(layer, data.overlays[o].name);
    if (data.overlays[o].show) { layer.addTo(map); }
  }
  layers.addTo(map);
  // headings above the radio buttons and the check boxes (as text)
  var box = layers.getContainer();
  var lists = [[".leaflet-control-layers-base", data.control.base],
               [".leaflet-control-layers-overlays", data.control.overlays]];
  for (var h = 0; h < lists.length; h++) {
    var list = box.querySelector(lists[h][0]);
    list.parentNode.insertBefore(element("div", "lc-layers-head", lists[h][1]), list);
  }

  control("bottomleft", "lc-legend", function (div) {
    div.innerHTML = data.legend;
  }).addTo(map);
}());
