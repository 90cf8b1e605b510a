"""domectl: an open planetarium dome engine.

Packages and the way their dependencies point (see docs/ARCHITECTURE.md):

    domectl.projection, domectl.astro   numpy only: conventions and shader twins
    warp/, calibration/                 numpy only: projector geometry, blend
    domectl.ephemeris                   the only runtime user of Skyfield
    render/                             the only importer of moderngl
    domectl.protocol, domectl.frame     pure: bytes in, events out
    domectl.transport                   the only importer of zmq
    domectl.master, domectl.node, domectl.embedded, domectl.cli   the glue
"""

__version__ = "0.1.0"
