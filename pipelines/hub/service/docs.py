"""The API's documentation as HTML, rendered on the hub from its OpenAPI description.

No JavaScript and no CDN: the page and its stylesheet come from the hub
itself, so an NGO's vendor reads the same description the hub serves as JSON,
from a hub that makes no network call of its own.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

_env = Environment(
    loader=PackageLoader("pipelines.hub.service", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def type_text(schema: dict[str, Any] | bool) -> str:
    """A JSON schema as a short type, like ``list of FigureCell`` or ``string or null``."""
    if isinstance(schema, bool):
        return "any"
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(type_text(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    if "const" in schema:
        return str(schema["const"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {type_text(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema:
        return f"map of {type_text(schema['additionalProperties'])}"
    return str(kind)


def docs_page(spec: dict[str, Any]) -> str:
    """The HTML documentation of ``spec``."""
    operations = [
        {"method": method.upper(), "path": path, **op}
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
    ]
    return _env.get_template("docs.html.j2").render(
        spec=spec, operations=operations, schemas=spec["components"]["schemas"], type_text=type_text
    )


def docs_css() -> str:
    return files("pipelines.hub.service").joinpath("static/docs.css").read_text(encoding="utf-8")
