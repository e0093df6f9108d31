"""Distributed Map through the Python API (``stepwell.run``): the parent's events (B5,
A5 chaining, B6 legacy Iterator), ItemReader (Developer Guide, "ItemReader (Map)"),
ItemBatcher ("ItemBatcher (Map)"), ResultWriter ("ResultWriter (Map)"), tolerated
failures and ``States.ItemReaderFailed`` (B5 messages)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import stepwell
from stepwell.engine.fanout import threshold_exceeded
from stepwell.integrations.services import Services
from stepwell.language.validation import validate_definition
from stepwell.runtime.map_items import MapRunFailure, child_inputs, parse_csv

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}


def processor(states: dict[str, Any] | None = None, key: str = "ItemProcessor") -> dict[str, Any]:
    return {
        key: {
            "ProcessorConfig": DISTRIBUTED,
            "StartAt": "P",
            "States": states or {"P": {"Type": "Pass", "End": True}},
        }
    }


def machine(**fields: Any) -> dict[str, Any]:
    key = fields.pop("key", "ItemProcessor")
    states = fields.pop("states", None)
    body = {"Type": "Map", **processor(states, key), "End": True, **fields}
    return {"StartAt": "M", "States": {"M": body}}


def reader(key: str, **config: Any) -> dict[str, Any]:
    return {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": config,
        "Parameters": {"Bucket": "data", "Key": key},
    }


@pytest.fixture
def services() -> Services:
    services = Services()
    services.s3.create_bucket(Bucket="data")
    return services


def put(services: Services, key: str, body: str) -> None:
    services.s3.put_object(Bucket="data", Key=key, Body=body)


def chain(result: stepwell.ExecutionResult) -> list[tuple[int, int, str]]:
    return [(e["id"], e["previousEventId"], e["type"]) for e in result.history]


# --------------------------------------------------------------------- B5, B6, A5


@pytest.mark.parametrize("key", ["ItemProcessor", "Iterator"])  # B6: legacy Iterator
def test_b5_parent_history_has_map_run_events_and_no_iterations(key: str) -> None:
    result = stepwell.run(machine(key=key), [1, 2, 3])
    assert result.status == "SUCCEEDED"
    assert result.output == [1, 2, 3]
    # A5: MapRunStarted <- MapStateStarted, MapRunSucceeded <- MapRunStarted,
    # MapStateSucceeded and MapStateExited <- MapRunSucceeded.
    assert chain(result) == [
        (1, 0, "ExecutionStarted"),
        (2, 0, "MapStateEntered"),  # A1
        (3, 2, "MapStateStarted"),
        (4, 3, "MapRunStarted"),
        (5, 4, "MapRunSucceeded"),
        (6, 5, "MapStateSucceeded"),
        (7, 5, "MapStateExited"),
        (8, 7, "ExecutionSucceeded"),
    ]
    assert result.history[2]["mapStateStartedEventDetails"] == {"length": 3}
    run_arn = result.history[3]["mapRunStartedEventDetails"]["mapRunArn"]
    region, account, resource, machine_label, run_id = run_arn.split(":")[3:]
    assert (region, account, resource) == ("us-east-1", "123456789012", "mapRun")
    name, label = machine_label.split("/")
    assert name == "machine" and len(label) == 36 and len(run_id) == 36


def test_express_children_have_an_express_context() -> None:
    """ProcessorConfig ExecutionType EXPRESS: Express children (G1: no RedriveCount)."""
    definition = machine(states={"P": {"Type": "Pass", "Parameters": {"e.$": "$$.Execution"},
                                       "End": True}})  # fmt: skip
    definition["States"]["M"]["ItemProcessor"]["ProcessorConfig"] = {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "EXPRESS",
    }
    result = stepwell.run(definition, [1, 2])
    contexts = [item["e"] for item in result.output]
    assert [context["Input"] for context in contexts] == [1, 2]
    assert all(":express:machine/" in context["Id"] for context in contexts)
    assert all("RedriveCount" not in context for context in contexts)
    assert contexts[0]["Name"] == contexts[0]["Id"].split(":")[7]


def test_b5_a_label_names_the_map_run() -> None:
    result = stepwell.run(machine(Label="Rows"), [1])
    run_arn = result.history[3]["mapRunStartedEventDetails"]["mapRunArn"]
    assert ":mapRun:machine/Rows:" in run_arn


def test_b6_iterator_processor_config_is_valid() -> None:
    diagnostics = validate_definition(json.dumps(machine(key="Iterator")))
    assert [d for d in diagnostics if d.severity == "ERROR"] == []


def test_items_path_and_item_selector_with_the_map_context() -> None:
    definition = machine(
        ItemsPath="$.rows",
        ItemSelector={"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "k.$": "$.k"},
    )
    result = stepwell.run(definition, {"rows": ["a", "b"], "k": 7})
    assert result.output == [
        {"value": "a", "index": 0, "k": 7},
        {"value": "b", "index": 1, "k": 7},
    ]


def test_jsonata_distributed_map() -> None:
    definition = machine(Items="{% $states.input.xs %}", QueryLanguage="JSONata")
    definition["QueryLanguage"] = "JSONata"
    del definition["States"]["M"]["QueryLanguage"]
    result = stepwell.run(definition, {"xs": [4, 5]})
    assert result.status == "SUCCEEDED" and result.output == [4, 5]


# --------------------------------------------------------------------- ItemReader


@pytest.mark.parametrize(
    ("body", "config", "items"),
    [
        (
            "id,name\n1,a\n2,b\n",
            {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
            [
                {"id": "1", "name": "a"},
                {"id": "2", "name": "b"},
            ],
        ),
        (
            "1;a\n",
            {
                "InputType": "CSV",
                "CSVHeaderLocation": "GIVEN",
                "CSVHeaders": ["x", "y"],
                "CSVDelimiter": "SEMICOLON",
            },
            [{"x": "1", "y": "a"}],
        ),
        ('[{"a": 1}, 2]', {"InputType": "JSON"}, [{"a": 1}, 2]),
        ("[1, 2, 3]", {}, [1, 2, 3]),
        ('{"a": 1}\n\n{"a": 2}\n', {"InputType": "JSONL"}, [{"a": 1}, {"a": 2}]),
        ("[1, 2, 3]", {"InputType": "JSON", "MaxItems": 2}, [1, 2]),
        # "ItemReader (Map)": ReaderConfig.ItemsPointer, a JSON Pointer (RFC 6901) to the
        # array inside a JSON object
        ('{"data": {"items": [1, 2]}}', {"InputType": "JSON", "ItemsPointer": "/data/items"},
         [1, 2]),
        ('{"a/b": [{"~": 1}]}', {"InputType": "JSON", "ItemsPointer": "/a~1b"}, [{"~": 1}]),
        ('{"xs": [[5, 6]]}', {"InputType": "JSON", "ItemsPointer": "/xs/0"}, [5, 6]),
    ],
)  # fmt: skip
def test_item_reader_get_object(
    services: Services, body: str, config: dict[str, Any], items: list[Any]
) -> None:
    put(services, "in", body)
    result = stepwell.run(machine(ItemReader=reader("in", **config)), services=services)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == items
    assert result.history[2]["mapStateStartedEventDetails"] == {"length": len(items)}


def test_item_reader_max_items_path(services: Services) -> None:
    put(services, "in", "[1, 2, 3]")
    item_reader = reader("in", InputType="JSON", MaxItemsPath="$.n")
    result = stepwell.run(machine(ItemReader=item_reader), {"n": 1}, services=services)
    assert result.output == [1]


def test_item_reader_list_objects_v2(services: Services) -> None:
    for key in ("logs/a", "logs/b", "other"):
        put(services, key, "x" * len(key))
    item_reader = {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": "data", "Prefix": "logs/"},
    }
    result = stepwell.run(machine(ItemReader=item_reader), services=services)
    assert [(i["Key"], i["Size"]) for i in result.output] == [("logs/a", 6), ("logs/b", 6)]
    assert set(result.output[0]) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
    assert isinstance(result.output[0]["LastModified"], int)


def test_item_reader_list_objects_v2_pages(services: Services) -> None:
    for index in range(5):
        put(services, f"k{index}", "x")
    item_reader = {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": "data", "MaxKeys": 2},
    }
    result = stepwell.run(machine(ItemReader=item_reader), services=services)
    assert [i["Key"] for i in result.output] == [f"k{i}" for i in range(5)]


@pytest.mark.parametrize(
    ("body", "config", "cause"),
    [
        ("a,a\n1,2\n", {"InputType": "CSV"}, "CSV headers cannot contain duplicates."),
        ('{"a": 1}', {"InputType": "JSON"}, "Attempting to map over non-iterable node."),
        ("[1]", {"InputType": "JSON", "MaxItems": 0}, "field MaxItems must be positive"),
    ],
)
def test_b5_item_reader_failed(
    services: Services, body: str, config: dict[str, Any], cause: str
) -> None:
    put(services, "in", body)
    result = stepwell.run(machine(ItemReader=reader("in", **config)), services=services)
    assert (result.status, result.error, result.cause) == (
        "FAILED",
        "States.ItemReaderFailed",
        cause,
    )
    types = [t for _, _, t in chain(result)]
    assert types == [
        "ExecutionStarted",
        "MapStateEntered",
        "MapStateStarted",
        "MapRunStarted",
        "MapRunFailed",
        "MapStateFailed",
        "ExecutionFailed",
    ]
    assert result.history[4]["mapRunFailedEventDetails"] == {
        "error": "States.ItemReaderFailed",
        "cause": cause,
    }


def test_item_reader_missing_object_fails_the_reader(services: Services) -> None:
    result = stepwell.run(machine(ItemReader=reader("missing")), services=services)
    assert result.error == "States.ItemReaderFailed"
    assert "NoSuchKey" in (result.cause or "")


# "How Step Functions parses input CSV files": its rules, and its example.
GUIDE_ROW = ('abc,123,"This string contains commas, a double quotation marks (""), and a '
             'newline (\n)",{""MyKey"":""MyValue""},"[1,2,3]"')  # fmt: skip


@pytest.mark.parametrize(
    ("body", "config", "rows"),
    [
        # fewer fields than headers: empty strings; more: the extra ones are skipped
        ("a,b\n1\n\n1,2,3\n", {}, [{"a": "1", "b": ""}, {"a": "1", "b": "2"}]),
        # quoted delimiters, newlines and doubled quotes
        ('a,b\n"x,y","p\r\nq"\n"say ""hi""",z\r\n', {},
         [{"a": "x,y", "b": "p\r\nq"}, {"a": 'say "hi"', "b": "z"}]),
        # backslashes escape backslashes, quotes and the delimiter; before others, vanish
        ("path,size\nC:\\\\Program Files\\\\MyApp.exe,6534512\n", {},
         [{"path": "C:\\Program Files\\MyApp.exe", "size": "6534512"}]),
        ("a|b\nx\\|y|\\q\n", {"CSVDelimiter": "PIPE"}, [{"a": "x|y", "b": "q"}]),
        ('a,b\n\\"x,""\n', {}, [{"a": '"x', "b": ""}]),
        (GUIDE_ROW,
         {"CSVHeaderLocation": "GIVEN",
          "CSVHeaders": ["MyLetters", "MyNumbers", "MyString", "MyObject", "MyArray"]},
         [{"MyLetters": "abc", "MyNumbers": "123",
           "MyString": 'This string contains commas, a double quotation marks ("), and a '
                       "newline (\n)",
           "MyObject": '{"MyKey":"MyValue"}', "MyArray": "[1,2,3]"}]),
    ],
)  # fmt: skip
def test_csv_is_parsed_by_the_guides_rules(
    body: str, config: dict[str, Any], rows: list[dict[str, str]]
) -> None:
    assert parse_csv(body, config) == rows


