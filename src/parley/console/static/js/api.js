// The console's one way to the API: tokens in memory (the refresh token in sessionStorage, so
// a reload of the tab keeps its sign-in; never localStorage), a refresh before the access token
// expires, one retry after a 401, and every error turned into words.
//
// Only a refresh answered 401 ends the sign-in: the login session is over (signed out, revoked,
// the user disabled). A refresh that fails otherwise (the server unreachable, 429, 503) keeps the
// tokens and is shown in words, so an outage or a restart never signs the tab out.

const BASE = "/api/v1";
const REFRESH_KEY = "parley.refresh";
// Refresh this long before the access token expires (or at 80% of a shorter lifetime).
const REFRESH_MARGIN_S = 60;
const UNREACHABLE = "The server could not be reached. Check the connection and try again.";
export const ENDED = "Your sign-in has ended (signed out or revoked). Please sign in again.";

// Text ending as a sentence, to be followed by another.
const sentence = (text) => (/[.!?]$/.test(text) ? text : `${text}.`);

let tokens = null; // {access, refresh, sessionId}
let refreshTimer = null;
let refreshing = null;
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, message, code = null, details = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || [];
  }
}

export function onAuthChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export const signedIn = () => tokens !== null;
export const currentSessionId = () => (tokens ? tokens.sessionId : null);

function announce(reason) {
  for (const listener of listeners) listener(signedIn(), reason);
}

export function adoptTokens(pair) {
  tokens = { access: pair.access_token, refresh: pair.refresh_token, sessionId: pair.session_id };
  sessionStorage.setItem(REFRESH_KEY, pair.refresh_token);
  clearTimeout(refreshTimer);
  const lifetime = Number(pair.expires_in) || 900;
  const wait = Math.max(5, Math.min(lifetime - REFRESH_MARGIN_S, lifetime * 0.8));
  refreshTimer = setTimeout(refreshAhead, wait * 1000);
}

// The refresh ahead of expiry. A 401 has signed the page out; any other failure tries again
// shortly, and until then the next call that needs a token meets the failure and says it.
const AHEAD_RETRY_MS = 15000;
function refreshAhead() {
  refresh().catch(() => {
    if (!tokens) return;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshAhead, AHEAD_RETRY_MS);
  });
}

export function forget(reason = null) {
  const was = tokens !== null;
  tokens = null;
  clearTimeout(refreshTimer);
  sessionStorage.removeItem(REFRESH_KEY);
  if (was || reason) announce(reason);
}

// A tab reloaded while signed in: trade the stored refresh token for a new pair. Answers true
// when signed in, false when there is no sign-in (a 401 has announced why); any other failure
// is thrown in words and the stored token kept, so the caller can offer to try again.
export async function resume() {
  const stored = sessionStorage.getItem(REFRESH_KEY);
  if (!stored) return false;
  if (!tokens) tokens = { access: null, refresh: stored, sessionId: null };
  try {
    await refresh();
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return false;
    throw new ApiError(error.status || 0, `Your sign-in could not be resumed: ${sentence(describeError(error))}`, error.code);
  }
}

