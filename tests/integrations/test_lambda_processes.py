"""Functions run as Lambda runs them: a process of their own, Lambda's environment, the
function's timeout enforced (``Sandbox.Timedout``), crashes contained
(``Runtime.ExitError``), errors in Lambda's error payload, logs prefixed."""

from __future__ import annotations

import json
import shutil
import threading
import types
from pathlib import Path

import pytest

from stepwell.integrations.functions import TaskError
from stepwell.integrations.lambda_runtime import FunctionSpec, ProcessFunction

HANDLERS = """
import os, sys, time

def echo(event, context):
    print("hello from", context.function_name)
    return {"event": event, "request": context.aws_request_id,
            "remaining": context.get_remaining_time_in_millis() > 0,
            "env": {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_REGION", "COLOUR",
                    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE")},
            "pid": os.getpid()}

def fail(event, context):
    raise ValueError("bad input")

def slow(event, context):
    time.sleep(30)

def crash(event, context):
    os._exit(3)

def unmarshallable(event, context):
    return {1, 2}
"""


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / "handlers.py").write_text(HANDLERS)
    return tmp_path


def function(code: Path, handler: str, lines: list[str], timeout: float = 10) -> ProcessFunction:
    spec = FunctionSpec(
        name="fn",
        runtime="python3.11",
        handler=handler,
        code=code,
        environment={"COLOUR": "blue"},
        timeout=timeout,
        memory=256,
        region="eu-west-1",
    )
    return ProcessFunction(
        spec, "http://127.0.0.1:9", lambda name, line: lines.append(f"{name} | {line}")
    )


def context(request_id: str = "req-1") -> object:
    return types.SimpleNamespace(aws_request_id=request_id)


def test_a_function_runs_in_its_own_process_with_lambdas_environment(code: Path) -> None:
    lines: list[str] = []
    echo = function(code, "handlers.echo", lines)
    try:
        first = echo({"n": 1}, context("req-1"))
        second = echo({"n": 2}, context("req-2"))
    finally:
        echo.close()
    assert first["event"] == {"n": 1} and first["request"] == "req-1" and first["remaining"]
    assert first["env"] == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_REGION": "eu-west-1",
        "COLOUR": "blue",
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    }
    assert first["pid"] == second["pid"]  # warm: the process is reused
    assert "fn | hello from fn" in lines


def test_a_function_error_is_lambdas_error_payload(code: Path) -> None:
    failing = function(code, "handlers.fail", [])
    try:
        with pytest.raises(TaskError) as raised:
            failing({}, context("r-9"))
    finally:
        failing.close()
    assert raised.value.error == "ValueError"
    payload = json.loads(raised.value.cause)
    assert payload["errorMessage"] == "bad input"
    assert payload["errorType"] == "ValueError"
    assert payload["requestId"] == "r-9"
    assert any("raise ValueError" in frame for frame in payload["stackTrace"])


def test_the_timeout_kills_the_process_and_fails_with_sandbox_timedout(code: Path) -> None:
    slow = function(code, "handlers.slow", [], timeout=0.3)
    try:
        with pytest.raises(TaskError) as raised:
            slow({}, context("r-1"))
    finally:
        slow.close()
    assert raised.value.error == "Sandbox.Timedout"
    assert json.loads(raised.value.cause) == {
        "errorMessage": "RequestId: r-1 Error: Task timed out after 0.30 seconds",
        "errorType": "Sandbox.Timedout",
    }


def test_a_crash_fails_one_invocation_and_the_next_gets_a_new_process(code: Path) -> None:
    spec_dir = code
    (spec_dir / "flaky.py").write_text(
        "import os\nfrom pathlib import Path\n"
        "def handler(event, context):\n"
        "    if event.get('crash'):\n        os._exit(3)\n"
        "    return os.getpid()\n"
    )
    flaky = function(spec_dir, "flaky.handler", [])
    try:
        before = flaky({}, context())
        with pytest.raises(TaskError) as raised:
            flaky({"crash": True}, context("r-2"))
        after = flaky({}, context())
    finally:
        flaky.close()
    assert raised.value.error == "Runtime.ExitError"
    assert "Runtime exited with error: exit status 3" in raised.value.cause
    assert before != after


@pytest.mark.parametrize(
    ("handler", "error", "message"),
    [
        ("missing_module.handler", "Runtime.ImportModuleError", "Unable to import module"),
        ("handlers.absent", "Runtime.HandlerNotFound", "Handler 'absent' missing on module"),
        ("handlers.unmarshallable", "Runtime.MarshalError", "Unable to marshal response"),
    ],
)
def test_handler_problems_are_the_runtime_errors_lambda_reports(
    code: Path, handler: str, error: str, message: str
) -> None:
    broken = function(code, handler, [])
    try:
        with pytest.raises(TaskError) as raised:
            broken({}, context())
    finally:
        broken.close()
    assert raised.value.error == error
    assert message in json.loads(raised.value.cause)["errorMessage"]


