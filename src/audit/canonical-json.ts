// The audit chain hashes this form, not the bytes on disk, so that verifying needs only JSON.parse.
// It follows RFC 8785 (JCS) where it matters here: keys sorted by UTF-16 code units, no whitespace,
// numbers and strings exactly as JSON.stringify writes them.

/** Canonical JSON of a JSON-compatible value: sorted keys, no whitespace; mirrors JSON.stringify for everything else. */
export function canonicalJson(value: unknown): string {
  const out = encode(value, new Set());
  // Top-level undefined/functions have no JSON form; failing loudly beats hashing "undefined".
  if (out === undefined) throw new TypeError('canonicalJson: value has no JSON representation');
  return out;
}

function encode(value: unknown, ancestors: Set<object>): string | undefined {
  if (value === null) return 'null';
  if (typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(): unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'bigint':
      throw new TypeError('canonicalJson: BigInt has no JSON representation');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  const obj = value as object;
  if (ancestors.has(obj)) throw new TypeError('canonicalJson: circular structure');
  ancestors.add(obj);
  try {
    if (Array.isArray(obj)) {
      return '[' + obj.map((item) => encode(item, ancestors) ?? 'null').join(',') + ']';
    }
    const members: string[] = [];
    for (const key of Object.keys(obj).sort()) {
      const encoded = encode((obj as Record<string, unknown>)[key], ancestors);
      if (encoded !== undefined) members.push(JSON.stringify(key) + ':' + encoded);
    }
    return '{' + members.join(',') + '}';
  } finally {
    ancestors.delete(obj);
  }
}
