"""A reconciliation kept on disk (`$LLMUSAGE_HOME/reconcile/`), so that the step that writes flags back
applies exactly the result that was computed and checked, not a newer one, and so that the warehouse's
`budget_status` view reads that same result (`entities_path`; see `sql/warehouse/40_budget_status.sql`).
The database's flavour is kept with it: it decides how the write-back applies the result."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import polars as pl

from llmusage.errors import LlmusageError
from llmusage.reconcile.compute import Reconciliation
from llmusage.sources.detect import Flavour


def entities_path(directory: Path) -> Path:
    """The saved entities (Parquet, the columns of `compute.COLUMNS`) in `directory`."""
    return directory / "budget_status.parquet"


def save(result: Reconciliation, directory: Path) -> Path:
    """Write entities (Parquet) and the run's facts (JSON), each aside then renamed; return the Parquet path."""
    directory.mkdir(parents=True, exist_ok=True)
    target = entities_path(directory)
    aside = directory / f".budget_status.parquet.{os.getpid()}.tmp"
    result.entities.write_parquet(aside)
    facts = {
        "cutoff": result.cutoff.isoformat() if result.cutoff else None,
        "as_of": result.as_of.isoformat(),
        "lake_days": result.lake_days,
        "tail_rows": result.tail_rows,
        "flavour": result.flavour.value,
    }
    facts_aside = directory / f".budget_status.json.{os.getpid()}.tmp"
    facts_aside.write_text(json.dumps(facts))
    os.replace(aside, target)
    os.replace(facts_aside, directory / "budget_status.json")
    return target


def load(directory: Path) -> Reconciliation:
    """The reconciliation last saved in `directory`."""
    try:
        entities = pl.read_parquet(entities_path(directory))
        facts = json.loads((directory / "budget_status.json").read_text())
    except FileNotFoundError as exc:
        raise LlmusageError(f"no saved reconciliation in {directory}; run the reconciliation first") from exc
    return Reconciliation(
        entities=entities,
        cutoff=datetime.fromisoformat(facts["cutoff"]) if facts["cutoff"] else None,
        as_of=datetime.fromisoformat(facts["as_of"]),
        lake_days=facts["lake_days"],
        tail_rows=facts["tail_rows"],
        flavour=Flavour(facts.get("flavour", Flavour.LLMUSAGE.value)),  # saves older than the flavour
    )
