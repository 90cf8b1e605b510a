"""The poll inside the master: its tally on the dome, in the status, and across a takeover."""

from domectl.config import load_hall
from domectl.frame import decode_frame, encode_frame
from domectl.master import Master, Scene
from domectl.protocol import Mirror, decode, encode
from domectl.votes import VoteDesk
from fakes import T0, NullLink, StillSky


def _master(tmp_path, name="primary"):
    hall = load_hall()
    desk = VoteDesk.for_hall(hall, log_path=tmp_path / f"{name}.jsonl")
    return Master(hall, NullLink(), StillSky(), Scene(start_utc=T0, language="fr"), votes=desk), desk


def test_the_tally_is_on_the_dome_while_shown_and_follows_the_votes(tmp_path):
    master, desk = _master(tmp_path)
    assert master.frame_state(0).overlays == ()
    desk.open({"fr": "Quelle planète ?", "en": "Which planet?"}, ["Mars", "Jupiter"])
    master.show_tally = True
    texts = [o.content for o in master.frame_state(1).overlays]
    assert "Quelle planète ?" in texts and "0 (0 %)" in texts
    for seat in (1, 2, 3):
        desk.ingest(seat, 2, "127.0.0.1")
    state = decode_frame(encode_frame(master.frame_state(2)))      # it travels to the nodes
    assert "3 (100 %)" in [o.content for o in state.overlays]
    master.scene.language = "en"
    assert "Which planet?" in [o.content for o in master.frame_state(3).overlays]
    master.show_tally = False
    assert master.frame_state(4).overlays == ()


def test_the_status_carries_the_poll(tmp_path):
    master, desk = _master(tmp_path)
    assert master.status()["poll"]["open"] is False
    desk.open("Encore ?", ["Oui", "Non"], duration_s=60)
    desk.ingest(7, 1, "127.0.0.1")
    poll = master.status()["poll"]
    assert poll["open"] and poll["tally"] == {"Oui": 1, "Non": 0} and poll["on_dome"] is False


def test_a_standby_takes_over_the_open_poll_with_its_votes(tmp_path):
    primary, desk = _master(tmp_path)
    desk.open({"fr": "Quelle planète ?"}, ["Mars", "Jupiter", "Saturne"], duration_s=120)
    primary.show_tally = True
    for seat in range(1, 135):                                    # every seat of the hall votes
        desk.ingest(seat, 1 + seat % 3, "127.0.0.1")
    primary.frame_state(0)
    wire = decode(encode(Mirror(primary.mirror())))               # as the standby receives it
    standby, standby_desk = _master(tmp_path, "standby")
    standby.restore(wire.state)
    assert standby_desk.status()["open"] and standby_desk.status()["tally"] == desk.status()["tally"]
    assert standby.show_tally is True
    assert standby_desk.ingest(1, 3, "127.0.0.1") == "accepted"   # the poll goes on at the standby
    assert standby_desk.status()["tally"]["Saturne"] == desk.status()["tally"]["Saturne"] + 1
