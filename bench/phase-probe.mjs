// Preloaded into a proxy under `bench/trace-c1.ts` (`node --import ./bench/phase-probe.mjs ...`): times
// the phases of each HTTP request it serves at concurrency 1, from diagnostics channels (node:http's server,
// undici's client) and, when PROBE_REDIS_PORT names one, the first write to Redis and its first answer.
// On SIGUSR2 it writes `PHASES {name: median ms}` to stderr and starts over. It changes nothing else.
import { subscribe } from 'node:diagnostics_channel';
import { Socket } from 'node:net';

const redisPort = Number(process.env.PROBE_REDIS_PORT ?? 0);
let call;
const calls = [];
const now = () => performance.now();

subscribe('http.server.request.start', () => {
  call = { start: now() };
});
subscribe('undici:client:sendHeaders', () => {
  if (call && call.upstreamSent === undefined) call.upstreamSent = now();
});
subscribe('undici:request:headers', () => {
  if (call && call.upstreamHeaders === undefined) call.upstreamHeaders = now();
});
subscribe('http.server.response.finish', () => {
  if (!call) return;
  call.finish = now();
  calls.push(call);
  call = undefined;
});

if (redisPort) {
  const { write, push } = Socket.prototype;
  Socket.prototype.write = function (...args) {
    if (call && call.redisSent === undefined && this.remotePort === redisPort) call.redisSent = now();
    return write.apply(this, args);
  };
  Socket.prototype.push = function (...args) {
    if (
      call &&
      call.redisSent !== undefined &&
      call.redisAnswered === undefined &&
      this.remotePort === redisPort
    )
      call.redisAnswered = now();
    return push.apply(this, args);
  };
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

process.on('SIGUSR2', () => {
  const span = (a, b) => median(calls.map((c) => c[b] - c[a]));
  const out = {
    calls: calls.length,
    total: span('start', 'finish'),
    beforeUpstream: span('start', 'upstreamSent'),
    upstream: span('upstreamSent', 'upstreamHeaders'),
    afterUpstream: span('upstreamHeaders', 'finish'),
  };
  if (redisPort) {
    Object.assign(out, {
      beforeRedis: span('start', 'redisSent'),
      redis: span('redisSent', 'redisAnswered'),
      redisToUpstream: span('redisAnswered', 'upstreamSent'),
    });
  }
  calls.length = 0;
  process.stderr.write(`PHASES ${JSON.stringify(out)}\n`);
});
