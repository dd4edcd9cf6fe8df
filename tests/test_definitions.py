"""The Dagster code location loads."""

import dagster as dg


def test_definitions_load() -> None:
    from pipelines.definitions import defs

    assert isinstance(defs, dg.Definitions)
    defs.get_repository_def()  # resolves every asset, job and schedule
