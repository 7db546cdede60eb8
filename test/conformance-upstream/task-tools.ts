import { inputResponse, ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import type { InputRequests } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { ask, elicitRequest } from './input-tools.js';
import { pause, text, type FixtureContext } from './fixture-context.js';

// The tasks scenarios' fixtures, as ordinary tools: whether a call becomes a task is the proxy's
// decision (policy `task`), so nothing here knows about tasks.

const CONFIRM_SCHEMA = {
  type: 'object',
  properties: { confirm: { type: 'boolean' } },
  required: ['confirm'],
} as const;

/** `greet`, `slow_compute`, `failing_job`, `protocol_error_job`, `confirm_delete`, `multi_input`, `test_tool_with_task`. */
export function registerTaskTools(fixture: FixtureContext): void {
  const { tools } = fixture;
  tools.add(
    'greet',
    { description: 'Greets at once', input: z.object({ name: z.string().default('World') }) },
    ({ name }) => text(`Hello, ${name}!`),
  );
  tools.add(
    'slow_compute',
    {
      description: 'Sleeps for `seconds`, stopping early when cancelled',
      input: z.object({ seconds: z.number().min(0).max(600).default(1), label: z.string().default('job') }),
    },
    async ({ seconds, label }, ctx) => {
      await pause(seconds * 1000, ctx.mcpReq.signal);
      return text(`Computed ${label} after ${seconds}s`);
    },
  );
  tools.add('failing_job', { description: 'Reports a tool error after a second' }, async (_args, ctx) => {
    await pause(1000, ctx.mcpReq.signal);
    return { ...text('failing_job failed on purpose'), isError: true };
  });
  tools.add('protocol_error_job', { description: 'Fails with a JSON-RPC error' }, () => {
    throw new ProtocolError(ProtocolErrorCode.InternalError, 'protocol_error_job failed on purpose');
  });
  tools.add(
    'confirm_delete',
    { description: 'Asks before deleting a file', input: z.object({ filename: z.string() }) },
    ({ filename }, ctx) => {
      const answer = inputResponse(ctx.mcpReq.inputResponses, 'confirm');
      if (answer.kind === 'elicit') {
        return text(
          answer.action === 'accept' && answer.content?.confirm ? `Deleted ${filename}` : `Kept ${filename}`,
        );
      }
      return ask({ confirm: elicitRequest(`Delete ${filename}?`, CONFIRM_SCHEMA) });
    },
  );
  tools.add('multi_input', { description: 'Asks two questions at once' }, async (_args, ctx) => {
    // Answers may arrive one at a time; earlier ones ride in the sealed state.
    const earlier = ctx.mcpReq.requestState<Record<string, unknown>>() ?? {};
    const gathered: Record<string, unknown> = { ...earlier };
    for (const key of ['name', 'confirm']) {
      const answer = inputResponse(ctx.mcpReq.inputResponses, key);
      if (answer.kind === 'elicit') gathered[key] = answer.content ?? {};
    }
    const missing: InputRequests = {};
    if (!('name' in gathered)) {
      missing.name = elicitRequest('What is your name?', {
        type: 'object',
        properties: { name: { type: 'string' } },
        required: ['name'],
      });
    }
    if (!('confirm' in gathered)) missing.confirm = elicitRequest('Proceed?', CONFIRM_SCHEMA);
    if (Object.keys(missing).length === 0) return text(`multi_input done: ${JSON.stringify(gathered)}`);
    return ask(missing, await fixture.state.mint(gathered));
  });
  tools.add('test_tool_with_task', { description: 'Asks a name, then finishes' }, (_args, ctx) => {
    const answer = inputResponse(ctx.mcpReq.inputResponses, 'user_name');
    if (answer.kind === 'elicit' && typeof answer.content?.name === 'string') {
      return text(`Hello, ${answer.content.name}! (long-running part done)`);
    }
    return ask({
      user_name: elicitRequest('What is your name?', {
        type: 'object',
        properties: { name: { type: 'string' } },
        required: ['name'],
      }),
    });
  });
}