def test_concurrent_invocations_get_processes_of_their_own(code: Path) -> None:
    # Each invocation waits until three are running at once: only separate processes
    # can get there (one process would wait for ever, and time out).
    (code / "wait.py").write_text(
        "import os, time\n"
        "def handler(event, context):\n"
        "    open(os.path.join(event['dir'], str(os.getpid())), 'w').close()\n"
        "    while len(os.listdir(event['dir'])) < 3:\n"
        "        time.sleep(0.01)\n"
        "    return os.getpid()\n"
    )
    meeting = code / "meeting"
    meeting.mkdir()
    waiting = function(code, "wait.handler", [])
    pids: list[int] = []
    event = {"dir": str(meeting)}
    threads = [
        threading.Thread(target=lambda: pids.append(waiting(event, context()))) for _ in range(3)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        waiting.close()
    assert len(set(pids)) == 3


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js functions need node on PATH")
def test_a_nodejs_function_runs_with_the_same_contract(tmp_path: Path) -> None:
    (tmp_path / "app.js").write_text(
        "exports.handler = async (event, context) => ({got: event, name: context.functionName,"
        " colour: process.env.COLOUR});\n"
        "exports.fails = async () => {\n"
        "  const e = new Error('nope'); e.name = 'Custom'; throw e;\n};\n"
        "exports.callback = (event, context, done) => done(null, 'called back');\n"
    )
    lines: list[str] = []
    spec = FunctionSpec("nodefn", "nodejs20.x", "app.handler", tmp_path, {"COLOUR": "red"})
    node = ProcessFunction(spec, "http://127.0.0.1:9", lambda n, line: lines.append(line))
    failing = ProcessFunction(
        FunctionSpec("nodefn", "nodejs20.x", "app.fails", tmp_path), "http://127.0.0.1:9"
    )
    callback = ProcessFunction(
        FunctionSpec("nodefn", "nodejs20.x", "app.callback", tmp_path), "http://127.0.0.1:9"
    )
    try:
        assert node({"a": 1}, context()) == {"got": {"a": 1}, "name": "nodefn", "colour": "red"}
        with pytest.raises(TaskError) as raised:
            failing({}, context())
        assert callback({}, context()) == "called back"
    finally:
        node.close()
        failing.close()
        callback.close()
    assert raised.value.error == "Custom"
    assert json.loads(raised.value.cause)["errorMessage"] == "nope"


def test_unsupported_runtimes_are_refused(code: Path) -> None:
    with pytest.raises(ValueError, match="runtime java17 is not supported"):
        ProcessFunction(FunctionSpec("f", "java17", "a.b", code), "http://x")


def test_an_invocations_output_comes_back_to_the_caller_who_asks(tmp_path: Path) -> None:
    # For the Lambda API's LogType Tail: what this invocation printed, stdout and stderr
    # in the order written, and nothing of the previous invocation.
    (tmp_path / "talk.py").write_text(
        "import sys\n"
        "def handler(event, context):\n"
        "    print('out', event)\n"
        "    print('err', event, file=sys.stderr)\n"
        "    return event\n"
    )
    talk = function(tmp_path, "talk.handler", [])
    first: list[str] = []
    second: list[str] = []
    try:
        talk(1, types.SimpleNamespace(aws_request_id="a", log_lines=first))
        talk(2, types.SimpleNamespace(aws_request_id="b", log_lines=second))
        talk(3, context())  # nobody asked: nothing kept anywhere
    finally:
        talk.close()
    assert first == ["out 1", "err 1"]
    assert second == ["out 2", "err 2"]


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js functions need node on PATH")
def test_a_nodejs_invocations_output_comes_back_too(tmp_path: Path) -> None:
    (tmp_path / "talk.js").write_text(
        "exports.handler = async (event) => { console.log('out', event);"
        " console.error('err', event); return event; };\n"
    )
    talk = ProcessFunction(
        FunctionSpec("talk", "nodejs20.x", "talk.handler", tmp_path), "http://127.0.0.1:9"
    )
    lines: list[str] = []
    try:
        assert talk(5, types.SimpleNamespace(aws_request_id="a", log_lines=lines)) == 5
    finally:
        talk.close()
    assert lines == ["out 5", "err 5"]
