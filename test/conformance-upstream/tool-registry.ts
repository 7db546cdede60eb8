import { isInputRequiredResult, ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import type {
  CallToolResult,
  InputRequiredResult,
  Server,
  ServerContext,
  Tool,
} from '@modelcontextprotocol/server';
import { z } from 'zod';

/** What a fixture tool may answer. */
export type ToolAnswer = CallToolResult | InputRequiredResult;

interface Entry {
  description: string;
  inputSchema: Tool['inputSchema'];
  run(args: unknown, ctx: ServerContext): Promise<ToolAnswer>;
}

/**
 * The fixtures' own `tools/list` and `tools/call`, on the low-level server. McpServer turns every error a
 * tool throws into an `isError` result, but `test_missing_capability` and `protocol_error_job` must answer
 * with JSON-RPC errors; here a thrown `ProtocolError` crosses the wire as one, anything else is a tool error.
 */
export class ToolRegistry {
  private readonly tools = new Map<string, Entry>();

  /** Adds a tool whose arguments zod checks (none: an empty object schema). */
  add<S extends z.ZodObject>(
    name: string,
    config: { description: string; input?: S },
    handler: (args: z.output<S>, ctx: ServerContext) => ToolAnswer | Promise<ToolAnswer>,
  ): void {
    const schema = config.input ?? z.object({});
    this.tools.set(name, {
      description: config.description,
      inputSchema: z.toJSONSchema(schema, { io: 'input' }) as Tool['inputSchema'],
      run: async (args, ctx) => {
        const parsed = schema.safeParse(args ?? {});
        if (!parsed.success)
          return toolError(`Invalid arguments for ${name}: ${z.prettifyError(parsed.error)}`);
        return handler(parsed.data as z.output<S>, ctx);
      },
    });
  }

  /** Adds a tool listed with exactly this JSON Schema; its arguments reach the handler unchecked. */
  addRaw(
    name: string,
    config: { description: string; inputSchema: object },
    handler: (args: Record<string, unknown>, ctx: ServerContext) => ToolAnswer | Promise<ToolAnswer>,
  ): void {
    this.tools.set(name, {
      description: config.description,
      inputSchema: config.inputSchema as Tool['inputSchema'],
      run: async (args, ctx) => handler((args ?? {}) as Record<string, unknown>, ctx),
    });
  }

  /** The listed schema of `name`, which the HTTP entry needs to check `Mcp-Param-*` headers. */
  inputSchema(name: string): Record<string, unknown> | undefined {
    return this.tools.get(name)?.inputSchema;
  }

  /** Answers `tools/list` and `tools/call` on `server`. */
  install(server: Server): void {
    server.setRequestHandler('tools/list', () => ({
      tools: [...this.tools].map(([name, t]) => ({
        name,
        description: t.description,
        inputSchema: t.inputSchema,
      })),
    }));
    server.setRequestHandler('tools/call', async (request, ctx) => {
      const tool = this.tools.get(request.params.name);
      if (!tool)
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${request.params.name}`);
      let answer: ToolAnswer;
      try {
        answer = await tool.run(request.params.arguments, ctx);
      } catch (error) {
        if (error instanceof ProtocolError) throw error;
        return toolError(error instanceof Error ? error.message : String(error));
      }
      return isInputRequiredResult(answer) ? answer : server.projectCallToolResult(answer, undefined);
    });
  }
}

function toolError(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}
