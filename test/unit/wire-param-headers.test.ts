import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scanHeaderParams, validateParamHeaders } from '../../src/agent/wire/param-headers.js';
import {
  errorResponse,
  httpStatusForWireError,
  missingRequiredClientCapability,
  unsupportedProtocolVersion,
  WireErrorCode,
} from '../../src/agent/wire/errors.js';

const schema = {
  type: 'object',
  properties: {
    region: { type: 'string', 'x-mcp-header': 'Region' },
    count: { type: 'integer', 'x-mcp-header': 'Count' },
    dry: { type: 'boolean', 'x-mcp-header': 'Dry' },
    nested: { type: 'object', properties: { zone: { type: ['string', 'null'], 'x-mcp-header': 'Zone' } } },
    query: { type: 'string', default: { 'x-mcp-header': 'NotAnAnnotation' } },
  },
};

describe('scanHeaderParams', () => {
  it('finds annotations reached through properties only, nested included', () => {
    const scan = scanHeaderParams(schema);
    assert.ok(scan.ok);
    assert.deepEqual(
      scan.params.map((p) => [p.path.join('.'), p.header, p.type]),
      [
        ['region', 'Mcp-Param-Region', 'string'],
        ['count', 'Mcp-Param-Count', 'integer'],
        ['dry', 'Mcp-Param-Dry', 'boolean'],
        ['nested.zone', 'Mcp-Param-Zone', 'string'],
      ],
    );
  });

  const invalid: Array<[string, unknown]> = [
    [
      'under items',
      {
        type: 'object',
        properties: { a: { type: 'array', items: { type: 'string', 'x-mcp-header': 'A' } } },
      },
    ],
    [
      'under anyOf',
      { type: 'object', anyOf: [{ properties: { a: { type: 'string', 'x-mcp-header': 'A' } } }] },
    ],
    ['under $defs', { type: 'object', $defs: { a: { type: 'string', 'x-mcp-header': 'A' } } }],
    ['on the root', { type: 'object', 'x-mcp-header': 'Root' }],
    ['type number', { type: 'object', properties: { a: { type: 'number', 'x-mcp-header': 'A' } } }],
    ['type object', { type: 'object', properties: { a: { type: 'object', 'x-mcp-header': 'A' } } }],
    ['no type', { type: 'object', properties: { a: { 'x-mcp-header': 'A' } } }],
    ['empty name', { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': '' } } }],
    ['name with a space', { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 'A B' } } }],
    ['name with CRLF', { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 'A\r\nB' } } }],
    ['name not a string', { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 1 } } }],
    [
      'duplicate names ignoring case',
      {
        type: 'object',
        properties: {
          a: { type: 'string', 'x-mcp-header': 'Id' },
          b: { type: 'string', 'x-mcp-header': 'ID' },
        },
      },
    ],
  ];
  for (const [name, inputSchema] of invalid) {
    it(`invalidates the tool: ${name}`, () => assert.equal(scanHeaderParams(inputSchema).ok, false));
  }

  it('refuses a schema too deep to check instead of recursing without bound', () => {
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 10_000; i++) deep = { type: 'object', properties: { a: deep } };
    assert.equal(scanHeaderParams(deep).ok, false);
  });

  it('a schema without annotations, or not an object, has no mirrored arguments', () => {
    assert.deepEqual(scanHeaderParams({ type: 'object', properties: { a: { type: 'string' } } }), {
      ok: true,
      params: [],
    });
    assert.deepEqual(scanHeaderParams(undefined), { ok: true, params: [] });
  });
});

