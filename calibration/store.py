"""The calibration store: a hall's calibration sets, versioned on disk; a crash never loses one.

One directory per hall (:func:`default_store_root`:
``$DOMECTL_STATE_DIR``/``~/.local/state/domectl/<hall>/calibration/``)::

    CURRENT                 "v0004": the committed version (replaced atomically; "none" in a new store)
    .lock                   flock(2) held by a saver (two savers never race)
    v0001/                  immutable once renamed into place
        calibration.json    CalibrationSet.to_json() (calibration/model.py)
        meta.json           version, parent, hall, kind, created_utc, author, note,
                            files {name: sha256}, rollback_of, source, imported_warp
        imported.mpcdi      only where the version holds another tool's warps (below)
    v0002/ ...
    .tmp-v0005-<pid>-<hex>/ a save in progress (or one that died: removed by the next open)
    .uncommitted/           complete versions whose save died before CURRENT named them (kept, not listed)

A save (:meth:`CalibrationStore.save`), under the lock: write every file of
the new version into a ``.tmp-*`` directory and fsync each, write
``meta.json`` (the files' sha256), fsync the directory, rename it to
``vNNNN``, fsync the store, then replace ``CURRENT`` atomically (temp file,
fsync, rename, fsync). **Replacing CURRENT is the commit**: a version exists
when its number is at most CURRENT's; a crash anywhere before leaves the
previous version current and nothing half-written visible (``.tmp-*`` and
``vNNNN`` above CURRENT are never listed). The next open or save, under the
lock, deletes dead ``.tmp-*`` directories and moves complete but
uncommitted versions to ``.uncommitted/`` (a calibration is never deleted),
and reports both (:attr:`CalibrationStore.recovered`). Each step calls
``self._hook(step)`` (:data:`SAVE_STEPS`) so tests can crash a save there.

Reading: :meth:`~CalibrationStore.load` checks every file's sha256 against
``meta.json``; a mismatch is :class:`CorruptVersionError` naming the file.
``load()`` with no version is strict about CURRENT too. The fallback rule
lives in :meth:`~CalibrationStore.current`: CURRENT's version if it
verifies, else the newest committed version below it that does, the ones
skipped listed with why; if CURRENT itself is missing or unreadable (damage,
never a crash), the newest version directory that verifies. Saving after a
fallback makes the next version from the version it fell back to.

History is never rewritten: :meth:`~CalibrationStore.rollback` commits a new
version whose files are the old version's, byte for byte.

MPCDI (warp/formats/mpcdi.py). **Export** (:meth:`~CalibrationStore.export_mpcdi`)
of a version that holds no imported warps builds its warp, alpha and beta
maps from the version's projector models with ``warp build``
(:func:`warp.build.build_hall_warp`, profile "2d", buffer = the domemaster;
each projector's blend ramp = its ``blend.width_frac``, alpha gamma = its
``blend.gamma``; no beta map where ``black_uplift`` is off) and adds two members that other tools ignore:
``domectl/calibration.json`` (the whole CalibrationSet) and
``domectl/export.json`` (the sha256 of every other member). A version
holding imported warps exports that archive as imported, plus the same two
members. **Import** (:meth:`~CalibrationStore.import_mpcdi`):

* an archive domectl exported, unchanged (every member's sha256 as
  recorded): the CalibrationSet comes back exactly (models, control grid,
  blend, colour, fit), and imported warps stay imported;
* an archive domectl exported and another tool changed since: the
  CalibrationSet from ``domectl/calibration.json`` plus the archive's warps,
  stored as imported (the other tool's edits win where they are);
* any other archive: the current CalibrationSet unchanged, plus the archive
  kept byte for byte as ``imported.mpcdi`` and ``meta.json``
  ``imported_warp.regions`` {projector: region id} marking which projectors
  show the imported warp instead of their model's. Regions match projectors
  by id, or by an explicit mapping. A region's frustum (3d profile) is kept
  in the archive but not turned into a pose: MPCDI gives it in a frame the
  file does not tie to our dome and eye, so any mapping would be a guess.
  Warnings (profile not "2d", a region's resolution not the projector's)
  are kept in ``meta.json``.

A save keeps the parent version's imported warps (``keep_imported=True``): a
technician's blend edit after an import does not drop the imported warps.

Exceptions::

    DomectlError
    └── StoreError              the store cannot do what was asked (names the store or version)
        └── CorruptVersionError a version's file does not match its sha256, or is unreadable
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import getpass
import hashlib
import io
import json
import math
import os
import re
import shutil
import socket
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from calibration.model import CalibrationSet, ProjectorCalibration, from_hall
from domectl.errors import ConfigError, DomectlError

META_FORMAT = "domectl-calibration-version"
EXPORT_FORMAT = "domectl-mpcdi-export"
CALIBRATION_FILE = "calibration.json"
META_FILE = "meta.json"
IMPORTED_FILE = "imported.mpcdi"
CURRENT_FILE = "CURRENT"
LOCK_FILE = ".lock"
TMP_PREFIX = ".tmp-"
UNCOMMITTED_DIR = ".uncommitted"
EMPTY_CURRENT = "none"
# Members domectl adds to an exported MPCDI archive (other readers ignore files the XML does not name).
EXPORT_PREFIX = "domectl/"
EXPORT_CALIBRATION_MEMBER = "domectl/calibration.json"
EXPORT_META_MEMBER = "domectl/export.json"

# A save takes milliseconds (small JSON, or one copied archive of a few MB); a
# lock held this long belongs to a stuck process, and the technician should hear it.
LOCK_TIMEOUT_S = 30.0
LOCK_POLL_S = 0.02
# `diff` lists this many moved control points one by one, then counts the rest.
DIFF_MAX_POINTS = 6

#: Where a save calls ``_hook(step)``, in order. A crash at any step before
#: "current" leaves the previous version current; from "current" on the new one is.
SAVE_STEPS = (
    "locked",              # lock held, dead saves recovered
    "tmpdir",              # empty .tmp-* directory made
    "half-file",           # half of calibration.json written (a torn file)
    "files",               # every data file written and fsynced
    "meta",                # meta.json written and fsynced
    "tmpdir-synced",       # the temp directory fsynced
    "renamed",             # .tmp-* renamed to vNNNN (complete, not yet committed)
    "root-synced",         # the store directory fsynced
    "current-tmp",         # new CURRENT written to a temp file, not yet renamed
    "current",             # CURRENT replaced: committed
    "done",                # store fsynced, about to unlock
)

_VERSION_DIR = re.compile(r"^v(\d{4,})$")


class StoreError(DomectlError):
    """The calibration store cannot do what was asked; the message names the store or version."""


class CorruptVersionError(StoreError):
    """A version's file is missing, unreadable or does not match the sha256 in its meta.json."""


