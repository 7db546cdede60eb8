import { AirlockError } from '../core/errors.js';

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Marks a value whose only content was an unset `${VAR}`: the key is dropped so defaults and "required" apply. */
const UNSET = Symbol('unset');

/**
 * Expands `${VAR}` and `${VAR:-default}` in every string of a parsed config document.
 * A string that is exactly one unset `${VAR}` removes its key (so optional settings stay unset);
 * an unset variable inside a longer string is an error naming the path.
 */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv = process.env, path = '$'): unknown {
  const out = expand(value, env, path);
  return out === UNSET ? undefined : out;
}

function expand(value: unknown, env: NodeJS.ProcessEnv, path: string): unknown {
  if (typeof value === 'string') return expandString(value, env, path);
  if (Array.isArray(value)) {
    return value.map((v, i) => expand(v, env, `${path}[${i}]`)).filter((v) => v !== UNSET);
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const x = expand(v, env, `${path}.${k}`);
      if (x !== UNSET) out[k] = x;
    }
    return out;
  }
  return value;
}

function expandString(text: string, env: NodeJS.ProcessEnv, path: string): string | typeof UNSET {
  const whole = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(text);
  if (whole && (env[whole[1]!] === undefined || env[whole[1]!] === '')) return UNSET;
  return text.replace(VAR, (_m, name: string, fallback: string | undefined) => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    throw new AirlockError('CONFIG_INVALID', `${path}: environment variable ${name} is not set`);
  });
}
