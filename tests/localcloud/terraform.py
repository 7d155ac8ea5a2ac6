"""What `terraform apply` gives each function, read from terraform/*.tf.

The local cloud runs every function with exactly the environment variables and secrets its
module call sets, so a variable Terraform forgets fails the local cloud as it would fail the
deployment. Only the expression forms terraform/ uses are understood (variables, locals,
`merge`, `tostring`, a conditional on a variable, references to the few resources that name
things); anything else raises, naming the expression, rather than guessing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
# The code deployed (another checkout, to measure an older version the same way).
CODE = Path(os.environ.get("SVP_CHAOS_CODE") or ROOT)
TF_DIR = CODE / "terraform"


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    source_dir: Path
    source_topic: str | None  # the topic whose push subscription feeds it
    environment: dict[str, str]  # SVP_SECRETS included: the secrets it reads at run time
    secrets: dict[str, str]  # setting -> secret (its key in secrets.tf)
    dead_letters_to_poller: bool
    # An older terraform/ (SVP_CHAOS_CODE) mounted secrets as variables: setting -> secret
    mounted: dict[str, str] = field(default_factory=dict)


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _norm(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {_unquote(k): _norm(v) for k, v in obj.items() if not k.startswith("__")}
    if isinstance(obj, list):
        return [_norm(v) for v in obj]
    return _unquote(obj)


class Terraform:
    """The root module's variables, locals and module calls, with values for the variables."""

    def __init__(self, variables: dict[str, Any], resources: dict[str, str]):
        self.locals: dict[str, Any] = {}
        self.modules: dict[str, dict] = {}
        declared: dict[str, Any] = {}
        for path in sorted(TF_DIR.glob("*.tf")):
            parsed = _norm(hcl2.loads(path.read_text()))
            for block in parsed.get("locals", []):
                self.locals.update(block)
            for block in parsed.get("module", []):
                self.modules.update(block)
            for block in parsed.get("variable", []):
                for name, body in block.items():
                    declared[name] = body.get("default")
        unknown = set(variables) - set(declared)
        if unknown:
            raise KeyError(f"not variables of terraform/: {sorted(unknown)}")
        self.variables = {**declared, **variables}
        self.resources = resources

    def function(self, name: str) -> FunctionSpec:
        call = self.modules[name]
        environment: dict[str, Any] = {}
        if self.resolve(call.get("inherit_environment", True)) is not False:
            environment.update(self.resolve(self.locals["stage_context"]["environment"]))
        environment.update(self.resolve(call.get("environment")) or {})
        secrets = self.resolve(call.get("secrets")) or {}
        if secrets:  # modules/stage: SVP_SECRETS, "SETTING=<prefix><key>,..." (map order)
            prefix = self.variables["prefix"]
            names = [f"{setting}={prefix}{secrets[setting]}" for setting in sorted(secrets)]
            environment["SVP_SECRETS"] = ",".join(names)
        mounted = self.resolve(call.get("secret_environment_variables")) or {}
        topic = call.get("source_topic")
        topic_key = re.search(r'google_pubsub_topic\.this\["([\w-]+)"\]', str(topic or ""))
        return FunctionSpec(
            name=name,
            source_dir=CODE / "functions" / name,
            source_topic=topic_key.group(1) if topic_key else None,
            environment={k: str(v) for k, v in environment.items()},
            secrets=dict(secrets),
            mounted=dict(mounted),
            dead_letters_to_poller=call.get("dead_letter_handler") is not None,
        )

    def names(self) -> list[str]:
        return list(self.modules)

    # -- expressions -----------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if not isinstance(value, str):
            return value
        whole = re.fullmatch(r"\$\{(.*)\}", value, re.S)
        if whole and re.fullmatch(r"var\.\w+\s*\?.*:\s*null", whole.group(1).strip(), re.S):
            return self._expression(whole.group(1).strip())
        if whole and "${" not in whole.group(1):
            return self._expression(whole.group(1).strip())
        return re.sub(r"\$\{([^{}]*)\}", lambda m: str(self._expression(m.group(1))), value)

    def _expression(self, expr: str) -> Any:
        if m := re.fullmatch(r"var\.(\w+)", expr):
            return self.variables[m.group(1)]
        if m := re.fullmatch(r"local\.secret\[\"([\w-]+)\"\]", expr):
            return m.group(1)  # the secret's key in secrets.tf
        if m := re.fullmatch(r"local\.([\w.]+)", expr):
            value: Any = self.locals
            for part in m.group(1).split("."):
                value = value[part]
            return self.resolve(value)
        if m := re.fullmatch(r"tostring\((.*)\)", expr):
            return str(self._expression(m.group(1).strip()))
        if m := re.fullmatch(r"merge\((.*)\)", expr):
            merged: dict[str, Any] = {}
            for part in m.group(1).split(","):
                merged.update(self._expression(part.strip()) or {})
            return merged
        conditional = re.fullmatch(r"var\.(\w+)\s*\?(.*):\s*null", expr, re.S)
        if conditional and not self.variables[conditional.group(1)]:
            return None
        if expr in self.resources:
            return self.resources[expr]
        raise ValueError(f"the local cloud cannot evaluate the Terraform expression {expr!r}")