def default_store_root(hall) -> Path:
    """A hall's store: ``<state dir>/calibration`` (:func:`domectl.status.state_dir`: survives reboots)."""
    from domectl.status import state_dir

    return state_dir(hall.name) / "calibration"


def version_name(version: int) -> str:
    return f"v{version:04d}"


def parse_version(text: str | int) -> int:
    """``3``, ``"3"``, ``"v3"``, ``"v0003"`` -> 3; StoreError otherwise."""
    if isinstance(text, int) and not isinstance(text, bool):
        number = text
    else:
        m = re.fullmatch(r"\s*[vV]?(\d+)\s*", str(text))
        if not m:
            raise StoreError(f"version {text!r}: expected a version number like 3, v3 or v0003 "
                             "(`domectl calibrate history` lists them)")
        number = int(m.group(1))
    if number < 1:
        raise StoreError(f"version {text!r}: versions are numbered from 1")
    return number


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _default_author() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class VersionInfo:
    """One version as ``meta.json`` describes it; ``problem`` says why it cannot be used (else None)."""

    version: int
    parent: int | None = None
    hall: str = ""
    kind: str = ""                 # "init", "save", "rollback", "import"
    created_utc: str = ""
    author: str = ""
    note: str = ""
    files: Mapping[str, str] = dataclasses.field(default_factory=dict)
    rollback_of: int | None = None
    source: Mapping | None = None          # import: {"file", "sha256", "kind"}
    imported_warp: Mapping | None = None   # {"file", "profile", "regions": {projector: region id}, "warnings"}
    current: bool = False
    problem: str | None = None

    @property
    def name(self) -> str:
        return version_name(self.version)

    def summary(self) -> str:
        """One line for a person: ``* v0003  2026-...Z  alice@host  rollback of v0001: note``."""
        mark = "*" if self.current else " "
        what = {"rollback": f"rollback to {version_name(self.rollback_of)}" if self.rollback_of else "rollback",
                "import": f"import {Path(self.source['file']).name}" if self.source else "import"}.get(
            self.kind, self.kind)
        line = f"{mark} {self.name}  {self.created_utc or '?':20}  {self.author or '?'}  {what}"
        if self.imported_warp:
            line += f" [imported warp: {', '.join(sorted(self.imported_warp.get('regions', {})))}]"
        if self.note:
            line += f": {self.note}"
        if self.problem:
            line += f"  CORRUPT: {self.problem}"
        return line


@dataclass(frozen=True)
class Current:
    """What :meth:`CalibrationStore.current` found: the version used, its set, and what it skipped and why."""

    info: VersionInfo
    calibration: CalibrationSet
    skipped: tuple[str, ...] = ()      # why each newer version (or CURRENT itself) was passed over


@dataclass(frozen=True)
class Change:
    """One difference between two calibration sets, for a person: ``p03: yaw_deg 12 -> 12.5 (+0.5 deg)``."""

    projector: str | None      # None: the set as a whole
    field: str
    text: str

    def __str__(self) -> str:
        return f"{self.projector or 'set'}: {self.field}: {self.text}"


