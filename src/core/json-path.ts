// RFC 9535 member-name shorthand (ASCII subset); anything else is quoted, so a path always reads back.
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Formats a path such as `['tools', 'delete_*', 'when', 0]` as `$.tools["delete_*"].when[0]`. */
export function formatJsonPath(path: readonly PropertyKey[]): string {
  let out = '$';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && IDENTIFIER.test(seg)) out += `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}
