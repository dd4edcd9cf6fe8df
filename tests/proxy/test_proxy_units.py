"""Unit tests of the proxy's pieces that need no server: spool recovery, the budget ledger, pricing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from llmusage.proxy import errors
from llmusage.proxy.auth import Principal, principal_from_row
from llmusage.proxy.policy import Ledger, check_model, check_principal
from llmusage.proxy.pricing import route_from_row
from llmusage.proxy.spool import Spool


def _principal(key_max: float | None = None, team_max: float | None = None, **kw: object) -> Principal:
    row: tuple[object, ...] = (
        "tok", "alias", "u1", "t1", kw.get("key_models", []), key_max, 0.0, None, False,
        True, None, 0.0, kw.get("user_meta", {}),
        True, team_max, 0.0, kw.get("team_models", []), kw.get("team_blocked", False),
        "o1", None, 0.0, kw.get("org_meta", {}),
        kw.get("key_meta", {}), None, None, {}, None, None,
    )  # fmt: skip
    return principal_from_row(row, 0.0)


def test_orphan_segments_are_replayed_and_torn_lines_skipped(tmp_path: Path) -> None:
    rows = [{"request_id": "a", "spend": 1.0}, {"request_id": "b", "spend": 2.0}]
    data = b"".join(orjson.dumps(r) + b"\n" for r in rows) + b'{"request_id": "c", "sp'
    (tmp_path / "seg-999999-000001.jsonl").write_bytes(data)
    spool = Spool(tmp_path, 1 << 20, 1 << 20)
    spool.open()
    [rec] = spool.claim_orphans()
    assert [r["request_id"] for r in rec.rows] == ["a", "b"] and spool.pending_rows == 2
    assert spool.claim_orphans() == []  # we hold its lock now
    spool.committed(rec.segment, 2, sum(len(x) for x in rec.lines))
    assert not list(tmp_path.glob("seg-*")) and spool.pending_rows == 0 and spool.pending_bytes == 0
    spool.close()


def test_own_segments_are_fsynced_then_deleted_once_committed(tmp_path: Path) -> None:
    async def run() -> None:
        spool = Spool(tmp_path, 1 << 20, 100)
        spool.open()
        seg, fut = spool.append(b'{"request_id": "x"}\n' * 6)
        await fut
        assert spool.full() and len(list(tmp_path.glob("seg-*"))) == 1
        assert Spool(tmp_path, 1, 1).claim_orphans() == []  # locked by its live owner
        spool.committed(seg, 1, 120)
        spool.rotate_if_idle()
        assert not list(tmp_path.glob("seg-*")) and not spool.full()
        spool.close()

    asyncio.run(run())


def test_ledger_reserves_settles_and_refuses_at_the_budget() -> None:
    p = _principal(key_max=1.0)
    ledger = Ledger(ttl=2.0)
    ledger.observe(p, 0.0)
    held = [ledger.admit(p, 0.4) for _ in range(3)]  # 0 + 0.4 + 0.4 = 0.8 < 1.0 admits a third
    with pytest.raises(errors.ProxyError) as info:
        ledger.admit(p, 0.4)
    assert info.value.status == 429 and info.value.headers == {"x-should-retry": "false"}
    for entities in held:
        ledger.settle(entities, 0.4, 0.1)
    assert ledger.spend(("key", "tok")) == pytest.approx(0.3)
    ledger.committed({("key", "tok"): 0.3})
    assert ledger.spend(("key", "tok")) == pytest.approx(0.3)  # not double counted before a re-read
    refreshed = _principal(key_max=1.0)
    refreshed.spends[("key", "tok")] = 0.3
    ledger.observe(refreshed, float("inf"))  # a read that began after the commit includes it
    assert ledger.spend(("key", "tok")) == pytest.approx(0.3)


def test_access_checks() -> None:
    check_principal(_principal())
    with pytest.raises(errors.ProxyError, match="team"):
        check_principal(_principal(team_blocked=True))
    with pytest.raises(errors.ProxyError, match="user"):
        check_principal(_principal(user_meta={"llmusage_block": {"reason": "budget_exceeded"}}))
    with pytest.raises(errors.ProxyError, match="organization"):
        check_principal(_principal(org_meta={"llmusage_block": {"reason": "budget_exceeded"}}))
    check_principal(_principal(user_meta={"llmusage_blocked": True}))  # only reconciliation's marker flags
    check_model(_principal(key_models=["a"], team_models=["a", "b"]), "a")
    with pytest.raises(errors.ProxyError):
        check_model(_principal(key_models=["a"], team_models=["b"]), "a")


def test_budget_windows_replace_the_spend_column() -> None:
    from datetime import datetime

    from llmusage.proxy.auth import budget_windows

    row = (
        "tok", "alias", "u1", "t1", [], 5.0, 9.0, None, False,
        True, None, 0.0, {},
        True, None, 0.0, [], False,
        "o1", None, 0.0, {},
        {"budget_duration": "1mo"}, datetime(2026, 1, 3, 10, 30), None, {"budget_duration": "fortnight"}, None, None,
    )  # fmt: skip
    windows = budget_windows(row, datetime(2026, 5, 20, 12))
    assert windows == {("key", "tok"): datetime(2026, 5, 1)}  # the team's malformed duration is ignored
    principal = principal_from_row(row, 0.0, {("key", "tok"): 1.5})
    assert principal.spends[("key", "tok")] == 1.5 and principal.budgets[("key", "tok")] == 5.0
    check_principal(principal)
    ledger = Ledger(2.0)
    ledger.observe(principal, 0.0)
    assert ledger.spend(("key", "tok")) == 1.5
    ledger.admit(principal, 0.1)  # 1.5 spent in the window, under the 5.0 budget (9.0 lifetime)
    spent = principal_from_row(row, 1.0, {("key", "tok"): 5.0})  # the window's spend reaches the budget
    assert spent.spends[("key", "tok")] == 5.0
    later = Ledger(2.0)
    later.observe(spent, 1.0)
    with pytest.raises(errors.ProxyError) as info:
        later.admit(spent, 0.1)
    assert info.value.status == 429
    lifetime = principal_from_row(row, 0.0)  # no window spends given: the spend column (9.0) counts
    assert lifetime.spends[("key", "tok")] == 9.0


def test_route_resolves_the_provider_key_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    route = route_from_row(
        "m1", "gpt", {"model": "openai/gpt-x", "api_base": "http://h/v1/", "api_key": "os.environ/K_TEST"},
        {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
    )  # fmt: skip
    assert (route.provider, route.upstream_model, route.api_base) == ("openai", "gpt-x", "http://h/v1")
    monkeypatch.delenv("K_TEST", raising=False)
    assert route.api_key() is None
    monkeypatch.setenv("K_TEST", "secret")
    assert route.api_key() == "secret"
    assert route.cost(10, 5) == pytest.approx(2e-5)


def test_management_answers_metadata_with_integers_past_64_bits() -> None:
    """PostgreSQL returns a JSONB 1e20 as the integer 10**20, which orjson cannot write."""
    from llmusage.proxy.management import _dumps

    assert orjson.loads(_dumps({"metadata": {"n": 10**20}})) == {"metadata": {"n": 10**20}}