def test_given_csv_headers_must_be_an_array() -> None:
    """Developer Guide, "ItemReader (Map)": ``CSVHeaders`` is an array of column names;
    a string is refused as such, not read letter by letter as headers with duplicates."""
    with pytest.raises(MapRunFailure) as raised:
        parse_csv("1,2", {"CSVHeaderLocation": "GIVEN", "CSVHeaders": "ab,ab"})
    assert raised.value.error == "States.ItemReaderFailed"
    assert raised.value.cause.startswith("The field 'CSVHeaders' must be an array of strings")


def test_the_guides_csv_example_runs(services: Services) -> None:
    put(services, "in.csv", GUIDE_ROW)
    item_reader = reader(
        "in.csv",
        InputType="CSV",
        CSVHeaderLocation="GIVEN",
        CSVHeaders=["MyLetters", "MyNumbers", "MyString", "MyObject", "MyArray"],
    )
    selector = {
        "MyLetters.$": "$$.Map.Item.Value.MyLetters",
        "MyNumbers.$": "States.StringToJson($$.Map.Item.Value.MyNumbers)",
        "MyString.$": "$$.Map.Item.Value.MyString",
        "MyObject.$": "States.StringToJson($$.Map.Item.Value.MyObject)",
        "MyArray.$": "States.StringToJson($$.Map.Item.Value.MyArray)",
    }
    result = stepwell.run(machine(ItemReader=item_reader, ItemSelector=selector),
                          services=services)  # fmt: skip
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == [
        {
            "MyLetters": "abc",
            "MyNumbers": 123,
            "MyString": 'This string contains commas, a double quotation marks ("), and a '
            "newline (\n)",
            "MyObject": {"MyKey": "MyValue"},
            "MyArray": [1, 2, 3],
        }
    ]


