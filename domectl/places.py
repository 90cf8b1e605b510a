"""Named places on Earth a show (or an operator) can travel to: ``site paris``.

Each place is a latitude (degrees, + north), a longitude (degrees, + east) and
an elevation above sea level (metres), all WGS84. Coordinates are rounded to
about 0.001 deg (some 100 m, far below what the sky shows: 100 m moves a star
by 3 arcseconds); elevations are those of the town centre or the site,
rounded, and matter only for refraction.

Three groups:

* the hall: ``hall``, ``wizernes`` and ``la-coupole`` are the reference
  hall's site (``config/lacoupole/hall.toml``); a show played in another hall
  gets that hall's site for ``hall`` through ``Player(hall_site=...)``;
* the places of La Coupole's story, from the V2 to Apollo: Peenemünde,
  Mittelbau-Dora, White Sands, Huntsville, Cape Canaveral and Kennedy's pad
  39A, Houston, Baikonur, and the towns the V2 struck;
* about thirty well-known cities on every continent, and the poles.

Tranquility Base is not here: the Moon is not a place on Earth, and the sky
engine observes from the Earth only.

Names are lowercase ASCII with hyphens (``new-york``); :func:`find_place` also
takes capitals, spaces, underscores and the accented spellings listed in
``ALIASES`` (``Peenemünde``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Place:
    name: str
    latitude_deg: float
    longitude_deg: float
    elevation_m: float
    note: str = ""

    @property
    def site(self) -> tuple[float, float, float]:
        """(latitude_deg, longitude_deg, elevation_m), as ``Scene.site`` takes it."""
        return (self.latitude_deg, self.longitude_deg, self.elevation_m)


#: The name that means "the hall's own site" in a show.
HALL = "hall"

_WIZERNES = (50.707, 2.240, 80.0)   # config/lacoupole/hall.toml [site]

_TABLE: tuple[tuple[str, float, float, float, str], ...] = (
    # The hall.
    (HALL, *_WIZERNES, "the hall's site (the reference hall: La Coupole, Wizernes)"),
    ("wizernes", *_WIZERNES, "La Coupole, Wizernes, Pas-de-Calais, France"),
    ("la-coupole", *_WIZERNES, "La Coupole, Wizernes, Pas-de-Calais, France"),
    ("saint-omer", 50.750, 2.252, 25.0, "France"),
    ("lille", 50.629, 3.057, 20.0, "France"),
    ("calais", 50.951, 1.858, 5.0, "France"),
    # The story: V2, Sputnik, Apollo.
    ("peenemunde", 54.143, 13.774, 5.0, "Peenemünde Army Research Centre, Usedom, Germany: the V2's test site"),
    ("mittelbau-dora", 51.535, 10.748, 200.0,
     "Mittelbau-Dora camp near Nordhausen, Germany: V2s built by prisoners in tunnels"),
    ("white-sands", 32.340, -106.406, 1200.0,
     "White Sands launch complex 33, New Mexico: captured V2s flown 1946-1952"),
    ("huntsville", 34.730, -86.586, 190.0, "Huntsville, Alabama: von Braun's team, the Saturn V"),
    ("cape-canaveral", 28.489, -80.578, 3.0, "Cape Canaveral, Florida: Explorer 1, Mercury, Gemini"),
    ("kennedy-39a", 28.608, -80.604, 3.0, "Kennedy Space Center launch complex 39A: Apollo 11"),
    ("houston", 29.760, -95.370, 15.0, "Houston, Texas: mission control"),
    ("baikonur", 45.920, 63.342, 90.0,
     "Baikonur cosmodrome, Kazakhstan, site 1 (Gagarin's start): Sputnik 1, Vostok 1"),
    ("london", 51.507, -0.128, 11.0, "United Kingdom"),
    ("antwerp", 51.219, 4.402, 10.0, "Belgium"),
    ("paris", 48.857, 2.352, 35.0, "France"),
    # Cities.
    ("brussels", 50.847, 4.357, 60.0, "Belgium"),
    ("amsterdam", 52.370, 4.895, 0.0, "Netherlands"),
    ("berlin", 52.520, 13.405, 34.0, "Germany"),
    ("moscow", 55.756, 37.617, 150.0, "Russia"),
    ("washington", 38.907, -77.037, 20.0, "United States"),
    ("new-york", 40.713, -74.006, 10.0, "United States"),
    ("los-angeles", 34.052, -118.244, 90.0, "United States"),
    ("mexico-city", 19.433, -99.133, 2240.0, "Mexico"),
    ("rio-de-janeiro", -22.907, -43.173, 5.0, "Brazil"),
    ("buenos-aires", -34.604, -58.382, 25.0, "Argentina"),
    ("santiago", -33.449, -70.669, 570.0, "Chile"),
    ("quito", -0.180, -78.468, 2850.0, "Ecuador: on the equator"),
    ("reykjavik", 64.146, -21.942, 20.0, "Iceland"),
    ("oslo", 59.913, 10.752, 20.0, "Norway"),
    ("stockholm", 59.329, 18.069, 20.0, "Sweden"),
    ("copenhagen", 55.676, 12.568, 10.0, "Denmark"),
    ("dublin", 53.350, -6.260, 20.0, "Ireland"),
    ("madrid", 40.417, -3.704, 650.0, "Spain"),
    ("lisbon", 38.722, -9.139, 50.0, "Portugal"),
    ("rome", 41.903, 12.496, 20.0, "Italy"),
    ("vienna", 48.208, 16.374, 190.0, "Austria"),
    ("prague", 50.075, 14.438, 200.0, "Czechia"),
    ("warsaw", 52.230, 21.012, 100.0, "Poland"),
    ("athens", 37.984, 23.728, 70.0, "Greece"),
    ("istanbul", 41.008, 28.978, 40.0, "Türkiye"),
    ("cairo", 30.044, 31.236, 23.0, "Egypt"),
    ("nairobi", -1.286, 36.817, 1700.0, "Kenya"),
    ("cape-town", -33.925, 18.424, 10.0, "South Africa"),
    ("mumbai", 19.076, 72.878, 10.0, "India"),
    ("singapore", 1.352, 103.820, 15.0, "Singapore"),
    ("beijing", 39.904, 116.407, 45.0, "China"),
    ("tokyo", 35.690, 139.692, 40.0, "Japan"),
    ("sydney", -33.869, 151.209, 20.0, "Australia"),
    ("honolulu", 21.307, -157.858, 5.0, "United States"),
    ("north-pole", 90.0, 0.0, 0.0, "the geographic North Pole (sea ice)"),
    ("south-pole", -90.0, 0.0, 2835.0, "the geographic South Pole (Amundsen-Scott station, on the ice cap)"),
)

#: Every place by name.
PLACES: dict[str, Place] = {name: Place(name, lat, lon, elev, note) for name, lat, lon, elev, note in _TABLE}

#: Other spellings people write.
ALIASES: dict[str, str] = {
    "peenemünde": "peenemunde",
    "peenemuende": "peenemunde",
    "coupole": "la-coupole",
    "cap-canaveral": "cape-canaveral",
    "kennedy": "kennedy-39a",
    "bruxelles": "brussels",
    "brussel": "brussels",
    "anvers": "antwerp",
    "antwerpen": "antwerp",
    "londres": "london",
    "reykjavík": "reykjavik",
}


def _key(name: str) -> str:
    key = "-".join(name.strip().lower().replace("_", " ").split())
    return ALIASES.get(key, key)


def find_place(name: str) -> Place | None:
    """The place called ``name`` (any case; spaces or underscores for hyphens; known aliases), or None."""
    return PLACES.get(_key(name))


def suggest_place(name: str) -> str | None:
    """The closest known place name to a misspelt one (for an error hint), or None."""
    close = difflib.get_close_matches(_key(name), list(PLACES) + list(ALIASES), n=1, cutoff=0.6)
    return _key(close[0]) if close else None
