"""Resources: the operational PostgreSQL and the data directory (lake, warehouse, saved reconciliation).

Both read `llmusage.config` (LLMUSAGE_DATABASE_URL, LLMUSAGE_HOME) when a run needs them, never at code
location load; a field set explicitly (tests, another deployment) wins over the environment.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from llmusage.config import Settings


class PostgresResource(dg.ConfigurableResource):
    """The operational database: `database_url`, else LLMUSAGE_DATABASE_URL, else the embedded server."""

    database_url: str | None = None
    home: str | None = None

    def settings(self) -> Settings:
        env = Settings.from_env()
        return Settings(
            home=Path(self.home) if self.home else env.home,
            database_url=self.database_url or env.database_url,
            master_key=None,
        )

    def url(self) -> str:
        from llmusage.db import resolve_url

        return resolve_url(self.settings())


class LakeResource(dg.ConfigurableResource):
    """The data directory: `home`, else LLMUSAGE_HOME, else ./.llmusage."""

    home: str | None = None

    @property
    def root(self) -> Path:
        return Path(self.home).absolute() if self.home else Settings.from_env().home

    @property
    def lake_dir(self) -> Path:
        return self.root / "lake"

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def reconcile_dir(self) -> Path:
        return self.root / "reconcile"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"