# --------------------------------------------------------------------- ItemBatcher


@pytest.mark.parametrize(
    ("batcher", "sizes"),
    [
        ({"MaxItemsPerBatch": 2}, [2, 2, 1]),
        ({"MaxItemsPerBatch": 10}, [5]),
        ({"MaxInputBytesPerBatch": 16}, [2, 2, 1]),  # {"Items":[1,2]} is 15 bytes
        ({"MaxItemsPerBatch": 1, "MaxInputBytesPerBatch": 1000}, [1, 1, 1, 1, 1]),
    ],
)
def test_item_batcher_sizes(batcher: dict[str, Any], sizes: list[int]) -> None:
    batches = child_inputs([1, 2, 3, 4, 5], {"batcher": batcher})
    assert [n for _, n in batches] == sizes
    assert [item for batch, _ in batches for item in batch["Items"]] == [1, 2, 3, 4, 5]


def test_item_batcher_keeps_batches_within_256_kib_by_default() -> None:
    """ "ItemBatcher (Map)": without a maximum batch size, "as many items it can process up
    to 256 KiB in each child workflow execution"; a larger MaxInputBytesPerBatch is capped
    there too ("the maximum size of a batch in bytes, up to 256 KiB")."""
    item = "x" * 1000  # 1,002 bytes of JSON each
    for batcher in ({"MaxItemsPerBatch": 1000}, {"MaxInputBytesPerBatch": 10_000_000}):
        batches = child_inputs([item] * 600, {"batcher": batcher})
        assert [n for _, n in batches] == [261, 261, 78]
        for batch, _ in batches:
            assert len(json.dumps(batch, separators=(",", ":"))) <= 256 * 1024


