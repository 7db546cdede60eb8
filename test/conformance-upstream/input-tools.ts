import {
  inputRequired,
  inputResponse,
  MissingRequiredClientCapabilityError,
} from '@modelcontextprotocol/server';
import type { InputRequests, ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { DEFAULTS_SCHEMA, ENUM_FORMS_SCHEMA } from './fixture-data.js';
import { clientCapabilities, text, type FixtureContext } from './fixture-context.js';

// Every fixture here asks the client for something. They are written once, multi-round-trip style: on a
// 2026 request the SDK returns the input_required result; on a 2025 session its shim turns each input
// request into a real server→client request and calls the handler again with the answers.

const NAME_SCHEMA = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } as const;

/** The 2025 sampling/elicitation fixtures and the 2026 `input_required` fixtures. */
export function registerInputTools(fixture: FixtureContext): void {
  const { tools } = fixture;
  tools.add(
    'test_sampling',
    { description: 'Asks the client to sample', input: z.object({ prompt: z.string() }) },
    ({ prompt }, ctx) => {
      const answer = inputResponse(ctx.mcpReq.inputResponses, 'llm');
      if (answer.kind === 'sampling') return text(`LLM response: ${samplingText(answer.result)}`);
      return ask({ llm: samplingRequest(prompt, 100) });
    },
  );
  tools.add(
    'test_elicitation',
    { description: 'Asks the user a question', input: z.object({ message: z.string() }) },
    ({ message }, ctx) => {
      const schema = {
        type: 'object',
        properties: {
          username: { type: 'string', description: "User's response" },
          email: { type: 'string', description: "User's email address" },
        },
        required: ['username', 'email'],
      } as const;
      return elicitOnce(ctx, 'answer', message, schema, (reply) => `User response: ${reply}`);
    },
  );
  tools.add('test_elicitation_sep1034_defaults', { description: 'Elicits with defaults' }, (_args, ctx) =>
    elicitOnce(ctx, 'answer', 'Please review the defaults', DEFAULTS_SCHEMA, completed),
  );
  tools.add('test_elicitation_sep1330_enums', { description: 'Elicits every enum form' }, (_args, ctx) =>
    elicitOnce(ctx, 'answer', 'Please pick options', ENUM_FORMS_SCHEMA, completed),
  );
  tools.add('test_missing_capability', { description: 'Needs the sampling capability' }, (_args, ctx) => {
    if (!clientCapabilities(fixture, ctx).sampling) {
      throw new MissingRequiredClientCapabilityError({ requiredCapabilities: { sampling: {} } });
    }
    const answer = inputResponse(ctx.mcpReq.inputResponses, 'llm');
    if (answer.kind === 'sampling') return text(`LLM response: ${samplingText(answer.result)}`);
    return ask({ llm: samplingRequest('Say something', 20) });
  });
  tools.add('test_streaming_elicitation', { description: 'Answers with an elicitation' }, (_args, ctx) =>
    elicitOnce(ctx, 'user_name', 'What is your name?', NAME_SCHEMA, (reply) => `Thanks: ${reply}`),
  );
  tools.add(
    'test_input_required_result_elicitation',
    { description: 'MRTR: one elicitation' },
    (_args, ctx) => {
      const answer = inputResponse(ctx.mcpReq.inputResponses, 'user_name');
      if (answer.kind === 'elicit' && typeof answer.content?.name === 'string') {
        return text(`Hello, ${answer.content.name}!`);
      }
      return ask({ user_name: elicitRequest('What is your name?', NAME_SCHEMA) });
    },
  );
  tools.add('test_input_required_result_sampling', { description: 'MRTR: one sampling' }, (_args, ctx) => {
    const answer = inputResponse(ctx.mcpReq.inputResponses, 'capital_question');
    if (answer.kind === 'sampling') return text(`The model answered: ${samplingText(answer.result)}`);
    return ask({ capital_question: samplingRequest('What is the capital of France?', 100) });
  });
  tools.add('test_input_required_result_list_roots', { description: 'MRTR: roots' }, (_args, ctx) => {
    const answer = inputResponse(ctx.mcpReq.inputResponses, 'client_roots');
    if (answer.kind === 'roots')
      return text(`Roots: ${answer.roots.map((r) => r.uri).join(', ') || '(none)'}`);
    return ask({ client_roots: inputRequired.listRoots() });
  });
  const confirm = () =>
    elicitRequest('Please confirm', {
      type: 'object',
      properties: { ok: { type: 'boolean' } },
      required: ['ok'],
    });
  for (const name of [
    'test_input_required_result_request_state',
    'test_input_required_result_tampered_state',
  ]) {
    tools.add(name, { description: 'MRTR: sealed requestState' }, async (_args, ctx) => {
      const state = ctx.mcpReq.requestState<{ flow: string }>();
      const answer = inputResponse(ctx.mcpReq.inputResponses, 'confirm');
      if (state?.flow === name && answer.kind === 'elicit') return text(`state-ok (action=${answer.action})`);
      return ask({ confirm: confirm() }, await fixture.state.mint({ flow: name }));
    });
  }
  tools.add(
    'test_input_required_result_multiple_inputs',
    { description: 'MRTR: three inputs' },
    async (_args, ctx) => {
      const responses = ctx.mcpReq.inputResponses;
      const keys = ['user_name', 'greeting', 'client_roots'];
      if (ctx.mcpReq.requestState() && keys.every((k) => inputResponse(responses, k).kind !== 'missing')) {
        return text('All three inputs received');
      }
      const requests: InputRequests = {
        user_name: elicitRequest('What is your name?', NAME_SCHEMA),
        greeting: samplingRequest('Generate a greeting', 50),
        client_roots: inputRequired.listRoots(),
      };
      return ask(requests, await fixture.state.mint({ flow: 'multiple_inputs' }));
    },
  );
  tools.add(
    'test_input_required_result_multi_round',
    { description: 'MRTR: two rounds' },
    async (_args, ctx) => {
      const state = ctx.mcpReq.requestState<{ round: number; name?: string }>();
      const step1 = inputResponse(ctx.mcpReq.inputResponses, 'step1');
      const step2 = inputResponse(ctx.mcpReq.inputResponses, 'step2');
      if (state?.round === 2 && step2.kind === 'elicit') {
        return text(`Done: name=${state.name}, color=${String(step2.content?.color)}`);
      }
      if (state?.round === 1 && step1.kind === 'elicit') {
        const colorSchema = {
          type: 'object',
          properties: { color: { type: 'string' } },
          required: ['color'],
        } as const;
        return ask(
          { step2: elicitRequest('Step 2: What is your favorite color?', colorSchema) },
          await fixture.state.mint({ round: 2, name: String(step1.content?.name) }),
        );
      }
      return ask(
        { step1: elicitRequest('Step 1: What is your name?', NAME_SCHEMA) },
        await fixture.state.mint({ round: 1 }),
      );
    },
  );
  tools.add(
    'test_input_required_result_capabilities',
    { description: 'MRTR: declared only' },
    (_args, ctx) => {
      const declared = clientCapabilities(fixture, ctx);
      const answered = Object.keys(ctx.mcpReq.inputResponses ?? {});
      if (answered.length > 0) return text(`Received: ${answered.sort().join(', ')}`);
      const requests: InputRequests = {};
      if (declared.elicitation) requests.user_name = elicitRequest('What is your name?', NAME_SCHEMA);
      if (declared.sampling)
        requests.capital_question = samplingRequest('What is the capital of France?', 100);
      if (declared.roots) requests.client_roots = inputRequired.listRoots();
      if (Object.keys(requests).length === 0) return text('The client declared no input capability');
      return ask(requests);
    },
  );
}

