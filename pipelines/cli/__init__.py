"""The ``outcomes`` command line: NGO side, hub, stewards and funders.

Hub commands take ``--home DIR`` so several hubs can live side by side; NGO
commands take ``--ngo-home DIR`` (the NGO's own folder) and reach the hub only
through its API (``--hub URL``). Every command takes ``--help``. Exit codes: 0
done (or accepted), 1 refused or failed with a message saying what to do, 2
usage error, 3 validated on the NGO's side but not yet delivered to the hub.
"""

from __future__ import annotations

import os

import click

from pipelines import __version__
from pipelines.cli import demo, hub, ngo, register, remote, serve, site, steward

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