def test_item_batcher_sizes_count_the_batch_input() -> None:
    spec = {"batcher": {"MaxInputBytesPerBatch": 40}, "has_batch_input": True,
            "batch_input": {"k": "v"}}  # fmt: skip
    batches = child_inputs([1, 22, 333, 4, 55], spec)  # {"BatchInput":{"k":"v"},"Items":[]}: 35
    assert [batch["Items"] for batch, _ in batches] == [[1, 22], [333, 4], [55]]
    sizes = [len(json.dumps(batch, separators=(",", ":"))) for batch, _ in batches]
    assert sizes == [39, 40, 37]


def test_item_batcher_batch_input_reaches_each_child() -> None:
    definition = machine(
        ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"run.$": "$.run"}},
        ItemsPath="$.xs",
    )
    result = stepwell.run(definition, {"run": "r1", "xs": [1, 2, 3]})
    assert result.output == [
        {"BatchInput": {"run": "r1"}, "Items": [1, 2]},
        {"BatchInput": {"run": "r1"}, "Items": [3]},
    ]
    assert result.history[2]["mapStateStartedEventDetails"] == {"length": 3}


# --------------------------------------------------------------------- failures


def failing(event: Any) -> Any:
    if event < 0:
        raise ValueError("negative")
    return event * 10


TASK = {"P": {"Type": "Task", "Resource": FN + "failing", "End": True}}


