import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, loadConfig } from '../../src/config/load-config.js';
import { expandEnv } from '../../src/config/expand-env.js';
import { AirlockError } from '../../src/core/errors.js';

const fails = (raw: unknown, pattern: RegExp, env: NodeJS.ProcessEnv = {}) =>
  assert.throws(
    () => parseConfig(raw, '/base', env),
    (err: unknown) =>
      err instanceof AirlockError && err.code === 'CONFIG_INVALID' && pattern.test(err.message),
  );

test('every key has a default; the result is frozen and paths are absolute', () => {
  const c = parseConfig({}, '/base', {});
  assert.equal(c.listen.host, '127.0.0.1');
  assert.equal(c.listen.port, 7420);
  assert.equal(c.redis.prefix, 'airlock');
  assert.equal(c.dataDir, '/base/.airlock');
  assert.equal(c.policies, '/base/policies');
  assert.equal(c.audit.file, '/base/.airlock/audit.jsonl');
  assert.equal(c.history.retentionDays, 90);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.listen));
});

test('unknown keys are errors naming their path', () => {
  fails({ listen: { hots: 'x' } }, /\$\.listen\.hots: unknown key/);
  fails({ slack: { botTokn: 'x' } }, /\$\.slack\.botTokn: unknown key/);
  fails({ nope: 1 }, /\$\.nope: unknown key/);
});

test('a server that fits no shape is reported against the shape it most likely meant, key by key', () => {
  assert.throws(
    () => parseConfig({ servers: { lab: { comand: 'node' } } }, '/base', {}),
    (err: unknown) => {
      assert.ok(err instanceof AirlockError && err.code === 'CONFIG_INVALID');
      assert.equal(
        err.message,
        '$.servers.lab.command: is required\n$.servers.lab.comand: unknown key "comand"',
      );
      assert.deepEqual(err.details.issues, [
        { path: '$.servers.lab.command', message: 'is required' },
        { path: '$.servers.lab.comand', message: 'unknown key "comand"' },
      ]);
      return true;
    },
  );
});

test('wrong types name the path', () => {
  fails({ listen: { port: 'eighty' } }, /\$\.listen\.port/);
  fails({ servers: { lab: { url: 'not a url' } } }, /\$\.servers\.lab\.url/);
  fails(
    { agents: [{ id: 'a', token: 'short' }] },
    /\$\.agents\[0\]\.token: agent tokens must be at least 16/,
  );
  fails({ servers: { 'bad name!': { command: 'x' } } }, /servers/);
});

test('${VAR} and ${VAR:-default} expand; an unset whole-value variable leaves the key unset', () => {
  const env = { TOKEN: 'tok-0123456789abcdef', PORT_HOST: 'localhost' };
  assert.deepEqual(expandEnv({ a: '${TOKEN}', b: 'x-${MISSING:-dflt}', c: ['${MISSING}', 'k'] }, env), {
    a: 'tok-0123456789abcdef',
    b: 'x-dflt',
    c: ['k'],
  });
  const c = parseConfig(
    {
      listen: { host: '${PORT_HOST}' },
      agents: [{ id: 'ci', token: '${TOKEN}' }],
      slack: { botToken: '${SLACK_BOT_TOKEN}' },
    },
    '/base',
    env,
  );
  assert.equal(c.listen.host, 'localhost');
  assert.equal(c.agents[0]!.token, 'tok-0123456789abcdef');
  assert.equal(c.slack.botToken, undefined);
  fails(
    { publicUrl: 'https://${HOST_MISSING}/x' },
    /\$\.publicUrl: environment variable HOST_MISSING is not set/,
  );
});

test('secure defaults: off loopback, agent and reviewer tokens are required', () => {
  fails({ listen: { host: '0.0.0.0' } }, /requires agent tokens/);
  fails(
    { listen: { host: '10.1.2.3' }, agents: [{ id: 'a', token: 'a'.repeat(16) }] },
    /requires reviewer tokens/,
  );
  const ok = parseConfig(
    {
      listen: { host: '0.0.0.0' },
      agents: [{ id: 'a', token: 'a'.repeat(16) }],
      reviewers: [{ id: 'r', token: 'r'.repeat(16) }],
    },
    '/base',
    {},
  );
  assert.equal(ok.listen.host, '0.0.0.0');
  fails(
    { agents: [{ id: 'a', token: 'x'.repeat(16) }], reviewers: [{ id: 'r', token: 'x'.repeat(16) }] },
    /same token/,
  );
  fails({ agents: [{ id: 'a' }, { id: 'a' }] }, /duplicate agent id/);
  fails({ slack: { botToken: 'xoxb-1', channel: 'C1' } }, /\$\.slack\.signingSecret: required/);
});

test('YAML and JSON files load; syntax errors name the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-config-'));
  writeFileSync(
    join(dir, 'airlock.config.yaml'),
    'listen:\n  port: 9999\nservers:\n  lab:\n    command: node\n',
  );
  const { config, file } = loadConfig({ cwd: dir, env: {} });
  assert.equal(file, join(dir, 'airlock.config.yaml'));
  assert.equal(config.listen.port, 9999);
  assert.equal(config.servers.lab!.kind, 'stdio');
  writeFileSync(join(dir, 'broken.json'), '{ "listen": ');
  assert.throws(() => loadConfig({ cwd: dir, file: 'broken.json', env: {} }), /broken\.json/);
  assert.throws(
    () => loadConfig({ cwd: mkdtempSync(join(tmpdir(), 'empty-')), env: {} }),
    /No config file found/,
  );
  assert.equal(
    loadConfig({ cwd: mkdtempSync(join(tmpdir(), 'empty-')), env: {}, demo: true }).file,
    undefined,
  );
});
