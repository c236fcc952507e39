/**
 * lib/auth/verifiers.ts and supabaseUrl.ts on their own: jose's errors as the caller sees them, the
 * operator's detail of a key-fetch failure, and the project URL's rules.
 */
import { errors } from "jose";
import { describe, expect, it } from "vitest";
import { AuthProviderUnavailableError, UnauthorizedError } from "@/lib/auth";
import { checkedSupabaseUrl, supabaseUrlProblem } from "@/lib/auth/supabaseUrl";
import { describeFetchFailure, toAuthError } from "@/lib/auth/verifiers";

const refusalOf = (error: unknown) => {
  const mapped = toAuthError(error);
  expect(mapped).toBeInstanceOf(UnauthorizedError);
  return mapped as UnauthorizedError;
};

describe("toAuthError: jose's verdicts → 401 reasons; anything else is not a verdict", () => {
  it("maps each kind of jose refusal to its reason", () => {
    expect(refusalOf(new errors.JWTExpired("expired", {})).reason).toBe("token_expired");
    expect(refusalOf(new errors.JWSInvalid("bad")).reason).toBe("malformed_token");
    expect(refusalOf(new errors.JOSEAlgNotAllowed("alg")).reason).toBe("unsupported_algorithm");
    expect(refusalOf(new errors.JOSENotSupported("crit")).reason).toBe("unsupported_algorithm");
    const noKey = refusalOf(new errors.JWKSNoMatchingKey());
    expect([noKey.reason, noKey.hint]).toEqual([
      "invalid_token",
      "no key in the JWKS matches the token's kid/alg",
    ]);
    const claim = refusalOf(new errors.JWTClaimValidationFailed("aud", {}, "aud", "check_failed"));
    expect([claim.reason, claim.hint]).toEqual(["invalid_token", "ERR_JWT_CLAIM_VALIDATION_FAILED"]);
  });

  it("passes our own errors through, and never turns a bug into a 401", () => {
    const unavailable = new AuthProviderUnavailableError("timeout");
    expect(toAuthError(unavailable)).toBe(unavailable);
    const bug = new TypeError("cannot read properties of undefined");
    expect(toAuthError(bug)).toBe(bug);
    const thrown = toAuthError("a string");
    expect(thrown).toBeInstanceOf(Error);
    expect(thrown).not.toBeInstanceOf(UnauthorizedError);
    expect(thrown.message).toBe("a string");
  });
});

describe("describeFetchFailure: what the operator's log says about the keys", () => {
  it("names the class and message, and the cause's message when there is one", () => {
    expect(describeFetchFailure(new TypeError("fetch failed", { cause: new Error("ECONNREFUSED") }))).toBe(
      "TypeError: fetch failed (ECONNREFUSED)",
    );
    expect(describeFetchFailure(new Error("down", { cause: "not an error" }))).toBe("Error: down");
    expect(describeFetchFailure("plain text")).toBe("plain text");
  });
});

describe("the Supabase project URL", () => {
  it("takes https anywhere and http only on this machine", () => {
    expect(supabaseUrlProblem("https://abc.supabase.co")).toBeUndefined();
    for (const local of ["http://localhost:54321", "http://127.0.0.1:54321", "http://[::1]:54321"]) {
      expect(supabaseUrlProblem(local)).toBeUndefined();
    }
    expect(supabaseUrlProblem("http://abc.supabase.co")).toBe(
      "must be https (plain http only for localhost)",
    );
    expect(supabaseUrlProblem("ftp://localhost")).toBe("must be https (plain http only for localhost)");
    expect(supabaseUrlProblem("not a url")).toBe("is not a URL");
  });

  it("is used without its trailing slashes, and refused with the reason", () => {
    expect(checkedSupabaseUrl("https://abc.supabase.co///")).toBe("https://abc.supabase.co");
    expect(() => checkedSupabaseUrl("http://abc.supabase.co")).toThrow(
      "supabaseUrl must be https (plain http only for localhost).",
    );
  });
});
