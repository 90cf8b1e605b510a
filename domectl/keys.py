"""The hall's CURVE keys: make them, write them safely, load and check them.

Only nodes holding one of the hall's keys join the cluster (DESIGN.md,
"Reliability and security rules"). The master is the CURVE server with the
master key pair; each IG is a client with a key pair of its own and the
master's public key. A key directory (``<hall config dir>/keys/`` by default)
holds, in the ZeroMQ certificate format that ``zmq.auth`` and czmq read::

    master.key          the master's public key          give it to every node
    master.key_secret   the master's key pair (0600)     stays on the control computers
    igNN.key            IG NN's public key               the master's allowed list
    igNN.key_secret     IG NN's key pair (0600)          copy to IG NN only

A certificate is text: ``#`` comments, a ``metadata`` section with
``name = "igNN"``, and a ``curve`` section with ``public-key = "<40 Z85
characters>"`` (and ``secret-key = "..."`` in a ``.key_secret``). Each file is
written atomically (a temporary file, fsync, then a hard link that cannot
replace an existing key), secret files with mode 0600 in a 0700 directory,
and :func:`create_hall_keys` refuses to touch existing keys unless
``overwrite=True``: a technician must never lose the hall's keys by accident.

Loading checks every file and says how to fix what is wrong: a missing or
corrupt file, a secret key whose public half does not match, a secret file
that others can read (``chmod 600``), two IGs with the same key.

The embedded default (``domectl run``) uses :func:`ephemeral_hall_keys`:
fresh in-memory keys for one run, handed to each node process through its
environment (:func:`node_keys_to_env`), never through the command line
(world-readable in ``/proc``) nor a file left behind after a crash.

zmq is imported only inside the functions that make or check keys
(``zmq.curve_keypair``, ``zmq.curve_public``): ``import domectl.keys`` alone
brings no zmq.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from domectl.atomic import fsync_dir
from domectl.errors import ConfigError

KEYS_DIR_NAME = "keys"
MASTER_NAME = "master"
PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"
SECRET_MODE = 0o600
PUBLIC_MODE = 0o644
DIR_MODE = 0o700
#: Environment variables through which the embedded runner hands a node its keys.
ENV_NODE_PUBLIC = "DOMECTL_CURVE_NODE_PUBLIC"
ENV_NODE_SECRET = "DOMECTL_CURVE_NODE_SECRET"
ENV_MASTER_PUBLIC = "DOMECTL_CURVE_MASTER_PUBLIC"
ENV_NODE_IG = "DOMECTL_CURVE_NODE_IG"

Z85_ALPHABET = frozenset(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")
Z85_KEY_CHARS = 40          # a 32-byte Curve25519 key in Z85
_IG_NAME = re.compile(r"^ig(\d{2,3})$")
_LINE = re.compile(r'^\s+([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"([^"]*)"|([^"\s]\S*))\s*$')

_PUBLIC_BANNER = """\
#   ****  Generated on {when} by domectl keys  ****
#   ZeroMQ CURVE Public Certificate of {name}
#   Public: the master needs every IG's, every IG needs the master's.

"""
_SECRET_BANNER = """\
#   ****  Generated on {when} by domectl keys  ****
#   ZeroMQ CURVE **Secret** Certificate of {name}
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions (0600).
#   It belongs on {where} only.

