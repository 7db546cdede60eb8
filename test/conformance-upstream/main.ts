// The conformance upstream: every fixture the MCP conformance suite's server scenarios call, served over
// HTTP (`--port`) or stdio, in one of three era modes. Run with `node --import tsx test/conformance-upstream/main.ts`.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createRequestStateCodec } from '@modelcontextprotocol/server';
import { startHttpUpstream } from './http-front.js';
import { serveStdioUpstream } from './stdio-front.js';
import { UPSTREAM_MODES, type UpstreamMode } from './upstream-mode.js';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'dual' },
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    stdio: { type: 'boolean', default: false },
  },
});
const mode = values.mode as UpstreamMode;
if (!UPSTREAM_MODES.includes(mode)) {
  console.error(`--mode must be one of ${UPSTREAM_MODES.join(', ')}`);
  process.exit(2);
}
// One key per process: every round of a multi-round flow reaches this same process.
const state = createRequestStateCodec<Record<string, unknown>>({ key: randomBytes(32) });

if (values.stdio) {
  await serveStdioUpstream(mode, state);
} else {
  const upstream = await startHttpUpstream({
    mode,
    state,
    host: values.host,
    port: Number(values.port ?? 0),
  });
  // The runner and tests read this line to learn the port.
  console.log(`conformance upstream (${mode}) listening on ${upstream.url}`);
  const stop = () => void upstream.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