@pytest.mark.parametrize(
    ("fields", "items", "status"),
    [
        ({}, [1, -1], "FAILED"),
        ({"ToleratedFailureCount": 1}, [1, -1, 2], "SUCCEEDED"),
        ({"ToleratedFailureCount": 1}, [-1, -2, 2], "FAILED"),
        ({"ToleratedFailurePercentage": 50}, [-1, 2], "SUCCEEDED"),
        ({"ToleratedFailurePercentage": 49}, [-1, 2], "FAILED"),
    ],
)
def test_tolerated_failures(fields: dict[str, Any], items: list[int], status: str) -> None:
    result = stepwell.run(machine(states=TASK, **fields), items, functions={"failing": failing})
    assert result.status == status
    if status == "FAILED":
        assert result.error == "States.ExceedToleratedFailureThreshold"
        assert result.cause == "The specified tolerated failure threshold was exceeded"
        assert [t for _, _, t in chain(result)][-3:] == [
            "MapRunFailed",
            "MapStateFailed",
            "ExecutionFailed",
        ]
    else:
        failed = [r for r in result.output if isinstance(r, dict)]
        assert failed and failed[0]["Error"] == "ValueError"


def test_a_failed_map_run_is_caught() -> None:
    definition = machine(states=TASK)
    body = definition["States"]["M"]
    del body["End"]
    body["Next"] = "Done"
    body["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "Done"}]
    definition["States"]["Done"] = {"Type": "Pass", "End": True}
    result = stepwell.run(definition, [-1], functions={"failing": failing})
    assert result.status == "SUCCEEDED"
    assert result.output["Error"] == "States.ExceedToleratedFailureThreshold"
    # (B1's MapStateExited after a Catch is the interpreter's, as for any Map.)
    assert [t for _, _, t in chain(result)][4:6] == ["MapRunFailed", "MapStateFailed"]


@pytest.mark.parametrize(
    ("failed", "total", "count", "percentage", "exceeded"),
    [
        (0, 5, None, None, False),
        (1, 5, None, None, True),
        (2, 5, 2, None, False),
        (3, 5, 2, None, True),
        (1, 4, None, 25, False),
        (2, 4, None, 25, True),
        (1, 0, None, 10, True),
    ],
)
def test_threshold(
    failed: int, total: int, count: int | None, percentage: float | None, exceeded: bool
) -> None:
    assert threshold_exceeded(failed, total, count, percentage) is exceeded


# --------------------------------------------------------------------- ResultWriter


def read_json(services: Services, key: str) -> Any:
    return json.loads(services.s3.get_object(Bucket="data", Key=key)["Body"].read())


def test_result_writer_writes_manifest_and_result_files(services: Services) -> None:
    writer = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "data", "Prefix": "results"},
    }
    definition = machine(states=TASK, ResultWriter=writer, ToleratedFailureCount=5)
    result = stepwell.run(definition, [1, -1, 2], functions={"failing": failing}, services=services)
    assert result.status == "SUCCEEDED"
    run_arn = result.output["MapRunArn"]
    run_id = run_arn.rsplit(":", 1)[-1]
    assert result.output == {
        "MapRunArn": run_arn,
        "ResultWriterDetails": {"Bucket": "data", "Key": f"results/{run_id}/manifest.json"},
    }
    manifest = read_json(services, f"results/{run_id}/manifest.json")
    assert manifest["DestinationBucket"] == "data" and manifest["MapRunArn"] == run_arn
    files = manifest["ResultFiles"]
    assert files["PENDING"] == []
    assert [f["Key"] for f in files["SUCCEEDED"]] == [f"results/{run_id}/SUCCEEDED_0.json"]
    assert [f["Key"] for f in files["FAILED"]] == [f"results/{run_id}/FAILED_0.json"]
    succeeded = read_json(services, files["SUCCEEDED"][0]["Key"])
    assert [json.loads(e["Output"]) for e in succeeded] == [10, 20]
    assert [e["Input"] for e in succeeded] == ["1", "2"]
    assert {e["Status"] for e in succeeded} == {"SUCCEEDED"}
    assert files["SUCCEEDED"][0]["Size"] == len(
        services.s3.get_object(Bucket="data", Key=files["SUCCEEDED"][0]["Key"])["Body"].read()
    )
    [failure] = read_json(services, files["FAILED"][0]["Key"])
    assert failure["Status"] == "FAILED" and failure["Error"] == "ValueError"
    assert ":execution:machine/" in failure["ExecutionArn"]
    assert failure["StateMachineArn"] == failure["ExecutionArn"].rsplit(":", 1)[0].replace(
        ":execution:", ":stateMachine:"
    )


