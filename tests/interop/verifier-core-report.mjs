// What the Learner Credential Wallet's verifier (@digitalcredentials/
// verifier-core) says, made readable for Cairn's tests, and the fence that
// keeps its scripts (lcw-verify.mjs, lcw-wallet.mjs) off the network.

// The steps of verifier-core's log that the tests read.
export const SIGNATURE_STEP = 'valid_signature';
export const EXPIRATION_STEP = 'expiration';
export const REGISTRY_STEP = 'registered_issuer';
export const STATUS_STEP_SUFFIX = '_status';
// The most of verifier-core's whole result a report carries.
export const RAW_LIMIT = 16000;

export function isLoopbackHost(hostname) {
  return hostname === 'localhost' || hostname === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

// Wraps globalThis.fetch so that nothing leaves the machine but `data:`
// URLs, loopback and `allowedHost` (the node under test, if named); returns
// the list that refused URLs are added to. `script` names the caller in
// the errors.
export function installFetchGuard(script, allowedHost) {
  const realFetch = globalThis.fetch;
  const refused = [];
  globalThis.fetch = function guardedFetch(input, init) {
    const href = typeof input === 'string' ? input :
      input instanceof URL ? input.href : input?.url;
    let url;
    try {
      url = new URL(href);
    } catch(e) {
      return Promise.reject(new TypeError(`${script}: not a URL: ${href}`));
    }
    const allowed = url.protocol === 'data:' ||
      ((url.protocol === 'http:' || url.protocol === 'https:') &&
        (isLoopbackHost(url.hostname) || url.hostname === allowedHost));
    if(!allowed) {
      refused.push(url.href);
      return Promise.reject(new TypeError(
        `${script}: offline, refuses ${url.href}`));
    }
    return realFetch(input, init);
  };
  return refused;
}

// verifier-core's result holds Error objects (JSON.stringify makes them {}),
// the credential it was given, and stack traces: keep names, messages and
// causes, drop the rest.
export function toPlain(value, depth = 0) {
  if(depth > 8) {
    return '[too deep]';
  }
  if(value instanceof Error) {
    const plain = {name: value.name, message: value.message};
    for(const key of ['cause', 'errors', 'details', 'log']) {
      if(value[key] !== undefined) {
        plain[key] = toPlain(value[key], depth + 1);
      }
    }
    return plain;
  }
  if(Array.isArray(value)) {
    return value.map(v => toPlain(v, depth + 1));
  }
  if(value !== null && typeof value === 'object') {
    const plain = {};
    for(const [key, v] of Object.entries(value)) {
      if(key === 'credential' || key === 'stack' || key === 'stackTrace') {
        continue;
      }
      plain[key] = toPlain(v, depth + 1);
    }
    return plain;
  }
  return value;
}

export function describeError(error) {
  if(error === null || typeof error !== 'object') {
    return String(error);
  }
  const name = error.name ?? 'Error';
  // vc wraps a status list's own failure; its reason is in the message.
  return `${name}: ${error.message ?? JSON.stringify(toPlain(error))}`;
}

// verifier-core's log, each entry its id, verdict and error's name and
// message.
export function compactLog(log) {
  return log.map(entry => {
    const compact = {id: entry.id};
    if(entry.valid !== undefined) {
      compact.valid = entry.valid;
    }
    if(entry.error !== undefined) {
      compact.error = {name: entry.error.name, message: entry.error.message};
    }
    return compact;
  });
}

// `toPlain(result)`, cut to RAW_LIMIT characters of JSON.
export function rawOf(result) {
  const raw = toPlain(result);
  const json = JSON.stringify(raw);
  return json.length <= RAW_LIMIT ? raw :
    {truncated: true, json: json.slice(0, RAW_LIMIT)};
}
