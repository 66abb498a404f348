"""``outcomes ngo``: the NGO register. Who may use the hub's API, and what each NGO delivers."""

from __future__ import annotations

import getpass

import click
from rich.table import Table

from pipelines.cli.options import HubFailure, console, creating_home_option, home_option, ngo_option
from pipelines.home import Home

_BY = getpass.getuser() if hasattr(getpass, "getuser") else "steward"


def _list(value: str | None) -> list[str] | None:
    return None if value is None else [v for v in (p.strip() for p in value.split(",")) if v]


def _show_token(ngo_id: str, token: str, what: str) -> None:
    console.print(f"{what} {ngo_id}'s API token, shown this once:")
    console.print(f"\n    {token}\n", soft_wrap=True)
    console.print(
        "Give it to the NGO's data coordinator over a channel others cannot read (not email in "
        "the clear). The hub keeps only a hash of it and cannot show it again; if it is lost, "
        f"issue a new one with `outcomes ngo rotate-token --ngo {ngo_id}`. The NGO keeps it in a "
        "file only its own account can read and submits with `outcomes submit … --hub URL "
        "--token-file FILE` (or $OUTCOMES_HUB_TOKEN)."
    )


@click.group("ngo")
def ngo() -> None:
    """The NGO register: register NGOs, issue and revoke their API tokens.

    Names, programmes and regions are public facts about an NGO (what it is
    funded to deliver). Every change is recorded in the audit log.
    """


_PROGRAMMES = click.option(
    "--programmes",
    default=None,
    help="Programmes it is funded for, comma-separated (contract values).",
)
_REGIONS = click.option(
    "--regions", default=None, help="Regions it works in, comma-separated (macrons optional)."
)
_ACTOR = click.option(
    "--by", "by", default=_BY, show_default=True, help="Who is doing this (for the audit log)."
)


@ngo.command("register")
@ngo_option(help_text="The NGO's id, like ngo-0042 (lower-case letters, digits, hyphens).")
@click.option("--name", required=True, help='The NGO\'s name, like "Kōwhai Trust".')
@_PROGRAMMES
@_REGIONS
@_ACTOR
@creating_home_option
def register_ngo(
    *, ngo_id: str, name: str, programmes: str | None, regions: str | None, by: str, home: Home
) -> None:
    """Register an NGO and print its API token once. Creates the hub's folder if needed."""
    from pipelines.hub.desk import register
    from pipelines.hub.desk.store import opened

    home.create()
    with opened(home) as desk:
        try:
            token = register.register(
                desk,
                ngo_id=ngo_id,
                name=name,
                programmes=_list(programmes) or (),
                regions=_list(regions) or (),
                actor=by,
            )
        except register.RegisterError as exc:
            raise HubFailure(str(exc)) from None
    console.print(f"Registered {ngo_id} ({name}).")
    _show_token(ngo_id, token, "This is")


@ngo.command("update")
@ngo_option(help_text="The registered NGO to change.")
@click.option("--name", default=None, help="A new name.")
@_PROGRAMMES
@_REGIONS
@_ACTOR
@home_option
def update_ngo(
    *,
    ngo_id: str,
    name: str | None,
    programmes: str | None,
    regions: str | None,
    by: str,
    home: Home,
) -> None:
    """Change a registered NGO's name, programmes or regions; its token is untouched."""
    from pipelines.hub.desk import register
    from pipelines.hub.desk.store import opened

    if name is None and programmes is None and regions is None:
        raise click.UsageError("give at least one of --name, --programmes, --regions")
    with opened(home) as desk:
        try:
            changed = register.update(
                desk,
                ngo_id=ngo_id,
                name=name,
                programmes=_list(programmes),
                regions=_list(regions),
                actor=by,
            )
        except register.RegisterError as exc:
            raise HubFailure(str(exc)) from None
    console.print(
        f"Updated {ngo_id}: {changed.name}; programmes: {', '.join(changed.programmes) or 'any'}; "
        f"regions: {', '.join(changed.regions) or 'any'}."
    )


@ngo.command("list")
@home_option
def list_ngos(home: Home) -> None:
    """Every registered NGO: name, programmes, regions, and whether its token is active."""
    from pipelines.hub.desk import register
    from pipelines.hub.desk.store import opened

    with opened(home) as desk:
        ngos = register.listing(desk)
    if not ngos:
        console.print('No NGO is registered yet: `outcomes ngo register --ngo ID --name "NAME"`.')
        return
    table = Table(title=f"NGO register ({len(ngos)})", title_justify="left")
    for col in ("NGO", "Name", "Programmes", "Regions", "Access", "Token issued"):
        table.add_column(col, overflow="fold")
    for n in ngos:
        table.add_row(
            n.ngo_id,
            n.name,
            ", ".join(n.programmes) or "any",
            ", ".join(n.regions) or "any",
            "active" if n.active else "[red]revoked[/]",
            (n.token_issued_at or "")[:10],
        )
    console.print(table)


@ngo.command("rotate-token")
@ngo_option(help_text="The registered NGO.")
@_ACTOR
@home_option
def rotate_token(ngo_id: str, by: str, home: Home) -> None:
    """Issue a new API token; the old one stops working at once (a revoked NGO is re-admitted)."""
    from pipelines.hub.desk import register
    from pipelines.hub.desk.store import opened

    with opened(home) as desk:
        try:
            token = register.rotate_token(desk, ngo_id=ngo_id, actor=by)
        except register.RegisterError as exc:
            raise HubFailure(str(exc)) from None
    _show_token(ngo_id, token, "The old token no longer works. This is")


@ngo.command("revoke")
@ngo_option(help_text="The registered NGO.")
@_ACTOR
@home_option
def revoke(ngo_id: str, by: str, home: Home) -> None:
    """Revoke the NGO's API token: the hub refuses it from now on. Its data and releases stay."""
    from pipelines.hub.desk import register
    from pipelines.hub.desk.store import opened

    with opened(home) as desk:
        try:
            register.revoke(desk, ngo_id=ngo_id, actor=by)
        except register.RegisterError as exc:
            raise HubFailure(str(exc)) from None
    console.print(
        f"Revoked {ngo_id}'s API token. Re-admit it with `outcomes ngo rotate-token --ngo {ngo_id}`."
    )


COMMANDS = (ngo,)