// A new token pair for the refresh token. A 401 ends the sign-in here (the page returns to
// sign-in and says why); any other failure leaves the tokens as they are.
export function refresh() {
  if (refreshing) return refreshing;
  const presented = tokens && tokens.refresh;
  refreshing = (async () => {
    if (!presented) throw new ApiError(401, "You are signed out.", "unauthorized");
    try {
      const pair = await send("POST", "/auth/refresh", { json: { refresh_token: presented } });
      adoptTokens(pair);
      announce(null);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) forget(ENDED);
      throw error;
    }
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

// A refresh that failed for another reason than a 401, said as such: the sign-in stands.
function renewalFailed(error) {
  if (error instanceof ApiError && error.status === 401) return error;
  return new ApiError(
    (error && error.status) || 0,
    `Your sign-in could not be renewed: ${sentence(describeError(error))} You are still signed in; try again.`,
    error && error.code,
  );
}

// One call that fails with 401 when the login session has ended elsewhere, which sends the page
// back to sign-in with the reason; any other failure is the caller's to show.
export const checkSignIn = () => api("GET", "/users/me");

export function describeError(error) {
  if (!(error instanceof ApiError)) return String((error && error.message) || error);
  const parts = [error.message];
  for (const d of error.details) parts.push(`${d.field ? d.field + ": " : ""}${d.message}`);
  return parts.join(" — ");
}

async function toError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (body && body.status === "error") {
    const retry = response.headers.get("Retry-After");
    const suffix = retry ? ` (try again in ${retry} s)` : "";
    return new ApiError(
      response.status,
      body.message + suffix,
      body.error && body.error.code,
      body.error && Array.isArray(body.error.details) ? body.error.details : null,
    );
  }
  // No envelope: a proxy in front of the server, or the server restarting.
  const retry = response.headers.get("Retry-After");
  const wait = retry ? ` Try again in ${retry} s.` : " Try again later.";
  if (response.status === 429) return new ApiError(429, `Too many requests (429).${wait}`, "rate_limited");
  if (response.status === 502 || response.status === 503 || response.status === 504) {
    return new ApiError(response.status, `The server is unavailable just now (${response.status}).${wait}`, "unavailable");
  }
  return new ApiError(response.status, `The server answered ${response.status}.`);
}

function url(path, query) {
  const target = new URL(BASE + path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") target.searchParams.set(key, value);
  }
  return target.pathname + target.search;
}

async function send(method, path, { json, query, form, auth = false, raw = false, key = null } = {}) {
  const headers = {};
  if (key) headers["Idempotency-Key"] = key;
  if (auth && tokens && tokens.access) headers.Authorization = `Bearer ${tokens.access}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  let response;
  try {
    response = await fetch(url(path, query), { method, headers, body, credentials: "omit" });
  } catch {
    throw new ApiError(0, UNREACHABLE);
  }
  if (!response.ok) throw await toError(response);
  if (raw) return response;
  const envelope = await response.json();
  return envelope.data;
}

// Sign in the user; answers {mfa_required, mfa_token} when a second step is needed.
export async function login(email, password) {
  const data = await send("POST", "/auth/login", { json: { email, password } });
  if (data && data.mfa_required) return data;
  adoptTokens(data);
  announce(null);
  return { mfa_required: false };
}

export async function verifyMfa(mfaToken, code) {
  const pair = await send("POST", "/auth/mfa/verify", { json: { mfa_token: mfaToken, code } });
  adoptTokens(pair);
  announce(null);
}

// Sign out: the page forgets its tokens once the server has ended the login session (or
// answers that it already has). Any other failure keeps the page signed in, since the session
// is still live on the server, and is thrown in words so that the user can try again.
export async function logout() {
  try {
    await api("POST", "/auth/logout");
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) {
      throw new ApiError(
        (error && error.status) || 0,
        `Could not sign out: ${sentence(describeError(error))} You are still signed in on the server; try again.`,
        error && error.code,
      );
    }
  }
  forget();
}

// A refresh before a call, its failure said in words (a 401 has already signed the page out).
async function renew() {
  try {
    await refresh();
  } catch (error) {
    throw renewalFailed(error);
  }
}

// An authenticated call: a 401 refreshes once and retries; a refresh or a retry answered 401
// signs the page out. A refresh that fails otherwise keeps the sign-in and says so.
// A POST carries one Idempotency-Key for all its attempts, so a retry never posts twice.
export async function api(method, path, options = {}) {
  if (!tokens) throw new ApiError(401, "You are signed out.", "unauthorized");
  if (method === "POST" && !path.startsWith("/auth/")) options = { key: crypto.randomUUID(), ...options };
  if (!tokens.access) await renew();
  try {
    return await send(method, path, { ...options, auth: true });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
  }
  await renew();
  try {
    return await send(method, path, { ...options, auth: true });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) forget(ENDED);
    throw error;
  }
}

// Fetch a media file with the bearer token and answer a blob: URL for it.
export async function mediaUrl(mediaUrlOrId) {
  const path = String(mediaUrlOrId).startsWith("/")
    ? String(mediaUrlOrId).replace(BASE, "")
    : `/media/${mediaUrlOrId}`;
  const response = await api("GET", path, { raw: true });
  return URL.createObjectURL(await response.blob());
}

// Upload a form with XHR, for its progress events: onProgress(fraction) as bytes leave.
export function upload(path, form, onProgress) {
  const key = crypto.randomUUID();
  const attempt = () =>
    new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", BASE + path);
      xhr.setRequestHeader("Authorization", `Bearer ${tokens && tokens.access}`);
      xhr.setRequestHeader("Idempotency-Key", key);
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      };
      xhr.onerror = () => reject(new ApiError(0, "The upload failed: the server could not be reached."));
      xhr.onload = async () => {
        const response = new Response(xhr.responseText, {
          status: xhr.status,
          headers: { "Retry-After": xhr.getResponseHeader("Retry-After") || "" },
        });
        if (xhr.status >= 200 && xhr.status < 300) {
          resolve((await response.json()).data);
        } else {
          reject(await toError(response));
        }
      };
      xhr.send(form);
    });
  return attempt().catch(async (error) => {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    await renew();
    try {
      return await attempt();
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 401) forget(ENDED);
      throw failure;
    }
  });
}

// The paths the server publishes, so features still absent on it stay out of the menus. A
// failure is thrown in words and not kept: the next call asks again.
let published = null;
export function publishedPaths() {
  if (!published) {
    published = (async () => {
      let response;
      try {
        response = await fetch("/openapi.json", { credentials: "omit" });
      } catch {
        throw new ApiError(0, UNREACHABLE);
      }
      if (!response.ok) throw await toError(response);
      let doc;
      try {
        doc = await response.json();
      } catch {
        throw new ApiError(response.status, "The server's description of its API (/openapi.json) could not be read.");
      }
      return new Set(Object.keys((doc && doc.paths) || {}));
    })();
    published.catch(() => {
      published = null;
    });
  }
  return published;
}
