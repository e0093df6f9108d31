// The process a Node.js Lambda function runs in (started by processes.py): the same
// protocol as python_worker.py, one JSON object a line on two pipes. Handlers may be
// async, return a promise, or take Lambda's (event, context, callback).
"use strict";
const fs = require("fs");
const path = require("path");
const readline = require("readline");
const { pathToFileURL } = require("url");

const [codeDir, handlerName, readFd, writeFd] = process.argv.slice(2);
process.chdir(codeDir);

// The end of what an invocation printed, sent back as "log" (for Invoke's LogType Tail).
const KEPT_LOG_CHARACTERS = 8192;
let kept = "";
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream);
  stream.write = (chunk, ...rest) => {
    kept = (kept + String(chunk)).slice(-KEPT_LOG_CHARACTERS);
    return write(chunk, ...rest);
  };
}

function fail(errorType, errorMessage, stack) {
  return { errorType, errorMessage, stackTrace: stack || [] };
}

async function loadHandler() {
  const dot = handlerName.lastIndexOf(".");
  const modulePath = handlerName.slice(0, dot);
  const functionName = handlerName.slice(dot + 1);
  const base = path.resolve(codeDir, modulePath);
  const file = [".js", ".mjs", ".cjs"].map((ext) => base + ext).find((f) => fs.existsSync(f));
  if (!file) {
    throw { answer: fail("Runtime.ImportModuleError", `Error: Cannot find module '${modulePath}'`) };
  }
  let loaded;
  try {
    loaded = await import(pathToFileURL(file).href);
  } catch (error) {
    throw { answer: fail("Runtime.ImportModuleError", `${error}`, String(error.stack || "").split("\n")) };
  }
  const fn = loaded[functionName] || (loaded.default && loaded.default[functionName]);
  if (typeof fn !== "function") {
    throw { answer: fail("Runtime.HandlerNotFound", `${modulePath}.${functionName} is undefined or not exported`) };
  }
  return fn;
}

function context(request) {
  const name = process.env.AWS_LAMBDA_FUNCTION_NAME;
  const region = process.env.AWS_REGION || "us-east-1";
  const account = process.env.STEPWELL_ACCOUNT_ID || "123456789012";
  return {
    functionName: name,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION || "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${region}:${account}:function:${name}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || "128",
    awsRequestId: request.requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, Math.floor(request.deadline * 1000 - Date.now())),
  };
}

function invoke(fn, request) {
  return new Promise((resolve, reject) => {
    const callback = (error, result) => (error ? reject(error) : resolve(result));
    try {
      const returned = fn(request.event, context(request), callback);
      if (returned && typeof returned.then === "function") returned.then(resolve, reject);
      else if (fn.length < 3) resolve(returned);
    } catch (error) {
      reject(error);
    }
  });
}

async function main() {
  let handler = null;
  let initFailure = null;
  try {
    handler = await loadHandler();
  } catch (problem) {
    initFailure = problem.answer || fail("Runtime.UnknownError", String(problem));
  }
  const lines = readline.createInterface({ input: fs.createReadStream(null, { fd: Number(readFd) }) });
  for await (const line of lines) {
    const request = JSON.parse(line);
    let answer;
    if (initFailure) {
      answer = initFailure;
    } else {
      try {
        const result = await invoke(handler, request);
        answer = { result: result === undefined ? null : result };
      } catch (error) {
        const type = (error && error.name) || "Error";
        const message = error && error.message !== undefined ? error.message : String(error);
        const stack = String((error && error.stack) || "").split("\n").slice(1).map((s) => s.trim());
        answer = fail(type, message, stack);
      }
    }
    answer.log = kept;
    kept = "";
    fs.writeSync(Number(writeFd), JSON.stringify(answer) + "\n");
  }
}

main();
