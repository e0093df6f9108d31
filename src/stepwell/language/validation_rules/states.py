"""What one state may contain: its fields per query language, Next/End, Retry and Catch.

``validation.py`` walks the graphs (StartAt, transitions, reachability, names) and calls
``check_state`` for each state; this module knows what one state may contain. The rules
come from the States Language specification (states-language.net/spec.html) and the
AWS Step Functions Developer Guide pages named beside each table.

Design: the allowed fields are data, one table per query language, so "which fields may
a JSONata Map have" is read off a table rather than off a branch of code; a field that
exists only in the other query language gets a message saying so. Each state type then
has one small function for its own rules, chosen by a dispatch table (Choice and Map,
which have the most, live in ``choice.py`` and ``map.py``). Every problem is appended to
a ``Report``; nothing stops at the first error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from stepwell.language.timestamps import is_timestamp
from stepwell.language.validation_rules.base import (
    JSON,
    MAX_DELAY_SECONDS_LIMIT,
    STATES_ALL,
    Report,
    StateScope,
    check_assign,
    check_exclusive,
    check_integer,
    check_integer_or_jsonata,
    check_jsonata_string,
    check_jsonata_value,
    check_path_field,
    check_payload_template,
    check_result_path,
    is_int,
    is_number,
    join,
    language_message,
    looks_dynamic,
    show,
    unknown_fields,
)
from stepwell.language.validation_rules.choice import check_choice_state
from stepwell.language.validation_rules.map import check_map_state

# --- which fields each state may have ------------------------------------------------
# Developer Guide: "Common state fields", each "... workflow state" page, and
# "Transforming data with JSONata" (JSONata states use Arguments/Output instead of the
# five JSONPath fields; Assign is allowed in both).

_COMMON: Final = frozenset({"Type", "Comment", "QueryLanguage"})
_NEXT_OR_END: Final = frozenset({"Next", "End"})
_ERROR_HANDLING: Final = frozenset({"Retry", "Catch"})
_MAP_COMMON: Final = frozenset(
    {"ItemProcessor", "ItemReader", "ItemBatcher", "ResultWriter", "Label", "ItemSelector"}
)

_JSONPATH_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    "Pass": _NEXT_OR_END
    | {"InputPath", "OutputPath", "Parameters", "Result", "ResultPath", "Assign"},
    "Task": _NEXT_OR_END
    | _ERROR_HANDLING
    | {"Resource", "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath"}
    | {"TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath"}
    | {"Credentials", "Assign"},
    "Choice": frozenset({"Choices", "Default", "InputPath", "OutputPath", "Assign"}),
    "Wait": _NEXT_OR_END
    | {"Seconds", "Timestamp", "SecondsPath", "TimestampPath", "InputPath", "OutputPath"}
    | {"Assign"},
    "Succeed": frozenset({"InputPath", "OutputPath"}),
    "Fail": frozenset({"Error", "ErrorPath", "Cause", "CausePath"}),
    "Parallel": _NEXT_OR_END
    | _ERROR_HANDLING
    | {"Branches", "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath"}
    | {"Assign"},
    "Map": _NEXT_OR_END
    | _ERROR_HANDLING
    | _MAP_COMMON
    | {"Iterator", "ItemsPath", "Parameters", "MaxConcurrency", "MaxConcurrencyPath"}
    | {"ToleratedFailurePercentage", "ToleratedFailurePercentagePath"}
    | {"ToleratedFailureCount", "ToleratedFailureCountPath"}
    | {"InputPath", "OutputPath", "ResultPath", "ResultSelector", "Assign"},
}

_JSONATA_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    "Pass": _NEXT_OR_END | {"Output", "Assign"},
    "Task": _NEXT_OR_END
    | _ERROR_HANDLING
    | {"Resource", "Arguments", "Output", "Assign", "TimeoutSeconds", "HeartbeatSeconds"}
    | {"Credentials"},
    "Choice": frozenset({"Choices", "Default", "Output", "Assign"}),
    "Wait": _NEXT_OR_END | {"Seconds", "Timestamp", "Output", "Assign"},
    "Succeed": frozenset({"Output"}),
    "Fail": frozenset({"Error", "Cause"}),
    "Parallel": _NEXT_OR_END | _ERROR_HANDLING | {"Branches", "Arguments", "Output", "Assign"},
    "Map": _NEXT_OR_END
    | _ERROR_HANDLING
    | _MAP_COMMON
    | {"Items", "MaxConcurrency", "ToleratedFailurePercentage", "ToleratedFailureCount"}
    | {"Output", "Assign"},
}

STATE_TYPES: Final = frozenset(_JSONPATH_FIELDS)


def check_state(scope: StateScope) -> None:
    """Validate one state's fields and values (its transitions' targets are checked later)."""
    state_type = scope.body.get("Type")
    if "Type" not in scope.body:
        scope.error('Missing required field "Type"')
        return
    if not isinstance(state_type, str) or state_type not in STATE_TYPES:
        scope.error(f"The state type {show(state_type)} is not valid", "Type")
        return
    _check_fields(scope, state_type)
    _check_common_values(scope)
    if state_type not in ("Choice", "Succeed", "Fail"):
        _check_next_or_end(scope)
    _TYPE_RULES[state_type](scope)
    _check_error_handling(scope)


def _check_fields(scope: StateScope, state_type: str) -> None:
    own, other = (
        (_JSONATA_FIELDS, _JSONPATH_FIELDS)
        if scope.jsonata
        else (
            _JSONPATH_FIELDS,
            _JSONATA_FIELDS,
        )
    )
    allowed = own[state_type]
    for key in scope.body:
        if key in allowed or key in _COMMON:
            continue
        if key in other[state_type]:
            scope.error(language_message(key, scope.jsonata), key)
        else:
            scope.error(f'The field "{key}" is not supported by Step Functions', key)


def _check_common_values(scope: StateScope) -> None:
    body = scope.body
    if "Comment" in body and not isinstance(body["Comment"], str):
        scope.error('The field "Comment" must be a string', "Comment")
    if scope.jsonata:
        for key in ("Arguments", "Output"):
            if key in body:
                check_jsonata_value(scope.report, scope.at(key), body[key])
        if "Arguments" in body and not isinstance(body["Arguments"], dict | str):
            message = 'The field "Arguments" must be an object or a JSONata expression'
            scope.error(message, "Arguments")
    else:
        for key in ("InputPath", "OutputPath"):
            if key in body:
                check_path_field(scope.report, scope.at(key), key, body[key], nullable=True)
        if "ResultPath" in body:
            check_result_path(scope.report, scope.at("ResultPath"), body["ResultPath"])
        for key in ("Parameters", "ResultSelector", "Credentials"):
            if key in body:
                any_value = key != "Credentials" and body.get("Type") != "Map"
                check_payload_template(scope.report, scope.at(key), key, body[key], any_value)
    if "Assign" in body:
        check_assign(scope.report, scope.at("Assign"), body["Assign"], scope.jsonata)


def _check_next_or_end(scope: StateScope) -> None:
    body = scope.body
    has_next, end = "Next" in body, body.get("End")
    if "End" in body and not isinstance(end, bool):
        scope.error('The field "End" must be a boolean', "End")
    if has_next and not isinstance(body["Next"], str):
        scope.error('The field "Next" must be a string', "Next")
    if has_next and end is True:
        scope.error('The fields "Next" and "End" cannot both be set; "End": true ends the workflow')
    elif not has_next and end is not True:
        scope.error('Missing required field "Next" (or "End": true)')


# --- Retry and Catch --------------------------------------------------------------------
# Developer Guide, "Handling errors in Step Functions workflows"; spec, "Retrying after
# error" and "Fallback states".

_RETRIER_FIELDS: Final = frozenset(
    {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds"}
    | {"JitterStrategy", "Comment"}
)
_CATCHER_FIELDS: Final = {
    False: frozenset({"ErrorEquals", "Next", "ResultPath", "Assign", "Comment"}),
    True: frozenset({"ErrorEquals", "Next", "Output", "Assign", "Comment"}),
}


def _check_error_handling(scope: StateScope) -> None:
    for key, check in (("Retry", _check_retrier), ("Catch", _check_catcher)):
        if key not in scope.body:
            continue
        entries = scope.body[key]
        if not isinstance(entries, list):
            scope.error(f'The field "{key}" must be an array', key)
            continue
        for index, entry in enumerate(entries):
            location = scope.at(key, index)
            if not isinstance(entry, dict):
                scope.report.error(location, f'Each element of "{key}" must be an object')
                continue
            last = index == len(entries) - 1
            _check_error_equals(scope.report, location, entry, last, key)
            check(scope, location, entry)


def _check_error_equals(
    report: Report, location: str, entry: Mapping[str, JSON], last: bool, key: str
) -> None:
    errors = entry.get("ErrorEquals")
    where = join(location, "ErrorEquals")
    if "ErrorEquals" not in entry:
        report.error(location, 'Missing required field "ErrorEquals"')
    elif not (isinstance(errors, list) and errors and all(isinstance(e, str) for e in errors)):
        report.error(where, 'The field "ErrorEquals" must be a non-empty array of strings')
    elif STATES_ALL in errors and (len(errors) > 1 or not last):
        report.error(
            where,
            f'"{STATES_ALL}" must appear alone in "ErrorEquals" and only in the last '
            f'element of "{key}"',
        )


def _check_retrier(scope: StateScope, location: str, retrier: Mapping[str, JSON]) -> None:
    report = scope.report
    unknown_fields(report, location, retrier, _RETRIER_FIELDS)
    if "IntervalSeconds" in retrier:
        check_integer(
            report,
            join(location, "IntervalSeconds"),
            "IntervalSeconds",
            retrier["IntervalSeconds"],
            1,
        )
    if "MaxAttempts" in retrier:
        check_integer(
            report, join(location, "MaxAttempts"), "MaxAttempts", retrier["MaxAttempts"], 0
        )
    if "MaxDelaySeconds" in retrier:
        check_integer(
            report,
            join(location, "MaxDelaySeconds"),
            "MaxDelaySeconds",
            retrier["MaxDelaySeconds"],
            1,
            MAX_DELAY_SECONDS_LIMIT,
        )
    rate = retrier.get("BackoffRate", 2.0)
    if not is_number(rate) or rate < 1.0:
        report.error(
            join(location, "BackoffRate"),
            'The field "BackoffRate" must be a number greater than or equal to 1.0',
        )
    if retrier.get("JitterStrategy", "NONE") not in ("FULL", "NONE"):
        report.error(
            join(location, "JitterStrategy"), 'The field "JitterStrategy" must be "FULL" or "NONE"'
        )


def _check_catcher(scope: StateScope, location: str, catcher: Mapping[str, JSON]) -> None:
    report = scope.report
    unknown_fields(
        report,
        location,
        catcher,
        _CATCHER_FIELDS[scope.jsonata],
        _CATCHER_FIELDS[not scope.jsonata],
        scope.jsonata,
    )
    if "Next" not in catcher:
        report.error(location, 'Missing required field "Next"')
    elif not isinstance(catcher["Next"], str):
        report.error(join(location, "Next"), 'The field "Next" must be a string')
    if scope.jsonata and "Output" in catcher:
        check_jsonata_value(report, join(location, "Output"), catcher["Output"])
    if not scope.jsonata and "ResultPath" in catcher:
        check_result_path(report, join(location, "ResultPath"), catcher["ResultPath"])
    if "Assign" in catcher:
        check_assign(report, join(location, "Assign"), catcher["Assign"], scope.jsonata)


# --- the state types --------------------------------------------------------------------


def _check_pass(scope: StateScope) -> None:
    # Developer Guide, "Pass workflow state": Result is static data.
    if "Result" in scope.body and _has_dynamic(scope.body["Result"]):
        scope.report.warning(
            scope.at("Result"),
            "The Result of a Pass state is static: paths and '.$' fields are not evaluated",
            "PASS_RESULT_IS_STATIC",
        )


def _has_dynamic(value: JSON) -> bool:
    if isinstance(value, str):
        return looks_dynamic(value)
    if isinstance(value, dict):
        return any(key.endswith(".$") or _has_dynamic(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_dynamic(item) for item in value)
    return False


def _check_task(scope: StateScope) -> None:
    # Developer Guide, "Task workflow state"; spec: "HeartbeatSeconds ... MUST be smaller
    # than TimeoutSeconds".
    body = scope.body
    if "Resource" not in body:
        scope.error('Missing required field "Resource"')
    else:
        _check_resource(scope, body["Resource"])
    for key in ("TimeoutSeconds", "HeartbeatSeconds"):
        check_exclusive(scope, key, f"{key}Path")
        check_integer_or_jsonata(scope, key, 1)
        if f"{key}Path" in body:
            check_path_field(scope.report, scope.at(f"{key}Path"), f"{key}Path", body[f"{key}Path"])
    timeout, heartbeat = body.get("TimeoutSeconds", 0), body.get("HeartbeatSeconds", 0)
    if is_int(timeout) and is_int(heartbeat) and heartbeat >= timeout > 0:
        scope.error(
            'The field "HeartbeatSeconds" must be smaller than "TimeoutSeconds"', "HeartbeatSeconds"
        )


def _check_resource(scope: StateScope, resource: JSON) -> None:
    scheme, _, rest = resource.partition(":") if isinstance(resource, str) else ("", "", "")
    if not (scheme.isascii() and scheme[:1].isalpha() and rest):
        scope.report.error(
            scope.at("Resource"),
            f"The resource provided {show(resource)} is not recognized. "
            "The value is not a valid resource ARN or URI.",
            "INVALID_RESOURCE",
        )


def _check_wait(scope: StateScope) -> None:
    # Developer Guide, "Wait workflow state": exactly one of the four fields.
    body = scope.body
    present = check_exclusive(scope, "Seconds", "Timestamp", "SecondsPath", "TimestampPath")
    if not present:
        wanted = (
            '"Seconds" or "Timestamp"'
            if scope.jsonata
            else ('"Seconds", "Timestamp", "SecondsPath" or "TimestampPath"')
        )
        scope.error(f"Missing required field: one of {wanted}")
    check_integer_or_jsonata(scope, "Seconds", 0)
    if "Timestamp" in body:
        value = body["Timestamp"]
        if scope.jsonata and isinstance(value, str) and value.lstrip().startswith("{%"):
            check_jsonata_string(scope.report, scope.at("Timestamp"), value, required=True)
        elif not is_timestamp(value):
            scope.error("String does not match RFC3339 timestamp", "Timestamp")  # K17
    for key in ("SecondsPath", "TimestampPath"):
        if key in body:
            check_path_field(scope.report, scope.at(key), key, body[key])


def _check_succeed(scope: StateScope) -> None:
    """Succeed has no fields of its own beyond the common ones."""


def _check_fail(scope: StateScope) -> None:
    # Developer Guide, "Fail workflow state": Error/ErrorPath and Cause/CausePath exclusive.
    body = scope.body
    for key in ("Error", "Cause"):
        check_exclusive(scope, key, f"{key}Path")
        if key in body:
            value = body[key]
            if not isinstance(value, str):
                scope.error(f'The field "{key}" must be a string', key)
            elif scope.jsonata:
                check_jsonata_string(scope.report, scope.at(key), value, required=False)
            elif looks_dynamic(value):
                scope.report.warning(
                    scope.at(key),
                    f'The value of field "{key}" looks like a path, but the field name does '
                    "not end with 'Path'",
                    "NO_PATH",
                )
        if f"{key}Path" in body:
            check_path_field(
                scope.report,
                scope.at(f"{key}Path"),
                f"{key}Path",
                body[f"{key}Path"],
                intrinsic=True,
            )


def _check_parallel(scope: StateScope) -> None:
    branches = scope.body.get("Branches")
    if "Branches" not in scope.body:
        scope.error('Missing required field "Branches"')
    elif not isinstance(branches, list) or not branches:
        scope.error('The field "Branches" must be a non-empty array', "Branches")
    else:
        for index, branch in enumerate(branches):
            scope.check_graph(branch, scope.at("Branches", index), "branch")


_TYPE_RULES: Final[Mapping[str, Callable[[StateScope], None]]] = {
    "Pass": _check_pass,
    "Task": _check_task,
    "Choice": check_choice_state,
    "Wait": _check_wait,
    "Succeed": _check_succeed,
    "Fail": _check_fail,
    "Parallel": _check_parallel,
    "Map": check_map_state,
}
