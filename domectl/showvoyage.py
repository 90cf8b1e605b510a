"""A show's space voyage: its fly/orbit/home/park cues replayed into a domectl.voyage.Voyage.

The show player (shows/player.py) lists, in each scene, the voyage cues met
so far on the path walked, each with the sim time, site and view at its own
show time. The voyage at show time t is the result of applying those cues in
order (each planned from where the previous ones left the observer), so it is
a function of (show, t, poll results) alone: live and offline renders, and a
seek, give the same frames. The replay is cached and extended cue by cue as
the show advances; going back (a seek, a standby's restore) replays from the
first cue.
"""

from __future__ import annotations

import logging

from domectl.voyage import NoClearPath, Voyage

log = logging.getLogger("domectl.showvoyage")


class ShowVoyage:
    """The replay cache one master keeps for the show it plays."""

    def __init__(self, ephemeris, tilt_deg: float):
        self.ephemeris = ephemeris
        self.tilt_deg = tilt_deg
        self.voyage = Voyage(ephemeris)
        self.applied: tuple = ()
        self.last_t_s = float("-inf")

    def _apply(self, entry) -> None:
        tt = self.ephemeris.sample(entry.utc, *entry.site).tt_jd
        view = (entry.view_az_deg, entry.view_alt_deg, self.tilt_deg)
        v = self.voyage
        try:
            if entry.command == "fly":
                distance = entry.distance_m
                if distance is None and getattr(entry, "radii", None) is not None:
                    from domectl.voyage import RADIUS_M

                    distance = entry.radii * RADIUS_M[entry.target]
                v.fly_to(entry.time_s, tt, entry.site, entry.target, view, distance)
            elif entry.command == "orbit":
                v.orbit(entry.time_s, tt, entry.site, view, entry.target or None)
            elif entry.command == "home":
                v.home(entry.time_s, tt, entry.site)
            elif entry.command == "park":
                v.stop(entry.time_s, tt, entry.site)
        except (ValueError, NoClearPath) as e:
            # The show validated; what remains is geometry at the show's own sim time (an orbit
            # asked for on the ground, a target hidden behind its body): the show goes on, as is.
            log.warning("show voyage cue %s at %.2f s ignored: %s", entry.command, entry.time_s, e)

    def at(self, entries: tuple, t_s: float) -> Voyage:
        """The voyage after ``entries`` (the scene's cues so far), for show time ``t_s``."""
        n = len(self.applied)
        if t_s < self.last_t_s or entries[:n] != self.applied:
            self.voyage = Voyage(self.ephemeris)
            self.applied = ()
            n = 0
        for entry in entries[n:]:
            self._apply(entry)
        self.applied = tuple(entries)
        self.last_t_s = t_s
        return self.voyage


def show_voyage(master, entries: tuple, t_s: float) -> Voyage:
    """The master's show voyage for the scene's ``entries`` at show time ``t_s``."""
    cache = getattr(master, "_show_voyage_cache", None)
    if cache is None or cache.ephemeris is not master.ephemeris:
        cache = master._show_voyage_cache = ShowVoyage(master.ephemeris, master.hall.dome.tilt_deg)
    return cache.at(tuple(entries), t_s)
