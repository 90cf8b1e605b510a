"""A show playing in the master: it drives the frames, opens and closes its polls on the vote desk,
branches on the audience's answer, sends its audio cues, survives a takeover and hands the dome back."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage

from domectl.config import load_hall
from domectl.frame import decode_frame, encode_frame
from domectl.master import Master, Scene
from domectl.oscio import AudioCues
from domectl.protocol import Mirror, decode, encode
from domectl.showrun import ShowControlError
from domectl.votes import VoteDesk
from fakes import T0, NullLink, StillSky
from shows.format import ShowError
from shows.player import Player

ROOT = Path(__file__).resolve().parent.parent
FPS = 10.0

SHOW = """\
title "Master test"
languages fr en
start 2026-11-20T21:00:00Z
view 180 20
layers stars

00:00   audio /audio/play "intro" 0.8
00:01   text for 2
          fr "Bonjour"
          en "Hello"
00:03   hold "Parlez de la Lune"
00:04   view 200 30 over 2
00:05   poll pick for 3
          fr "Où aller ?"
          en "Where to?"
          option 1 fr "Mars" en "Mars"
          option 2 fr "Vénus" en "Venus"
          branch 1 -> mars
          branch 2 -> venus
          default -> mars
00:08   label mars
00:08   pointer mars
00:08   text for 2
          fr "Mars"
          en "Mars"
00:12   end
00:08   label venus
00:08   pointer venus
00:08   audio /audio/play "venus"
00:08   text for 2
          fr "Vénus"
          en "Venus"
