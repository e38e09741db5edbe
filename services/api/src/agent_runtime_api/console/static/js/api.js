// The console's client of /v1: Bearer credentials, JSON bodies, problem+json errors.

/** An error answer of the API (RFC 9457 problem+json), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, problem) {
    const body = problem && typeof problem === "object" ? problem : {};
    super(body.detail || body.title || (status ? `HTTP ${status}` : "The API cannot be reached"));
    this.status = status;
    this.code = body.code || null;
    this.title = body.title || null;
    this.requestId = body.request_id || null;
    this.errors = Array.isArray(body.errors) ? body.errors : [];
  }

  /**
   * Field errors keyed by their location inside the body or query, dotted
   * (`["body", "model_settings", "temperature"]` → `model_settings.temperature`).
   */
  fieldErrors() {
    const fields = {};
    for (const error of this.errors) {
      const loc = Array.isArray(error.loc) ? error.loc : [];
      const path = (loc[0] === "body" || loc[0] === "query" || loc[0] === "path" ? loc.slice(1) : loc).join(".");
      const key = path || "_";
      fields[key] = fields[key] ? `${fields[key]}; ${error.msg}` : error.msg;
    }
    return fields;
  }
}

function queryString(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null && item !== "") search.append(name, String(item));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * A client of the API at `baseUrl` (e.g. `/v1`). `credentials()` resolves to the bearer token of
 * the signed-in user; when the API refuses it, `renew(refusedToken)` may resolve to a new one (the
 * request is then sent once more), else `onUnauthorized(error)` runs (expired, revoked).
 */
export function createApi({ baseUrl, credentials, renew, onUnauthorized }) {
  async function request(method, path, { query, body, signal, headers } = {}, renewed = false) {
    const token = await credentials();
    const sent = { Accept: "application/json", ...(headers || {}) };
    if (token) sent.Authorization = `Bearer ${token}`;
    if (body !== undefined) sent["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(`${baseUrl}${path}${queryString(query)}`, {
        method,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        cache: "no-store",
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, { detail: `The API cannot be reached (${error.message}).` });
    }
    if (response.status === 204) return null;
    const type = response.headers.get("content-type") || "";
    const data = type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) {
      const error = new ApiError(response.status, typeof data === "object" ? data : { detail: data });
      if (response.status === 401 && renew && !renewed) {
        const fresh = await renew(token);
        if (fresh && fresh !== token) return request(method, path, { query, body, signal, headers }, true);
      }
      if (response.status === 401 && onUnauthorized) onUnauthorized(error);
      throw error;
    }
    return data;
  }

  return {
    baseUrl,
    credentials,
    renew,
    get: (path, query, options) => request("GET", path, { ...options, query }),
    post: (path, body, options) => request("POST", path, { ...options, body }),
    patch: (path, body, options) => request("PATCH", path, { ...options, body }),
    request,
    /** Every page of a list, up to `max` items. */
    async all(path, query = {}, max = 500) {
      const items = [];
      let cursor = null;
      do {
        const page = await request("GET", path, { query: { ...query, limit: 100, cursor } });
        items.push(...page.data);
        cursor = page.next_cursor;
      } while (cursor && items.length < max);
      return items;
    },
  };
}
