// Runs one of Copilot's custom-resource handlers as the nodejs24.x Lambda runtime does: the
// handler file loaded as CommonJS, the AWS SDK v3 from NODE_PATH (on Lambda, the runtime's own
// copy), the exported async function called with the event (JSON on stdin) and a context, and
// awaited. Used by test/lambdas: node invoke.js <handler file> <export name>
"use strict";
const https = require("https");

const [file, exportName] = process.argv.slice(2);

// Copilot's report() PUTs the custom resource's response to event.ResponseURL (a pre-signed S3
// URL on AWS) on port 443, whatever the URL says. The test serves that URL over TLS on a port
// of its own, named by CFN_RESPONSE_PORT: only that port number is changed.
const responsePort = process.env.CFN_RESPONSE_PORT;
if (responsePort) {
  const request = https.request;
  https.request = function (options, ...rest) {
    if (options && typeof options === "object" && options.port === 443) {
      options = { ...options, port: Number(responsePort) };
    }
    return request.call(this, options, ...rest);
  };
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const event = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const handler = require(file)[exportName];
  if (typeof handler !== "function") {
    throw new Error(`${file} exports no function ${exportName}`);
  }
  // nodejs24.x no longer supports callback-style handlers: each must be async.
  if (handler.constructor.name !== "AsyncFunction") {
    throw new Error(`${exportName} is not an async function: nodejs24.x no longer supports callback-style handlers`);
  }
  const context = {
    functionName: "copilot-handler",
    awsRequestId: "00000000-0000-4000-8000-000000000000",
    logGroupName: "/aws/lambda/copilot-handler",
    logStreamName: "2026/12/06/[$LATEST]test",
    getRemainingTimeInMillis: () => 900000,
  };
  const result = await handler(event, context);
  console.error(`invoke.js: ${exportName} returned ${JSON.stringify(result)}`);
}

// Lambda freezes the process once the handler's promise settles; a timer the handler left (the
// environment controller's 14.5-minute deadline) must not keep this one alive.
main().then(
  () => process.exit(0),
  (err) => {
    console.error(`invoke.js: ${exportName} failed: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  }
);
