#!/usr/bin/env python
"""Write the bundled provider type-code tables of lifecircle from the official lists.

Reads the Amap POI classification (V1.06, 2023-02-08, 915 codes) and Baidu's POI
industry tags (2020-05-11) from the shared data folder (default
``../shared/data/amap`` relative to the repository root; see its README for the
sources) and writes:

``configs/providers/amap-typecodes.yaml``
    Every Amap code that belongs to a category of a bundled standard
    (``gb50180-2018``, ``moreno-15min``), with its official Chinese and English
    class names, the category in each standard (``null`` = none) and a note where
    the match is a proxy; then the candidates considered and left out, with why.
``configs/providers/baidu-tags.yaml``
    The same for Baidu ``first;second`` industry tags.

The decisions are the tables ``AMAP``, ``AMAP_LEFT_OUT``, ``BAIDU`` and
``BAIDU_LEFT_OUT`` below; the class names and the source lines are copied from the
official lists, so a code or tag that is not in them stops the script. The YAML
files are the reviewed artefacts (docs/typecodes.md explains the choices).

Usage::

    python scripts/build_typecodes.py [--source DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
from pathlib import Path

GB = "gb50180-2018"
MORENO = "moreno-15min"
RURAL = "shanghai-rural-2021"
STANDARDS = (GB, MORENO, RURAL)
AMAP_VERSION = "Amap POI classification V1.06 (2023-02-08)"
BAIDU_VERSION = "Baidu Maps POI industry classification (updated 2020-05-11)"

# notes shared by several codes
HOSPITAL = (
    "proxy: a general hospital also gives the neighbourhood's primary care; GB 50180 asks "
    "for a community health service centre (社区卫生服务中心), which Amap does not separate "
    "(the OSM selector counts hospitals the same way)"
)
CLINIC = (
    "proxy: clinics include community health service stations (社区卫生服务站) as well as "
    "private clinics"
)
SUPERMARKET = (
    "proxy: GB 50180 asks for a fresh-food market or fresh-food supermarket (菜市场或生鲜超市); "
    "Amap does not separate supermarkets that sell fresh food"
)
COURT = (
    "proxy: a single-sport court or hall; GB 50180 asks for a multi-sport ground (the OSM "
    "selector counts pitches the same way)"
)
MIDDLE = (
    "proxy: 中学 is any secondary school, junior (初中) or senior (高中); senior-only schools "
    "are counted too"
)
BUS = "a stop of surface public transport, counted as a bus stop"

# code: ({standard: category or None}, note or "")
AMAP: dict[str, tuple[dict[str, str | None], str]] = {
    # --- education
    "141200": (
        {GB: None, MORENO: "education"},
        "generic school code: its level is unknown, so no GB 50180 school category",
    ),
    "141201": (
        {GB: None, MORENO: "education"},
        "universities and colleges (OSM university/college)",
    ),
    "141202": ({GB: "junior_high_school", MORENO: "education"}, MIDDLE),
    "141203": ({GB: "primary_school", MORENO: "education"}, ""),
    "141204": ({GB: "kindergarten", MORENO: "education"}, ""),
    "141206": (
        {GB: None, MORENO: "education"},
        "vocational and technical schools, as OSM amenity=college",
    ),
    # --- health
    "090100": ({GB: "health_center", MORENO: "healthcare"}, HOSPITAL),
    "090101": ({GB: "health_center", MORENO: "healthcare"}, HOSPITAL),
    "090102": (
        {GB: "health_center", MORENO: "healthcare"},
        "township health centre (卫生院): the rural counterpart of a community health service "
        "centre",
    ),
    "090200": (
        {GB: None, MORENO: "healthcare"},
        "specialised hospitals give no general primary care, so no GB 50180 health centre",
    ),
    **{
        f"0902{i:02d}": ({GB: None, MORENO: "healthcare"}, "specialised hospital")
        for i in range(2, 12)
    },
    "090300": ({GB: "health_center", MORENO: "healthcare"}, CLINIC),
    "090601": ({GB: None, MORENO: "healthcare"}, "pharmacies (Moreno's healthcare counts them)"),
    # --- convenience stores, supermarkets, markets, bakeries
    "060200": ({GB: "convenience_store", MORENO: "groceries"}, ""),
    "060201": ({GB: "convenience_store", MORENO: "groceries"}, ""),
    "060202": ({GB: "convenience_store", MORENO: "groceries"}, ""),
    "060400": ({GB: "fresh_market", MORENO: "groceries"}, SUPERMARKET),
    **{
        code: ({GB: "fresh_market", MORENO: "groceries"}, SUPERMARKET)
        for code in (
            "060401",
            "060402",
            "060403",
            "060404",
            "060405",
            "060407",
            "060408",
            "060409",
            "060413",
            "060414",
        )
    },
    "060406": (
        {GB: "fresh_market", MORENO: "groceries"},
        SUPERMARKET + "; METRO is a cash-and-carry store",
    ),
    "060700": (
        {GB: "fresh_market", MORENO: "groceries"},
        "proxy: the generic market code holds many neighbourhood wet markets (菜市场) but also "
        "markets that sell no food",
    ),
    "060703": ({GB: "fresh_market", MORENO: "groceries"}, "farm-produce market"),
    "060704": ({GB: "fresh_market", MORENO: "groceries"}, "fruit market"),
    "060705": ({GB: "fresh_market", MORENO: "groceries"}, "vegetable market"),
    "060706": ({GB: "fresh_market", MORENO: "groceries"}, "seafood market"),
    "050800": (
        {GB: None, MORENO: "groceries"},
        "bakeries (Moreno's groceries counts OSM shop=bakery); Amap files them under food service",
    ),
    # --- parks and squares
    "110100": (
        {GB: "park", MORENO: "leisure"},
        "proxy: the generic code of parks and squares (公园广场)",
    ),
    "110101": ({GB: "park", MORENO: "leisure"}, ""),
    "110103": (
        {GB: "park", MORENO: "leisure"},
        "botanical gardens are parks, often with an entrance fee",
    ),
    "110105": (
        {GB: None, MORENO: "leisure"},
        "a city square is open public space but not green space, so no GB 50180 park; "
        "proxy for Moreno's leisure (whose OSM selector has parks, gardens and playgrounds)",
    ),
    # --- sports grounds
    "080100": ({GB: "sports_ground", MORENO: None}, "proxy: the generic code of sports places"),
    "080101": ({GB: "sports_ground", MORENO: None}, "sports centre (OSM sports_centre)"),
    **{
        code: ({GB: "sports_ground", MORENO: None}, COURT)
        for code in ("080103", "080104", "080105", "080112", "080114", "080117", "080118")
    },
    "080108": (
        {GB: "sports_ground", MORENO: None},
        "outdoor fitness place (OSM fitness_station)",
    ),
    # --- public transport
    "150700": ({GB: "bus_stop", MORENO: "transport"}, "the generic bus-stop code"),
    "150701": ({GB: "bus_stop", MORENO: "transport"}, "a stop of tourist bus lines"),
    "150702": ({GB: "bus_stop", MORENO: "transport"}, ""),
    "150704": ({GB: "bus_stop", MORENO: "transport"}, "BRT stop; " + BUS),
    "150705": (
        {GB: "bus_stop", MORENO: "transport"},
        "电车 is a trolleybus or a tram; " + BUS,
    ),
    "150706": (
        {GB: "bus_stop", MORENO: "transport"},
        "ART (智轨) runs on rubber tyres on the road; " + BUS,
    ),
    "150200": ({GB: None, MORENO: "transport"}, "railway station (OSM railway=station)"),
    "150500": ({GB: None, MORENO: "transport"}, "metro station (OSM railway=station)"),
    "150501": ({GB: None, MORENO: "transport"}, "metro entrance (OSM railway=subway_entrance)"),
    "150600": ({GB: None, MORENO: "transport"}, "light-rail station (OSM railway=station)"),
    # --- community service
    "120304": (
        {GB: "community_service", MORENO: None},
        "community centre (the OSM selector counts amenity=community_centre the same way)",
    ),
    "130106": (
        {GB: "community_service", MORENO: None},
        "proxy: offices below the township level are mostly residents' and villagers' "
        "committees (居委会/村委会), where community service stations usually sit; a few are "
        "other small public offices",
    ),
}

# candidates searched for and left out (code: reason)
AMAP_LEFT_OUT: dict[str, str] = {
    "141205": "adult education: not a school of either standard",
    "141207": "facilities inside a school: would count one school several times",
    "141400": "training institutions: not schools",
    "090000": "generic medical code: may be anything from a vet to a pharmacy",
    "090201": "cosmetic surgery",
    "090400": "emergency (ambulance) centres: not places residents walk to",
    "090500": "disease-prevention (CDC) offices: no consultations",
    "090600": "mixes pharmacies and medical-supply shops (090601 pharmacies are mapped)",
    "090602": "medical-supply shops",
    "060100": "shopping plazas: may contain a supermarket but are not one",
    "060411": "Watsons: a health-and-beauty chain that sells no fresh food",
    "060415": "Mannings: a health-and-beauty chain that sells no fresh food",
    "060701": "small-commodity markets: no food",
    "060702": "flea markets: no food",
    "110000": "tourist attractions: not neighbourhood parks",
    "110102": "zoos: ticketed attractions",
    "110104": "aquariums: ticketed attractions",
    "110106": "facilities inside a park: would count one park several times",
    "080000": "generic sports-and-recreation code: includes cinemas and bars",
    "080102": "bowling halls: not a multi-sport ground",
    "080107": "skating rinks: not a multi-sport ground",
    "080110": "swimming halls: not in the OSM selector of sports_ground either",
    "080111": "commercial gyms (OSM fitness_centre is not in the selector either)",
    "080113": "billiard halls",
    "080119": "taekwondo schools",
    "080402": "疗养院 is a sanatorium or convalescent resort, not an elderly-care home "
    "(the English 'Nursing Home' of the table is misleading); Amap has no elderly-care code",
    "080501": "amusement parks: mostly commercial",
    "150703": "airport-coach stops: no everyday service",
    "150800": "commuter shuttle (班车) stops: not public transport",
    "150400": "long-distance coach stations: not everyday local transport",
    "151200": "ferry stations: not in the Moreno transport selectors (bus, rail, metro)",
    "130105": "township governments and street offices (街道办事处) are 15-minute-level "
    "administration, not the 5-minute community service station",
    "130100": "generic government code",
}

BAIDU: dict[str, tuple[dict[str, str | None], str]] = {
    "教育培训;幼儿园": ({GB: "kindergarten", MORENO: "education"}, ""),
    "教育培训;小学": ({GB: "primary_school", MORENO: "education"}, ""),
    "教育培训;中学": ({GB: "junior_high_school", MORENO: "education"}, MIDDLE),
    "教育培训;高等院校": ({GB: None, MORENO: "education"}, "universities and colleges"),
    "教育培训;特殊教育学校": ({GB: None, MORENO: "education"}, "special-education schools"),
    "医疗;综合医院": (
        {GB: "health_center", MORENO: "healthcare"},
        HOSPITAL.replace("Amap", "Baidu"),
    ),
    "医疗;专科医院": (
        {GB: None, MORENO: "healthcare"},
        "specialised hospitals give no general primary care, so no GB 50180 health centre",
    ),
    "医疗;诊所": ({GB: "health_center", MORENO: "healthcare"}, CLINIC),
    "医疗;药店": ({GB: None, MORENO: "healthcare"}, "pharmacies (Moreno's healthcare counts them)"),
    "购物;超市": ({GB: "fresh_market", MORENO: "groceries"}, SUPERMARKET.replace("Amap", "Baidu")),
    "购物;便利店": ({GB: "convenience_store", MORENO: "groceries"}, ""),
    "购物;市场": (
        {GB: "fresh_market", MORENO: "groceries"},
        "proxy: any market, including wet markets (菜市场) and markets that sell no food",
    ),
    "旅游景点;公园": ({GB: "park", MORENO: "leisure"}, ""),
    "旅游景点;植物园": (
        {GB: "park", MORENO: "leisure"},
        "botanical gardens are parks, often with an entrance fee",
    ),
    "休闲娱乐;休闲广场": (
        {GB: None, MORENO: "leisure"},
        "a square is open public space but not green space, so no GB 50180 park; proxy for "
        "Moreno's leisure",
    ),
    "运动健身;体育场馆": (
        {GB: "sports_ground", MORENO: None},
        "proxy: any sports venue, single-sport halls included",
    ),
    "交通设施;公交车站": ({GB: "bus_stop", MORENO: "transport"}, ""),
    "交通设施;地铁站": ({GB: None, MORENO: "transport"}, "metro station (OSM railway=station)"),
    "交通设施;火车站": ({GB: None, MORENO: "transport"}, "railway station (OSM railway=station)"),
    "政府机构;居民委员会": (
        {GB: "community_service", MORENO: None},
        "proxy: the residents' committee office, where the community service station usually sits",
    ),
    "政府机构;福利机构": (
        {GB: "elderly_care", MORENO: None},
        "proxy: welfare institutions are mostly homes for the elderly (养老院/敬老院) but also "
        "children's welfare homes; Baidu has no elderly-care tag",
    ),
}

BAIDU_LEFT_OUT: dict[str, str] = {
    "医疗;疗养院": "sanatoriums: not elderly care or primary care",
    "医疗;急救中心": "emergency (ambulance) centres: not places residents walk to",
    "医疗;疾控中心": "disease-prevention (CDC) offices: no consultations",
    "运动健身;健身中心": "commercial gyms (OSM fitness_centre is not in the selector either)",
    "购物;购物中心": "shopping centres: may contain a supermarket but are not one",
    "购物;百货商场": "department stores",
    "教育培训;亲子教育": "parent-and-child classes: not schools",
    "教育培训;培训机构": "training institutions: not schools",
    "教育培训;成人教育": "adult education: not a school of either standard",
    "旅游景点;动物园": "zoos: ticketed attractions",
    "旅游景点;游乐园": "amusement parks: mostly commercial",
    "交通设施;公交线路": "a bus line, not a stop",
    "交通设施;地铁线路": "a metro line, not a station",
    "政府机构;各级政府": "government offices at every level, street offices included",
}


# The village and town facilities of the rural standard that the providers' classes
# hold (code or tag: category). Amap has no class for an elderly activity room (老年
# 活动室): such rooms need a facility file with `category: elderly_room` or OSM names.
RURAL_AMAP: dict[str, str] = {
    "130106": "village_committee",  # offices below the township level (村委会/居委会)
    "090300": "village_clinic",  # clinics: village clinic rooms (卫生室) are filed here
    "060200": "village_shop",
    "060201": "village_shop",
    "060202": "village_shop",
    "060400": "village_shop",  # supermarkets (the OSM selector counts them too)
    "080108": "fitness_point",  # outdoor fitness places
    "090102": "town_health_center",  # township health centre (卫生院)
    "141203": "town_school",
    "060703": "town_market",  # farm-produce market
    "060705": "town_market",  # vegetable market
}
RURAL_BAIDU: dict[str, str] = {
    "医疗;诊所": "village_clinic",
    "购物;便利店": "village_shop",
    "购物;超市": "village_shop",
    "教育培训;小学": "town_school",
}
RURAL_NOTES = {
    "130106": "rural standard: proxy for the village committee office; residents' committees "
    "are filed here too, so in a town centre this also counts them",
    "090300": "rural standard: proxy for the village clinic room (村卫生室); private clinics "
    "are counted too",
}
for _table, _rural in ((AMAP, RURAL_AMAP), (BAIDU, RURAL_BAIDU)):
    for _key, (_cats, _note) in list(_table.items()):
        _cats[RURAL] = _rural.get(_key)
        if _key in RURAL_NOTES:
            _table[_key] = (_cats, "; ".join(n for n in (_note, RURAL_NOTES[_key]) if n))
    _missing = sorted(set(_rural) - set(_table))
    if _missing:
        raise SystemExit(f"rural entries for keys the table does not map: {_missing}")


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _categories(cats: dict[str, str | None]) -> str:
    inner = ", ".join(f"{std}: {cats[std] or 'null'}" for std in STANDARDS)
    return "{" + inner + "}"


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


HEADER = """\
# {title}
#
# Generated by scripts/build_typecodes.py from the official {what}; the decisions
# are made there and explained in docs/typecodes.md. Every entry gives the
# official class names, the category in each bundled standard (null = none: such
# a {item} is reported as unknown when that standard is audited, never guessed),
# the source of the {item}'s meaning and, where the match is only approximate, a
# note. `left_out` lists the candidates that were considered and why they are
# not mapped. A user's own file (--typecodes FILE) extends and overrides this
# table: see docs/typecodes.md.
"""


def amap_yaml(rows: list[dict[str, str]]) -> str:
    """The Amap table as YAML text."""
    by_code = {r["typecode"]: r for r in rows}
    missing = sorted((set(AMAP) | set(AMAP_LEFT_OUT)) - set(by_code))
    if missing:
        raise SystemExit(f"codes not in the official table: {missing}")
    if set(AMAP) & set(AMAP_LEFT_OUT):
        raise SystemExit(f"mapped and left out: {sorted(set(AMAP) & set(AMAP_LEFT_OUT))}")
    out = [
        HEADER.format(
            title="Amap (高德) POI type codes -> lifecircle categories of each bundled standard.",
            what="table\n# (shared data/amap/amap-poi-typecodes.csv)",
            item="code",
        ),
        "provider: amap",
        f"classification: {_q(AMAP_VERSION)}",
        f"standards: [{', '.join(STANDARDS)}]",
        "codes:",
    ]

    def names(r: dict[str, str]) -> str:
        return (
            f"{{big: {_q(r['big_class'])}, mid: {_q(r['mid_class'])}, sub: {_q(r['sub_class'])}, "
            f"en: {_q(' / '.join((r['big_class_en'], r['mid_class_en'], r['sub_class_en'])))}}}"
        )

    for code in sorted(AMAP):
        cats, note = AMAP[code]
        r = by_code[code]
        out += [
            f'  "{code}":',
            f"    name: {names(r)}",
            f"    categories: {_categories(cats)}",
            f"    source: {_q(f'{AMAP_VERSION}: ' + '/'.join((r['big_class'], r['mid_class'], r['sub_class'])))}",
            "    verified: true",
        ]
        if note:
            out.append(f"    note: {_q(note)}")
    out.append("left_out:")
    for code in sorted(AMAP_LEFT_OUT):
        out += [
            f'  "{code}":',
            f"    name: {names(by_code[code])}",
            f"    reason: {_q(AMAP_LEFT_OUT[code])}",
        ]
    return "\n".join(out) + "\n"


def baidu_yaml(rows: list[dict[str, str]]) -> str:
    """The Baidu table as YAML text."""
    by_tag = {r["tag"]: r for r in rows}
    missing = sorted((set(BAIDU) | set(BAIDU_LEFT_OUT)) - set(by_tag))
    if missing:
        raise SystemExit(f"tags not in the official list: {missing}")
    out = [
        HEADER.format(
            title="Baidu (百度) POI industry tags -> lifecircle categories of each bundled "
            "standard.",
            what="list\n# (shared data/amap/baidu-poi-industry.csv)",
            item="tag",
        ),
        "provider: baidu",
        f"classification: {_q(BAIDU_VERSION)}",
        f"standards: [{', '.join(STANDARDS)}]",
        "tags:",
    ]
    order = {t: i for i, t in enumerate(by_tag)}
    for tag in sorted(BAIDU, key=order.__getitem__):
        cats, note = BAIDU[tag]
        r = by_tag[tag]
        out += [
            f"  {_q(tag)}:",
            f"    name: {{first: {_q(r['first_level'])}, second: {_q(r['second_level'])}}}",
            f"    categories: {_categories(cats)}",
            f"    source: {_q(f'{BAIDU_VERSION}: ' + r['first_level'] + '/' + r['second_level'])}",
            "    verified: true",
        ]
        if note:
            out.append(f"    note: {_q(note)}")
    out.append("left_out:")
    for tag in sorted(BAIDU_LEFT_OUT, key=order.__getitem__):
        r = by_tag[tag]
        out += [
            f"  {_q(tag)}:",
            f"    name: {{first: {_q(r['first_level'])}, second: {_q(r['second_level'])}}}",
            f"    reason: {_q(BAIDU_LEFT_OUT[tag])}",
        ]
    return "\n".join(out) + "\n"


def main() -> None:
    """Command-line entry point."""
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=root.parent / "shared" / "data" / "amap")
    parser.add_argument("--out", type=Path, default=root / "configs" / "providers")
    args = parser.parse_args()
    amap = _read(args.source / "amap-poi-typecodes.csv")
    baidu = _read(args.source / "baidu-poi-industry.csv")
    _write(args.out / "amap-typecodes.yaml", amap_yaml(amap))
    _write(args.out / "baidu-tags.yaml", baidu_yaml(baidu))
    print(f"wrote {len(AMAP)} Amap codes and {len(BAIDU)} Baidu tags to {args.out}")


if __name__ == "__main__":
    main()
