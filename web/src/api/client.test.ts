import { describe, expect, it, vi } from "vitest";
import { ApiClient, buildUrl } from "./client";
import { ApiError, NetworkError, describeError, parseRetryAfter } from "./errors";

type Call = { url: string; init: RequestInit };

function fakeFetch(...responses: (Response | Error)[]): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = [];
  const queue = [...responses];
  const impl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    calls.push({ url: String(input), init: init ?? {} });
    const next = queue.shift();
    if (next === undefined) throw new Error("no response queued");
    if (next instanceof Error) throw next;
    return next;
  };
  return { fetch: impl as typeof fetch, calls };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });

const header = (call: Call | undefined, name: string): string | null => new Headers(call?.init.headers).get(name);

describe("ApiClient", () => {
  it("sends the session cookie and the CSRF token on unsafe methods only", async () => {
    const session = { id: "s", user: { name: "ana" }, csrf_token: "tok-1", expires_ms: 1 };
    const { fetch, calls } = fakeFetch(json(200, session), json(200, []), json(200, { deleted: [], not_found: [] }), json(204, null));
    const client = new ApiClient({ fetch });
    await client.signIn("ana", "pw");
    await client.cameras();
    await client.deleteEvents(["a"]);
    await client.revokeToken("t1");
    expect(calls.map((c) => c.init.credentials)).toEqual(["same-origin", "same-origin", "same-origin", "same-origin"]);
    expect(header(calls[0], "X-CSRF-Token")).toBeNull(); // sign-in has no session yet
    expect(header(calls[1], "X-CSRF-Token")).toBeNull(); // GET is safe
    expect(header(calls[2], "X-CSRF-Token")).toBe("tok-1");
    expect(header(calls[3], "X-CSRF-Token")).toBe("tok-1");
    expect(calls[2]?.init.body).toBe(JSON.stringify({ ids: ["a"] }));
  });

  it("turns an error body into an ApiError with the server's detail and fields", async () => {
    const body = { detail: "no video in that range", available: { start_ms: 1, end_ms: 2 } };
    const { fetch } = fakeFetch(json(416, body));
    const client = new ApiClient({ fetch });
    const error = await client.cameras().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(416);
    expect((error as ApiError).detail).toBe("no video in that range");
    expect((error as ApiError).body.available).toEqual({ start_ms: 1, end_ms: 2 });
  });

  it("gives a readable error for a body that is not the server's JSON", async () => {
    const { fetch } = fakeFetch(new Response("<html>Bad gateway</html>", { status: 502 }));
    const error = (await new ApiClient({ fetch }).cameras().catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(502);
    expect(error.detail).toBe("The server answered 502.");
  });

  it("sends the person to sign in on a 401, but not for the sign-in itself", async () => {
    const onUnauthorized = vi.fn();
    const { fetch } = fakeFetch(
      json(401, { detail: "not signed in" }),
      json(401, { detail: "wrong username or password" }),
      json(401, { detail: "not signed in" }),
    );
    const client = new ApiClient({ fetch, onUnauthorized });
    await expect(client.cameras()).rejects.toBeInstanceOf(ApiError);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    await expect(client.signIn("ana", "bad")).rejects.toThrow("wrong username or password");
    expect(await client.currentSession()).toBeNull();
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it("keeps the server's wait from a 429 and says it", async () => {
    const { fetch } = fakeFetch(json(429, { detail: "too many failed sign-ins; try again in 30 s" }, { "Retry-After": "30" }));
    const error = (await new ApiClient({ fetch }).signIn("ana", "x").catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(429);
    expect(error.retryAfterS).toBe(30);
    expect(describeError(error)).toContain("try again in 30 s");
  });

  it("reports an unreachable server as a NetworkError", async () => {
    const { fetch } = fakeFetch(new TypeError("Failed to fetch"));
    await expect(new ApiClient({ fetch }).cameras()).rejects.toBeInstanceOf(NetworkError);
  });

  it("lets an abort through as an abort", async () => {
    const { fetch } = fakeFetch(new DOMException("aborted", "AbortError"));
    await expect(new ApiClient({ fetch }).cameras()).rejects.toMatchObject({ name: "AbortError" });
  });

  it("forgets the CSRF token on sign-out", async () => {
    const session = { id: "s", user: { name: "ana" }, csrf_token: "tok-2", expires_ms: 1 };
    const { fetch, calls } = fakeFetch(json(200, session), json(204, null), json(401, { detail: "x" }));
    const client = new ApiClient({ fetch });
    await client.currentSession();
    await client.signOut();
    expect(header(calls[1], "X-CSRF-Token")).toBe("tok-2");
    await client.clearEvents().catch(() => undefined);
    expect(header(calls[2], "X-CSRF-Token")).toBeNull();
  });
});

describe("buildUrl", () => {
  it("leaves out empty values and repeats arrays", () => {
    expect(buildUrl("/x", { a: 1, b: null, c: undefined, d: ["p", "q"], e: "s t" })).toBe("/x?a=1&d=p&d=q&e=s+t");
    expect(buildUrl("/x", {})).toBe("/x");
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("12", 0)).toBe(12);
    expect(parseRetryAfter(new Date(5_500).toUTCString(), 1_000)).toBe(4);
    expect(parseRetryAfter("soon", 0)).toBeNull();
    expect(parseRetryAfter(null, 0)).toBeNull();
  });
});