class CalibrationStore:
    """A hall's versioned calibration sets in ``root`` (layout and guarantees in the module docstring).

    Construct with :meth:`open` (creates the store from the hall if absent,
    recovers dead saves); the plain constructor touches nothing on disk.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.recovered: list[str] = []
        self._hook: Callable[[str], None] = lambda step: None

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, root: str | os.PathLike, hall=None, *, author: str | None = None) -> CalibrationStore:
        """Open ``root``; a store that does not exist yet is made from ``hall`` (v0001, "from the hall config").

        Recovers what dead saves left (:attr:`recovered` says what). Without
        ``hall``, a missing store is a StoreError.
        """
        store = cls(root)
        if not store._initialised():
            if hall is None:
                raise StoreError(f"{store.root}: no calibration store here; give the hall (--config) to create "
                                 "one from its projector config")
            store.root.mkdir(parents=True, exist_ok=True)
        with store._locked():
            if not store._initialised():
                if hall is None:
                    raise StoreError(f"{store.root}: no calibration store here; give the hall (--config)")
                store._write_current(EMPTY_CURRENT)
                store._commit_locked({CALIBRATION_FILE: from_hall(hall).to_json().encode()},
                                     {"kind": "init", "note": "from the hall config", "hall": hall.name},
                                     author or _default_author(), parent=None)
        return store

    def _initialised(self) -> bool:
        """A store holds versions (or a CURRENT naming one); a new one: neither (CURRENT missing or "none")."""
        return bool(self._version_dirs()) or self._read_current()[0] is not None

    # ------------------------------------------------------------ locking and recovery

    @contextlib.contextmanager
    def _locked(self):
        """Hold the store's lock (waiting up to LOCK_TIMEOUT_S), recovering dead saves first."""
        if not self.root.is_dir():
            raise StoreError(f"{self.root}: no calibration store here (open it with the hall to create one)")
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() > deadline:
                        raise StoreError(f"{self.root / LOCK_FILE}: another process has held the store's lock for "
                                         f"{LOCK_TIMEOUT_S:g} s; is a save stuck? (its pid is in the file)") from None
                    time.sleep(LOCK_POLL_S)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._recover_locked()
            yield self
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _recover_locked(self) -> None:
        """Under the lock: delete dead ``.tmp-*`` dirs, move uncommitted versions aside; note both."""
        for p in sorted(self.root.glob(TMP_PREFIX + "*")):
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
            self.recovered.append(f"removed {p.name}: a save that did not finish (the store is unchanged)")
        current, problem = self._read_current()
        if problem:
            return  # CURRENT damaged: nothing tells committed from not, so nothing moves
        for number in self._version_dirs():
            if number > (current or 0):
                aside = self.root / UNCOMMITTED_DIR
                aside.mkdir(exist_ok=True)
                target = aside / f"{version_name(number)}-{_utc_now()}-{os.urandom(3).hex()}"
                os.rename(self.root / version_name(number), target)
                _fsync_dir(aside)
                _fsync_dir(self.root)
                kept = version_name(current) if current else "no version"
                self.recovered.append(f"moved {version_name(number)} to {UNCOMMITTED_DIR}/{target.name}: its save "
                                      f"stopped before it became current ({kept} stays current)")

    # ------------------------------------------------------------ reading the layout

    def _version_dirs(self) -> list[int]:
        if not self.root.is_dir():
            return []
        out = []
        for p in self.root.iterdir():
            m = _VERSION_DIR.match(p.name)
            if m and p.is_dir():
                out.append(int(m.group(1)))
        return sorted(out)

    def _read_current(self) -> tuple[int | None, str | None]:
        """(committed version or None, problem or None); (None, None) for a new, empty store."""
        path = self.root / CURRENT_FILE
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            return None, f"{path}: missing"
        except (OSError, UnicodeDecodeError) as e:
            return None, f"{path}: unreadable ({e})"
        if text == EMPTY_CURRENT:
            return None, None
        m = _VERSION_DIR.match(text)
        if not m:
            return None, f"{path}: holds {text[:40]!r}, expected a version like v0003"
        return int(m.group(1)), None

    def _committed(self) -> list[int]:
        current, problem = self._read_current()
        dirs = self._version_dirs()
        if current is None:
            return dirs if problem else []
        return [v for v in dirs if v <= current]

    def current_version(self) -> int:
        """The version CURRENT names; StoreError if it names none."""
        current, problem = self._read_current()
        if current is None:
            raise StoreError(problem or f"{self.root}: the store holds no version yet")
        return current

    def _dir(self, version: int) -> Path:
        return self.root / version_name(version)

    def _check_exists(self, version: int) -> None:
        if version not in self._committed():
            have = self._committed()
            span = f"{version_name(have[0])}..{version_name(have[-1])}" if have else "none"
            raise StoreError(f"{self.root}: no version {version_name(version)} (it has {span}; "
                             "`domectl calibrate history` lists them)")

    def info(self, version: int) -> VersionInfo:
        """``meta.json`` of a version (no sha256 check; :meth:`verify` does that)."""
        path = self._dir(version) / META_FILE
        try:
            meta = json.loads(path.read_text())
        except FileNotFoundError:
            raise CorruptVersionError(f"{path}: missing: this version cannot be checked") from None
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise CorruptVersionError(f"{path}: unreadable ({e})") from None
        if not isinstance(meta, dict) or meta.get("format") != META_FORMAT or meta.get("version") != version \
                or not isinstance(meta.get("files"), dict) or CALIBRATION_FILE not in meta["files"]:
            raise CorruptVersionError(f"{path}: not the meta.json of {version_name(version)} "
                                      f"(needs format {META_FORMAT!r}, version {version}, files)")
        current, _ = self._read_current()
        keys = {f.name for f in dataclasses.fields(VersionInfo)} - {"current", "problem"}
        return VersionInfo(**{k: meta[k] for k in keys if k in meta}, current=version == current)

    def _read_verified(self, version: int) -> tuple[VersionInfo, dict[str, bytes]]:
        """(info, {file: bytes}) with every file's sha256 checked; CorruptVersionError naming the file."""
        info = self.info(version)
        files = {}
        for name, digest in info.files.items():
            path = self._dir(version) / name
            try:
                data = path.read_bytes()
            except OSError as e:
                raise CorruptVersionError(f"{path}: unreadable ({e}); {self._hint(version)}") from None
            if _sha256(data) != digest:
                raise CorruptVersionError(f"{path}: sha256 {_sha256(data)[:12]}... does not match {digest[:12]}... in "
                                          f"meta.json: the file changed after it was saved; {self._hint(version)}")
            files[name] = data
        return info, files

    def _hint(self, version: int) -> str:
        for v in reversed(self._committed()):
            if v != version:
                try:
                    self.verify(v)
                except StoreError:
                    continue
                return f"roll back to the last good version: `domectl calibrate rollback {v}`"
        return "no other version verifies: re-import or recalibrate"

    def verify(self, version: int) -> VersionInfo:
        """Check a version's files against their sha256 (and that calibration.json parses)."""
        info, files = self._read_verified(version)
        self._parse(version, files)
        return info

    def _parse(self, version: int, files: dict[str, bytes]) -> CalibrationSet:
        path = self._dir(version) / CALIBRATION_FILE
        try:
            return CalibrationSet.from_json(files[CALIBRATION_FILE].decode("utf-8"), str(path))
        except (ConfigError, UnicodeDecodeError) as e:
            raise CorruptVersionError(str(e)) from None

    # ------------------------------------------------------------ public reading

    def history(self, *, verify: bool = True) -> list[VersionInfo]:
        """Every committed version, oldest first; with ``verify``, ``problem`` set on those that fail."""
        out = []
        current, _ = self._read_current()
        for v in self._committed():
            try:
                info = self.info(v)
            except CorruptVersionError as e:
                out.append(VersionInfo(v, current=v == current, problem=str(e)))
                continue
            if verify:
                try:
                    self.verify(v)
                except CorruptVersionError as e:
                    info = dataclasses.replace(info, problem=str(e))
            out.append(info)
        return out

    def load(self, version: int | str | None = None) -> CalibrationSet:
        """A version's CalibrationSet (CURRENT's when None), every file checked; strict, no fallback."""
        number = self.current_version() if version is None else parse_version(version)
        self._check_exists(number)
        return self._parse(number, self._read_verified(number)[1])

    def current(self) -> Current:
        """CURRENT's version, or the newest committed one that verifies (fallback rules: module docstring)."""
        current, problem = self._read_current()
        if current is None and problem is None:
            raise StoreError(f"{self.root}: the store holds no version yet")
        skipped = [f"{problem}: using the newest version that verifies"] if problem else []
        for v in reversed(self._committed()):
            try:
                info, files = self._read_verified(v)
                calibration = self._parse(v, files)
            except CorruptVersionError as e:
                skipped.append(f"skipped {version_name(v)}: {e}")
                continue
            return Current(info, calibration, tuple(skipped))
        raise CorruptVersionError(f"{self.root}: no version verifies" + "".join(f"; {why}" for why in skipped))

    def imported_archive(self, version: int | None = None) -> bytes | None:
        """The MPCDI archive a version holds as imported warps (checked), or None."""
        number = self.current_version() if version is None else parse_version(version)
        self._check_exists(number)
        return self._read_verified(number)[1].get(IMPORTED_FILE)

    def imported_regions(self, version: int | None = None) -> dict:
        """{projector name: MpcdiRegion} for the projectors that show imported warps in a version."""
        from warp.formats.mpcdi import decode_mpcdi

        number = self.current_version() if version is None else parse_version(version)
        data = self.imported_archive(number)
        if data is None:
            return {}
        mapping = self.info(number).imported_warp or {}
        doc = decode_mpcdi(data, str(self._dir(number) / IMPORTED_FILE),
                           warp_convention=mapping.get("convention", "guess"))
        return {proj: doc.region(region) for proj, region in mapping.get("regions", {}).items()}

    def diff(self, a: int | str, b: int | str | None = None) -> list[Change]:
        """What changed from version ``a`` to ``b`` (current when None), per projector, with magnitudes."""
        va = parse_version(a)
        vb = self.current_version() if b is None else parse_version(b)
        changes = diff_sets(self.load(va), self.load(vb))
        ia, ib = self.info(va), self.info(vb)
        wa, wb = ia.imported_warp or {}, ib.imported_warp or {}
        ra, rb = wa.get("regions", {}), wb.get("regions", {})
        # Archives differ in bytes after an export/import trip (domectl's members): compare what they hold.
        same_archive = ia.files.get(IMPORTED_FILE) == ib.files.get(IMPORTED_FILE)
        regions_a = {} if same_archive or not ra else self.imported_regions(va)
        regions_b = {} if same_archive or not rb else self.imported_regions(vb)
        for proj in sorted(set(ra) | set(rb)):
            if proj not in ra:
                changes.append(Change(proj, "warp", f"model -> imported (region {rb[proj]!r})"))
            elif proj not in rb:
                changes.append(Change(proj, "warp", f"imported (region {ra[proj]!r}) -> model"))
            elif ra[proj] != rb[proj] or (not same_archive and regions_a[proj] != regions_b[proj]):
                changes.append(Change(proj, "warp", f"imported region {ra[proj]!r} -> another import's {rb[proj]!r}"))
        return changes

    # ------------------------------------------------------------ writing

    def save(self, calibration: CalibrationSet, note: str = "", author: str | None = None, *,
             keep_imported: bool = True) -> int:
        """Commit ``calibration`` as a new version (atomically: module docstring); returns its number.

        The parent's imported warps come along unless ``keep_imported`` is False.
        An exception raised after the commit (the store's last fsync, step
        "done") leaves the new version committed: :meth:`current_version` tells.
        """
        text = calibration.to_json()
        try:
            again = CalibrationSet.from_json(text, "the calibration to save")
        except ConfigError as e:
            raise StoreError(f"{self.root}: refusing to save what could not be loaded back: {e}") from None
        if again != calibration:
            raise StoreError(f"{self.root}: refusing to save: the calibration does not survive its JSON round trip")
        with self._locked():
            parent = self._parent_locked(calibration.hall)
            files = {CALIBRATION_FILE: text.encode()}
            meta = {"kind": "save", "note": note, "hall": calibration.hall}
            if keep_imported and parent is not None:
                info, parent_files = self._read_verified(parent.version)
                if info.imported_warp:
                    files[IMPORTED_FILE] = parent_files[IMPORTED_FILE]
                    meta["imported_warp"] = info.imported_warp
            return self._commit_locked(files, meta, author or _default_author(),
                                       parent=None if parent is None else parent.version)

    def rollback(self, version: int | str, note: str = "", author: str | None = None) -> int:
        """A new version whose files equal ``version``'s byte for byte; returns its number."""
        number = parse_version(version)
        self._check_exists(number)
        with self._locked():
            info, files = self._read_verified(number)
            self._parse(number, files)
            parent = self._parent_locked(info.hall)
            meta = {"kind": "rollback", "note": note, "hall": info.hall,
                    "rollback_of": number, "imported_warp": info.imported_warp}
            return self._commit_locked(files, meta, author or _default_author(),
                                       parent=None if parent is None else parent.version)

    def _parent_locked(self, hall: str) -> VersionInfo | None:
        try:
            parent = self.current().info
        except StoreError:
            return None
        if parent.hall and parent.hall != hall:
            raise StoreError(f"{self.root}: this store holds hall {parent.hall!r}; the calibration is for {hall!r}: "
                             "use that hall's store (--config or --store)")
        return parent

    def _commit_locked(self, files: dict[str, bytes], meta: dict, author: str, parent: int | None) -> int:
        """Write and commit a version (caller holds the lock); returns its number."""
        self._hook("locked")
        current, _ = self._read_current()
        number = max(self._version_dirs() + [current or 0]) + 1
        tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{version_name(number)}-{os.getpid()}-", dir=self.root))
        committed = False
        try:
            self._hook("tmpdir")
            for name, data in files.items():
                with open(tmp / name, "xb") as f:
                    if name == CALIBRATION_FILE:
                        f.write(data[: len(data) // 2])
                        f.flush()
                        self._hook("half-file")
                        f.write(data[len(data) // 2:])
                    else:
                        f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            self._hook("files")
            full = {"format": META_FORMAT, "version": number, "parent": parent, "created_utc": _utc_now(),
                    "author": author, "files": {n: _sha256(d) for n, d in files.items()}, **meta}
            with open(tmp / META_FILE, "xb") as f:
                f.write((json.dumps(full, indent=1, sort_keys=True) + "\n").encode())
                f.flush()
                os.fsync(f.fileno())
            self._hook("meta")
            os.chmod(tmp, 0o755)
            _fsync_dir(tmp)
            self._hook("tmpdir-synced")
            os.rename(tmp, self._dir(number))
            self._hook("renamed")
            _fsync_dir(self.root)
            self._hook("root-synced")
            self._write_current(version_name(number))
            committed = True
            self._hook("current")
            _fsync_dir(self.root)
            self._hook("done")
        except BaseException:
            if not committed:
                # The same clean-up a later open would do, now, while the lock is still ours.
                self._recover_locked()
            raise
        return number

    def _write_current(self, text: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f"{TMP_PREFIX}{CURRENT_FILE}-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(f"{text}\n".encode())
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            if text != EMPTY_CURRENT:
                self._hook("current-tmp")
            os.replace(tmp, self.root / CURRENT_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.root)

    # ------------------------------------------------------------ MPCDI

    def export_mpcdi(self, path: str | os.PathLike, hall, version: int | str | None = None, *,
                     warp_width_px: int | None = None, mask_width_px: int | None = None) -> list[str]:
        """Write a version (current when None) as an MPCDI archive (what goes in: module docstring).

        ``hall`` gives the dome, the eye and the domemaster size. Returns
        warnings: what of the calibration the MPCDI maps do not carry.
        """
        from warp.formats._io import atomic_write_bytes

        number = self.current_version() if version is None else parse_version(version)
        self._check_exists(number)
        info, files = self._read_verified(number)
        calibration = self._parse(number, files)
        warnings = []
        if IMPORTED_FILE in files:
            archive = _strip_domectl(files[IMPORTED_FILE])
            warnings.append(f"{version_name(number)} holds imported warps: the archive is exported as imported; "
                            "the projectors' model warps are not added")
        else:
            archive = _model_archive(calibration, hall, warp_width_px, mask_width_px)
        for p in calibration.projectors:
            if not p.control.is_zero():
                warnings.append(f"{p.name}: the manual control grid is not applied to the MPCDI warp map "
                                "(kept in domectl/calibration.json)")
            if p.colour.gain_rgb != (1.0, 1.0, 1.0) or p.colour.lut is not None:
                warnings.append(f"{p.name}: colour gain/LUT has no place in MPCDI 2.0 "
                                "(kept in domectl/calibration.json)")
        members = {n: _sha256(d) for n, d in _zip_members(archive).items()}
        export = {"format": EXPORT_FORMAT, "version": 1, "hall": calibration.hall, "store_version": number,
                  "members": members, "imported_warp": info.imported_warp}
        archive = _add_members(archive, {EXPORT_CALIBRATION_MEMBER: files[CALIBRATION_FILE],
                                         EXPORT_META_MEMBER: (json.dumps(export, indent=1) + "\n").encode()})
        atomic_write_bytes(path, archive)
        return warnings

    def import_mpcdi(self, path: str | os.PathLike, note: str = "", author: str | None = None, *,
                     mapping: Mapping[str, str] | None = None) -> int:
        """Commit an MPCDI archive as a new version (how it is represented: module docstring).

        ``mapping`` {region id: projector name} for another tool's archive
        whose region ids are not our projector names. Returns the version.
        """
        from warp.formats._io import read_bytes
        from warp.formats.mpcdi import decode_mpcdi

        data = read_bytes(path)
        doc = decode_mpcdi(data, str(path))
        members = _zip_members(data)
        source = {"file": str(path), "sha256": _sha256(data)}
        with self._locked():
            base = self.current()
            if EXPORT_META_MEMBER in members and EXPORT_CALIBRATION_MEMBER in members:
                export, calibration = _read_export(path, members)
                others = {n: _sha256(d) for n, d in members.items() if not n.startswith(EXPORT_PREFIX)}
                pristine = others == export["members"]
                if pristine and not export.get("imported_warp"):
                    files, imported, kind = {}, None, "domectl export"
                elif pristine:
                    files, imported, kind = {IMPORTED_FILE: _strip_domectl(data)}, export["imported_warp"], \
                        "domectl export with imported warps"
                else:
                    files = {IMPORTED_FILE: _strip_domectl(data)}
                    imported = _imported_warp(doc, calibration, mapping, path)
                    imported["warnings"].insert(0, "changed by another tool after domectl exported it: its warps "
                                                   "are imported as they are")
                    kind = "domectl export, changed since"
            else:
                calibration = base.calibration
                files = {IMPORTED_FILE: data}
                imported = _imported_warp(doc, calibration, mapping, path)
                kind = "foreign"
            if calibration.hall != base.info.hall:
                raise StoreError(f"{path}: a calibration of hall {calibration.hall!r}; this store is "
                                 f"{base.info.hall!r}'s ({self.root})")
            files = {CALIBRATION_FILE: calibration.to_json().encode(), **files}
            meta = {"kind": "import", "note": note or f"imported from {Path(path).name}", "hall": calibration.hall,
                    "source": {**source, "kind": kind}, "imported_warp": imported}
            return self._commit_locked(files, meta, author or _default_author(), parent=base.info.version)


# ------------------------------------------------------------------ MPCDI helpers


def _zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}


def _add_members(data: bytes, extra: dict[str, bytes]) -> bytes:
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_DEFLATED) as z:
        for name, content in extra.items():
            z.writestr(name, content)
    return out.getvalue()


def _strip_domectl(data: bytes) -> bytes:
    """The archive without domectl's members (the bytes unchanged when it has none)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        infos = z.infolist()
        if not any(i.filename.startswith(EXPORT_PREFIX) for i in infos):
            return data
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as w:
            for i in infos:
                if not i.filename.startswith(EXPORT_PREFIX):
                    w.writestr(i, z.read(i))
    return out.getvalue()


def _read_export(path, members: dict[str, bytes]) -> tuple[dict, CalibrationSet]:
    where = f"{path}:{EXPORT_META_MEMBER}"
    try:
        export = json.loads(members[EXPORT_META_MEMBER])
    except ValueError as e:
        raise StoreError(f"{where}: not JSON ({e})") from None
    if not isinstance(export, dict) or export.get("format") != EXPORT_FORMAT or not isinstance(
            export.get("members"), dict):
        raise StoreError(f"{where}: not a {EXPORT_FORMAT} record")
    try:
        calibration = CalibrationSet.from_json(members[EXPORT_CALIBRATION_MEMBER].decode("utf-8"),
                                               f"{path}:{EXPORT_CALIBRATION_MEMBER}")
    except UnicodeDecodeError as e:
        raise StoreError(f"{path}:{EXPORT_CALIBRATION_MEMBER}: not UTF-8 ({e})") from None
    return export, calibration


def _imported_warp(doc, calibration: CalibrationSet, mapping: Mapping[str, str] | None, path) -> dict:
    """meta.json's ``imported_warp`` for an archive: which projector shows which region, and warnings."""
    names = [p.name for p in calibration.projectors]
    regions = {r.id: r for r in doc.regions()}
    warnings: list[str] = []
    if mapping:
        for region, proj in mapping.items():
            if region not in regions:
                raise StoreError(f"{path}: no region {region!r} to map (its regions: {', '.join(regions)})")
            if proj not in names:
                raise StoreError(f"{path}: region {region!r} mapped to {proj!r}, which is not a projector of "
                                 f"{calibration.hall!r} ({', '.join(names)})")
        chosen = dict(mapping)
    else:
        chosen = {r: r for r in regions if r in names}
        if not chosen:
            raise StoreError(f"{path}: no region id ({', '.join(regions)}) is a projector name "
                             f"({', '.join(names)}): map them, e.g. --map {next(iter(regions))}={names[0]}")
    by_projector: dict[str, str] = {}
    for region, proj in chosen.items():
        if proj in by_projector:
            raise StoreError(f"{path}: regions {by_projector[proj]!r} and {region!r} both map to {proj!r}")
        by_projector[proj] = region
    for region in regions:
        if region not in chosen:
            warnings.append(f"region {region!r} maps to no projector: ignored")
    if doc.profile != "2d":
        warnings.append(f"profile {doc.profile!r}: its warps map to a rendered frustum's image, not the "
                        "domemaster domectl renders; the frustum is not turned into a projector pose")
    for proj, region in by_projector.items():
        r, model = regions[region], calibration.projector(proj).model
        if r.warp is None:
            warnings.append(f"region {region!r} has no geometry warp: {proj} keeps its model's warp shape")
        if (r.x_resolution_px, r.y_resolution_px) != (model.width_px, model.height_px):
            warnings.append(f"region {region!r} is {r.x_resolution_px} x {r.y_resolution_px} px, {proj} is "
                            f"{model.width_px} x {model.height_px}: the maps are stretched over its image")
    conventions = {r.warp_convention for r in regions.values() if r.warp is not None}
    return {"file": IMPORTED_FILE, "profile": doc.profile, "regions": dict(sorted(by_projector.items())),
            "convention": conventions.pop() if len(conventions) == 1 else "guess", "warnings": warnings}


# Export check sizes: the export needs the maps, not warp build's report; a few
# thousand points still catch a broken build, at a small share of its full cost.
EXPORT_CHECK_POINTS = 2000
EXPORT_WARP_CHECK_DIRECTIONS = 500
EXPORT_PREVIEW_PX = 32


def _model_archive(calibration: CalibrationSet, hall, warp_width_px: int | None,
                   mask_width_px: int | None) -> bytes:
    """The MPCDI bytes ``warp build`` makes from the set's models (alpha gamma = blend.gamma)."""
    from domectl.hallwarp import dome_model, eye_m
    from warp.build import DEFAULT_MASK_WIDTH_PX, DEFAULT_WARP_WIDTH_PX, build_hall_warp
    from warp.formats.mpcdi import encode_mpcdi, read_mpcdi

    blends = [p.blend for p in calibration.projectors]
    with tempfile.TemporaryDirectory(prefix="domectl-export-") as tmp:
        report = build_hall_warp(
            dome_model(hall), [p.model for p in calibration.projectors], eye_m(hall), tmp, name="export",
            warp_width_px=warp_width_px or DEFAULT_WARP_WIDTH_PX,
            mask_width_px=mask_width_px or DEFAULT_MASK_WIDTH_PX,
            buffer_px=hall.render.domemaster_px, preview_px=EXPORT_PREVIEW_PX,
            check_points=EXPORT_CHECK_POINTS, warp_check_directions=EXPORT_WARP_CHECK_DIRECTIONS,
            ramp_frac=[b.width_frac for b in blends], blend_gamma=[b.gamma for b in blends],
            uplift_on=[b.black_uplift for b in blends])
        doc = read_mpcdi(Path(tmp) / report["files"]["mpcdi"])
    return encode_mpcdi(doc)


# ------------------------------------------------------------------ diff (pure)


def _num(x: float) -> str:
    return f"{x:.6g}"


def _vec(v) -> str:
    return "(" + ", ".join(_num(x) for x in v) + ")"


def diff_sets(a: CalibrationSet, b: CalibrationSet) -> list[Change]:
    """Every difference from ``a`` to ``b``, projector by projector, with magnitudes (pure)."""
    out: list[Change] = []
    if a.hall != b.hall:
        out.append(Change(None, "hall", f"{a.hall!r} -> {b.hall!r}"))
    names_a, names_b = [p.name for p in a.projectors], [p.name for p in b.projectors]
    for name in names_a:
        if name not in names_b:
            out.append(Change(name, "projector", "removed"))
    for name in names_b:
        if name not in names_a:
            out.append(Change(name, "projector", "added"))
    common = [n for n in names_a if n in names_b]
    if [n for n in names_b if n in names_a] != common:
        out.append(Change(None, "order", f"{', '.join(names_a)} -> {', '.join(names_b)}"))
    for name in common:
        out.extend(_diff_projector(a.projector(name), b.projector(name)))
    return out


def _diff_projector(a: ProjectorCalibration, b: ProjectorCalibration) -> list[Change]:
    name, out = a.name, []
    ma, mb = a.model, b.model

    def scalar(field: str, x, y, unit: str = "") -> None:
        if x != y:
            delta = f" ({y - x:+.6g}{unit})" if isinstance(x, (int, float)) and isinstance(y, (int, float)) \
                and not isinstance(x, bool) else ""
            out.append(Change(name, field, f"{_num(x) if isinstance(x, float) else x} -> "
                                           f"{_num(y) if isinstance(y, float) else y}{delta}"))

    if ma.position_m != mb.position_m:
        moved_mm = 1000.0 * math.dist(ma.position_m, mb.position_m)
        out.append(Change(name, "position_m", f"{_vec(ma.position_m)} -> {_vec(mb.position_m)}: "
                                              f"moved {moved_mm:.4g} mm"))
    for field in ("yaw_deg", "pitch_deg", "roll_deg"):
        scalar(field, getattr(ma, field), getattr(mb, field), " deg")
    if (ma.width_px, ma.height_px) != (mb.width_px, mb.height_px):
        out.append(Change(name, "resolution", f"{ma.width_px} x {ma.height_px} -> {mb.width_px} x {mb.height_px} px"))
    scalar("gamma", ma.gamma, mb.gamma)
    scalar("black_level", ma.black_level, mb.black_level)
    for field in ("kind", "throw_ratio", "fov_deg", "shift_x", "shift_y"):
        scalar(f"lens.{field}", getattr(ma.lens, field), getattr(mb.lens, field))

    ca, cb = a.control, b.control
    if (ca.rows, ca.cols) != (cb.rows, cb.cols):
        out.append(Change(name, "control", f"grid {ca.rows} x {ca.cols} -> {cb.rows} x {cb.cols} points "
                                           f"(largest offset {_largest(ca):.4g} -> {_largest(cb):.4g} px)"))
    else:
        moves = []
        for r in range(ca.rows):
            for c in range(ca.cols):
                oa, ob = ca.offsets_px[r][c], cb.offsets_px[r][c]
                if oa != ob:
                    moves.append((math.dist(oa, ob), r, c, oa, ob))
        if moves:
            moves.sort(key=lambda m: (-m[0], m[1], m[2]))
            shown = "; ".join(f"[{r}][{c}] {_vec(oa)} -> {_vec(ob)} ({d:.4g} px)" for d, r, c, oa, ob
                              in moves[:DIFF_MAX_POINTS])
            more = f"; and {len(moves) - DIFF_MAX_POINTS} more" if len(moves) > DIFF_MAX_POINTS else ""
            out.append(Change(name, "control", f"{len(moves)} point(s) moved, largest {moves[0][0]:.4g} px: "
                                               f"{shown}{more}"))

    scalar("blend.width_frac", a.blend.width_frac, b.blend.width_frac)
    scalar("blend.gamma", a.blend.gamma, b.blend.gamma)
    scalar("blend.black_uplift", a.blend.black_uplift, b.blend.black_uplift)
    if a.colour.gain_rgb != b.colour.gain_rgb:
        delta = max(abs(x - y) for x, y in zip(a.colour.gain_rgb, b.colour.gain_rgb))
        out.append(Change(name, "colour.gain_rgb", f"{_vec(a.colour.gain_rgb)} -> {_vec(b.colour.gain_rgb)} "
                                                   f"(largest change {delta:.4g})"))
    la, lb = a.colour.lut, b.colour.lut
    if la != lb:
        if la is None or lb is None or len(la[0]) != len(lb[0]):
            out.append(Change(name, "colour.lut", f"{_lut_size(la)} -> {_lut_size(lb)}"))
        else:
            delta = max(abs(x - y) for cha, chb in zip(la, lb) for x, y in zip(cha, chb))
            out.append(Change(name, "colour.lut", f"changed, largest entry change {delta:.4g}"))
    if a.fit != b.fit:
        out.append(Change(name, "fit", f"{_fit_text(a.fit)} -> {_fit_text(b.fit)}"))
    return out


def _lut_size(lut) -> str:
    return "none" if lut is None else f"{len(lut[0])} entries"


def _fit_text(fit) -> str:
    return "none" if fit is None else f"rms {fit.rms_px:.4g} px, max {fit.max_px:.4g} px, {fit.points} points"


def _largest(grid) -> float:
    return max((math.hypot(dx, dy) for row in grid.offsets_px for dx, dy in row), default=0.0)
