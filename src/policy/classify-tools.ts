// Sorts an upstream's tools into read-only, execute and destructive, and writes the starter policy that
// follows: read-only allowed, execute rate-limited, destructive behind approval. Pure: no MCP, no I/O.

/** How much harm a tool can do, which decides its starter rule. */
export type ToolClass = 'read-only' | 'execute' | 'destructive';

/** What a classification rests on. */
export type ClassificationSource = 'annotations' | 'name' | 'description' | 'default';

/** The parts of an MCP `Tool` the classifier reads. */
export interface ToolInfo {
  name: string;
  description?: string;
  annotations?: {
    readOnlyHint?: boolean;
    destructiveHint?: boolean;
    idempotentHint?: boolean;
    openWorldHint?: boolean;
  };
}

/** One tool's class and, in words, why. */
export interface ToolClassification {
  tool: string;
  class: ToolClass;
  source: ClassificationSource;
  reason: string;
}

// Matched against whole words of the tool name, so `format_disk` is destructive and `reformat` is not.
const DESTRUCTIVE_VERBS = words(
  'delete del remove rm destroy drop purge wipe erase kill terminate revoke reset format truncate ' +
    'uninstall shred nuke unregister deprovision',
);

// Verbs that change something. Nouns that double as verbs (`order`, `charge`, `snapshot`) are left out:
// `get_order` is a lookup, and the first verb of a name is what decides.
const WRITE_VERBS = words(
  'set create update write put post add start stop restart reboot run exec execute send deploy ' +
    'apply install move mv rename copy cp upload insert modify edit patch publish trigger toggle ' +
    'enable disable grant assign approve cancel submit invoke generate sync save upsert provision ' +
    'scale resize attach detach mount unmount pause resume suspend restore clone migrate capture',
);

const READ_VERBS = words(
  'get list read describe show search status find fetch query view inspect lookup check count info ' +
    'stats whoami explain preview browse ls cat retrieve validate diff ping echo summarize',
);

// In prose the verbs are conjugated ("Deletes the VM"); `format` is left out because descriptions
// talk about output formats far more often than about formatting disks.
const DESCRIPTION_DESTRUCTIVE = new RegExp(
  '\\b(' +
    [
      'delet(e|es|ed|ing|ion)',
      'remov(e|es|ed|ing|al)',
      'destroy(s|ed|ing)?',
      'drop(s|ped|ping)?',
      'purg(e|es|ed|ing)',
      'wip(e|es|ed|ing)',
      'eras(e|es|ed|ing)',
      'kill(s|ed|ing)?',
      'terminat(e|es|ed|ing|ion)',
      'revok(e|es|ed|ing)',
      'reset(s|ting)?',
      'truncat(e|es|ed|ing)',
      'uninstall(s|ed|ing)?',
      'shred(s|ded|ding)?',
      'permanently',
      'irreversibl[ey]',
      'cannot be undone',
      'data loss',
    ].join('|') +
    ')\\b',
  'i',
);

// A description that opens with a read verb ("Lists…", "Returns…", "Get the…") describes a lookup.
const DESCRIPTION_READ =
  /^\s*(get|gets|list|lists|read|reads|describe|describes|show|shows|search|searches|find|finds|fetch|fetches|return|returns|retrieve|retrieves|query|queries|look up|looks up|check|checks|count|counts|inspect|inspects|display|displays|view|views)\b/i;

function words(list: string): ReadonlySet<string> {
  return new Set(list.split(/\s+/).filter(Boolean));
}

/**
 * Classifies one tool. MCP annotations come first, read with the spec's defaults (`readOnlyHint` false,
 * `destructiveHint` true): read-only when `readOnlyHint` is true, else destructive unless
 * `destructiveHint` is false, else execute. Annotations are a server's own claim, so a destructive verb
 * in the name still wins over them (the stricter class is the safer starting point). With no hints,
 * the name's words decide, then the description's, else execute.
 */
export function classifyTool(tool: ToolInfo): ToolClassification {
  const words = nameWords(tool.name);
  const destructiveWord = words.find((w) => DESTRUCTIVE_VERBS.has(w));
  const a = tool.annotations;
  const hinted =
    a && (a.readOnlyHint !== undefined || a.destructiveHint !== undefined || a.idempotentHint !== undefined);
  if (hinted) {
    const fromHints = classifyByAnnotations(tool.name, a);
    if (destructiveWord && fromHints.class !== 'destructive') {
      return {
        tool: tool.name,
        class: 'destructive',
        source: 'name',
        reason: `name says "${destructiveWord}", although the annotations say ${fromHints.class} (${fromHints.reason}); the stricter class wins`,
      };
    }
    return fromHints;
  }
  const cls = (c: ToolClass, source: ClassificationSource, reason: string): ToolClassification => ({
    tool: tool.name,
    class: c,
    source,
    reason,
  });
  if (destructiveWord) return cls('destructive', 'name', `name says "${destructiveWord}"`);
  const verb = nameVerb(words);
  if (verb) return cls(verb.class, 'name', `name says "${verb.word}"`);
  const description = tool.description ?? '';
  const harm = DESCRIPTION_DESTRUCTIVE.exec(description);
  if (harm) return cls('destructive', 'description', `description says "${harm[0]}"`);
  const read = DESCRIPTION_READ.exec(description);
  if (read) return cls('read-only', 'description', `description starts with "${read[1]}"`);
  return cls('execute', 'default', 'no annotations, and neither name nor description says what it does');
}

