"""Validate HTTP traffic against Fluence's published cloud API specs (openapi-core).

The specs live outside the repository, in `../shared/fluence-cloud-api/` beside the clone
(they are Fluence's, AGPL-3; never copied here), or where FLUENCE_CLOUD_SPEC_DIR points.
Where the folder is absent, tests that need it skip with that reason (`require_specs()`).

    spec = load("0.10.0")                       # or "0.8.210"; cached per process
    spec.check_response(response)               # an httpx.Response (its .request too)
    spec.check_request(request)                 # an httpx.Request a client built
    httpx.Client(transport=ValidatingTransport(inner, spec))   # both, on every call

Strictness beyond the spec text, so that drifts between versions show up:
- objects are closed: a field the spec version does not declare is an error (request
  and response), unless the schema declares `additionalProperties` itself;
- a query parameter the operation does not declare is an error (e.g. `perPage` sent to
  0.8.210, which spells it `per_page`).

Documented allowances (each is evidence from the live service, see the README there):
- statuses an operation does not list (404, 405, 406, 409, 429, 503) are checked
  against the spec's `ErrorBody` schema;
- `/v1/ssh_keys*` declare only the JWT scheme, but the API key works there;
- `Authorization: X-API-KEY <key>` (the specs' intro example) counts as the API key.

Known defects repaired in memory (`REPAIRS`): 0.8.210 refers to
`#/components/schemas/ResponseOutputFormat` without defining it (0.10.0 defines it).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.paths.exceptions import PathNotFound
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.datastructures import Headers, ImmutableMultiDict

ROOT = Path(__file__).resolve().parents[2]
#: beside the clone, as CI lays it out; FLUENCE_CLOUD_SPEC_DIR overrides (e.g. a worktree)
SPEC_DIR = Path(
    os.environ.get("FLUENCE_CLOUD_SPEC_DIR") or ROOT.parent / "shared" / "fluence-cloud-api"
)
FILES = {
    "0.8.210": "fluence-public-v0.8.210.yaml",
    "0.10.0": "fluence-public-v0.10.0.yaml",
}
VERSIONS = tuple(FILES)
#: schemas missing from a spec version that its own paths refer to: (version, name, schema)
REPAIRS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("0.8.210", "ResponseOutputFormat", {"type": "string", "enum": ["json", "csv"]}),
)
#: operations whose security lists only JWT although the API key works (live evidence)
API_KEY_ALSO = re.compile(r"^/v1/ssh_keys(/.*)?$")


class ContractError(AssertionError):
    """Traffic that does not match the spec; the message says what, where and which spec."""


def specs_present() -> bool:
    return all((SPEC_DIR / f).is_file() for f in FILES.values())


def require_specs() -> None:
    """Skip the calling test when the specs are not beside the clone."""
    if not specs_present():
        pytest.skip(f"the published cloud API specs are not at {SPEC_DIR} (../shared absent)")


def _closed(node: Any, in_allof: bool = False) -> Any:
    """A copy of a schema tree where every object schema with `properties` and no
    `additionalProperties` of its own admits no other field (not inside allOf)."""
    if isinstance(node, list):
        return [_closed(x, in_allof) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k == "allOf":
            out[k] = [_closed(x, True) for x in v]
        elif k in ("example", "examples"):
            out[k] = v
        else:
            out[k] = _closed(v, False)
    if "properties" in out and "additionalProperties" not in out and not in_allof:
        out["additionalProperties"] = False
    return out


def raw_spec(version: str) -> dict[str, Any]:
    """The spec as published (parsed), with the known repairs applied."""
    require_specs()
    text = (SPEC_DIR / FILES[version]).read_text()
    try:
        data: dict[str, Any] = json.loads(text)  # 0.10.0 is published as one line of JSON
    except ValueError:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    schemas = data["components"]["schemas"]
    for v, name, schema in REPAIRS:
        if v == version and name not in schemas:
            schemas[name] = copy.deepcopy(schema)
    return data


@dataclass
class _Request:
    """openapi-core's Request protocol over plain values."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes | None
    content_type: str
    host_url: str = "http://api.fluence.test"
    parameters: RequestParameters = field(init=False)

    def __post_init__(self) -> None:
        self.method = self.method.lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(self.query),
            header=Headers(self.headers),
            cookie=ImmutableMultiDict(),
        )


