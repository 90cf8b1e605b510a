"""The project's exceptions, one small tree.

    DomectlError                 anything domectl raises on purpose
    ├── ConfigError              a hall config file is wrong; names file and key path
    ├── DataError                sky data missing, corrupt, or not matching its manifest
    ├── TimeRangeError           a date outside the ephemeris (DE421: 1900-2050)
    ├── ShaderError              a .glsl file failed to compile or link; names file:line
    ├── RenderError              no GL context could be made, or a GL error is pending
    ├── ProtocolError            a cluster message could not be decoded
    │   ├── PeerError            the peer sent something wrong (counted and dropped)
    │   └── LocalError           we were asked to encode something invalid (our bug)
    ├── warp.WarpModelError      a dome/projector model is impossible (also a ValueError)
    ├── warp.formats.FormatError a calibration file (MPCDI, PFM, Bourke, PNG) is malformed;
    │                            names file, line or field (also a ValueError)
    ├── meshes.MeshError         an OBJ/MTL model is malformed, too big or missing; names file:line
    │                            (also a ValueError)
    ├── status.StatusError       no live master status to read
    ├── control.ControlError     no master answers, or it refused a command (HTTP 4xx)
    └── calibration.*            the technician's tools (each also a ValueError but the store's):
        ├── store.StoreError     a calibration store cannot be read or written; names the file
        │   └── store.CorruptVersionError  a version's sha256 does not match
        ├── structured_light.StructuredLightError, camera.CameraError, fit.FitError,
        └── auto.AutoCalibrationError      automatic calibration's inputs or results are unusable

The console's HTTP handlers also raise control.BadRequest (a ValueError: 400) and
control.Refused (409); they never leave the control server.

Every message says what is wrong and how to fix it; tests assert the messages.
"""

from __future__ import annotations


class DomectlError(Exception):
    """Base of every error domectl raises on purpose."""


class ConfigError(DomectlError):
    """A hall configuration value is missing or invalid.

    The message reads ``<file>: <key.path> = <value>: <what is allowed>``.
    """


class DataError(DomectlError):
    """Sky data is missing, corrupt, or does not match its manifest."""


class TimeRangeError(DomectlError):
    """A time lies outside the range the ephemeris covers."""


class ShaderError(DomectlError):
    """A shader failed to compile or link; the message names ``file.glsl:LINE``."""


class RenderError(DomectlError):
    """OpenGL could not be set up, or a GL call failed."""


class ProtocolError(DomectlError):
    """A cluster message could not be encoded or decoded."""


class PeerError(ProtocolError):
    """The other side sent a malformed, truncated, oversized or unexpected message."""


class LocalError(ProtocolError):
    """This side tried to send something the protocol cannot carry."""
