"""Spend log rows as LiteLLM 1.110 writes them (`get_logging_payload` in
`litellm/proxy/spend_tracking/spend_tracking_utils.py`, completed by `DBSpendUpdateWriter.update_database`).

- `api_key` is the key's SHA-256; master-key calls log `litellm_proxy_master_key` and `user`
  `default_user_id` (`user_api_key_auth`, LITELLM_PROXY_MASTER_KEY_ALIAS); UI session keys log team
  `litellm-dashboard`.
- `user`, `team_id`, `organization_id`, `end_user` are `''` when absent (`... or ""`).
- `request_tags` is a JSON list (the key's `metadata.tags` merged with the request's); `metadata` is the
  `SpendLogsMetadata` subset (`user_api_key_alias`, `user_api_key_team_id`, `usage_object`, `status`, ...),
  never `tags`.
- `model` is the deployment (`litellm_params.model`, `reconstruct_model_name`), `model_group` the public
  name, `model_id` the deployment id, `custom_llm_provider` the provider, `api_base` the deployment's.
- `status` is `failure` only when metadata says so; failures cost 0. `cache_hit` is `'True'`/`'False'`; a
  cache hit costs 0, replays the usage and gets `request_id = f"{id}_cache_hit{time.time()}"`.
- `created_at`/`updated_at` are not in the payload: the database default at flush time. Rows older than the
  migration `20260818000000_add_spend_log_timestamps` all got the one instant it ran (the upgrade), and have
  no `litellm_call_id` (added by `20260831120000_add_litellm_call_id_spend_logs`).
- Bodies: `proxy_server_request` and `response` only while `store_prompts_in_spend_logs` was on (a two-day
  window here); `messages` stays `'{}'` (`_get_messages_for_spend_logs_payload` fills it for realtime only).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl

from llmusage.devtools.seed.litellm.cast import (
    ADMIN_USER,
    DASHBOARD_TEAM,
    DEPLOYMENTS,
    MASTER_KEY_ALIAS,
    Cast,
)
from llmusage.devtools.seed.litellm.traffic import DASHBOARD, MASTER


def windows(now: datetime) -> dict[str, tuple[datetime, datetime]]:
    """Operational events in the history: the upgrade instant, prompt storage, `disable_error_logs`."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    upgrade = day - timedelta(days=20) + timedelta(hours=6, minutes=12, seconds=33)
    return {
        "upgrade": (upgrade, upgrade),
        "store_prompts": (day - timedelta(days=9), day - timedelta(days=7)),
        "disable_error_logs": (day - timedelta(days=5, hours=-10), day - timedelta(days=2, hours=-16)),
    }


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def uuids(rng: np.random.Generator, n: int) -> pl.Series:
    """`n` random version-4 uuid strings, vectorized."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = np.empty((n, 32), dtype=np.uint8)
    digits[:, 0::2], digits[:, 1::2] = _HEX[raw >> 4], _HEX[raw & 0x0F]
    text = np.insert(digits, [8, 12, 16, 20], ord("-"), axis=1)
    return pl.Series(np.ascontiguousarray(text).view("S36").ravel()).cast(pl.String())


def _key_frame(cast: Cast) -> pl.DataFrame:
    rows = []
    for i, k in enumerate(cast.keys):
        team, user = cast.team(k.team_id), cast.user(k.user_id)
        rows.append((i, k.token, k.alias, k.user_id or "", k.team_id or "", team.alias if team else None,
                     k.organization_id or "", user.email if user else None, k.tags))  # fmt: skip
    admin = next((u for u in cast.users if u.email.startswith("kim@")), cast.users[0])
    rows.append((MASTER, MASTER_KEY_ALIAS, None, ADMIN_USER, "", None, "", None, []))
    rows.append((DASHBOARD, cast.dashboard_token, "litellm-dashboard", admin.user_id, DASHBOARD_TEAM, None, "",
                 admin.email, []))  # fmt: skip
    names = [
        "key_ix",
        "api_key",
        "key_alias",
        "user",
        "team_id",
        "team_alias",
        "organization_id",
        "email",
        "key_tags",
    ]
    return pl.DataFrame(rows, schema=names, orient="row").with_columns(pl.col("key_ix").cast(pl.Int32))


def _deployment_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "dep_ix": list(range(len(DEPLOYMENTS))),
            "model": [d.model for d in DEPLOYMENTS],
            "model_group": [d.model_group for d in DEPLOYMENTS],
            "custom_llm_provider": [d.provider for d in DEPLOYMENTS],
            "api_base": [d.api_base for d in DEPLOYMENTS],
            "model_id": [d.model_id for d in DEPLOYMENTS],
        }
    ).with_columns(pl.col("dep_ix").cast(pl.Int8))


_PREFIX = {"acompletion": "chatcmpl-", "aresponses": "resp_", "anthropic_messages": "msg_", "aembedding": ""}


def spend_logs(core: pl.DataFrame, cast: Cast, rng: np.random.Generator) -> pl.DataFrame:
    """The full `LiteLLM_SpendLogs` rows (plus `_`-prefixed columns the accounting needs) of `core`."""
    n = core.height
    core = (
        core.with_columns(pl.col("start", "write").dt.truncate("1ms"))
        .sort("write")
        .with_columns(
            _call_id=uuids(rng, n), _session=uuids(rng, n), _cache_key=uuids(rng, n).str.replace_all("-", "")
        )
    )
    w = windows(cast.now)
    upgrade = w["upgrade"][0]
    df = core.join(_key_frame(cast), on="key_ix", how="left").join(
        _deployment_frame(), on="dep_ix", how="left"
    )
    start, end = pl.col("start"), pl.col("start") + pl.duration(milliseconds=pl.col("duration_ms"))
    base_id = pl.col("call_type").replace_strict(_PREFIX, default="") + pl.col("_call_id")
    epoch_s = (pl.col("write").dt.epoch("us") / 1e6).cast(pl.String)
    tags = pl.concat_list("key_tags", "extra_tags").list.unique(maintain_order=True)
    usage = pl.struct(
        prompt_tokens="prompt",
        completion_tokens="completion",
        total_tokens=pl.col("prompt") + pl.col("completion"),
        prompt_tokens_details=pl.struct(cached_tokens="cached"),
        cache_read_input_tokens=pl.when(pl.col("custom_llm_provider").is_in(["anthropic", "bedrock"]))
        .then(pl.col("cached"))
        .otherwise(None),
    )
    failure = pl.col("status") == "failure"
    error = pl.when(failure).then(
        pl.struct(
            error_code=pl.lit("429"),
            error_class=pl.lit("RateLimitError"),
            llm_provider="custom_llm_provider",
            error_message=pl.lit("litellm.RateLimitError: upstream rate limit, retry later"),
        )
    )
    metadata = pl.struct(
        user_api_key="api_key",
        user_api_key_alias="key_alias",
        user_api_key_team_id=pl.when(pl.col("team_id") != "").then("team_id"),
        user_api_key_org_id=pl.when(pl.col("organization_id") != "").then("organization_id"),
        user_api_key_user_id="user",
        user_api_key_team_alias="team_alias",
        user_api_key_user_email="email",
        spend_logs_metadata=pl.lit(None),
        requester_ip_address=pl.lit(None, pl.String),
        applied_guardrails=pl.lit([], pl.List(pl.String)),
        batch_models=pl.lit(None),
        mcp_tool_call_metadata=pl.lit(None),
        vector_store_request_metadata=pl.lit(None),
        guardrail_information=pl.lit(None),
        usage_object=usage,
        model_map_information=pl.struct(model_map_key="model_group", model_map_value=pl.lit(None)),
        cold_storage_object_key=pl.lit(None),
        litellm_overhead_time_ms=(pl.col("duration_ms") % 17 + 3).cast(pl.Float64) / 2,
        cost_breakdown=pl.struct(total_cost="spend"),
        additional_usage_values=pl.struct(prompt_tokens_details=pl.struct(cached_tokens="cached")),
        status="status",
        error_information=error,
        attempted_retries=pl.lit(0),
        max_retries=pl.lit(2),
    ).struct.json_encode()
    in_bodies = start.is_between(*w["store_prompts"], closed="left") & (pl.col("call_type") != "aembedding")
    request_body = pl.struct(
        model="model_group",
        messages=pl.concat_list(
            pl.struct(role=pl.lit("user"), content=pl.lit("Summarise the attached ticket."))
        ),
        user=pl.when(pl.col("end_user") != "").then("end_user"),
    ).struct.json_encode()
    response_body = pl.struct(
        id=base_id,
        object=pl.lit("chat.completion"),
        model="model",
        choices=pl.concat_list(
            pl.struct(
                index=pl.lit(0),
                finish_reason=pl.lit("stop"),
                message=pl.struct(role=pl.lit("assistant"), content=pl.lit("Here is the summary ...")),
            )
        ),
        usage=pl.struct(prompt_tokens="prompt", completion_tokens="completion"),
    ).struct.json_encode()
    disable_errors = w["disable_error_logs"]
    return df.select(
        request_id=pl.when(pl.col("cache_hit")).then(base_id + "_cache_hit" + epoch_s).otherwise(base_id),
        call_type="call_type",
        api_key="api_key",
        spend="spend",
        total_tokens=(pl.col("prompt") + pl.col("completion")).cast(pl.Int32),
        prompt_tokens=pl.col("prompt").cast(pl.Int32),
        completion_tokens=pl.col("completion").cast(pl.Int32),
        startTime=start,
        endTime=end,
        completionStartTime=pl.when(pl.col("call_type") == "aembedding")
        .then(end)
        .otherwise(start + pl.duration(milliseconds=pl.col("ttft_ms"))),
        request_duration_ms="duration_ms",
        model="model",
        model_id="model_id",
        model_group="model_group",
        custom_llm_provider="custom_llm_provider",
        api_base="api_base",
        user="user",
        metadata=metadata,
        cache_hit=pl.when(pl.col("cache_hit")).then(pl.lit("True")).otherwise(pl.lit("False")),
        cache_key="_cache_key",
        request_tags=pl.struct(t=tags).struct.json_encode().str.slice(5).str.strip_suffix("}"),
        team_id="team_id",
        organization_id="organization_id",
        end_user="end_user",
        requester_ip_address=pl.lit(None, pl.String),
        messages=pl.lit("{}"),
        response=pl.when(in_bodies).then(response_body).otherwise(pl.lit("{}")),
        proxy_server_request=pl.when(in_bodies).then(request_body).otherwise(pl.lit("{}")),
        session_id="_session",
        status="status",
        created_at=pl.when(pl.col("write") < upgrade).then(pl.lit(upgrade)).otherwise("write"),
        updated_at=pl.when(pl.col("write") < upgrade).then(pl.lit(upgrade)).otherwise("write"),
        litellm_call_id=pl.when(pl.col("write") < upgrade).then(None).otherwise("_call_id"),
        _write="write",
        _cached="cached",
        _tags=tags,
        _logged=~(failure & start.is_between(*disable_errors, closed="left")),
    )
