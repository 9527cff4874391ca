// The /v1 API with the token the user typed in (kept for this tab only, in sessionStorage).

const KEY = 'pgvault.token';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }

  get auth() {
    return this.status === 401 || this.status === 403;
  }
}

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(value) {
  if (value) {
    sessionStorage.setItem(KEY, value);
  } else {
    sessionStorage.removeItem(KEY);
  }
}

/** GET path (under /v1) as JSON; throws ApiError with the server's own message otherwise. */
export async function get(path, params) {
  const url = new URL('/v1' + path, window.location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    url.searchParams.set(k, v);
  }
  const headers = {Accept: 'application/json'};
  const t = token();
  if (t) {
    headers.Authorization = 'Bearer ' + t;
  }
  let response;
  try {
    response = await fetch(url, {headers, cache: 'no-store', credentials: 'omit'});
  } catch (e) {
    throw new ApiError(0, 'the pgvault server did not answer (' + e.message + ')');
  }
  const text = await response.text();
  if (!response.ok) {
    throw new ApiError(response.status, messageOf(text) || (response.status + ' ' + response.statusText));
  }
  return JSON.parse(text);
}

/** The server's message: {"message": ...} from the API, plain text from the access filter. */
function messageOf(text) {
  const trimmed = (text || '').trim();
  if (trimmed.startsWith('{')) {
    try {
      const body = JSON.parse(trimmed);
      if (typeof body.message === 'string') {
        return body.message;
      }
      if (body._embedded && Array.isArray(body._embedded.errors) && body._embedded.errors.length) {
        return body._embedded.errors.map(e => e.message).join('; ');
      }
    } catch (e) {
      // not JSON after all: shown as it came
    }
  }
  return trimmed;
}

export function clusterPath(name) {
  return '/clusters/' + encodeURIComponent(name);
}
