"""CLI commands `llmusage proxy` and `llmusage mock-upstream` (heavy imports inside the commands)."""

from __future__ import annotations

import click


@click.command("proxy")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=4000, show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="Processes sharing the port.")
@click.option(
    "--cache-ttl", type=float, default=2.0, show_default=True, help="Seconds key/model rows are trusted."
)
@click.option("--upstream-timeout", type=float, default=600.0, show_default=True, help="Seconds; then 504.")
@click.option(
    "--spool-max-mb", type=float, default=256.0, show_default=True, help="Unwritten logs before 503."
)
@click.option("--store-payload", is_flag=True, help="Keep request bodies in LiteLLM_SpendLogs.payload.")
@click.option(
    "--payload-max-kb", type=int, default=16, show_default=True, help="Larger bodies: a marker only."
)
@click.option(
    "--metrics/--no-metrics", default=True, show_default=True, help="Serve GET /metrics (Prometheus)."
)
@click.option(
    "--metrics-max-series",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Cap on budget entities and (team, model) spend pairs in /metrics.",
)
def proxy_command(
    host: str,
    port: int,
    workers: int,
    cache_ttl: float,
    upstream_timeout: float,
    spool_max_mb: float,
    store_payload: bool,
    payload_max_kb: int,
    metrics: bool,
    metrics_max_series: int,
) -> None:
    """Run the OpenAI-compatible ingest proxy (budgets, routing, one spend log per request).

    It serves llmusage databases only: on a LiteLLM or an empty database, or one its queries do not fit,
    it refuses to start (one line saying why and what to run instead)."""
    from llmusage.config import Settings
    from llmusage.pg.connect import resolve_url
    from llmusage.proxy.options import ProxyOptions
    from llmusage.proxy.preflight import check_database
    from llmusage.proxy.server import serve

    settings = Settings.from_env()
    options = ProxyOptions(
        database_url=resolve_url(settings),
        spool_dir=settings.spool_dir,
        master_key=settings.master_key,
        cache_ttl=cache_ttl,
        upstream_timeout=upstream_timeout,
        spool_max_bytes=int(spool_max_mb * 1024 * 1024),
        store_payload=store_payload,
        payload_max_bytes=payload_max_kb * 1024,
        metrics=metrics,
        metrics_max_series=metrics_max_series,
    )
    check_database(options.database_url)  # once, before any worker listens
    click.echo(
        f"llmusage proxy on http://{host}:{port} ({workers} worker{'s' if workers != 1 else ''})", err=True
    )
    serve(options, host, port, workers)


@click.command("mock-upstream")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=4010, show_default=True)
@click.option("--latency-ms", type=float, default=0.0, show_default=True, help="Delay before the first byte.")
@click.option(
    "--chunk-delay-ms", type=float, default=0.0, show_default=True, help="Delay between stream chunks."
)
@click.option(
    "--error-rate", type=float, default=0.0, show_default=True, help="Fail every round(1/R)-th request (500)."
)
@click.option(
    "--completion-tokens", type=int, default=16, show_default=True, help="When max_tokens is unset."
)
@click.option(
    "--cached-ratio",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Report this share of every prompt as cached tokens (prompt_tokens_details.cached_tokens).",
)
def mock_upstream_command(
    host: str,
    port: int,
    latency_ms: float,
    chunk_delay_ms: float,
    error_rate: float,
    completion_tokens: int,
    cached_ratio: float,
) -> None:
    """Run a deterministic OpenAI-compatible fake provider (chat, completions, embeddings)."""
    from llmusage.devtools.mock_upstream import MockOptions, run

    click.echo(f"llmusage mock-upstream on http://{host}:{port}", err=True)
    options = MockOptions(
        latency_ms, chunk_delay_ms, error_rate, completion_tokens, cached_ratio=cached_ratio
    )
    run(host, port, options)