@dataclass
class _Response:
    status_code: int
    data: bytes
    content_type: str
    headers: Headers


class CloudSpec:
    """One published spec version, ready to check traffic."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.raw = raw_spec(version)
        closed = _closed(self.raw)
        _allow_api_key(closed)
        self.api = OpenAPI.from_dict(closed, config=Config(spec_validator_cls=None))
        resource = Resource.from_contents(closed, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource("urn:fluence-spec", resource)
        # literal paths first: /v1/storages/types wins over /v1/storages/{storage_id}
        self._templates = sorted(
            (
                (m.upper(), p, re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", p) + "$"))
                for p, ops in self.raw["paths"].items()
                for m in ops
                if m in ("get", "post", "put", "patch", "delete")
            ),
            key=lambda t: t[1].count("{"),
        )

    def __repr__(self) -> str:
        return f"CloudSpec({self.version})"

    # --- lookups ---------------------------------------------------------------------------

    def template(self, method: str, path: str) -> str | None:
        """The spec's path template for this call, or None when the spec lacks it."""
        for m, template, rx in self._templates:
            if m == method.upper() and rx.match(path):
                return template
        return None

    def operations(self) -> set[tuple[str, str]]:
        return {(m, p) for m, p, _ in self._templates}

    def operation(self, method: str, template: str) -> dict[str, Any]:
        return dict(self.raw["paths"][template][method.lower()])

    # --- checks -----------------------------------------------------------------------------

    def check_request(self, request: httpx.Request) -> None:
        """Raise ContractError unless `request` is a valid call of this spec version."""
        path = request.url.path
        template = self.template(request.method, path)
        if template is None:
            raise ContractError(f"{self}: {request.method} {path} is not in this spec")
        req = self._request(request)
        op = self.operation(request.method, template)
        declared = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
        unknown = sorted({k for k, _ in req.query} - declared)
        if unknown:
            raise ContractError(
                f"{self}: {request.method} {template}: query parameter(s) {unknown} not declared"
                f" (declared: {sorted(declared)})"
            )
        try:
            self.api.validate_request(req)
        except OpenAPIError as err:
            raise ContractError(f"{self}: {request.method} {template}: {_explain(err)}") from None

    def check_response(self, response: httpx.Response) -> None:
        """Raise ContractError unless `response` (to `response.request`) matches the spec."""
        request = response.request
        self.check_response_to(
            request.method,
            request.url.path,
            request.url.query.decode(),
            response.status_code,
            response.headers.get("content-type", ""),
            response.content,
        )

    def check_response_to(
        self,
        method: str,
        path: str,
        query: str,
        status: int,
        content_type: str,
        body: bytes,
    ) -> None:
        template = self.template(method, path)
        if template is None:
            if status in (404, 405):
                self.check_error_body(status, body, content_type)
                return
            raise ContractError(f"{self}: {method} {path} is not in this spec (answered {status})")
        op = self.operation(method, template)
        if str(status) not in op["responses"] and "default" not in op["responses"]:
            if status < 400:
                raise ContractError(f"{self}: {method} {template}: undeclared status {status}")
            self.check_error_body(status, body, content_type)
            return
        media = content_type.split(";")[0].strip()
        if media.startswith("text/"):  # e.g. charges as CSV: a declared string media type
            declared = op["responses"].get(str(status), {}).get("content", {})
            if media not in declared:
                raise ContractError(f"{self}: {method} {template} → {status}: {media} undeclared")
            try:
                body.decode()
            except UnicodeDecodeError:
                raise ContractError(f"{self}: {method} {template}: body is not UTF-8") from None
            return
        req = _Request(method, path, _pairs(query), {}, None, "application/json")
        resp = _Response(status, body, content_type.split(";")[0].strip(), Headers())
        try:
            self.api.validate_response(req, resp)
        except OpenAPIError as err:
            if isinstance(err, PathNotFound):
                raise ContractError(f"{self}: {method} {path} is not in this spec") from None
            raise ContractError(
                f"{self}: {method} {template} → {status}: {_explain(err)}"
            ) from None

    def check_error_body(self, status: int, body: bytes, content_type: str) -> None:
        """An error answer: JSON matching this spec's ErrorBody."""
        if not content_type.startswith("application/json"):
            raise ContractError(f"{self}: error {status} is not JSON ({content_type!r})")
        try:
            data = json.loads(body)
        except ValueError:
            raise ContractError(f"{self}: error {status} body is not JSON: {body[:80]!r}") from None
        validator = OAS31Validator(
            {"$ref": "urn:fluence-spec#/components/schemas/ErrorBody"}, registry=self._registry
        )
        problems = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
        if problems:
            raise ContractError(f"{self}: error {status} body {data!r}: {problems[0].message}")

    # --- adapters ---------------------------------------------------------------------------

    @staticmethod
    def _request(request: httpx.Request) -> _Request:
        body = request.content if request.method in ("POST", "PUT", "PATCH") else None
        ctype = request.headers.get("content-type", "application/json" if body else "")
        headers = dict(request.headers.items())
        auth = request.headers.get("authorization", "")
        if auth[:10].lower() == "x-api-key " and "x-api-key" not in request.headers:
            headers["X-API-KEY"] = auth[10:].strip()  # the intro's form of the API key
        return _Request(
            request.method,
            request.url.path,
            _pairs(request.url.query.decode()),
            headers,
            body or None,
            ctype.split(";")[0].strip(),
        )


