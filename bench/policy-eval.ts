import { pathToFileURL } from 'node:url';
import { evaluate, parsePolicy, type CallContext } from '../src/core/policy/index.js';

const TOOLS = 1_000;
const RULES_PER_TOOL = 10;
const CONTEXTS = 4_096;

/** Builds a policy of 1,000 tools × 10 `when` rules mixing every kind of condition. */
function buildPolicyFile(): Record<string, unknown> {
  const tools: Record<string, unknown> = {};
  for (let t = 0; t < TOOLS; t++) {
    const when = [];
    for (let r = 0; r < RULES_PER_TOOL; r++) {
      const kind = r % 5;
      const args =
        kind === 0
          ? { [`p${r}`]: { eq: r } }
          : kind === 1
            ? { [`p${r}`]: { in: [r, r + 100, r + 200] }, 'target.host': { glob: `host-${r}-*` } }
            : kind === 2
              ? { [`p${r}`]: { gte: r, lt: r + 1 } }
              : kind === 3
                ? { [`p${r}`]: { eq: r }, name: { regex: '^vm-[0-9]+$' } }
                : { [`p${r}`]: { eq: r }, 'deep.a.b': { exists: true } };
      when.push({
        args,
        ...(r % 4 === 0 ? { agents: ['agent-1', 'ci-*'] } : {}),
        action: (['allow', 'deny', 'require_approval'] as const)[r % 3],
        limits: [{ counter: `c${r}`, window: 'minute', max: 10 }],
      });
    }
    tools[`tool_${t}`] = { action: 'require_approval', when };
  }
  for (let g = 0; g < 20; g++) tools[`group_${g}_*`] = { action: 'deny' };
  return { version: '1', default: 'deny', tools };
}

/** Calls spread over every tool, matching rule k (or none) with k uniform, plus some glob and default hits. */
function buildContexts(): CallContext[] {
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    return seed % n;
  };
  const out: CallContext[] = [];
  for (let i = 0; i < CONTEXTS; i++) {
    const k = rand(RULES_PER_TOOL + 1);
    const roll = rand(20);
    const tool = roll === 0 ? `group_${rand(20)}_x` : roll === 1 ? `unknown_${i}` : `tool_${rand(TOOLS)}`;
    const args: Record<string, unknown> = {
      name: `vm-${i}`,
      target: { host: `host-${k}-a` },
      deep: { a: { b: 1 } },
    };
    if (k < RULES_PER_TOOL) args[`p${k}`] = k;
    out.push({ server: 'lab', tool, agent: rand(2) === 0 ? 'agent-1' : 'agent-2', args });
  }
  return out;
}

/** Measures policy evaluation: 1,000 tools of 10 rules each; returns nanoseconds per decision. */
export async function benchPolicyEval(): Promise<{
  nsPerDecision: number;
  tools: number;
  rulesPerTool: number;
}> {
  const policy = parsePolicy(buildPolicyFile(), 'bench.json');
  const contexts = buildContexts();
  let sink = 0;
  const run = (n: number) => {
    for (let i = 0; i < n; i++)
      sink += evaluate(policy, contexts[i & (CONTEXTS - 1)] as CallContext).limits.length;
  };
  run(200_000); // warm up: let the JIT optimize before timing
  const iterations = 1_000_000;
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = process.hrtime.bigint();
    run(iterations);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / iterations);
  }
  if (sink < 0) console.log(sink); // keeps the work observable so it is not optimized away
  return { nsPerDecision: Math.round(best), tools: TOOLS, rulesPerTool: RULES_PER_TOOL };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchPolicyEval();
  console.log(
    `policy-eval: ${result.nsPerDecision} ns/decision (${result.tools} tools × ${result.rulesPerTool} rules; target < 5000 ns)`,
  );
  console.log(JSON.stringify(result));
}
