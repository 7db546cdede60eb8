import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { AirlockError } from '../core/errors.js';
import { formatJsonPath } from '../core/json-path.js';
import { checkEditedDecision, restoreRedacted } from '../core/approval/edit.js';
import type { ApprovalRecord } from '../core/approval/types.js';
import { validateArguments } from '../gateway/arguments.js';
import type { PolicySource } from '../gateway/gateway.js';
import type { Decision } from '../core/policy/types.js';

/** Schema problems named in one refusal; the rest are summed up. */
const MAX_NAMED_PROBLEMS = 5;

/** Options for {@link EditChecker}. */
export interface EditCheckerOptions {
  /** The live policy (hot-reloaded), evaluated again on the edited arguments. */
  policies: Pick<PolicySource, 'evaluate'>;
  /** The tool's input schema from its upstream's catalog; undefined when the upstream does not list it now. */
  inputSchemaOf: (server: string, tool: string) => unknown;
}

/** Edited arguments that passed every check, ready to be approved. */
export interface CheckedEdit {
  args: Record<string, unknown>;
  /** The rule that decided for them. */
  rule: string;
  /** The policy's whole decision for them (a require_approval under another rule names its approvers). */
  decision: Decision;
}

/**
 * Checks a reviewer's edited arguments before anything is written: a plain JSON object, then the tool's
 * input schema from the upstream catalog (EDIT_INVALID naming the JSON path), then the policy for the
 * same agent, server and tool (EDIT_REFUSED unless it allows them or asks for one approval).
 */
export class EditChecker {
  private readonly ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false });
  private readonly compiled = new WeakMap<object, ValidateFunction>();

  constructor(private readonly o: EditCheckerOptions) {}

  /** The checked edit, with secrets the reviewer could not see restored; throws what refused it. */
  check(record: ApprovalRecord, raw: unknown): CheckedEdit {
    const args = restoreRedacted(validateArguments(raw), record.args);
    const schema = this.o.inputSchemaOf(record.server, record.tool);
    if (schema === undefined) {
      throw new AirlockError(
        'UPSTREAM_UNAVAILABLE',
        `Cannot check the edited arguments: ${record.server} does not list ${record.tool} right now. Nothing was decided; try again when the upstream is back, or approve as sent.`,
      );
    }
    const problems = this.schemaProblems(schema, args, record);
    if (problems.length) {
      const named = problems
        .slice(0, MAX_NAMED_PROBLEMS)
        .map((p) => `${p.path}: ${p.text}`)
        .join('; ');
      const more =
        problems.length > MAX_NAMED_PROBLEMS ? `; and ${problems.length - MAX_NAMED_PROBLEMS} more` : '';
      throw new AirlockError(
        'EDIT_INVALID',
        `The edited arguments do not match the input schema of ${record.server}/${record.tool}: ${named}${more}. Nothing was decided.`,
        { field: problems[0]!.path },
      );
    }
    const decision = this.o.policies.evaluate({
      server: record.server,
      tool: record.tool,
      agent: record.agent,
      args,
    });
    checkEditedDecision(record, decision);
    return { args, rule: decision.rule, decision };
  }

  private schemaProblems(schema: unknown, args: Record<string, unknown>, record: ApprovalRecord): Problem[] {
    let validate: ValidateFunction;
    try {
      validate = this.validatorFor(schema);
    } catch (err) {
      throw new AirlockError(
        'UPSTREAM_ERROR',
        `Cannot check the edited arguments: the input schema of ${record.server}/${record.tool} does not compile (${(err as Error).message}). Approve as sent or reject.`,
      );
    }
    if (validate(args)) return [];
    return (validate.errors ?? []).map(problemText);
  }

  private validatorFor(schema: unknown): ValidateFunction {
    if (schema === null || typeof schema !== 'object') throw new Error('not a JSON Schema object');
    const hit = this.compiled.get(schema);
    if (hit) return hit;
    // Upstreams name draft 2020-12 and others; the keywords tool schemas use read the same in Ajv's draft.
    const { $schema: _draft, $id: _id, ...body } = schema as Record<string, unknown>;
    const validate = this.ajv.compile(body);
    // The WeakMap is the cache: Ajv's own would keep every schema a catalog refresh ever replaced.
    this.ajv.removeSchema(body);
    this.compiled.set(schema, validate);
    return validate;
  }
}

/** One schema problem: the JSON path of the offending (or missing) member, and what is wrong. */
interface Problem {
  path: string;
  text: string;
}

function problemText(e: ErrorObject): Problem {
  const path: (string | number)[] = e.instancePath
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((seg) => (/^(0|[1-9]\d*)$/.test(seg) ? Number(seg) : seg));
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'required' && typeof params.missingProperty === 'string') {
    return { path: formatJsonPath([...path, params.missingProperty]), text: 'is required' };
  }
  if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    return { path: formatJsonPath([...path, params.additionalProperty]), text: 'is not allowed here' };
  }
  if (e.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    const values = params.allowedValues.map((v) => JSON.stringify(v)).join(', ');
    return { path: formatJsonPath(path), text: `must be one of ${values}` };
  }
  return { path: formatJsonPath(path), text: e.message ?? 'is invalid' };
}
