"""The API's OpenAPI 3.1 description, built from the route table and the wire types' schemas.

Nothing here is written by hand twice: paths, parameters and answers come from
:data:`~pipelines.hub.service.routes.ENDPOINTS`, and the schemas from the
pydantic models of :mod:`pipelines.standard.api`, so the description cannot
drift from what the hub does. An NGO's software vendor builds a
system-to-system integration from it (``GET /v1/openapi.json``), and the hub
renders it as HTML at ``/docs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from pipelines import __version__
from pipelines.standard import api
from pipelines.standard.handover import MANIFEST_VERSION

if TYPE_CHECKING:
    from pipelines.hub.service.routes import Endpoint

_REF = "#/components/schemas/{model}"
TITLE = "Outcome Hub API"
DESCRIPTION = (
    "The hub's only door. An NGO uploads sanitised submissions (its own extract, validated and "
    "pseudonymised on its own computer by `outcomes submit`), follows the hub's verdict on "
    "each, and downloads its own released figures: differentially private aggregates, never "
    "an individual record. Who is calling comes from the API token the hub issued when it "
    "registered the NGO, sent as `Authorization: Bearer <token>`, never from what a request "
    f"says. Uploads follow the hand-over protocol, manifest version {MANIFEST_VERSION}. Every "
    "error is a JSON `Problem` whose message says what to do."
)


def _models(endpoints: Sequence[Endpoint]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for endpoint in endpoints:
        for answer in endpoint.answers:
            if answer.model is not None and answer.model not in found:
                found.append(answer.model)
    return found


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": endpoint.name,
        "summary": endpoint.summary,
        "description": endpoint.description,
        "tags": [endpoint.tag],
        "responses": {},
    }
    if endpoint.params:
        op["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required or p.where == "path",
                "description": p.description,
                "schema": {
                    "type": "string",
                    **({"enum": list(p.enum)} if p.enum else {}),
                    **({"pattern": p.pattern} if p.pattern else {}),
                },
            }
            for p in endpoint.params
        ]
    if endpoint.upload:
        op["requestBody"] = {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [api.MANIFEST_PART, api.PAYLOAD_PART],
                        "properties": {
                            api.MANIFEST_PART: {
                                "type": "string",
                                "contentMediaType": "application/json",
                                "description": "The hand-over manifest (first part).",
                            },
                            api.PAYLOAD_PART: {
                                "type": "string",
                                "contentMediaType": "application/vnd.apache.parquet",
                                "description": "The sanitised Parquet file (second part).",
                            },
                        },
                    },
                    "encoding": {
                        api.MANIFEST_PART: {"contentType": "application/json"},
                        api.PAYLOAD_PART: {"contentType": "application/vnd.apache.parquet"},
                    },
                }
            },
        }
    for answer in endpoint.answers:
        content: dict[str, Any] = {}
        if answer.model is not None:
            content[answer.media] = {"schema": {"$ref": _REF.format(model=answer.model.__name__)}}
            if endpoint.name == "figures" and answer.status == 200:
                content["text/csv"] = {"schema": {"type": "string"}}
        else:
            content[answer.media] = {"schema": {"type": "string"}}
        op["responses"][str(answer.status)] = {
            "description": answer.description,
            "content": content,
        }
    if endpoint.authenticated:
        op["security"] = [{"token": []}]
    return op


def openapi_spec(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``endpoints``."""
    _, schemas = models_json_schema(
        [(model, "serialization") for model in _models(endpoints)], ref_template=_REF
    )
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": f"{api.API_VERSION} (hub {__version__})",
            "description": DESCRIPTION,
        },
        "tags": [
            {"name": "submissions", "description": "Uploading, and the hub's verdicts."},
            {"name": "figures", "description": "The NGO's own released figures."},
            {"name": "standard", "description": "The data contracts, to validate against."},
            {"name": "service", "description": "Whether the hub answers."},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": f"The NGO's API token (it starts with {api.TOKEN_PREFIX}), "
                    "issued by the hub's steward with `outcomes ngo register`.",
                }
            },
        },
    }
