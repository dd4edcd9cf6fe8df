"""Resources: the operational PostgreSQL and the data directory (lake, warehouse, saved reconciliation).

Both read `llmusage.config` (LLMUSAGE_DATABASE_URL, LLMUSAGE_HOME, LLMUSAGE_LITELLM_URL,
LLMUSAGE_LITELLM_MASTER_KEY, LLMUSAGE_ALERT_WEBHOOKS and LLMUSAGE_ALERT_THRESHOLDS) when a run needs them, never at code location load; a field set explicitly
(tests, another deployment) wins over the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from llmusage.config import Settings, split_urls

if TYPE_CHECKING:
    from llmusage.alerts.policy import AlertPolicy
    from llmusage.reconcile.litellm_api import LitellmApi


class PostgresResource(dg.ConfigurableResource):
    """The operational database: `database_url`, else LLMUSAGE_DATABASE_URL, else the embedded server; on a
    LiteLLM database, the LiteLLM proxy whose management API blocks and unblocks (`litellm_url` and
    `litellm_master_key`, else LLMUSAGE_LITELLM_URL and LLMUSAGE_LITELLM_MASTER_KEY); where alerts go
    (`alert_webhooks`, comma-separated, and `alert_thresholds`, else LLMUSAGE_ALERT_WEBHOOKS and
    LLMUSAGE_ALERT_THRESHOLDS), recorded in this database's alert log."""

    database_url: str | None = None
    home: str | None = None
    litellm_url: str | None = None
    litellm_master_key: str | None = None
    alert_webhooks: str | None = None
    alert_thresholds: str | None = None

    def settings(self) -> Settings:
        env = Settings.from_env()
        return Settings(
            home=Path(self.home) if self.home else env.home,
            database_url=self.database_url or env.database_url,
            master_key=None,
            litellm_url=self.litellm_url or env.litellm_url,
            litellm_master_key=self.litellm_master_key or env.litellm_master_key,
            alert_webhooks=split_urls(self.alert_webhooks) or env.alert_webhooks,
            alert_thresholds=self.alert_thresholds or env.alert_thresholds,
        )

    def alert_policy(self) -> AlertPolicy | None:
        """Where alerts go and which thresholds alert; None when no webhook is configured."""
        from llmusage.alerts.policy import AlertPolicy

        return AlertPolicy.from_settings(self.settings())

    def litellm_api(self) -> LitellmApi | None:
        """LiteLLM's management API when both its URL and master key are configured, else None."""
        from llmusage.reconcile.litellm_api import LitellmApi

        settings = self.settings()
        if settings.litellm_url and settings.litellm_master_key:
            return LitellmApi(settings.litellm_url, settings.litellm_master_key)
        return None

    def url(self) -> str:
        from llmusage.pg.connect import resolve_url

        return resolve_url(self.settings())


class LakeResource(dg.ConfigurableResource):
    """The data directory: `home`, else LLMUSAGE_HOME, else ./.llmusage (paths as `llmusage.config` lays them)."""

    home: str | None = None

    def settings(self) -> Settings:
        env = Settings.from_env()
        return (
            Settings(home=Path(self.home).absolute(), database_url=None, master_key=None)
            if self.home
            else env
        )

    @property
    def lake_dir(self) -> Path:
        return self.settings().lake_dir

    @property
    def warehouse_path(self) -> Path:
        return self.settings().warehouse_path

    @property
    def reconcile_dir(self) -> Path:
        return self.settings().reconcile_dir