"""


# ----------------------------------------------------------------- records


@dataclass(frozen=True)
class MasterKeys:
    """The master's key pair and the IGs allowed to join: {node public key (Z85): "igNN"}."""

    public: bytes
    secret: bytes = field(repr=False)
    allowed: Mapping[bytes, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeKeys:
    """One IG's key pair and the master's public key (all Z85, 40 bytes)."""

    ig: int
    public: bytes
    secret: bytes = field(repr=False)
    master_public: bytes

    @property
    def name(self) -> str:
        return ig_name(self.ig)


@dataclass(frozen=True)
class HallKeys:
    """A whole hall's keys in memory: the master's and one set per IG."""

    master: MasterKeys
    nodes: Mapping[int, NodeKeys]


def ig_name(ig: int) -> str:
    """IG id -> the name used for its key files and its socket identity: 5 -> "ig05"."""
    return f"ig{ig:02d}"


def default_keys_dir(config_dir: str | Path) -> Path:
    """Where a hall's keys live unless told otherwise: ``<config dir>/keys``."""
    return Path(config_dir) / KEYS_DIR_NAME


# ----------------------------------------------------------------- making


def _keypair() -> tuple[bytes, bytes]:
    import zmq

    if not zmq.has("curve"):
        raise ConfigError("this libzmq was built without CURVE: install pyzmq from its wheel, "
                          "which bundles a libzmq with CURVE")
    return zmq.curve_keypair()


def _check_ig_ids(ig_ids: Iterable[int]) -> tuple[int, ...]:
    ids = tuple(ig_ids)
    for ig in ids:
        if isinstance(ig, bool) or not isinstance(ig, int) or not 1 <= ig <= 999:
            raise ValueError(f"IG id {ig!r}: must be an integer in [1, 999] (see cluster.toml)")
    if len(set(ids)) != len(ids):
        raise ValueError(f"IG ids {ids}: each IG id may appear once")
    return ids


def ephemeral_hall_keys(ig_ids: Iterable[int]) -> HallKeys:
    """Fresh keys for one run of the embedded default, in memory only; nothing is written."""
    ids = _check_ig_ids(ig_ids)
    master_public, master_secret = _keypair()
    nodes = {}
    for ig in ids:
        public, secret = _keypair()
        nodes[ig] = NodeKeys(ig, public, secret, master_public)
    allowed = {k.public: k.name for k in nodes.values()}
    return HallKeys(MasterKeys(master_public, master_secret, allowed), nodes)


def node_keys_to_env(keys: NodeKeys) -> dict[str, str]:
    """The environment variables that hand ``keys`` to a node process (merge into its env)."""
    return {ENV_NODE_IG: str(keys.ig), ENV_NODE_PUBLIC: keys.public.decode("ascii"),
            ENV_NODE_SECRET: keys.secret.decode("ascii"),
            ENV_MASTER_PUBLIC: keys.master_public.decode("ascii")}


def node_keys_from_env(environ: Mapping[str, str], ig: int) -> NodeKeys:
    """The keys :func:`node_keys_to_env` handed to this process, checked."""
    missing = [v for v in (ENV_NODE_IG, ENV_NODE_PUBLIC, ENV_NODE_SECRET, ENV_MASTER_PUBLIC)
               if not environ.get(v)]
    if missing:
        raise ConfigError(f"environment: {', '.join(missing)} not set: --keys-from-env is for node "
                          "processes started by `domectl run`; a cluster node reads its key files "
                          "(leave out --keys-from-env)")
    if environ[ENV_NODE_IG] != str(ig):
        raise ConfigError(f"environment: {ENV_NODE_IG} = {environ[ENV_NODE_IG]!r} but this is IG {ig}: "
                          "the runner handed this node another IG's keys")
    where = "environment"
    public = _z85_key(environ[ENV_NODE_PUBLIC], where, ENV_NODE_PUBLIC)
    secret = _z85_key(environ[ENV_NODE_SECRET], where, ENV_NODE_SECRET)
    master_public = _z85_key(environ[ENV_MASTER_PUBLIC], where, ENV_MASTER_PUBLIC)
    _check_pair(public, secret, f"{where}: {ENV_NODE_SECRET}", "restart `domectl run`")
    return NodeKeys(ig, public, secret, master_public)


# ----------------------------------------------------------------- writing


def _certificate(name: str, public: bytes, secret: bytes | None, when: str, where: str) -> str:
    banner = (_SECRET_BANNER if secret is not None else _PUBLIC_BANNER).format(
        when=when, name=name, where=where)
    text = f'{banner}metadata\n    name = "{name}"\ncurve\n    public-key = "{public.decode("ascii")}"\n'
    if secret is not None:
        text += f'    secret-key = "{secret.decode("ascii")}"\n'
    return text


def _write_atomic(path: Path, text: str, mode: int, overwrite: bool) -> None:
    """Write ``text`` to ``path`` whole or not at all, with ``mode`` from the first byte on.

    Without ``overwrite`` the final step is a hard link, which fails if ``path``
    exists: even a race with another writer cannot replace a key.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), mode)        # the umask may have taken bits off a public file
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise ConfigError(f"{path}: already exists: not replaced (another `domectl keys` "
                                  "running at the same time?)") from None
            except OSError:
                # A file system without hard links (FAT on a USB stick): check, then rename.
                if path.exists():
                    raise ConfigError(f"{path}: already exists: not replaced") from None
                os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def create_hall_keys(keys_dir: str | Path, ig_ids: Iterable[int], overwrite: bool = False,
                     ) -> dict[str, tuple[Path, Path]]:
    """Make the master's key pair and one per IG; returns {name: (public file, secret file)}.

    Refuses (ConfigError, nothing written) if any of these key files exists,
    unless ``overwrite``: then they are replaced, and every node needs its new
    key. Files of IGs not in ``ig_ids`` are left alone (the master's allowed
    list is the hall's IGs, see :func:`allowed_node_keys`).
    """
    keys_dir = Path(keys_dir)
    ids = _check_ig_ids(ig_ids)
    if not ids:
        raise ValueError("no IG ids: a hall needs at least one [[ig]] in cluster.toml")
    names = [MASTER_NAME] + [ig_name(ig) for ig in ids]
    files = {n: (keys_dir / f"{n}{PUBLIC_SUFFIX}", keys_dir / f"{n}{SECRET_SUFFIX}") for n in names}
    if not overwrite:
        existing = [p for pair in files.values() for p in pair if p.exists()]
        if existing:
            shown = ", ".join(p.name for p in existing[:4]) + (", ..." if len(existing) > 4 else "")
            raise ConfigError(
                f"{keys_dir}: keys exist already ({shown}): not replaced, so no node loses its key. "
                "To replace every key of the hall on purpose, pass --force (overwrite=True); every "
                "node then needs its new igNN.key_secret and master.key")
    keys_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    pairs = {n: _keypair() for n in names}
    for n in names:
        public, secret = pairs[n]
        public_path, secret_path = files[n]
        where = "the control computers" if n == MASTER_NAME else f"{n}"
        _write_atomic(public_path, _certificate(n, public, None, when, where), PUBLIC_MODE, overwrite)
        _write_atomic(secret_path, _certificate(n, public, secret, when, where), SECRET_MODE, overwrite)
    fsync_dir(keys_dir)
    return files


# ----------------------------------------------------------------- loading


def _keys_command(keys_dir: Path) -> str:
    if keys_dir.name == KEYS_DIR_NAME:
        return f"domectl keys --config {keys_dir.parent}"
    return f"domectl keys --config <hall config dir> --keys {keys_dir}"


def _fix_hint(keys_dir: Path) -> str:
    return (f"run `{_keys_command(keys_dir)}` on the master, then copy master.key "
            "and that node's igNN.key_secret into each node's keys/ directory")


def _z85_key(text: str, where: str, what: str) -> bytes:
    if len(text) != Z85_KEY_CHARS or not set(text) <= Z85_ALPHABET:
        raise ConfigError(f"{where}: {what} = {text[:48]!r}: not a CURVE key "
                          f"(must be {Z85_KEY_CHARS} Z85 characters)")
    return text.encode("ascii")


def _check_pair(public: bytes, secret: bytes, where: str, fix: str) -> None:
    import zmq

    if zmq.curve_public(secret) != public:
        raise ConfigError(f"{where}: the secret key does not belong to the public key beside it: "
                          f"the file is corrupt; {fix}")


def _parse_certificate(path: Path, keys_dir: Path, *, secret: bool) -> tuple[str, bytes, bytes | None]:
    """A certificate file -> (name, public key, secret key or None), checked."""
    fix = _fix_hint(keys_dir)
    if not path.is_file():
        raise ConfigError(f"{path}: missing: {fix}")
    if secret:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(f"{path}: mode {mode:04o}: a secret key must be readable by its owner "
                              f"only: run `chmod 600 {path}`")
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: unreadable ({e}): {fix}") from None
    values: dict[tuple[str, str], str] = {}
    section = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            section = line.strip()
            if section not in ("metadata", "curve"):
                raise ConfigError(f"{path}:{number}: unexpected section {section[:40]!r}: not a CURVE "
                                  f"certificate; {fix}")
            continue
        m = _LINE.match(line)
        if m is None or section is None:
            raise ConfigError(f"{path}:{number}: cannot read {line.strip()[:48]!r}: the file is corrupt; {fix}")
        values[(section, m.group(1))] = m.group(2) if m.group(2) is not None else m.group(3)
    if ("curve", "public-key") not in values:
        raise ConfigError(f"{path}: no public-key in a curve section: the file is corrupt; {fix}")
    public = _z85_key(values[("curve", "public-key")], str(path), "public-key")
    secret_key = None
    if secret:
        if ("curve", "secret-key") not in values:
            raise ConfigError(f"{path}: no secret-key: this is a public certificate; {fix}")
        secret_key = _z85_key(values[("curve", "secret-key")], str(path), "secret-key")
        _check_pair(public, secret_key, str(path), fix)
    name = values.get(("metadata", "name"))
    expected = path.name.removesuffix(SECRET_SUFFIX if secret else PUBLIC_SUFFIX)
    if name is not None and name != expected:
        raise ConfigError(f"{path}: name = {name!r}: this file holds the key of {name}, not of "
                          f"{expected}: put each key under its own name; {fix}")
    return expected, public, secret_key


def _require_dir(keys_dir: Path) -> None:
    if not keys_dir.is_dir():
        raise ConfigError(f"{keys_dir}: no key directory: the hall's CURVE keys are missing; "
                          f"{_fix_hint(keys_dir)}")


def allowed_node_keys(keys_dir: str | Path, ig_ids: Iterable[int] | None = None) -> dict[bytes, str]:
    """{public key (Z85): "igNN"} from the ``igNN.key`` files: the IGs allowed to join.

    With ``ig_ids`` (the hall's IGs) only those, and each must have its key:
    a key file of an IG no longer in cluster.toml lets nobody in.
    """
    keys_dir = Path(keys_dir)
    _require_dir(keys_dir)
    if ig_ids is None:
        paths = sorted(p for p in keys_dir.glob(f"ig*{PUBLIC_SUFFIX}")
                       if _IG_NAME.match(p.name.removesuffix(PUBLIC_SUFFIX)))
    else:
        paths = [keys_dir / f"{ig_name(ig)}{PUBLIC_SUFFIX}" for ig in _check_ig_ids(ig_ids)]
    if not paths:
        raise ConfigError(f"{keys_dir}: no igNN.key file: no node could join; {_fix_hint(keys_dir)}")
    allowed: dict[bytes, str] = {}
    for path in paths:
        name, public, _ = _parse_certificate(path, keys_dir, secret=False)
        if public in allowed:
            raise ConfigError(f"{path}: the same public key as {allowed[public]}{PUBLIC_SUFFIX}: each IG "
                              f"needs a key of its own; run `{_keys_command(keys_dir)} --force`")
        allowed[public] = name
    return allowed


def load_master_keys(keys_dir: str | Path, ig_ids: Iterable[int] | None = None) -> MasterKeys:
    """The master's key pair and the allowed IG keys (see :func:`allowed_node_keys`)."""
    keys_dir = Path(keys_dir)
    _require_dir(keys_dir)
    _, public, secret = _parse_certificate(keys_dir / f"{MASTER_NAME}{SECRET_SUFFIX}", keys_dir, secret=True)
    allowed = allowed_node_keys(keys_dir, ig_ids)
    if public in allowed:
        raise ConfigError(f"{keys_dir}: {allowed[public]}{PUBLIC_SUFFIX} holds the master's public key: "
                          f"run `{_keys_command(keys_dir)} --force`")
    return MasterKeys(public, secret, allowed)


def load_node_keys(keys_dir: str | Path, ig: int) -> NodeKeys:
    """IG ``ig``'s key pair (``igNN.key_secret``) and the master's public key (``master.key``)."""
    keys_dir = Path(keys_dir)
    (ig,) = _check_ig_ids([ig])
    _require_dir(keys_dir)
    _, public, secret = _parse_certificate(keys_dir / f"{ig_name(ig)}{SECRET_SUFFIX}", keys_dir, secret=True)
    _, master_public, _ = _parse_certificate(keys_dir / f"{MASTER_NAME}{PUBLIC_SUFFIX}", keys_dir,
                                             secret=False)
    return NodeKeys(ig, public, secret, master_public)
