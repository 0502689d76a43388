"""Compare JSON bodies with MultiSafepay's official OpenAPI files, one schema error at a time.

The files are byte-for-byte copies in tests/reference/multisafepay-docs/ (tests/reference/README.md says
where they come from), limited to what these tests load: the request side is not copied, so its ``$ref``s
there point at files that are not present, and openapi-core never follows them. The spec is loaded with
openapi-core (which also checks that it is a valid OpenAPI document), and bodies are checked with
openapi-core's own response schema validator (OAS 3.0, read direction). We do not call
``OpenAPI.validate_response`` itself: it casts a body before validating it and stops at the first cast
failure (``costs`` is documented as one object, but every real order has a list), so it can name only
one difference where we want them all.

An error is reduced to its *signature*: the JSON path with list indexes folded to ``[]`` plus the JSON
Schema keyword that failed, e.g. ``("data.customer.address2", "type")``. The spec is stricter than the
real API, so callers compare signatures with those of MultiSafepay's own examples.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema_path import SchemaPath
from openapi_core import OpenAPI
from openapi_core.validation.schemas import oas30_read_schema_validators_factory

Signature = tuple[str, str]


@dataclass(frozen=True)
class Problem:
    """One schema error: where, which keyword, and jsonschema's message."""

    path: str
    keyword: str
    message: str
    value: Any = field(default=None, compare=False, repr=False)  # the offending JSON value

    @property
    def signature(self) -> Signature:
        return (self.path, self.keyword)

    def __str__(self) -> str:
        return f"{self.path or '(root)'} [{self.keyword}]: {self.message[:200]}"


def _join(prefix: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{prefix}[]"
    return f"{prefix}.{part}" if prefix else str(part)


class Contract:
    """MultiSafepay's OpenAPI document, rooted at ``openapi/docsopenapi.yaml`` of the docs folder."""

    def __init__(self, root: Path) -> None:
        self.docs = root.parent.parent
        raw = yaml.safe_load(root.read_text(encoding="utf-8"))
        self._path_refs = {template: item["$ref"] for template, item in raw["paths"].items()}
        # The root writes its refs (./openapi/paths/...) from the docs folder, not from its own folder.
        self.openapi = OpenAPI(SchemaPath.from_dict(raw, base_uri=self.docs.as_uri() + "/"))

    def _operation(self, method: str, template: str) -> tuple[Path, dict[str, Any]]:
        """The path file and its raw (unresolved) operation."""
        path_file = (self.docs / self._path_refs[template]).resolve()
        return path_file, yaml.safe_load(path_file.read_text(encoding="utf-8"))[method]

    def _content(self, method: str, template: str, status: str) -> tuple[Path, dict[str, Any]]:
        """The path file and the raw ``application/json`` entry of one documented response."""
        path_file, operation = self._operation(method, template)
        responses = operation["responses"]
        if status not in responses:
            raise LookupError(f"{method.upper()} {template} documents no {status} response ({sorted(responses)})")
        return path_file, responses[status]["content"]["application/json"]

    def schema(self, method: str, template: str, status: str, branch: str | None = None) -> SchemaPath:
        """The response schema; ``branch`` picks one ``oneOf``/``anyOf`` alternative by its file name.

        Validating against the one alternative a response claims to be keeps errors specific: a
        ``oneOf`` only says "matched none" or "matched several".
        """
        _, content = self._content(method, template, status)
        schema = self.openapi.spec / "paths" / template / method / "responses" / status / "content"
        schema = schema / "application/json" / "schema"
        if branch is None:
            return schema
        for keyword in ("oneOf", "anyOf"):
            alternatives = content["schema"].get(keyword, [])
            names = [Path(alt.get("$ref", "")).stem for alt in alternatives]
            if branch in names:
                return schema / keyword / names.index(branch)
        raise LookupError(f"{method.upper()} {template} {status}: no alternative named {branch}")

    def parameter(self, method: str, template: str, name: str) -> dict[str, Any]:
        """One documented parameter of an operation, as written in its path file."""
        _, operation = self._operation(method, template)
        return next(p for p in operation.get("parameters", []) if p.get("name") == name)

    def examples(self, method: str, template: str, status: str) -> dict[str, Any]:
        """The example bodies the spec gives for one response, by name (files loaded as JSON)."""
        path_file, content = self._content(method, template, status)
        named = {name: entry.get("value") for name, entry in content.get("examples", {}).items()}
        if "example" in content:
            named["example"] = content["example"]
        loaded = {}
        for name, value in named.items():
            if isinstance(value, dict) and set(value) == {"$ref"}:
                value = json.loads((path_file.parent / value["$ref"]).read_text(encoding="utf-8"))
            loaded[name] = value
        return loaded


def problems(schema: SchemaPath, instance: Any, prefix: str = "") -> Iterator[Problem]:
    """Every schema error of ``instance``.

    Where the spec documents one object but the body has a list of them (``costs`` in orders, ``data``
    of GET /transactions, in the real examples too), the list is one ``type`` error and each item is
    then checked against the documented object, so the items are not left unchecked.
    """
    validator = oas30_read_schema_validators_factory.create(schema).validator
    for error in validator.iter_errors(instance):
        path = prefix
        for part in error.absolute_path:
            path = _join(path, part)
        yield Problem(path, str(error.validator), error.message, error.instance)
        if error.validator == "type" and error.validator_value == "object" and isinstance(error.instance, list):
            documented = schema
            for part in list(error.absolute_schema_path)[:-1]:
                documented = documented / part
            for item in error.instance:
                yield from problems(documented, item, _join(path, 0))


def signatures(found: Iterable[Problem]) -> set[Signature]:
    return {problem.signature for problem in found}