def _allow_api_key(spec: dict[str, Any]) -> None:
    """Let the API key authenticate the operations that declare only JWT but accept the key
    in practice (`API_KEY_ALSO`)."""
    for path, ops in spec["paths"].items():
        if not API_KEY_ALSO.match(path):
            continue
        for op in ops.values():
            security = op.get("security") if isinstance(op, dict) else None
            if security is not None and not any("api_key" in s for s in security):
                security.append({"api_key": []})


def _pairs(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query, keep_blank_values=True)


def _explain(err: Exception) -> str:
    """The first schema error under openapi-core's wrapper, if any, else the error."""
    cause: Any = err.__cause__ or err
    schema_errors = getattr(cause, "schema_errors", None)
    if schema_errors:
        first = schema_errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        return f"{type(err).__name__} at {where}: {first.message}"
    return f"{type(err).__name__}: {err}"


@functools.cache
def load(version: str) -> CloudSpec:
    """The spec of `version` ("0.8.210" or "0.10.0"), parsed once per process."""
    if version not in FILES:
        raise ValueError(f"unknown spec version {version!r}; expected one of {VERSIONS}")
    return CloudSpec(version)


class ValidatingTransport(httpx.BaseTransport):
    """Check every request a client sends and every response it gets against `spec`.

    `requests=False` skips request checks (tests that send bad requests on purpose);
    `seen` records (method, template, status) of each checked call, for coverage.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        spec: CloudSpec,
        *,
        requests: bool = True,
        responses: bool = True,
    ) -> None:
        self.inner = inner
        self.spec = spec
        self.requests = requests
        self.responses = responses
        self.seen: list[tuple[str, str, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.requests:
            self.spec.check_request(request)
        response = self.inner.handle_request(request)
        response.read()
        if self.responses:
            self.spec.check_response(response)
        template = self.spec.template(request.method, request.url.path) or request.url.path
        self.seen.append((request.method, template, response.status_code))
        return response

    def __iter__(self) -> Iterator[tuple[str, str, int]]:
        return iter(self.seen)
