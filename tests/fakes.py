"""Small fakes for unit tests of the master's logic (the real sockets are tested elsewhere)."""

import types
from datetime import datetime, timezone

T0 = datetime(2026, 11, 20, 21, tzinfo=timezone.utc)


class StillSky:
    """An ephemeris whose sky never changes except tt_jd; remembers the last UTC asked for."""

    last_utc = None

    def sample(self, utc, lat, lon, elev):
        self.last_utc = utc
        return types.SimpleNamespace(tt_jd=2461000.5 + (utc - T0).total_seconds() / 86400,
                                     enu_from_icrs=[[1, 0, 0], [0, 1, 0], [0, 0, 1]], beta_icrs=(0.0, 0.0, 0.0),
                                     years_since_epoch=35.0, sun_alt_deg=-40.0, bodies=())


class NullLink:
    """A master link that sends nowhere and receives nothing."""

    def publish(self, msg):
        pass

    def receive(self, timeout_ms, direct=True):
        return []