function classifyByAnnotations(name: string, a: NonNullable<ToolInfo['annotations']>): ToolClassification {
  const base = { tool: name, source: 'annotations' as const };
  if (a.readOnlyHint === true) return { ...base, class: 'read-only', reason: 'readOnlyHint: true' };
  if (a.destructiveHint !== false) {
    return {
      ...base,
      class: 'destructive',
      reason:
        a.destructiveHint === true
          ? 'destructiveHint: true'
          : 'no destructiveHint (MCP default: destructive)',
    };
  }
  // Idempotence does not change the starter rule, but a reviewer tuning the limit wants to know it.
  const idempotent = a.idempotentHint === true ? ', idempotent' : '';
  return { ...base, class: 'execute', reason: `destructiveHint: false${idempotent}` };
}

/**
 * The class the name's verbs give: its first known verb decides (`get_order`, `vm_start`), except
 * that a write verb joined on with "or"/"and" (`get_or_create_vm`) makes it execute.
 */
function nameVerb(words: string[]): { class: ToolClass; word: string } | undefined {
  const first = words.findIndex((w) => WRITE_VERBS.has(w) || READ_VERBS.has(w));
  if (first < 0) return undefined;
  const word = words[first]!;
  if (WRITE_VERBS.has(word)) return { class: 'execute', word };
  const joined = words.find(
    (w, i) => i > first && WRITE_VERBS.has(w) && (words[i - 1] === 'or' || words[i - 1] === 'and'),
  );
  return joined ? { class: 'execute', word: joined } : { class: 'read-only', word };
}

/** `getVMStatus`, `delete-vm`, `vm.delete` → lower-case words. */
function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Classifies every tool, in the order given. */
export function classifyTools(tools: readonly ToolInfo[]): ToolClassification[] {
  return tools.map(classifyTool);
}

/** Options for {@link starterPolicy}. */
export interface StarterPolicyOptions {
  /** Server name, for the description. */
  server: string;
  /** Calls per minute each agent may make to each execute tool. @defaultValue 10 */
  executePerMinute?: number;
}

/** The approval block destructive tools get: any configured reviewer, the spec's defaults spelled out. */
export const STARTER_APPROVAL = Object.freeze({
  approvers: [] as string[],
  min_approvals: 1,
  timeout: '15m',
  wait: '50s',
  on_timeout: 'reject',
  allow_self_approval: false,
});

/** A policy file document (JSON-ready) as `airlock policy init` prints it. */
export interface StarterPolicy {
  version: '1';
  description: string;
  default: 'deny';
  tools: Record<string, Record<string, unknown>>;
}

const CLASS_ORDER: Record<ToolClass, number> = { 'read-only': 0, execute: 1, destructive: 2 };

/** True when a tool's name would be read as a glob if used as a policy key, so it cannot be listed exactly. */
export function isGlobName(name: string): boolean {
  return name.includes('*') || name.includes('?');
}

/** Tools from harmless to dangerous, then by name: the order the starter policy and its report use. */
export function byClassThenName(a: ToolClassification, b: ToolClassification): number {
  return CLASS_ORDER[a.class] - CLASS_ORDER[b.class] || (a.tool < b.tool ? -1 : a.tool > b.tool ? 1 : 0);
}

/**
 * The starter policy for classified tools: `default: deny`, read-only tools `{}` (allow), execute tools
 * allowed under a per-agent rate limit, destructive tools behind approval. Tools are grouped by class,
 * then sorted by name, so the file reads from harmless to dangerous. Names with glob characters are
 * left out (they would match other tools); they fall to the default, deny.
 */
export function starterPolicy(
  classified: readonly ToolClassification[],
  options: StarterPolicyOptions,
): StarterPolicy {
  const perMinute = options.executePerMinute ?? 10;
  const listed = classified.filter((c) => !isGlobName(c.tool)).sort(byClassThenName);
  const tools: Record<string, Record<string, unknown>> = {};
  for (const c of listed) {
    // defineProperty: a tool named `__proto__` must stay an ordinary key.
    Object.defineProperty(tools, c.tool, {
      value: entryFor(c, perMinute),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  const count = (k: ToolClass) => listed.filter((c) => c.class === k).length;
  return {
    version: '1',
    description:
      `Starter policy for "${options.server}" written by airlock policy init from ${classified.length} tool(s): ` +
      `${count('read-only')} read-only (allowed), ${count('execute')} execute (rate-limited), ` +
      `${count('destructive')} destructive (need approval). Review it before use.`,
    default: 'deny',
    tools,
  };
}

function entryFor(c: ToolClassification, perMinute: number): Record<string, unknown> {
  if (c.class === 'read-only') return {};
  if (c.class === 'execute') {
    return { limits: [{ counter: `${c.tool}_rate`, window: 'minute', max: perMinute, scope: 'grant' }] };
  }
  return { action: 'require_approval', approval: { ...STARTER_APPROVAL, approvers: [] } };
}
