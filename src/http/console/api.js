// The console's only door to Airlock: the reviewer token, JSON calls to /api, and live change events.
// URLs are relative so the console also works behind a reverse proxy under a path prefix.

const TOKEN_KEY = 'airlock.reviewerToken';

/** An answer from the API that was not a success, or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The reviewer token, kept per browser tab (sessionStorage): closing the tab signs out. */
export const session = {
  get token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) ?? '';
    } catch {
      return '';
    }
  },
  set token(value) {
    try {
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // Storage disabled: the token then lives only as long as the page.
    }
  },
};

let unauthorized = () => {};

/** Called with the server's message whenever a signed-in call gets 401 (token revoked or wrong). */
export function onUnauthorized(fn) {
  unauthorized = fn;
}

/** Builds a query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Calls the API. Resolves with the parsed JSON (or the Response when `raw`); rejects with ApiError
 * carrying the server's `{error: {code, message}}`.
 */
export async function api(
  path,
  { method = 'GET', body, token = session.token, raw = false, quiet401 = false } = {},
) {
  const headers = { Accept: 'application/json', 'X-Airlock-Client': 'console' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(`api/${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'Cannot reach Airlock. Check your connection; retrying automatically.');
  }
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && !quiet401) unauthorized(err.message);
    throw err;
  }
  if (raw) return res;
  try {
    return await res.json();
  } catch {
    throw new ApiError(res.status, 'BAD_RESPONSE', 'Airlock sent a response the console cannot read.');
  }
}

async function errorOf(res) {
  let code = `HTTP_${res.status}`;
  let message = `${res.status} ${res.statusText || 'error'}`;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = String(body.error.code ?? code);
      message = String(body.error.message ?? message);
    }
  } catch {
    // Not JSON (a proxy's error page, or an endpoint that does not exist yet): keep the status line.
  }
  return new ApiError(res.status, code, message);
}

/**
 * Tells `onChange` when requests change: `{id, status}` from the server's event stream, or `null`
 * ("anything may have changed") when the stream (re)opens and every 3 s while it is unavailable.
 * EventSource cannot send headers, so the token goes in the query (the API accepts it on this route
 * only). `onMode` hears 'live' or 'polling'. Returns a function that stops everything.
 */
export function liveUpdates(onChange, onMode = () => {}) {
  const POLL_MS = 3000;
  const RETRY_STREAM_MS = 30000;
  let source = null;
  let poll = null;
  let retry = null;
  let stopped = false;

  const startPolling = () => {
    if (!poll) poll = setInterval(() => onChange(null), POLL_MS);
    onMode('polling');
  };
  const stopPolling = () => {
    clearInterval(poll);
    poll = null;
  };
  const connect = () => {
    retry = null;
    if (stopped || typeof EventSource !== 'function') return startPolling();
    const token = session.token;
    source = new EventSource(`api/events${query({ token })}`);
    source.addEventListener('open', () => {
      stopPolling();
      onMode('live');
      onChange(null); // catch up on whatever happened while the stream was down
    });
    source.addEventListener('request', (e) => {
      let data;
      try {
        data = JSON.parse(e.data);
      } catch {
        return;
      }
      if (data && typeof data.id === 'string') onChange({ id: data.id, status: data.status });
    });
    source.addEventListener('error', () => {
      startPolling();
      // CLOSED: the stream was refused (no such endpoint yet, or 401); the browser will not retry.
      if (source && source.readyState === EventSource.CLOSED) {
        source = null;
        if (!stopped && !retry) retry = setTimeout(connect, RETRY_STREAM_MS);
      }
    });
  };
  connect();
  return () => {
    stopped = true;
    source?.close();
    source = null;
    stopPolling();
    clearTimeout(retry);
  };
}