def test_result_writer_to_a_missing_bucket_fails_the_run() -> None:
    writer = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "nobucket", "Prefix": "p"},
    }
    result = stepwell.run(machine(ResultWriter=writer), [1])
    assert result.error == "States.ResultWriterFailed"
    assert "NoSuchBucket" in (result.cause or "")


# --------------------------------------------------------------------- field errors


PREFIX = "An error occurred while executing the state 'M' (entered at the event id #2). "
BEFORE_START = ["ExecutionStarted", "MapStateEntered", "ExecutionFailed"]
AFTER_START = ["ExecutionStarted", "MapStateEntered", "MapStateStarted", "ExecutionFailed"]


def read(path_field: str) -> dict[str, str]:
    """The Map reads ``path_field`` at ``$.n`` and its items at ``$.xs``."""
    return {path_field: "$.n", "ItemsPath": "$.xs"}


def n(value: Any) -> dict[str, Any]:
    return {"n": value, "xs": [1, 2]}


@pytest.mark.parametrize(
    ("fields", "given", "cause", "types"),
    [
        # D5: no Items field and an input that is not an array
        ({}, {"not": "a list"}, 'Map state input must be an array but was: {"not":"a list"}',
         BEFORE_START),
        ({"ItemsPath": "$.xs"}, {"xs": 1},
         "Invalid path '$.xs': The path must point to a JSON array but was: 1", BEFORE_START),
        # D3 wording; B4: MaxConcurrencyPath read before MapStateStarted ...
        (read("MaxConcurrencyPath"), n("NoNumber"),
         'The MaxConcurrencyPath field refers to value "NoNumber" which is not a valid '
         "integer: $.n", BEFORE_START),
        # ... the tolerated-failure paths after it, and no MapStateFailed (States.Runtime)
        (read("ToleratedFailureCountPath"), n("NoNumber"),
         'The ToleratedFailureCountPath field refers to value "NoNumber" which is not a '
         "valid integer: $.n", AFTER_START),
        (read("ToleratedFailureCountPath"), n({}),
         'The ToleratedFailureCountPath field refers to value "{}" which is not a valid '
         "integer: $.n", AFTER_START),
        (read("ToleratedFailureCountPath"), n(-1),
         "ToleratedFailureCount cannot be negative.", AFTER_START),
        (read("ToleratedFailurePercentagePath"), n("NoNumber"),
         'The ToleratedFailurePercentagePath field refers to value "NoNumber" which is not '
         "a valid float: $.n", AFTER_START),
        (read("ToleratedFailurePercentagePath"), n(-1.1),
         "ToleratedFailurePercentage must be between 0 and 100.", AFTER_START),
        (read("ToleratedFailurePercentagePath"), n(100.1),
         "ToleratedFailurePercentage must be between 0 and 100.", AFTER_START),
    ],
)  # fmt: skip
def test_b4_d3_d5_field_errors_fail_the_state_as_inline_maps_do(
    fields: dict[str, Any], given: Any, cause: str, types: list[str]
) -> None:
    result = stepwell.run(machine(**fields), given)
    assert (result.status, result.error, result.cause) == ("FAILED", "States.Runtime",
                                                           PREFIX + cause)  # fmt: skip
    assert [t for _, _, t in chain(result)] == types
    if "MapStateStarted" in types:
        assert result.history[2]["mapStateStartedEventDetails"] == {"length": 2}


@pytest.mark.parametrize("accepted", [0, 1, 1.1, 100])
def test_d3_tolerated_percentages_from_0_to_100_are_accepted(accepted: float) -> None:
    result = stepwell.run(machine(ToleratedFailurePercentagePath="$.p", ItemsPath="$.xs"),
                          {"p": accepted, "xs": [1]})  # fmt: skip
    assert result.status == "SUCCEEDED", result.cause


