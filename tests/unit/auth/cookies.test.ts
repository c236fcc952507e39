import { createChunks, stringToBase64URL } from "@supabase/ssr";
import { describe, expect, it } from "vitest";
import {
  clearSessionCookie,
  parseCookieHeader,
  readSupabaseAccessToken,
  SESSION_COOKIE_NAME,
  sessionCookie,
  supabaseAuthCookieName,
} from "@/lib/auth";

const TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";

function attributes(setCookie: string): { nameValue: string; attrs: string[] } {
  const [nameValue = "", ...attrs] = setCookie.split(";").map((p) => p.trim());
  return { nameValue, attrs: attrs.map((a) => a.toLowerCase()) };
}

describe("sessionCookie", () => {
  it("is HttpOnly, SameSite=Lax, Path=/, with the given Max-Age, and Secure + __Host- only when asked", () => {
    const secure = attributes(sessionCookie(TOKEN, { secure: true, maxAgeSeconds: 3600 }));
    // __Host-: only this exact host may set it, so a sibling subdomain cannot plant a session.
    expect(secure.nameValue).toBe(`__Host-${SESSION_COOKIE_NAME}=${TOKEN}`);
    expect(secure.attrs).toEqual(
      expect.arrayContaining(["httponly", "samesite=lax", "path=/", "max-age=3600", "secure"]),
    );

    const plain = attributes(sessionCookie(TOKEN, { secure: false, maxAgeSeconds: 60 }));
    expect(plain.nameValue).toBe(`${SESSION_COOKIE_NAME}=${TOKEN}`);
    expect(plain.attrs).toContain("max-age=60");
    expect(plain.attrs).not.toContain("secure");
  });

  it("refuses a value that could inject attributes, without echoing it", () => {
    const evil = "abc; Domain=evil.example";
    expect(() => sessionCookie(evil, { secure: true, maxAgeSeconds: 60 })).toThrow(TypeError);
    try {
      sessionCookie(evil, { secure: true, maxAgeSeconds: 60 });
    } catch (error) {
      expect(String(error)).not.toContain("evil.example");
    }
    expect(() => sessionCookie(TOKEN, { secure: true, maxAgeSeconds: 0 })).toThrow(TypeError);
  });

  it("clearSessionCookie expires the same cookie (same name and path)", () => {
    const cleared = attributes(clearSessionCookie());
    expect(cleared.nameValue).toBe(`${SESSION_COOKIE_NAME}=`);
    expect(cleared.attrs).toEqual(
      expect.arrayContaining(["path=/", "httponly", "samesite=lax", "max-age=0"]),
    );
    expect(attributes(clearSessionCookie({ secure: true })).attrs).toContain("secure");
    // Over https the cookie set was __Host-nb_session: sign-out must clear that one.
    expect(attributes(clearSessionCookie({ secure: true })).nameValue).toBe(`__Host-${SESSION_COOKIE_NAME}=`);
  });
});

describe("parseCookieHeader", () => {
  it("splits pairs, keeps the first of duplicate names, URI-decodes, and strips quotes", () => {
    const cookies = parseCookieHeader('a=1; b="two"; a=ignored; c=%7B%22x%22%3A1%7D; d=%E0%A4%A; junk; =x');
    expect(cookies.get("a")).toBe("1");
    expect(cookies.get("b")).toBe("two");
    expect(cookies.get("c")).toBe('{"x":1}');
    expect(cookies.get("d")).toBe("%E0%A4%A");
    expect(cookies.size).toBe(4);
  });

  it("handles a missing header", () => {
    expect(parseCookieHeader(null).size).toBe(0);
  });
});

describe("readSupabaseAccessToken", () => {
  const name = "sb-abcd-auth-token";
  const session = JSON.stringify({
    access_token: TOKEN,
    refresh_token: "r",
    user: { bio: "x".repeat(5000) },
  });

  function asCookies(chunks: { name: string; value: string }[]): Map<string, string> {
    return new Map(chunks.map((c) => [c.name, c.value]));
  }

  it("derives the cookie name from the project URL as supabase-js does", () => {
    expect(supabaseAuthCookieName("https://abcd.supabase.co")).toBe(name);
    expect(supabaseAuthCookieName("http://127.0.0.1:54321")).toBe("sb-127-auth-token");
  });

  it("joins chunks .0, .1, … of a base64- prefixed value (as @supabase/ssr chunks it)", () => {
    const chunks = createChunks(name, `base64-${stringToBase64URL(session)}`);
    expect(chunks.length).toBeGreaterThan(1);
    expect(readSupabaseAccessToken(asCookies(chunks), name)).toBe(TOKEN);
  });

  it("reads an unchunked raw JSON value, and the legacy array form", () => {
    expect(readSupabaseAccessToken(new Map([[name, JSON.stringify({ access_token: TOKEN })]]), name)).toBe(
      TOKEN,
    );
    expect(readSupabaseAccessToken(new Map([[name, JSON.stringify([TOKEN, "refresh"])]]), name)).toBe(TOKEN);
  });

  it("prefers the unchunked cookie over stray chunks", () => {
    const cookies = new Map([
      [name, JSON.stringify({ access_token: TOKEN })],
      [`${name}.0`, "base64-garbage"],
    ]);
    expect(readSupabaseAccessToken(cookies, name)).toBe(TOKEN);
  });

  it("returns nothing for absent, undecodable, or token-less values", () => {
    expect(readSupabaseAccessToken(new Map(), name)).toBeUndefined();
    expect(readSupabaseAccessToken(new Map([[name, "base64-!!!notjson"]]), name)).toBeUndefined();
    expect(
      readSupabaseAccessToken(new Map([[name, JSON.stringify({ refresh_token: "r" })]]), name),
    ).toBeUndefined();
    expect(readSupabaseAccessToken(new Map([[name, "null"]]), name)).toBeUndefined();
  });
});
