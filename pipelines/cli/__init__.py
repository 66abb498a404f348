"""The ``outcomes`` command line: NGO side, hub, stewards and funders.

Hub commands take ``--home DIR`` so several hubs can live side by side; NGO
commands take ``--ngo-home DIR`` (the NGO's own folder) and reach the hub only
through its API (``--hub URL``). Every command takes ``--help``. Exit codes: 0
done (or accepted), 1 refused or failed with a message saying what to do, 2
usage error, 3 validated on the NGO's side but not yet delivered to the hub,
130 stopped by Ctrl-C or SIGTERM.

A long command (intake, release, site, demo, serve) stops within moments of
Ctrl-C or SIGTERM: the signal becomes an interrupt, every write in progress is
rolled back by its transaction, staging folders are removed, and what had
committed before stays.
"""

from __future__ import annotations

import os
import signal
import sys

import click

from pipelines import __version__
from pipelines.cli import demo, hub, ngo, register, remote, serve, site, steward
from pipelines.cli.options import errors

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="outcomes")
def main() -> None:
    """Outcome Hub: validated NGO extracts in, differentially private outcome evidence out.

    No individual client record ever reaches a funder.
    """


for command in (
    *ngo.COMMANDS,
    *remote.COMMANDS,
    *register.COMMANDS,
    *hub.COMMANDS,
    *serve.COMMANDS,
    *steward.COMMANDS,
    *site.COMMANDS,
    demo.demo,
):
    main.add_command(command)


STOPPED = 130
"""Exit code of a command stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)."""


def run() -> None:
    """The ``outcomes`` executable: the command line, with SIGTERM treated like Ctrl-C."""
    # Python ends a process on SIGTERM without unwinding it; as an interrupt, transactions
    # roll back and staging folders are cleaned up on the way out (Dagster maps it alike).
    signal.signal(signal.SIGTERM, signal.getsignal(signal.SIGINT))
    try:
        main(standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort) as stop:
        if isinstance(stop, click.exceptions.Abort) and not isinstance(
            stop.__cause__,
            KeyboardInterrupt,  # click turns Ctrl-C into Abort
        ):
            errors.print("Aborted: nothing was changed.")
            sys.exit(1)
        errors.print(
            "[bold red]Stopped.[/] Whatever had finished before the interrupt is kept; nothing "
            "half-done was. Run the command again to carry on."
        )
        sys.exit(STOPPED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