@pytest.mark.parametrize(
    ("items", "cause"),
    [
        ("{% 'string' %}", "The JSONata expression ''string'' specified for the field 'Items' "
         "returned an unexpected result type. Expected 'array', but was 'string' for value: "
         '"string"'),
        ("{% {'foo': 'bar'} %}", "The JSONata expression '{'foo': 'bar'}' specified for the "
         "field 'Items' returned an unexpected result type. Expected 'array', but was "
         """'object' for value: {"foo":"bar"}"""),
        ("{% null %}", "The JSONata expression 'null' specified for the field 'Items' returned "
         "an unexpected result type. Expected 'array', but was 'null' for value: null"),
    ],
)  # fmt: skip
def test_d5_jsonata_items_not_an_array(items: str, cause: str) -> None:
    definition = machine(Items=items)
    definition["QueryLanguage"] = "JSONata"
    result = stepwell.run(definition, {})
    assert (result.error, result.cause) == ("States.QueryEvaluationError", PREFIX + cause)
    assert [t for _, _, t in chain(result)] == [  # B3
        "ExecutionStarted",
        "MapStateEntered",
        "EvaluationFailed",
        "MapStateFailed",
        "ExecutionFailed",
    ]
    details = result.history[2]["evaluationFailedEventDetails"]
    assert (details["location"], details["cause"]) == ("Items", PREFIX + cause)


@pytest.mark.parametrize(
    ("body", "config", "cause_part"),
    [
        ("{not json\n", {"InputType": "JSONL"}, "Invalid JSON line"),
        ("[1,", {"InputType": "JSON"}, "Invalid JSON"),
        ("x", {"InputType": "PARQUET"}, "InputType PARQUET is not supported: "),
        ('{"a": 1}', {"InputType": "JSON"}, "Attempting to map over non-iterable node."),
        ('{"a": 1}', {"InputType": "JSON", "ItemsPointer": "/a"},
         "Attempting to map over non-iterable node."),
        ('{"a": 1}', {"InputType": "JSON", "ItemsPointer": "/b"},
         "The ItemsPointer '/b' does not point to a value in the JSON object."),
        ('{"a": 1}', {"InputType": "JSON", "ItemsPointer": "a"},
         "The ItemsPointer 'a' is not a valid JSON Pointer."),
    ],
)  # fmt: skip
def test_item_reader_bad_objects(
    services: Services, body: str, config: dict[str, Any], cause_part: str
) -> None:
    put(services, "in", body)
    result = stepwell.run(machine(ItemReader=reader("in", **config)), services=services)
    assert result.error == "States.ItemReaderFailed"
    assert cause_part in (result.cause or "")


def test_an_unknown_item_reader_resource_fails_the_reader(services: Services) -> None:
    item_reader = {"Resource": "arn:aws:states:::s3:headObject", "Parameters": {}}
    result = stepwell.run(machine(ItemReader=item_reader), services=services)
    assert result.error == "States.ItemReaderFailed"
    assert "arn:aws:states:::s3:headObject" in (result.cause or "")


# ----------------------------------------------------------- ResultWriter.WriterConfig
# Developer Guide, "ResultWriter (Map)": Transformation NONE (outputs with the execution
# metadata; the default when exporting to S3), COMPACT (the outputs; the default without a
# ResultWriter), FLATTEN (the outputs, arrays flattened); a failed child's result stays as
# NONE gives it. OutputType JSON (an array) or JSONL (JSON Lines). WriterConfig alone
# previews the formatted results as the state's output, without writing to S3.

LISTING = {"P": {"Type": "Pass", "Parameters": {"xs.$": "States.Array($, $)"},
                 "OutputPath": "$.xs", "End": True}}  # fmt: skip


@pytest.mark.parametrize(
    ("config", "output"),
    [
        ({"Transformation": "COMPACT"}, [[1, 1], [2, 2]]),
        ({"Transformation": "FLATTEN", "OutputType": "JSON"}, [1, 1, 2, 2]),
        ({"OutputType": "JSON"}, [[1, 1], [2, 2]]),
    ],
)
def test_writer_config_alone_previews_the_results(config: dict[str, Any], output: Any) -> None:
    definition = machine(states=LISTING, ResultWriter={"WriterConfig": config})
    result = stepwell.run(definition, [1, 2])
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == output


