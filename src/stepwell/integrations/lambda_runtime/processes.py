"""Lambda functions run as Lambda runs them: each in worker processes of its own.

A ``ProcessFunction`` keeps warm worker processes for one function (started on first
use, reused while they live, as many as invocations run at once, up to a cap). Each
process gets the function's environment and nothing of Stepwell's: the template's
variables, Lambda's reserved ones (``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_REGION``, ...),
dummy credentials and ``AWS_ENDPOINT_URL`` pointing back at Stepwell, so that the AWS SDK
inside the function reaches the embedded services. Python functions run on the
interpreter that runs Stepwell, Node.js functions on ``node``; their dependencies are
those installed there.

The function's ``Timeout`` is enforced by killing the process (the task fails with
``Sandbox.Timedout``, as Lambda reports it); a process that dies fails its invocation
with ``Runtime.ExitError`` and is replaced; either way the server goes on. Whatever the
function prints is shown line by line, prefixed with its name; the worker also sends the
end of an invocation's output back with its answer, which goes to the context's
``log_lines`` when the caller asked for them (the Lambda API's ``LogType: Tail``).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from stepwell.integrations.functions import TaskError

_HERE = Path(__file__).parent
MAX_PROCESSES = 8  # per function: invocations beyond wait for a free process
FORWARD_SECONDS = 2.0  # how long a stopping worker waits for its output to be shown
PYTHON_RUNTIMES = "python3"
NODE_RUNTIMES = "nodejs"

LogSink = Callable[[str, str], None]  # (function name, line)


def print_log(function: str, line: str) -> None:
    print(f"{function} | {line}", file=sys.stderr, flush=True)


def supported_runtime(runtime: str) -> bool:
    return runtime.startswith((PYTHON_RUNTIMES, NODE_RUNTIMES))


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """One function as the template describes it."""

    name: str
    runtime: str
    handler: str
    code: Path
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 3.0
    memory: int = 128
    region: str = "us-east-1"
    account: str = "123456789012"


class ProcessFunction:
    """Callable as a Stepwell function: ``function(event, context)``; a function error
    raises ``TaskError`` with Lambda's error type and error payload."""

    def __init__(self, spec: FunctionSpec, endpoint_url: str, log: LogSink = print_log) -> None:
        if not supported_runtime(spec.runtime):
            raise ValueError(f"function {spec.name}: runtime {spec.runtime} is not supported")
        self.spec = spec
        self.endpoint_url = endpoint_url
        self.log = log
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._lock = threading.Condition()
        self._closed = False

    def __call__(self, event: Any, context: Any) -> Any:
        request_id = str(getattr(context, "aws_request_id", "") or os.urandom(16).hex())
        worker = self._take()
        try:
            answer = worker.invoke(event, request_id, self.spec.timeout)
        finally:
            self._give_back(worker)
        log_lines = getattr(context, "log_lines", None)
        if isinstance(log_lines, list):
            log_lines.extend(str(answer.get("log", "")).splitlines())
            if answer.get("errorType") == "Sandbox.Timedout":
                log_lines.append(str(answer.get("errorMessage", "")))
        if "result" in answer:
            return answer["result"]
        error_type = str(answer.get("errorType", "Runtime.Unknown"))
        payload = {
            "errorMessage": answer.get("errorMessage", ""),
            "errorType": error_type,
            "requestId": request_id,
            "stackTrace": answer.get("stackTrace", []),
        }
        if error_type in ("Sandbox.Timedout", "Runtime.ExitError"):
            payload = {"errorMessage": payload["errorMessage"], "errorType": error_type}
        raise TaskError(error_type, json.dumps(payload, separators=(",", ":")))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._all, self._idle = self._all, [], []
        for worker in workers:
            worker.stop()

    def _take(self) -> _Worker:
        with self._lock:
            while True:
                if self._closed:
                    raise TaskError("Lambda.ServiceException", "Stepwell is stopping")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive:
                        return worker
                    self._all.remove(worker)
                if len(self._all) < MAX_PROCESSES:
                    break
                self._lock.wait()
        worker = _Worker(self.spec, self._environment(), self.log)
        with self._lock:
            self._all.append(worker)
        return worker

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if worker.alive and not self._closed:
                self._idle.append(worker)
            else:
                if worker in self._all:
                    self._all.remove(worker)
                worker.stop()
            self._lock.notify()

    def _environment(self) -> dict[str, str]:
        spec = self.spec
        kept = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
        return {
            **kept,
            "AWS_ACCESS_KEY_ID": "stepwell",
            "AWS_SECRET_ACCESS_KEY": "stepwell",
            "AWS_SESSION_TOKEN": "stepwell",
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"stepwell/[$LATEST]{os.urandom(16).hex()}",
            "LAMBDA_TASK_ROOT": str(spec.code),
            "STEPWELL_ACCOUNT_ID": spec.account,
            "TZ": ":UTC",
            "PYTHONDONTWRITEBYTECODE": "1",  # the code folder is the user's: leave it as is
            "_HANDLER": spec.handler,
            **{str(k): str(v) for k, v in spec.environment.items()},
        }


class _Worker:
    """One warm process of a function."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], log: LogSink) -> None:
        self.spec = spec
        to_child_read, self._to_child = os.pipe()
        self._from_child, from_child_write = os.pipe()
        command = _command(spec, to_child_read, from_child_write)
        self.process = subprocess.Popen(
            command,
            cwd=spec.code,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(to_child_read, from_child_write),
        )
        os.close(to_child_read)
        os.close(from_child_write)
        self._buffer = b""
        self._forwarders = [
            threading.Thread(target=_forward, args=(stream, spec.name, log), daemon=True)
            for stream in (self.process.stdout, self.process.stderr)
            if stream is not None
        ]
        for forwarder in self._forwarders:
            forwarder.start()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def invoke(self, event: Any, request_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.time() + timeout
        request = {"event": event, "requestId": request_id, "deadline": deadline}
        try:
            os.write(self._to_child, (json.dumps(request) + "\n").encode())
        except OSError:
            return self._exited(request_id)
        while b"\n" not in self._buffer:
            remaining = deadline - time.time()
            ready, _, _ = select.select([self._from_child], [], [], max(0.0, remaining))
            if not ready:
                self.stop()
                return {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                    f"{timeout:.2f} seconds",
                }
            chunk = os.read(self._from_child, 65536)
            if not chunk:
                return self._exited(request_id)
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _exited(self, request_id: str) -> dict[str, Any]:
        code = self.process.wait(5)
        self.stop()
        return {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
            f"exit status {code}",
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        for forwarder in self._forwarders:  # what it printed is shown before stop returns
            if forwarder is not threading.current_thread():
                forwarder.join(FORWARD_SECONDS)
        for fd in (self._to_child, self._from_child):
            with contextlib.suppress(OSError):
                os.close(fd)


def _command(spec: FunctionSpec, read_fd: int, write_fd: int) -> list[str]:
    fds = [str(read_fd), str(write_fd)]
    if spec.runtime.startswith(NODE_RUNTIMES):
        node = shutil.which("node") or "node"
        return [node, str(_HERE / "node_worker.js"), str(spec.code), spec.handler, *fds]
    return [sys.executable, str(_HERE / "python_worker.py"), str(spec.code), spec.handler, *fds]


def _forward(stream: IO[bytes], name: str, log: LogSink) -> None:
    for raw in stream:
        log(name, raw.decode("utf-8", "replace").rstrip("\n"))
    stream.close()
