// The echo upstream over stdio (one 2025-era session on stdin/stdout), for the bench's stdio rows.
// Airlock spawns it: `node --import tsx bench/echo-stdio.ts`.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createEchoServer } from './echo-upstream.js';

await createEchoServer().connect(new StdioServerTransport());
