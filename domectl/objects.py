"""Finding sky objects by name: the console's search box and "go to".

An :class:`ObjectIndex` holds every object the pointer can point at, under
every name it has in the hall's languages:

* the bodies (Sun, Moon, planets; key ``jupiter``),
* the named stars of the bundled star-name list (key ``HIP 32349``; names such
  as Sirius, Sirius, Sirio... in each language),
* the 88 constellations (key ``Ori``; their names and their abbreviation).

Keys are what ``FrameState.pointer`` takes. :meth:`ObjectIndex.search` ranks
matches (exact, then prefix, then word prefix, then anywhere in the name; case
and accents ignored), and :meth:`ObjectIndex.direction_enu` says where an
object is in a sky sample: bodies from the ephemeris, stars and constellations
from their ICRS directions turned by the sample's ``enu_from_icrs``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from domectl import skydata

#: The Sun, Moon and planets in the hall's languages (the pointer's and the search's names).
BODY_NAMES: dict[str, dict[str, str]] = {
    "sun": {"fr": "Soleil", "en": "Sun", "de": "Sonne", "nl": "Zon"},
    "moon": {"fr": "Lune", "en": "Moon", "de": "Mond", "nl": "Maan"},
    "mercury": {"fr": "Mercure", "en": "Mercury", "de": "Merkur", "nl": "Mercurius"},
    "venus": {"fr": "Vénus", "en": "Venus", "de": "Venus", "nl": "Venus"},
    "mars": {"fr": "Mars", "en": "Mars", "de": "Mars", "nl": "Mars"},
    "jupiter": {"fr": "Jupiter", "en": "Jupiter", "de": "Jupiter", "nl": "Jupiter"},
    "saturn": {"fr": "Saturne", "en": "Saturn", "de": "Saturn", "nl": "Saturnus"},
    "uranus": {"fr": "Uranus", "en": "Uranus", "de": "Uranus", "nl": "Uranus"},
    "neptune": {"fr": "Neptune", "en": "Neptune", "de": "Neptun", "nl": "Neptunus"},
    "pluto": {"fr": "Pluton", "en": "Pluto", "de": "Pluto", "nl": "Pluto"},
}

_KIND_ORDER = {"body": 0, "constellation": 1, "star": 2}
_HIP = re.compile(r"^\s*hip\s*(\d+)\s*$", re.IGNORECASE)


def fold(text: str) -> str:
    """Lowercase without accents: ``Vénus`` -> ``venus``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


@dataclass(frozen=True)
class SkyObject:
    key: str
    kind: str                                 # body, star, constellation
    labels: dict[str, str]                    # language -> name

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.labels.get("en") or next(iter(self.labels.values()), self.key)


class ObjectIndex:
    def __init__(self, languages: tuple[str, ...]):
        self.languages = languages
        objects: list[SkyObject] = [SkyObject(name, "body", {lang: BODY_NAMES[name].get(lang, name.title())
                                                             for lang in languages}) for name in BODY_NAMES]
        names = {lang: skydata.load_constellation_names(lang) for lang in languages}
        for abbrev in sorted(names[languages[0]]):
            objects.append(SkyObject(abbrev, "constellation",
                                     {lang: names[lang].get(abbrev, abbrev) for lang in languages}))
        star_names = {lang: skydata.load_star_names(lang) for lang in languages}
        for hip in sorted(set().union(*(n.keys() for n in star_names.values()))):
            objects.append(SkyObject(f"HIP {hip}", "star",
                                     {lang: star_names[lang][hip] for lang in languages if hip in star_names[lang]}))
        self.objects = objects
        self._by_key = {fold(o.key): o for o in objects}
        # Every name an object answers to (folded), for search and resolve.
        self._terms: list[tuple[str, SkyObject]] = []
        for o in objects:
            for term in {fold(o.key), *(fold(label) for label in o.labels.values())}:
                self._terms.append((term, o))
        self._stars = None
        self._constellation_points = None

    def resolve(self, text: str) -> SkyObject | None:
        """The object whose key or one of whose names is exactly ``text`` (case, accents ignored)."""
        folded = fold(str(text))
        if not folded:
            return None
        match = _HIP.match(folded)
        if match is not None:
            hip = int(match.group(1))
            named = self._by_key.get(f"hip {hip}")
            if named is not None:
                return named
            return SkyObject(f"HIP {hip}", "star", {"en": f"HIP {hip}"}) if self._hip_known(hip) else None
        hit = self._by_key.get(folded)
        if hit is not None:
            return hit
        exact = [o for term, o in self._terms if term == folded]
        return min(exact, key=lambda o: _KIND_ORDER[o.kind]) if exact else None

    def search(self, text: str, language: str, limit: int = 10) -> list[dict]:
        """The best ``limit`` matches for ``text``: [{"key", "label", "kind"}], best first."""
        q = fold(str(text))
        if not q:
            return []
        best: dict[str, tuple] = {}
        for term, o in self._terms:
            if term == q:
                rank = 0
            elif term.startswith(q):
                rank = 1
            elif any(word.startswith(q) for word in re.split(r"[\s\-']+", term)):
                rank = 2
            elif q in term:
                rank = 3
            else:
                continue
            score = (rank, _KIND_ORDER[o.kind], len(o.label(language)), o.key)
            if o.key not in best or score < best[o.key][0]:
                best[o.key] = (score, o)
        ranked = sorted(best.values(), key=lambda item: item[0])[:max(0, limit)]
        return [{"key": o.key, "label": o.label(language), "kind": o.kind} for _, o in ranked]

    def _hip_known(self, hip: int) -> bool:
        return bool(np.any(self.stars().hip == hip))

    def stars(self):
        if self._stars is None:
            self._stars = skydata.load_stars()
        return self._stars

    def constellation_points(self) -> dict[str, np.ndarray]:
        if self._constellation_points is None:
            self._constellation_points = skydata.load_constellation_labels()
        return self._constellation_points

    def direction_enu(self, obj: SkyObject, sample) -> np.ndarray | None:
        """Unit ENU vector of ``obj`` in ``sample`` (an ephemeris SkySample), None if unknown."""
        if obj.kind == "body":
            for body in sample.bodies:
                if str(body.name).lower() == obj.key:
                    enu = np.asarray(body.enu, dtype=np.float64)
                    return enu / np.linalg.norm(enu)
            return None
        if obj.kind == "star":
            stars = self.stars()
            hits = np.nonzero(stars.hip == int(obj.key.split()[1]))[0]
            if len(hits) == 0:
                return None
            icrs = np.asarray(stars.icrs_xyz[hits[0]], dtype=np.float64)
        else:
            points = self.constellation_points().get(obj.key)
            if points is None:
                return None
            icrs = np.atleast_2d(np.asarray(points, dtype=np.float64)).mean(axis=0)
        enu = np.asarray(sample.enu_from_icrs, dtype=np.float64).reshape(3, 3) @ icrs
        return enu / np.linalg.norm(enu)
