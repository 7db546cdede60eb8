import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

// RFC 6455's fixed GUID for the handshake answer.
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** One Socket Mode connection from the app under test. */
interface Connection {
  socket: Duplex;
  buffer: Buffer;
}

/**
 * Slack's Socket Mode side, just enough for Bolt: a WebSocket endpoint (hand-rolled RFC 6455, text
 * frames, ping/pong, close) that says `hello`, sends envelopes and collects the app's acks.
 */
export class FakeSocketMode {
  /** Every message the app sent (acks), parsed. */
  readonly received: Record<string, unknown>[] = [];
  private readonly connections = new Set<Connection>();
  private readonly waiters = new Set<() => void>();

  constructor(
    server: Server,
    private readonly wsBase: string,
  ) {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex) => this.accept(req, socket));
  }

  /** A fresh URL for `apps.connections.open`. */
  nextUrl(): string {
    return `${this.wsBase}/socket/${randomUUID()}`;
  }

  /** Open connections (Bolt connects once `start()` ran). */
  get connected(): number {
    return this.connections.size;
  }

  /** Resolves once an app is connected. */
  waitConnected(timeoutMs = 10_000): Promise<void> {
    return this.until(() => this.connections.size > 0, timeoutMs, 'no Socket Mode connection');
  }

  /** Sends one envelope to every connection and resolves with the app's ack (`{envelope_id, payload?}`). */
  async send(
    type: string,
    payload: Record<string, unknown>,
    timeoutMs = 10_000,
  ): Promise<Record<string, unknown>> {
    const envelopeId = randomUUID();
    const message = JSON.stringify({
      envelope_id: envelopeId,
      type,
      payload,
      accepts_response_payload: type !== 'events_api',
      retry_attempt: 0,
      retry_reason: '',
    });
    for (const c of this.connections) c.socket.write(frame(0x1, Buffer.from(message)));
    let ack: Record<string, unknown> | undefined;
    await this.until(
      () => (ack = this.received.find((m) => m.envelope_id === envelopeId)) !== undefined,
      timeoutMs,
      `no ack for ${type} envelope`,
    );
    return ack!;
  }

  /** Drops every connection. */
  close(): void {
    for (const c of this.connections) c.socket.destroy();
    this.connections.clear();
  }

  private accept(req: IncomingMessage, socket: Duplex): void {
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string' || !req.url?.startsWith('/socket/')) {
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const accept = createHash('sha1')
      .update(key + WS_GUID)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    const c: Connection = { socket, buffer: Buffer.alloc(0) };
    this.connections.add(c);
    socket.on('data', (chunk: Buffer) => this.onData(c, chunk));
    socket.on('close', () => {
      this.connections.delete(c);
      this.notify();
    });
    socket.on('error', () => this.connections.delete(c));
    socket.write(
      frame(
        0x1,
        Buffer.from(
          JSON.stringify({
            type: 'hello',
            num_connections: 1,
            connection_info: { app_id: 'A0AIRLOCK' },
            debug_info: { host: 'fake' },
          }),
        ),
      ),
    );
    this.notify();
  }

  private onData(c: Connection, chunk: Buffer): void {
    c.buffer = Buffer.concat([c.buffer, chunk]);
    for (;;) {
      const parsed = parseFrame(c.buffer);
      if (!parsed) return;
      c.buffer = c.buffer.subarray(parsed.length);
      if (parsed.opcode === 0x8) {
        c.socket.end(frame(0x8, Buffer.alloc(0)));
        this.connections.delete(c);
      } else if (parsed.opcode === 0x9) {
        c.socket.write(frame(0xa, parsed.payload));
      } else if (parsed.opcode === 0x1) {
        try {
          this.received.push(JSON.parse(parsed.payload.toString('utf8')) as Record<string, unknown>);
        } catch {
          // Not JSON: ignored, as Slack would.
        }
      }
      this.notify();
    }
  }

  private notify(): void {
    for (const fn of [...this.waiters]) fn();
  }

  private until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        reject(new Error(`${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(done);
      done();
    });
  }
}

// A server frame: FIN set, never masked.
function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  let header: Buffer;
  if (len < 126) header = Buffer.from([0x80 | opcode, len]);
  else if (len < 65_536) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([header, payload]);
}

// A client frame (always masked); undefined until the whole frame has arrived. Fragmentation is not
// needed: Bolt's acks are small single frames.
function parseFrame(buf: Buffer): { opcode: number; payload: Buffer; length: number } | undefined {
  if (buf.length < 2) return undefined;
  const opcode = buf[0]! & 0x0f;
  const masked = (buf[1]! & 0x80) !== 0;
  let len = buf[1]! & 0x7f;
  let offset = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    offset = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  const maskLen = masked ? 4 : 0;
  if (buf.length < offset + maskLen + len) return undefined;
  const mask = masked ? buf.subarray(offset, offset + 4) : undefined;
  const payload = Buffer.from(buf.subarray(offset + maskLen, offset + maskLen + len));
  if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
  return { opcode, payload, length: offset + maskLen + len };
}
