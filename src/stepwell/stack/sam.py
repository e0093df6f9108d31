"""SAM to CloudFormation, with AWS's own translator (``aws-sam-translator``).

The translator expects what ``sam deploy`` hands it: code and definitions already
uploaded to S3. As the SAM CLI does locally, each local ``CodeUri`` and
``DefinitionUri`` is swapped for a placeholder S3 location before translating and
mapped back to its folder or file afterwards (``Artifacts``). The IAM managed-policy
map the translator asks for is empty: Stepwell does not emulate IAM.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepwell.stack.template import StackError, Template

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
PLACEHOLDER_BUCKET = "stepwell-local-artifacts"

# Which property of which SAM resource names local code or a local definition.
_LOCAL_PATHS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}


@dataclass
class Artifacts:
    """Local files and folders behind the placeholder S3 keys."""

    base: Path
    paths: dict[str, Path] = field(default_factory=dict)

    def placeholder(self, local: str) -> str:
        key = f"{len(self.paths)}/{local}"
        self.paths[key] = (self.base / local).resolve()
        return f"s3://{PLACEHOLDER_BUCKET}/{key}"

    def code(self, code: Any, runtime: str) -> Path | None:
        """Where a function's ``Code`` is here: the folder or file behind a placeholder S3
        location, or the folder holding its inline ``ZipFile`` source (``InlineCode`` in
        SAM). None for code in real S3."""
        if not isinstance(code, dict):
            return None
        if isinstance(code.get("ZipFile"), str):
            return inline_code(code["ZipFile"], runtime)
        return self.local(code.get("S3Bucket"), code.get("S3Key"))

    def local(self, bucket: Any, key: Any) -> Path | None:
        """The local path an S3 location stands for, or None for a real S3 location."""
        if bucket != PLACEHOLDER_BUCKET or not isinstance(key, str):
            return None
        return self.paths.get(key)


def inline_code(source: str, runtime: str) -> Path:
    """A folder holding ``source`` as Lambda lays inline code out. CloudFormation User
    Guide, ``AWS::Lambda::Function Code`` ``ZipFile``: "CloudFormation places it in a
    file named index and zips it", so ``Handler: index.handler`` finds it. The folder is
    named after a hash of the source: the same code always lands in the same place."""
    suffix = ".js" if runtime.startswith("nodejs") else ".py"
    digest = hashlib.sha256(f"{runtime}\n{source}".encode()).hexdigest()[:20]
    folder = Path(tempfile.gettempdir()) / "stepwell-inline-code" / digest
    index = folder / f"index{suffix}"
    if not index.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".index{suffix}.{os.getpid()}"
        partial.write_text(source, encoding="utf-8")
        partial.replace(index)  # whole or not at all, should two runs race
    return folder


def is_sam(template: Template) -> bool:
    transform = template.get("Transform")
    transforms = transform if isinstance(transform, list) else [transform]
    return SAM_TRANSFORM in transforms


def to_cloudformation(
    template: Template, base: Path, region: str, parameters: dict[str, Any]
) -> tuple[Template, Artifacts]:
    """``template`` with its SAM resources translated; local paths as ``Artifacts``."""
    artifacts = Artifacts(base)
    if not is_sam(template):
        return template, artifacts
    _swap_local_paths(template, artifacts)
    return _translate(template, region, parameters), artifacts


def _swap_local_paths(template: Template, artifacts: Artifacts) -> None:
    function_globals = template.get("Globals", {}).get("Function", {})
    if isinstance(function_globals, dict) and isinstance(function_globals.get("CodeUri"), str):
        function_globals["CodeUri"] = artifacts.placeholder(function_globals["CodeUri"])
    for resource in template["Resources"].values():
        if not isinstance(resource, dict):
            continue
        prop = _LOCAL_PATHS.get(str(resource.get("Type")))
        properties = resource.get("Properties")
        if prop and isinstance(properties, dict):
            value = properties.get(prop)
            if isinstance(value, str) and not value.startswith("s3://"):
                properties[prop] = artifacts.placeholder(value)


def _translate(template: Template, region: str, parameters: dict[str, Any]) -> Template:
    import boto3  # type: ignore[import-untyped]
    from samtranslator.model.exceptions import (
        InvalidDocumentException,
        InvalidTemplateException,
    )
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    # The translator logs a warning for each feature toggle it does not find; none of
    # them concerns a local run.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    translator = Translator(
        None,
        Parser(),
        plugins=[_offline_applications()],
        boto_session=boto3.session.Session(region_name=region),
    )
    try:
        translated: Template = translator.translate(
            template, parameter_values=dict(parameters), get_managed_policy_map=dict
        )
    except InvalidDocumentException as problem:
        messages = "; ".join(str(cause) for cause in problem.causes)
        raise StackError(f"the SAM translator refused the template: {messages}") from None
    except InvalidTemplateException as problem:
        raise StackError(f"the SAM translator refused the template: {problem}") from None
    return translated


def _offline_applications() -> Any:
    """The translator's plugin for ``AWS::Serverless::Application``, without its calls
    to the Serverless Application Repository (there is no network here). A repository
    application becomes a nested stack whose ``TemplateURL`` only names it: nested stacks
    are accepted and reported as not emulated, like any resource Stepwell cannot run."""
    from samtranslator.plugins.application.serverless_app_plugin import ServerlessAppPlugin

    class OfflineApplications(ServerlessAppPlugin):  # type: ignore[misc]
        def on_before_transform_template(self, template_dict: Any) -> None:
            return None

        def on_before_transform_resource(
            self, logical_id: str, resource_type: str, resource_properties: Any
        ) -> None:
            location = (resource_properties or {}).get("Location")
            if resource_type == "AWS::Serverless::Application" and isinstance(location, dict):
                application = location.get("ApplicationId")
                version = location.get("SemanticVersion")
                resource_properties["TemplateUrl"] = (
                    f"serverlessrepo://{application}/{version}"  # a name, never fetched
                )
                return
            super().on_before_transform_resource(logical_id, resource_type, resource_properties)

    return OfflineApplications()
