"""The `llmusage` command line: a click group of thin commands, one module per area (`db`, `seed`, `lake`,
`proxy`, `reconcile`, `reconcile_daily`, `reports`, `alerts`,
`retention`); every failure is one line on stderr and a non-zero exit."""

from __future__ import annotations

import sys

import click

from llmusage.errors import LlmusageError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="llmusage")
def cli() -> None:
    """Spend accounting for an LLM gateway on the LiteLLM schema."""


def main(argv: list[str] | None = None, command: click.Command | None = None) -> None:
    """Entry point: run the CLI (or `command`, e.g. the demo); a LlmusageError or a usage error is one
    line on stderr and a non-zero exit."""
    command = command or cli
    try:
        command.main(
            args=argv, prog_name="llmusage" if command is cli else command.name, standalone_mode=False
        )
    except LlmusageError as exc:
        click.echo(f"llmusage: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "llmusage"
        click.echo(f"{where}: error: {exc.format_message()}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("llmusage: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"llmusage: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)


def _register_commands() -> None:
    """Commands that live in modules of their own."""
    from llmusage.cli.alerts import alerts
    from llmusage.cli.chargeback import chargeback_command
    from llmusage.cli.db import db
    from llmusage.cli.lake import extract_command, warehouse
    from llmusage.cli.proxy import mock_upstream_command, proxy_command
    from llmusage.cli.reconcile import reconcile
    from llmusage.cli.reconcile_daily import reconcile_daily_command
    from llmusage.cli.reports import report
    from llmusage.cli.retention import retention_command
    from llmusage.cli.seed import seed

    commands = (
        db,
        seed,
        extract_command,
        warehouse,
        reconcile,
        reconcile_daily_command,
        report,
        chargeback_command,
        proxy_command,
        mock_upstream_command,
        alerts,
        retention_command,
    )
    for command in commands:
        cli.add_command(command)


_register_commands()
