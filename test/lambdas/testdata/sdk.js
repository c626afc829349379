// One AWS SDK v3 call, for test/lambdas to set up what a handler reads (ECS, CloudFormation,
// ELBv2, EC2 have no client in the product's go.mod): node sdk.js <package> <Command> <input JSON>,
// e.g. node sdk.js client-ecs CreateClusterCommand '{"clusterName":"c"}'. Prints the output as
// JSON, without $metadata; on error, the error's name and message on stderr and exit 1.
"use strict";
const [pkg, command, input] = process.argv.slice(2);

async function main() {
  const mod = require(`@aws-sdk/${pkg}`);
  const Client = Object.entries(mod).find(([name, v]) => !name.startsWith("_") && name.endsWith("Client") && typeof v === "function" && v.prototype && typeof v.prototype.send === "function");
  if (!Client) throw new Error(`@aws-sdk/${pkg} has no client`);
  if (typeof mod[command] !== "function") throw new Error(`@aws-sdk/${pkg} has no ${command}`);
  const out = await new Client[1]({}).send(new mod[command](JSON.parse(input || "{}")));
  delete out.$metadata;
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(`${err.name}: ${err.message}`);
  process.exit(1);
});
