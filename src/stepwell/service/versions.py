"""State machine versions: PublishStateMachineVersion, ListStateMachineVersions,
DeleteStateMachineVersion.

A version is an immutable snapshot of a state machine's current revision, stored as a
``StateMachineRecord`` whose ARN is the machine's ARN plus ``:N`` and whose
``version_of`` names the machine. Publishing is idempotent per revision (API Reference,
PublishStateMachineVersion: "It doesn't create a duplicate state machine version if it
already exists for the current revision"). Numbers count up from 1 and are never reused,
even after a version is deleted: the last number given out is kept in the ``versions``
document namespace, whose transaction also serializes concurrent publishes. A deleted
version's record stays, marked ``DELETED`` and invisible to the API, because "deleting a
state machine version won't terminate its in-progress executions" (API Reference,
DeleteStateMachineVersion); deleting the state machine removes them for good.
"""

from __future__ import annotations

from dataclasses import replace

import orjson

from stepwell.runtime.clock import to_datetime
from stepwell.service import errors as err
from stepwell.service.arns import parse_machine_arn
from stepwell.service.core import DELETED, Request, Response, ServiceCore, public_revision
from stepwell.service.pages import paginate
from stepwell.store.base import StateMachineRecord

MAX_VERSIONS = 1000  # per state machine (API Reference, PublishStateMachineVersion)
VERSIONS = "versions"  # document namespace: machine ARN -> last version number
ALIASES = "aliases"  # document namespace: alias ARN -> the alias (see aliases.py)
INITIAL = "INITIAL"  # Stepwell's revisionId meaning "not updated since it was created"


def revision_matches(machine: StateMachineRecord, revision_id: str) -> bool:
    if revision_id == INITIAL:
        return public_revision(machine.revision_id) is None
    return public_revision(machine.revision_id) == revision_id


class VersionOperations(ServiceCore):
    def publish_state_machine_version(self, request: Request) -> Response:
        _, machine = self._unqualified_machine(request["stateMachineArn"])
        revision = request.get("revisionId")
        if revision is not None and not revision_matches(machine, revision):
            # K13; a machine never updated has no revisionId: "null", as AWS's Java says it
            current = public_revision(machine.revision_id) or "null"
            raise err.ConflictException(
                f"Failed to publish the State Machine version for revision {revision}. "
                f"The current State Machine revision is {current}."
            )
        version = self._publish(machine, request.get("description"))
        return {
            "creationDate": to_datetime(version.creation_date),
            "stateMachineVersionArn": version.arn,
        }

    def list_state_machine_versions(self, request: Request) -> Response:
        parsed = parse_machine_arn(request["stateMachineArn"])
        if parsed.qualifier is not None:
            raise err.ValidationException(
                f"Expected an unqualified state machine ARN, got '{parsed.arn}'"
            )
        page, token = paginate(self._versions(parsed.machine_arn), request)
        return {
            "stateMachineVersions": [
                {"stateMachineVersionArn": v.arn, "creationDate": to_datetime(v.creation_date)}
                for v in page
            ],
            **token,
        }

    def delete_state_machine_version(self, request: Request) -> Response:
        arn = request["stateMachineVersionArn"]
        parsed = parse_machine_arn(arn)
        if parsed.version is None:
            raise err.ValidationException(f"Expected a state machine version ARN, got '{arn}'")
        referencing = self._aliases_of_version(parsed.machine_arn, arn)
        if referencing:
            raise err.ConflictException(
                "Version to be deleted must not be referenced by an alias. Current list of "
                f"aliases referencing this version: [{', '.join(referencing)}]"
            )
        version = self._live_machine(arn)
        if version is not None:
            # "Deleting a state machine version won't terminate its in-progress
            # executions": the record stays, marked deleted, for them to run on.
            self.store.replace_state_machine(replace(version, status=DELETED))
        return {}

    # ----------------------------------------------------------------- shared

    def _publish(self, machine: StateMachineRecord, description: str | None) -> StateMachineRecord:
        """The version of the machine's current revision, published now if need be."""
        versions = self._versions(machine.arn)
        for version in versions:
            if version.revision_id == machine.revision_id:
                if description is not None and description != version.description:
                    raise err.ConflictException(
                        f"Version '{version.arn}' already exists for the current revision "
                        "with a different description."
                    )
                return version
        if len(versions) >= MAX_VERSIONS:
            raise err.ServiceQuotaExceededException(
                f"The state machine '{machine.arn}' already has {MAX_VERSIONS} versions."
            )
        number = self._next_version_number(machine.arn, versions)
        version = replace(
            machine,
            arn=self.arns.version(machine.arn, number),
            creation_date=self.clock.now(),
            description=description or "",
            tags={},
            version_of=machine.arn,
            version=number,
        )
        self.store.insert_state_machine(version)
        return version

    def _next_version_number(self, machine_arn: str, versions: list[StateMachineRecord]) -> int:
        highest = max((v.version or 0 for v in versions), default=0)
        with self.store.documents(VERSIONS) as documents:
            stored = documents.get(machine_arn)
            number = max(highest, int(stored) if stored else 0) + 1
            documents.put(machine_arn, str(number).encode())
        return number

    def _aliases_of_version(self, machine_arn: str, version_arn: str) -> list[str]:
        with self.store.documents(ALIASES) as documents:
            found = documents.scan(f"{machine_arn}:")
        return [
            arn
            for arn, value in found
            if any(
                route["stateMachineVersionArn"] == version_arn
                for route in orjson.loads(value)["routingConfiguration"]
            )
        ]
