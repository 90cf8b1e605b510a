"""A show playing in the master: the playhead, the show's polls on the vote desk, the frame it sets.

The master owns at most one :class:`ShowRun`. Each frame it calls
:meth:`ShowRun.tick` with its own time (``frame / fps``, timecode offset
included) and builds the FrameState from the scene it gets back with
:meth:`Master.show_frame_state` — the same function ``domectl show render``
calls for an offline frame, so an offline frame equals the live one.

Commands (play, pause, seek, resume, skip) come from the control API's
threads while the frame loop ticks; a lock keeps each whole. A command
takes effect at the next frame: ``now_s`` is that frame's time.

Polls: when show time enters a poll the run opens it on the vote desk (the
show's option keys are the desk's keys, so the desk's winner is the key the
show branches on); when show time reaches the poll's end the run closes it
(reason "show") and records the winner with the playhead *before* the scene
past the end is evaluated, so the branch the audience chose is the one
drawn. Without a desk (``domectl run``), nobody can vote: the default
branch. Seeking out of an open poll closes it without a result (seeking
back into it opens a fresh one); a seek to a label on a branch decides the
poll itself, and a vote never overrules it. The show closes only its own
poll (not one the operator opened after closing the show's early). A vote
desk that refuses the poll (a text over its limits, a log it cannot write)
is logged and the show goes on: nobody can vote, the default branch.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from domectl.errors import DomectlError
from shows.format import ShowError, load_show
from shows.player import Player, Playhead, ShowScene, Tick

log = logging.getLogger("domectl.show")

#: Version of ShowRun.mirror's layout.
MIRROR_FORMAT = 1


class ShowControlError(DomectlError, ValueError):
    """A show command that cannot be done (an unknown label or time to seek to)."""


@dataclass(frozen=True)
class ShowFrame:
    """One frame of a playing show: the scene to draw and the playhead's tick."""

    scene: ShowScene
    tick: Tick


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class ShowRun:
    """A loaded show: :class:`~shows.player.Player` + :class:`~shows.player.Playhead` + polls."""

    def __init__(self, path: Path, player: Player, votes=None, *, sha256: str = ""):
        self.path = Path(path)
        self.player = player
        self.playhead = Playhead(player)
        self.votes = votes                       # domectl.votes.VoteDesk or None
        self.sha256 = sha256
        self._lock = threading.RLock()
        self._desk_poll: str | None = None      # the show poll running (open on the desk, if any)
        self._closed = False                     # unloaded: never touch the desk again
        self.last: ShowFrame | None = None

    @classmethod
    def load(cls, path: Path | str, *, start_utc: datetime, hall_site, votes=None) -> ShowRun:
        """Load and check ``path`` completely (ShowError listing every issue; nothing half-loaded).

        ``start_utc`` is used only by a show that says ``start now``.
        """
        path = Path(path).resolve()
        show = load_show(path)
        player = Player(show, start_utc=None if show.start_utc is not None else start_utc, hall_site=hall_site)
        return cls(path, player, votes, sha256=file_sha256(path))

    @property
    def title(self) -> str:
        return self.player.show.title

    # ------------------------------------------------------------ per frame

    def tick(self, now_s: float) -> ShowFrame:
        """The scene at the master's time ``now_s`` (fires audio cues once; opens and closes polls)."""
        with self._lock:
            head = self.playhead
            if not self._closed:
                self._close_ended_poll(head.show_time(now_s))
            tick = head.tick(now_s)
            scene = self.player.scene_at(tick.show_time_s, head.poll_results)
            if not self._closed:
                self._sync_poll(scene)
            self.last = ShowFrame(scene, tick)
            return self.last

    def _close_ended_poll(self, show_s: float) -> None:
        """Close the desk's show poll whose end show time has reached, and record its winner."""
        if self._desk_poll is None:
            return
        cue = self._poll_cue(self._desk_poll)
        if show_s < cue.end_s:
            return
        winner = self._close_desk_poll()
        if cue.id in self.playhead.poll_results:
            return                                # a seek to a branch decided it: the vote does not
        self.playhead.set_poll_result(cue.id, winner)
        log.info("show poll %r closed: %s", cue.id,
                 f"option {winner!r} won" if winner is not None else "nobody voted, the default branch")

    def _close_desk_poll(self):
        """Close the show's poll on the desk if it is still the desk's open poll; its winner's key,
        or None (nobody voted, no desk, or a desk error, logged: the show goes on)."""
        poll_id, self._desk_poll = self._desk_poll, None
        if self.votes is None or poll_id is None:
            return None
        try:
            self.votes.close("show", poll_id=poll_id)
            result = self.votes.results(poll_id)
        except DomectlError as e:
            log.error("show poll %r: the vote desk failed closing it (%s): nobody's vote counts", poll_id, e)
            return None
        return None if result is None else result.winner

    def _sync_poll(self, scene: ShowScene) -> None:
        active = scene.poll.id if scene.poll is not None else None
        if self._desk_poll is not None and self._desk_poll != active:
            self._close_desk_poll()               # seeked out of it: no result
        if active is None or self._desk_poll == active:
            return
        if active in self.playhead.poll_results:
            return                                # decided already (a seek back into a finished poll)
        self._desk_poll = active
        if self.votes is None:
            return
        cue = scene.poll.poll
        try:
            if self.votes.status()["open"]:
                log.warning("show poll %r: closing the operator's open poll first", cue.id)
                self.votes.close("show")
            # No duration on the desk: the show closes the poll at its end in *show* time, which
            # stops while the show is paused or held.
            self.votes.open(dict(cue.question),
                            [{"key": o.key, "labels": dict(o.variants)} for o in cue.options],
                            None, cue.id)
        except DomectlError as e:
            log.error("show poll %r (line %d): the vote desk refused it (%s): nobody can vote, the show "
                      "takes its default branch", cue.id, cue.line, e)

    def _leave_poll(self, show_s: float) -> None:
        """After a seek: close the running poll without a result if show time left it or the seek
        decided it."""
        if self._desk_poll is None:
            return
        cue = self._poll_cue(self._desk_poll)
        if not cue.time_s <= show_s < cue.end_s or cue.id in self.playhead.poll_results:
            self._close_desk_poll()

    def _poll_cue(self, poll_id: str):
        return next(p for p in self.player.show.polls if p.id == poll_id)

    # ------------------------------------------------------------ commands

    def play(self, now_s: float) -> None:
        with self._lock:
            self.playhead.play(now_s)

    def pause(self, now_s: float) -> None:
        with self._lock:
            self.playhead.pause(now_s)

    def resume(self, now_s: float) -> None:
        with self._lock:
            self.playhead.resume(now_s)

    def seek(self, target: float | str, now_s: float) -> float:
        """Show time (seconds, "MM:SS", "HH:MM:SS.s") or a label; ShowControlError for an unknown one."""
        with self._lock:
            try:
                t = self.playhead.seek(target, now_s)
            except (KeyError, ValueError, ShowError) as e:
                raise ShowControlError(f"seek {target!r}: {e}") from None
            self._leave_poll(t)
            return t

    def skip(self, now_s: float) -> float:
        with self._lock:
            t = self.playhead.skip(now_s)
            self._leave_poll(t)
            return t

    def catch_up(self, now_s: float) -> None:
        """Count the audio cues up to the master's time ``now_s`` as sent (a standby taking over
        after the primary's last frame: the primary sent them)."""
        with self._lock:
            self.playhead.mark_sent(self.playhead.show_time(now_s))

    def close(self) -> None:
        """The show is unloaded: its running poll closes (reason "show"), and the run never
        touches the desk again (a frame being drawn with it meanwhile included)."""
        with self._lock:
            self._closed = True
            self._close_desk_poll()

    # ------------------------------------------------------------ reading

    def status(self, now_s: float) -> dict:
        """What the console and ``domectl show status`` show (plain JSON)."""
        with self._lock:
            head = self.playhead
            t = head.show_time(now_s)
            hold = head.hold(now_s)
            position = self.last.scene.position if self.last is not None else None
            return {
                "path": str(self.path), "title": self.title, "state": head.state(now_s),
                "show_time_s": t, "duration_s": self.player.duration_s(head.poll_results),
                "hold": None if hold is None else {"note": hold.note, "line": hold.line},
                "label": position.label if position else "",
                "next_cue_s": position.next_cue_time_s if position else None,
                "next_cue_label": self._section_at(position.next_cue_time_s) if position else "",
                "poll_results": dict(head.poll_results),
                "poll": self._desk_poll,
                "labels": [s.label for s in self.player.timeline(head.poll_results).sections if s.label],
            }

    def _section_at(self, t: float | None) -> str:
        """The label of the section show time ``t`` is in, on the branch the polls chose so far."""
        if t is None:
            return ""
        return self.player.timeline(self.playhead.poll_results).labels.value(t)[0]

    # ------------------------------------------------------------ standby mirror

    def mirror(self) -> dict:
        with self._lock:
            return {"v": MIRROR_FORMAT, "path": str(self.path), "sha256": self.sha256,
                    "start_utc": self.player.start_utc.isoformat(), "playhead": self.playhead.mirror(),
                    "desk_poll": self._desk_poll}

    def restore(self, mirror: dict) -> None:
        """Continue from :meth:`mirror`; ValueError when it does not fit this show."""
        desk_poll = mirror.get("desk_poll")
        if desk_poll is not None and all(p.id != desk_poll for p in self.player.show.polls):
            raise ValueError(f"show mirror: no poll {desk_poll!r} in {self.path}")
        with self._lock:
            self.playhead.restore(mirror["playhead"])
            self._desk_poll = desk_poll
