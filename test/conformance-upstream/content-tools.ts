import type { ServerContext } from '@modelcontextprotocol/server';
import { HEADER_PARAM_SCHEMA, JSON_SCHEMA_2020_12, RED_PIXEL_PNG, SILENT_WAV } from './fixture-data.js';
import { pause, text, type FixtureContext } from './fixture-context.js';

/** Tools whose results, notifications or schemas the suite inspects; none needs input from the client. */
export function registerContentTools(fixture: FixtureContext): void {
  const { tools } = fixture;
  tools.add('test_simple_text', { description: 'Returns one text block' }, () =>
    text('This is a simple text response for testing.'),
  );
  tools.add('test_image_content', { description: 'Returns a PNG image' }, () => ({
    content: [{ type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' }],
  }));
  tools.add('test_audio_content', { description: 'Returns a WAV clip' }, () => ({
    content: [{ type: 'audio', data: SILENT_WAV, mimeType: 'audio/wav' }],
  }));
  tools.add('test_embedded_resource', { description: 'Returns an embedded resource' }, () => ({
    content: [
      {
        type: 'resource',
        resource: {
          uri: 'test://embedded-resource',
          mimeType: 'text/plain',
          text: 'This is an embedded resource content.',
        },
      },
    ],
  }));
  tools.add('test_multiple_content_types', { description: 'Returns text, image and resource' }, () => ({
    content: [
      { type: 'text', text: 'Multiple content types test:' },
      { type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' },
      {
        type: 'resource',
        resource: {
          uri: 'test://mixed-content-resource',
          mimeType: 'application/json',
          text: JSON.stringify({ test: 'data', value: 123 }),
        },
      },
    ],
  }));
  tools.add('test_error_handling', { description: 'Always reports a tool error' }, () => ({
    ...text('This tool intentionally returns an error for testing'),
    isError: true,
  }));
  tools.add('test_tool_with_logging', { description: 'Logs three info messages' }, async (_args, ctx) => {
    await logSteps(ctx);
    return text('Logging tool finished');
  });
  // The modern wire's variant: the SDK sends nothing unless the request set a logLevel.
  tools.add('test_logging_tool', { description: 'Logs only when the request asks' }, async (_args, ctx) => {
    await logSteps(ctx);
    return text('Logging tool finished');
  });
  tools.add('test_tool_with_progress', { description: 'Reports 0/50/100 of 100' }, async (_args, ctx) => {
    const token = ctx.mcpReq._meta?.progressToken;
    for (const progress of [0, 50, 100]) {
      if (token !== undefined) {
        await ctx.mcpReq.notify({
          method: 'notifications/progress',
          params: { progressToken: token, progress, total: 100 },
        });
      }
      if (progress < 100) await pause(50, ctx.mcpReq.signal);
    }
    return text('Progress tool finished');
  });
  tools.addRaw(
    'json_schema_2020_12_tool',
    { description: 'Tool with JSON Schema 2020-12 features', inputSchema: JSON_SCHEMA_2020_12 },
    () => text('JSON Schema 2020-12 tool called'),
  );
  tools.addRaw(
    'test_header_param',
    {
      description: 'Echoes a region that clients also send as the Mcp-Param-Region header',
      inputSchema: HEADER_PARAM_SCHEMA,
    },
    (args) => text(`region=${String(args.region)}`),
  );
  tools.add('test_reconnection', { description: 'Closes its SSE stream mid-call' }, async (_args, ctx) => {
    await pause(50, ctx.mcpReq.signal);
    // Only the sessionful legacy transport with an event store offers this; elsewhere it is a plain call.
    ctx.http?.closeSSE?.();
    await pause(200, ctx.mcpReq.signal);
    return text('Reconnection test completed');
  });
  tools.add('test_trigger_tool_change', { description: 'Announces a tool list change' }, () => {
    fixture.changes.toolsChanged();
    return text('tools/list_changed sent');
  });
  tools.add(
    'test_trigger_resource_update',
    { description: 'Announces that test://watched-resource changed' },
    () => {
      fixture.changes.resourceUpdated('test://watched-resource');
      return text('resources/updated sent');
    },
  );
  tools.add('test_trigger_prompt_change', { description: 'Announces a prompt list change' }, () => {
    fixture.changes.promptsChanged();
    return text('prompts/list_changed sent');
  });
}

async function logSteps(ctx: ServerContext): Promise<void> {
  await ctx.mcpReq.log('info', 'Tool execution started');
  await pause(50, ctx.mcpReq.signal);
  await ctx.mcpReq.log('info', 'Tool processing data');
  await pause(50, ctx.mcpReq.signal);
  await ctx.mcpReq.log('info', 'Tool execution completed');
}
