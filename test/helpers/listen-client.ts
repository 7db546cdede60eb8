// A 2026-07-28 `subscriptions/listen` stream opened with a raw POST and read frame by frame, for tests
// that wait on what the stream carries (never on time).
import { META_KEYS } from '../../src/agent/wire/envelope.js';

/** One open listen stream. */
export interface ListenClient {
  status: number;
  /** Every JSON-RPC message the stream carried so far; for an error answer, the one response. */
  frames: any[];
  /** The first frame (seen or to come) that `match` accepts; rejects when the stream ends first. */
  next(match: (frame: any) => boolean, what: string): Promise<any>;
  /** Resolves once the server ended the stream. */
  ended: Promise<void>;
  abort(): void;
}

/** What {@link openListen} sends. */
export interface ListenRequest {
  url: string;
  id: number;
  notifications: Record<string, unknown>;
  token?: string;
  clientCapabilities?: Record<string, unknown>;
}

/** Opens a listen stream; an answer that is not a stream is its one frame. */
export async function openListen(r: ListenRequest): Promise<ListenClient> {
  const controller = new AbortController();
  const params = {
    notifications: r.notifications,
    _meta: {
      [META_KEYS.protocolVersion]: '2026-07-28',
      [META_KEYS.clientCapabilities]: r.clientCapabilities ?? {},
    },
  };
  const res = await fetch(`${r.url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'subscriptions/listen',
      ...(r.token !== undefined && { authorization: `Bearer ${r.token}` }),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: r.id, method: 'subscriptions/listen', params }),
    signal: controller.signal,
  });
  const frames: any[] = [];
  const waiters: { match: (f: any) => boolean; resolve: (f: any) => void }[] = [];
  const seen = (frame: any) => {
    frames.push(frame);
    for (const w of [...waiters]) {
      if (!w.match(frame)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(frame);
    }
  };
  const ended = (async () => {
    if (!res.headers.get('content-type')?.includes('text/event-stream')) {
      seen(await res.json());
      return;
    }
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const chunk = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (chunk.done) return;
      buffer += decoder.decode(chunk.value, { stream: true });
      const events = buffer.split('\n\n');
      buffer = events.pop() ?? '';
      for (const event of events) {
        const data = event.split('\n').find((l) => l.startsWith('data: '));
        if (data) seen(JSON.parse(data.slice('data: '.length)));
      }
    }
  })();
  return {
    status: res.status,
    frames,
    ended,
    abort: () => controller.abort(),
    next: (match, what) => {
      const found = frames.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        void ended.then(() => reject(new Error(`the stream ended before ${what}`)));
      });
    },
  };
}