/** An `input_required` result; the builder rejects one with neither requests nor state. */
export function ask(inputRequests: InputRequests, requestState?: string) {
  return inputRequired(requestState === undefined ? { inputRequests } : { inputRequests, requestState });
}

/** A form elicitation with a wire-ready schema, passed through unchanged. */
export function elicitRequest(message: string, requestedSchema: object) {
  return inputRequired.elicit({ message, requestedSchema: requestedSchema as never });
}

function samplingRequest(prompt: string, maxTokens: number) {
  return inputRequired.createMessage({
    messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
    maxTokens,
  });
}

function samplingText(result: { content: unknown }): string {
  const blocks = Array.isArray(result.content) ? result.content : [result.content];
  return blocks.map((b: { type?: string; text?: string }) => (b?.type === 'text' ? b.text : '')).join('');
}

function completed(reply: string): string {
  return `Elicitation completed: ${reply}`;
}

// One elicitation, then a text result describing the reply in the suite's `action=…, content=…` form.
function elicitOnce(
  ctx: ServerContext,
  key: string,
  message: string,
  schema: object,
  render: (reply: string) => string,
) {
  const answer = inputResponse(ctx.mcpReq.inputResponses, key);
  if (answer.kind === 'elicit') {
    return text(render(`action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`));
  }
  return ask({ [key]: elicitRequest(message, schema) });
}