describe('validateParamHeaders', () => {
  const scan = scanHeaderParams(schema);
  assert.ok(scan.ok);
  const params = scan.params;
  const cases: Array<[string, Record<string, unknown>, Record<string, string>, number | 'ok']> = [
    ['matching string', { region: 'us-west1' }, { 'Mcp-Param-Region': 'us-west1' }, 'ok'],
    ['header name in any case', { region: 'us-west1' }, { 'mcp-param-region': 'us-west1' }, 'ok'],
    ['valid base64', { region: 'Hello' }, { 'Mcp-Param-Region': '=?base64?SGVsbG8=?=' }, 'ok'],
    ['invalid base64 padding', { region: 'Hello' }, { 'Mcp-Param-Region': '=?base64?SGVsbG8?=' }, -32020],
    [
      'invalid base64 characters',
      { region: 'Hello' },
      { 'Mcp-Param-Region': '=?base64?SGVs!!!bG8=?=' },
      -32020,
    ],
    ['missing prefix is literal', { region: 'SGVsbG8=' }, { 'Mcp-Param-Region': 'SGVsbG8=' }, 'ok'],
    [
      'missing suffix is literal',
      { region: '=?base64?SGVsbG8=' },
      { 'Mcp-Param-Region': '=?base64?SGVsbG8=' },
      'ok',
    ],
    ['value in body, header omitted', { region: 'test-value' }, {}, -32020],
    ['different value', { region: 'a' }, { 'Mcp-Param-Region': 'b' }, -32020],
    ['raw non-ASCII header', { region: 'grüße' }, { 'Mcp-Param-Region': 'grüße' }, -32020],
    ['null in body: no header expected', { region: null }, {}, 'ok'],
    ['absent in body: a header sent anyway is ignored', {}, { 'Mcp-Param-Region': 'x' }, 'ok'],
    ['integers compare numerically', { count: 42 }, { 'Mcp-Param-Count': '42.0' }, 'ok'],
    ['negative integer', { count: -7 }, { 'Mcp-Param-Count': '-7' }, 'ok'],
    ['integer mismatch', { count: 42 }, { 'Mcp-Param-Count': '43' }, -32020],
    ['hex is not decimal', { count: 42 }, { 'Mcp-Param-Count': '0x2A' }, -32020],
    ['exponent is not decimal', { count: 40 }, { 'Mcp-Param-Count': '4e1' }, -32020],
    ['boolean lower case', { dry: true }, { 'Mcp-Param-Dry': 'true' }, 'ok'],
    ['boolean case-sensitive', { dry: false }, { 'Mcp-Param-Dry': 'False' }, -32020],
    ['nested path', { nested: { zone: 'z1' } }, { 'Mcp-Param-Zone': 'z1' }, 'ok'],
    ['nested path, header missing', { nested: { zone: 'z1' } }, {}, -32020],
    ['a non-primitive value is left to the schema check', { region: { a: 1 } }, {}, 'ok'],
  ];
  for (const [name, args, headers, expected] of cases) {
    it(name, () => {
      const error = validateParamHeaders(params, args, headers);
      assert.equal(error === undefined ? 'ok' : error.code, expected);
    });
  }

  it('arguments that are not an object expect no headers', () => {
    assert.equal(validateParamHeaders(params, ['us-west1'], {}), undefined);
    assert.equal(validateParamHeaders(params, 'us-west1', {}), undefined);
  });
});

describe('wire errors', () => {
  it('maps every code Airlock emits to its HTTP status, unknown codes in-band', () => {
    const expected: Record<number, number> = {
      [-32700]: 400,
      [-32600]: 400,
      [-32601]: 404,
      [-32602]: 400,
      [-32603]: 500,
      [-32000]: 400,
      [-32001]: 404,
      [-32020]: 400,
      [-32021]: 400,
      [-32022]: 400,
    };
    for (const code of Object.values(WireErrorCode))
      assert.equal(httpStatusForWireError(code), expected[code], `${code}`);
    assert.equal(httpStatusForWireError(-32005), 200);
    assert.equal(httpStatusForWireError(-32002), 200);
  });

  it('-32021 carries requiredCapabilities as an object, -32022 supported and requested', () => {
    const e = missingRequiredClientCapability({ extensions: { 'io.modelcontextprotocol/tasks': {} } });
    assert.equal(e.code, -32021);
    assert.deepEqual(e.data, {
      requiredCapabilities: { extensions: { 'io.modelcontextprotocol/tasks': {} } },
    });
    assert.match(e.message, /extensions\.io\.modelcontextprotocol\/tasks/);
    assert.deepEqual(unsupportedProtocolVersion('1900-01-01', ['2026-07-28']).data, {
      supported: ['2026-07-28'],
      requested: '1900-01-01',
    });
    assert.deepEqual(errorResponse(3, e), { jsonrpc: '2.0', id: 3, error: e });
  });
});
