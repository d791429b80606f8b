// The API client: calls carry the browser's session cookie (HttpOnly, set by POST
// /api/session at sign-in; same-origin fetches send it) or, if an older version stored one in
// this tab, the key itself; every refusal becomes an ApiError holding the problem document.

const KEY_STORAGE = "almanac.key";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || null;
    this.detail = problem.detail || problem.title || `The server answered ${status}.`;
    this.errors = problem.errors || [];
    this.retryAfter = problem.retryAfter || null;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

function authHeaders(extra = {}) {
  const key = storedKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function problemOf(response) {
  let problem = {};
  try {
    problem = await response.json();
  } catch {
    problem = { detail: `The server answered ${response.status} ${response.statusText}.` };
  }
  if (response.status === 429) problem.retryAfter = response.headers.get("Retry-After");
  return new ApiError(response.status, problem);
}

/** Called with the ApiError of any 401, so the app can ask for a key again. */
let onUnauthorized = () => {};
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

/** fetch() with the key; a non-2xx answer throws ApiError. For streams and files. */
export async function request(path, init = {}) {
  let response;
  try {
    response = await fetch(path, { ...init, headers: authHeaders(init.headers || {}) });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { detail: "The server could not be reached. Is Almanac running?" });
  }
  if (!response.ok) {
    const error = await problemOf(response);
    if (response.status === 401) onUnauthorized(error);
    throw error;
  }
  return response;
}

/** A JSON call: api("GET", "/chats"), api("POST", "/feedback", {...}). 204 gives null. */
export async function api(method, path, body = undefined, init = {}) {
  const headers = body === undefined ? {} : { "Content-Type": "application/json" };
  const response = await request(path, {
    ...init,
    method,
    headers: { Accept: "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  return response.json();
}

/** Upload a FormData with upload progress (fetch cannot report it): onProgress(0..1). */
export function upload(method, path, formData, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    const key = storedKey();
    if (key) xhr.setRequestHeader("Authorization", `Bearer ${key}`);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onerror = () => reject(new ApiError(0, { detail: "The upload could not reach the server." }));
    xhr.onload = () => {
      let body = null;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        body = { detail: xhr.responseText };
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve({ status: xhr.status, body });
      else {
        const error = new ApiError(xhr.status, body || {});
        if (xhr.status === 401) onUnauthorized(error);
        reject(error);
      }
    };
    xhr.send(formData);
  });
}

/** A response body (an SVG, an HTML report, an export) as an object URL for <img>, a link
 * or a frame: such elements cannot send the key themselves. Revoke it when done. */
export async function objectUrl(path) {
  const response = await request(path);
  return URL.createObjectURL(await response.blob());
}
