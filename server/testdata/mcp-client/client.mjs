// A real MCP client (the TypeScript SDK) for the tests of moat mcp and
// moat serve: it lists the tools, calls run_python and test_package, and
// prints what it got as one JSON object for the Go test to check.
//
//   node client.mjs stdio MOAT_BINARY [ARGS...]
//   node client.mjs http URL TOKEN
//
// The package file for test_package is $MOAT_TEST_SDIST (base64 of it is
// sent), if set.
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [mode, ...rest] = process.argv.slice(2);
let transport;
if (mode === "stdio") {
  transport = new StdioClientTransport({ command: rest[0], args: rest.slice(1), stderr: "inherit" });
} else if (mode === "http") {
  transport = new StreamableHTTPClientTransport(new URL(rest[0]), {
    requestInit: { headers: { Authorization: `Bearer ${rest[1]}` } },
  });
} else {
  console.error("usage: client.mjs stdio BINARY [ARGS...] | http URL TOKEN");
  process.exit(2);
}

const client = new Client({ name: "moat-test-client", version: "1.0.0" });
await client.connect(transport);
const out = {};
out.tools = (await client.listTools()).tools.map((t) => t.name).sort();
const text = (r) => r.content.filter((c) => c.type === "text").map((c) => c.text).join("");

let r = await client.callTool({ name: "run_python", arguments: { code: "import sys; print(6*7); print(sys.stdin.read())", stdin: "from stdin" } });
out.run = { isError: !!r.isError, text: text(r), structured: r.structuredContent };

r = await client.callTool({ name: "run_python", arguments: { code: "import sys; sys.exit(3)" } });
out.exit3 = { isError: !!r.isError, status: r.structuredContent?.result?.status, exit_code: r.structuredContent?.result?.exit_code };

r = await client.callTool({ name: "run_python", arguments: { code: "print(1)", network: "allow=127.0.0.1:22" } });
out.refused = { isError: !!r.isError, text: text(r) };

if (process.env.MOAT_TEST_SDIST) {
  const data = readFileSync(process.env.MOAT_TEST_SDIST).toString("base64");
  const name = process.env.MOAT_TEST_SDIST.split("/").pop();
  r = await client.callTool({ name: "test_package", arguments: { filename: name, content_base64: data } });
  out.test = { isError: !!r.isError, status: r.structuredContent?.report?.status, text: r.isError ? text(r) : "" };
}

await client.close();
console.log(JSON.stringify(out));