def test_writer_config_none_previews_the_results_with_their_metadata() -> None:
    definition = machine(ResultWriter={"WriterConfig": {"Transformation": "NONE"}})
    result = stepwell.run(definition, [1, 2])
    assert [entry["Output"] for entry in result.output] == ["1", "2"]
    assert {entry["Status"] for entry in result.output} == {"SUCCEEDED"}


def test_none_entries_have_the_guides_fields_in_its_order() -> None:
    """ "ResultWriter (Map)", Transformation NONE: each entry as the guide shows it, with
    ``RedriveStatusReason`` for a child that succeeded."""
    definition = machine(states=TASK, ResultWriter={"WriterConfig": {"Transformation": "NONE"}},
                         ToleratedFailureCount=1)  # fmt: skip
    result = stepwell.run(definition, [1, -1], functions={"failing": failing})
    succeeded, failed = result.output
    assert list(succeeded) == [
        "ExecutionArn", "Input", "InputDetails", "Name", "Output", "OutputDetails",
        "RedriveCount", "RedriveStatus", "RedriveStatusReason", "StartDate",
        "StateMachineArn", "Status", "StopDate",
    ]  # fmt: skip
    assert (succeeded["RedriveCount"], succeeded["RedriveStatus"]) == (0, "NOT_REDRIVABLE")
    assert succeeded["RedriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    assert (failed["Status"], failed["RedriveStatus"]) == ("FAILED", "REDRIVABLE")
    assert "RedriveStatusReason" not in failed


def test_a_failed_child_keeps_its_metadata_when_flattened() -> None:
    definition = machine(
        states=TASK,
        ResultWriter={"WriterConfig": {"Transformation": "FLATTEN"}},
        ToleratedFailureCount=1,
    )
    result = stepwell.run(definition, [1, -1], functions={"failing": failing})
    assert result.output[0] == 10
    assert (result.output[1]["Status"], result.output[1]["Error"]) == ("FAILED", "ValueError")


def exported(services: Services, config: dict[str, Any], items: list[Any]) -> tuple[Any, Any]:
    writer = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "data", "Prefix": "out"},
        "WriterConfig": config,
    }
    definition = machine(states=LISTING, ResultWriter=writer)
    result = stepwell.run(definition, items, services=services)
    assert result.status == "SUCCEEDED", result.cause
    manifest = read_json(services, result.output["ResultWriterDetails"]["Key"])
    (succeeded,) = manifest["ResultFiles"]["SUCCEEDED"]
    body = services.s3.get_object(Bucket="data", Key=succeeded["Key"])["Body"].read()
    return succeeded["Key"], body.decode()


def test_exported_flatten_as_json_lines(services: Services) -> None:
    key, body = exported(services, {"Transformation": "FLATTEN", "OutputType": "JSONL"}, [1, 2])
    assert key.endswith("/SUCCEEDED_0.jsonl")
    assert [json.loads(line) for line in body.splitlines()] == [1, 1, 2, 2]


def test_exported_compact_as_a_json_array(services: Services) -> None:
    key, body = exported(services, {"Transformation": "COMPACT"}, [1, 2])
    assert key.endswith("/SUCCEEDED_0.json")
    assert json.loads(body) == [[1, 1], [2, 2]]


def test_exported_none_is_the_default_with_a_writer_config(services: Services) -> None:
    _, body = exported(services, {"OutputType": "JSONL"}, [1])
    (entry,) = [json.loads(line) for line in body.splitlines()]
    assert (json.loads(entry["Output"]), entry["Status"]) == ([1, 1], "SUCCEEDED")


@pytest.mark.parametrize(
    "batcher", [None, {"MaxItemsPerBatch": 2}, {"MaxInputBytesPerBatch": 1000}]
)
def test_items_beyond_64_bits_are_batched_and_kept(batcher: dict[str, int] | None) -> None:
    """An item orjson cannot write (an integer past 64 bits) is sized, batched and passed
    to its child execution like any other, as the inline Map does."""
    big = 123456789012345678901234567890
    state: dict[str, Any] = {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": True}},
        },
        "End": True,
    }
    if batcher is not None:
        state["ItemBatcher"] = batcher
    result = stepwell.run({"StartAt": "M", "States": {"M": state}}, [1, big])
    assert result.status == "SUCCEEDED"
    assert result.output == ([1, big] if batcher is None else [{"Items": [1, big]}])
