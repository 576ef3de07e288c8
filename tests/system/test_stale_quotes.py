"""A position whose market Arbees has no current knowledge of says so (review6 finding S3).

The venue's batch read comes back without the market, or reads fail, for minutes while the price
falls through the stop: once the market has had no current quote for
monitoring.quote_stale_alert_secs (90 s) an ALERT names the position, the market, the age of the
last quote and why, once per episode; a QUOTES_BACK line says when quotes return and after how
long; the HEARTBEAT carries each open position's market's quote age. A market that is merely quiet
(polled and unchanged, or streamed and unchanged) is never stale."""
from __future__ import annotations

from datetime import datetime, timedelta

from models.venue import VenueUnavailable


def _hide(h, monkeypatch, ticker):  # type: ignore[no-untyped-def]
    """The venue's batch read answers without `ticker` while the returned switch is on."""
    original = h.venue.get_quotes
    hidden = {"on": True}

    def get_quotes(tickers):  # type: ignore[no-untyped-def]
        out = original(tickers)
        return {k: v for k, v in out.items() if k != ticker} if hidden["on"] else out

    monkeypatch.setattr(h.venue, "get_quotes", get_quotes)
    return hidden


def _alerts(h, since):  # type: ignore[no-untyped-def]
    return [e for e in h.events("ALERT") if datetime.fromisoformat(e["ts"]) > since]


def test_a_market_missing_from_the_venues_answer_raises_one_alert_then_says_when_quotes_are_back(make_engine,
                                                                                                monkeypatch):
    h = make_engine()
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.run(5)
    t = h.now()
    hidden = _hide(h, monkeypatch, "M1")
    h.market("M1", "0.40", "0.41")                 # the stop is crossed while the venue leaves M1 out
    h.run(300)
    alerts = _alerts(h, t)
    assert len(alerts) == 1, [a["message"] for a in alerts]       # once per episode, not every read
    (a,) = alerts
    assert a["market"] == "M1" and a["position_id"] == pid
    assert 90 <= a["age_secs"] <= 90 + 30                          # within a cadence of the limit
    assert "missing from the venue's answer" in a["reason"]
    assert "M1" in a["message"] and pid in a["message"] and f"{a['age_secs']} s" in a["message"]
    assert datetime.fromisoformat(a["ts"]) - t <= timedelta(seconds=90 + 35)
    # the heartbeats while blind show the market's quote age growing, and why
    beats = [b for b in h.events("HEARTBEAT") if datetime.fromisoformat(b["ts"]) > t]
    ages = [b["quote_ages"]["M1"] for b in beats]
    assert ages == sorted(ages) and ages[-1] >= 270
    assert "missing from the venue's answer" in beats[-1]["quotes_stale"]["M1"]
    hidden["on"] = False
    h.run_until(lambda: h.position(pid).contracts == 0, limit=120)
    (back,) = [e for e in h.events("QUOTES_BACK") if datetime.fromisoformat(e["ts"]) > t]
    assert back["markets"] == ["M1"] and back["positions"] == [pid] and back["blind_secs"] >= 300
    assert f"quotes back after {back['blind_secs']} s" in back["message"]
    assert len(_alerts(h, t)) == 1


def test_reads_failing_for_minutes_say_so_once(make_engine):
    h = make_engine({"circuit_breaker": {"api_failure_min_calls": 1000}})   # no breaker: only the blindness
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.run(5)
    t = h.now()
    h.venue.inject_fault("get_quotes", VenueUnavailable("503"), times=100000)
    h.run(300)
    stale = [a for a in _alerts(h, t) if a.get("age_secs") is not None]
    assert len(stale) == 1, [a["message"] for a in _alerts(h, t)]
    assert stale[0]["position_id"] == pid and "reads failing" in stale[0]["reason"]
    assert "VenueUnavailable" in stale[0]["reason"]
    h.venue.clear_faults()
    h.run(60)
    (back,) = h.events("QUOTES_BACK")
    assert back["markets"] == ["M1"]


def test_a_quiet_polled_market_is_never_stale(make_engine):
    h = make_engine()
    h.market("M1", "0.49", "0.50")
    h.enter("M1", contracts=20)
    h.run(1800)                                    # 30 minutes of an unchanged book, read at every wake-up
    assert not [a for a in h.events("ALERT") if a.get("age_secs") is not None]
    assert not h.events("QUOTES_BACK")
    beats = h.events("HEARTBEAT")[-20:]
    assert all(0 <= b["quote_ages"]["M1"] <= 35 and not b.get("quotes_stale") for b in beats)


def test_a_quiet_streamed_market_is_never_stale(make_engine):
    h = make_engine(streamed=True)
    h.market("M1", "0.49", "0.50", push=True)
    h.enter("M1", contracts=20)
    h.run(1800)                                    # the stream says nothing for 30 minutes: the book held
    assert not [a for a in h.events("ALERT") if a.get("age_secs") is not None]
    assert all(b["quote_ages"]["M1"] == 0 for b in h.events("HEARTBEAT")[-20:])


def test_status_shows_each_open_positions_quote_age_and_a_stale_one_as_such(make_engine, monkeypatch, tmp_path):
    import json

    from adapters.audit.log import to_jsonable
    from adapters.cli.read_options import EngineFiles
    from adapters.operator.dashboard import Dashboard
    from adapters.operator.status_view import build_status, format_status

    h = make_engine()
    h.market("M1", "0.49", "0.50")
    h.market("M2", "0.49", "0.50")
    blind = h.enter("M1", contracts=20)
    h.enter("M2", contracts=20)
    h.run(5)
    _hide(h, monkeypatch, "M1")
    h.run(200)
    h.system.flush()
    audit = tmp_path / "audit.jsonl"
    audit.write_text("".join(json.dumps(to_jsonable(r), separators=(",", ":")) + "\n" for r in h.audit),
                     encoding="utf-8")    # as the audit writer writes it
    rows = {r["market"]: r for r in build_status(h.repo, audit, h.config, h.now())["positions"]}
    assert rows["M1"]["position_id"] == blind
    assert 150 <= rows["M1"]["quote_age_s"] <= 210         # as of the last beat (a virtual-time run)
    assert "missing from the venue's answer" in rows["M1"]["quote_stale"]
    assert rows["M2"]["quote_age_s"] <= 35 and rows["M2"]["quote_stale"] is None     # quiet, read at its cadence
    text = format_status(build_status(h.repo, audit, h.config, h.now()))
    assert f"{rows['M1']['quote_age_s']} s STALE" in text
    assert f"M1 yes: no current quote for {rows['M1']['quote_age_s']} s" in text
    files = EngineFiles(str(h.db_path), audit, h.config)
    panel = Dashboard(files, now=h.now).panel_html()
    assert panel.count(">STALE</b>") == 1 and "missing from the venue&#x27;s answer" in panel