00:12   end
"""


@pytest.fixture
def show_file(tmp_path):
    path = tmp_path / "test.show"
    path.write_text(SHOW)
    return path


def _master(tmp_path, name="primary", audio=None):
    hall = load_hall()
    desk = VoteDesk.for_hall(hall, log_path=tmp_path / f"{name}.jsonl")
    master = Master(hall, NullLink(), StillSky(), Scene(start_utc=T0, language="en"), igs=(), fps=FPS,
                    votes=desk, audio=audio)
    return master, desk


def _frames(master, n):
    """Run n frames through the master (no nodes: each swaps at once); the last FrameState."""
    for _ in range(n):
        master.step(master.barrier.frame + 1)
    return master.current


def _texts(state):
    return [o.content for o in state.overlays if o.kind == "text"]


def test_a_loaded_show_drives_the_frames_from_the_next_one(tmp_path, show_file):
    master, _ = _master(tmp_path)
    _frames(master, 3)
    run = master.load_show(show_file)
    state = _frames(master, 1)
    assert master.status()["show"]["state"] == "paused" and state.show_time_s == 0.0
    assert (state.view_az_deg, state.view_alt_deg) == (180.0, 20.0)
    run.play(master.next_time_s())
    state = _frames(master, 15)                       # 1.5 s into the show
    assert state.show_time_s == pytest.approx(1.4)
    assert "Hello" in _texts(state)                    # the operator's language
    player = Player(run.player.show)
    assert state == master.show_frame_state(player.scene_at(state.show_time_s), state.frame, state.deadline_ns)


def test_the_show_stops_at_a_hold_until_the_presenter_resumes(tmp_path, show_file):
    master, _ = _master(tmp_path)
    run = master.load_show(show_file)
    run.play(master.next_time_s())
    state = _frames(master, 50)
    assert state.show_time_s == 3.0 and master.show_status()["state"] == "held"
    assert master.show_status()["hold"]["note"] == "Parlez de la Lune"
    run.resume(master.next_time_s())
    state = _frames(master, 10)
    assert state.show_time_s == pytest.approx(3.9) and master.show_status()["state"] == "playing"


@pytest.mark.parametrize("votes, branch", [({"2": 5, "1": 2}, "venus"), ({"1": 3}, "mars"), ({}, "mars")])
def test_the_show_opens_its_poll_and_branches_on_the_audiences_answer(tmp_path, show_file, votes, branch):
    master, desk = _master(tmp_path)
    run = master.load_show(show_file)
    run.seek(4.9, master.next_time_s())
    run.play(master.next_time_s())
    _frames(master, 2)                                 # 5.0 s: the poll opens on the desk
    status = desk.status("en")
    assert status["open"] and status["poll"] == "pick" and status["question"] == "Where to?"
    assert status["options"] == ["1", "2"]             # the show's keys: the desk's winner is a branch key
    seat = 1
    for button, count in votes.items():
        for _ in range(count):
            assert desk.ingest(seat, int(button), "127.0.0.1") == "accepted"
            seat += 1
    state = _frames(master, 31)                        # 8.0 s: closed by the show at its end
    status = desk.status("en")
    assert not status["open"] and status["close_reason"] == "show"
    assert run.playhead.poll_results == {"pick": None if not votes else max(votes, key=votes.get)}
    assert state.pointer == branch                     # the frame at the end is already on the branch
    assert master.show_status()["label"] == branch


def test_a_paused_show_keeps_its_poll_open(tmp_path, show_file):
    master, desk = _master(tmp_path)
    run = master.load_show(show_file)
    run.seek(5.5, master.next_time_s())
    run.play(master.next_time_s())
    _frames(master, 2)
    run.pause(master.next_time_s())
    _frames(master, 60)                                # six seconds of the master, none of the show
    assert desk.status()["open"]
    run.play(master.next_time_s())
    _frames(master, 30)
    assert not desk.status()["open"] and "pick" in run.playhead.poll_results


def test_seeking_out_of_an_open_poll_closes_it_without_a_result(tmp_path, show_file):
    master, desk = _master(tmp_path)
    run = master.load_show(show_file)
    run.seek(5.5, master.next_time_s())
    _frames(master, 1)
    assert desk.status()["open"]
    run.seek(1.0, master.next_time_s())
    _frames(master, 1)
    assert not desk.status()["open"] and run.playhead.poll_results == {}


def test_audio_cues_reach_the_audio_server_once(tmp_path, show_file):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(2.0)
    master, desk = _master(tmp_path, audio=AudioCues("127.0.0.1", server.getsockname()[1]))
    run = master.load_show(show_file)
    run.play(master.next_time_s())
    _frames(master, 3)
    run.seek("venus", master.next_time_s())            # a label on a branch: its results are taken
    _frames(master, 3)
    received = []
    server.settimeout(0.2)
    try:
        while True:
            message = OscMessage(server.recv(65536))
            if message.address != "/domectl/frame":
                received.append((message.address, tuple(message.params)))
    except TimeoutError:
        pass
    server.close()
    assert received[0][0] == "/audio/play" and received[0][1][0] == "intro"
    assert received[0][1][1] == pytest.approx(0.8)
    assert received[1:] == [("/audio/play", ("venus",))]


def test_a_standby_continues_the_show_where_the_primary_was(tmp_path, show_file):
    primary, desk = _master(tmp_path)
    run = primary.load_show(show_file)
    run.seek(5.2, primary.next_time_s())
    run.play(primary.next_time_s())
    _frames(primary, 5)
    desk.ingest(9, 2, "127.0.0.1")
    wire = decode(encode(Mirror(primary.mirror())))     # as the standby receives it
    expected = primary.frame_state(primary.barrier.frame + 1)
    standby, standby_desk = _master(tmp_path, "standby")
    standby.restore(wire.state)
    assert standby.show is not None and standby_desk.status()["open"]
    assert standby.frame_state(standby.barrier.frame + 1) == expected
    state = _frames(standby, 30)                        # past the poll's end at the standby
    assert state.pointer == "venus" and not standby_desk.status()["open"]


def test_a_changed_show_file_is_not_continued_by_the_standby(tmp_path, show_file, caplog):
    primary, _ = _master(tmp_path)
    primary.load_show(show_file).play(primary.next_time_s())
    _frames(primary, 5)
    mirror = decode(encode(Mirror(primary.mirror()))).state
    show_file.write_text(SHOW.replace("Bonjour", "Salut"))
    standby, _ = _master(tmp_path, "standby")
    standby.restore(mirror)
    assert standby.show is None and "differs from the primary's" in caplog.text
    assert standby.barrier.frame == primary.barrier.frame          # the rest of the mirror is taken


def test_stopping_the_show_hands_the_operator_the_sky_as_it_was(tmp_path, show_file):
    master, _ = _master(tmp_path)
    run = master.load_show(show_file)
    run.seek(5.5, master.next_time_s())
    last = _frames(master, 1)
    assert master.unload_show() and master.show is None and master.show_status() is None
    state = _frames(master, 1)
    assert (state.view_az_deg, state.view_alt_deg) == pytest.approx((last.view_az_deg, last.view_alt_deg))
    assert state.tt_jd == pytest.approx(last.tt_jd, abs=1e-9)       # paused show: sim time stands still
    assert dict(state.layers)["stars"] == pytest.approx(1.0) and dict(state.layers)["constellation-lines"] == 0.0
    assert _texts(state) == []
    assert not master.unload_show()


def test_an_invalid_show_is_refused_and_the_playing_one_carries_on(tmp_path, show_file):
    master, _ = _master(tmp_path)
    run = master.load_show(show_file)
    bad = tmp_path / "bad.show"
    bad.write_text(SHOW.replace("00:04   view 200 30 over 2", "00:04   veiw 200 30"))
    with pytest.raises(ShowError) as e:
        master.load_show(bad)
    assert "bad.show:12:9: unknown command 'veiw'" in str(e.value.issues[0])
    assert master.show is run
    with pytest.raises(ShowControlError, match="nowhere"):
        run.seek("nowhere", master.next_time_s())


def test_the_show_blackout_level_dims_everything_it_draws(tmp_path):
    path = tmp_path / "dim.show"
    path.write_text(SHOW.replace("layers stars\n", "layers stars\nblackout 0.75\n"))
    master, _ = _master(tmp_path)
    run = master.load_show(path)
    run.seek(1.5, master.next_time_s())
    state = decode_frame(encode_frame(_frames(master, 1)))
    assert dict(state.layers)["stars"] == pytest.approx(0.25) and not state.blackout
    undimmed = [t.opacity for t in run.player.scene_at(1.5).texts]
    assert 0.0 < undimmed[0] <= 1.0
    assert [o.opacity for o in state.overlays if o.content == "Hello"] == [pytest.approx(0.25 * undimmed[0])]


def test_both_committed_shows_play_in_the_master(tmp_path):
    master, _ = _master(tmp_path)
    for name in ("live-sky-tour.show", "from-v2-to-the-moon.show"):
        run = master.load_show(ROOT / "shows" / name)
        run.seek(600.0, master.next_time_s())
        state = decode_frame(encode_frame(_frames(master, 1)))
        assert state.show_time_s == 600.0
        assert master.show_status()["title"] == run.title


# ----------------------------------------------------------------- the poll and the operator, errors


def test_a_seek_to_a_branch_is_not_overruled_by_the_votes(tmp_path, show_file):
    master, desk = _master(tmp_path)
    run = master.load_show(show_file)
    run.seek(5.5, master.next_time_s())
    run.play(master.next_time_s())
    _frames(master, 1)
    for seat in (1, 2, 3):
        desk.ingest(seat, 1, "127.0.0.1")                  # the room wants Mars
    run.seek("venus", master.next_time_s())                # the presenter goes to Venus
    assert not desk.status()["open"]                       # left the poll: closed, no result from it
    state = _frames(master, 5)
    assert run.playhead.poll_results == {"pick": "2"} and state.pointer == "venus"


def test_a_seek_past_an_open_poll_takes_no_result_from_it(tmp_path, show_file):
    master, desk = _master(tmp_path)
    run = master.load_show(show_file)
    run.seek(5.5, master.next_time_s())
    _frames(master, 1)
    desk.ingest(1, 2, "127.0.0.1")
    run.seek(9.0, master.next_time_s())
    state = _frames(master, 1)
    assert not desk.status()["open"] and run.playhead.poll_results == {} and state.pointer == "mars"


def test_the_show_closes_only_its_own_poll(tmp_path, show_file):
    master, desk = _master(tmp_path)
    run = master.load_show(show_file)
    run.seek(5.5, master.next_time_s())
    run.play(master.next_time_s())
    _frames(master, 1)
    desk.ingest(1, 2, "127.0.0.1")
    desk.close("operator")                                 # the operator ends it early ...
    desk.open("Encore ?", ["Oui", "Non"], poll_id="op1")   # ... and asks something else
    state = _frames(master, 30)                            # past the show poll's end
    assert desk.status()["open"] and desk.status()["poll"] == "op1"
    assert run.playhead.poll_results == {"pick": "2"} and state.pointer == "venus"


def test_a_poll_the_vote_desk_refuses_does_not_stop_the_show(tmp_path, caplog):
    path = tmp_path / "long.show"
    path.write_text(SHOW.replace('option 2 fr "Vénus" en "Venus"', 'option 2 fr "' + "V" * 60 + '" en "Venus"'))
    master, desk = _master(tmp_path)
    run = master.load_show(path)
    run.seek(4.9, master.next_time_s())
    run.play(master.next_time_s())
    state = _frames(master, 40)                            # through the whole poll
    assert "the vote desk refused it" in caplog.text and not desk.status()["open"]
    assert run.playhead.poll_results == {"pick": None} and state.pointer == "mars"   # the default branch


def test_a_stopped_show_leaves_the_vote_desk_alone(tmp_path, show_file):
    master, desk = _master(tmp_path)
    run = master.load_show(show_file)
    run.seek(5.5, master.next_time_s())
    _frames(master, 1)
    assert desk.status()["open"]
    master.unload_show()
    run.tick(master.next_time_s())                         # a frame the loop was drawing meanwhile
    assert not desk.status()["open"]
    desk.open("Encore ?", ["Oui", "Non"])                  # the operator's poll opens


def test_a_standby_that_cannot_continue_the_show_closes_its_poll(tmp_path, show_file):
    primary, desk = _master(tmp_path)
    run = primary.load_show(show_file)
    run.seek(5.5, primary.next_time_s())
    _frames(primary, 1)
    mirror = decode(encode(Mirror(primary.mirror()))).state
    show_file.unlink()
    standby, standby_desk = _master(tmp_path, "standby")
    standby.restore(mirror)
    assert standby.show is None and not standby_desk.status()["open"]
    assert standby_desk.status()["close_reason"] == "show"


def test_a_takeover_does_not_send_the_primarys_audio_cues_again(tmp_path):
    from domectl.standby import Watch, take_over

    path = tmp_path / "cues.show"
    path.write_text('title "Cues"\nlanguages en\nstart 2026-11-20T21:00:00Z\n'
                    '00:01   audio /cue "one"\n00:02   audio /cue "two"\n00:03   audio /cue "three"\n00:04   end\n')
    sent: list[tuple] = []
    audio = type("Audio", (), {"frame": lambda self, *a: None, "cue": lambda self, a, args: sent.append(args)})()
    primary, _ = _master(tmp_path, audio=audio)
    primary.load_show(path).play(primary.next_time_s())
    _frames(primary, 15)                                    # "one" sent
    watch = Watch()
    watch.mirror = decode(encode(Mirror(primary.mirror()))).state
    _frames(primary, 10)                                    # "two" sent after the last mirror
    watch.last_frame = primary.barrier.frame
    standby, _ = _master(tmp_path, "standby", audio=audio)
    take_over(standby, watch)
    _frames(standby, 15)
    assert sent == [("one",), ("two",), ("three",)]
