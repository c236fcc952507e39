import { describe, expect, it, vi } from "vitest";

/**
 * Next.js may load lib/security/errors.ts once per bundle: an error made by one copy (say, in the
 * generation code) must still get its own status from the error table loaded by another route.
 */
describe("lib/security errors in the HTTP error table", () => {
  it("maps every class to its public code, across separately loaded module copies", async () => {
    const first = await import("@/lib/security/errors");
    vi.resetModules();
    const { classifyError } = await import("@/lib/http/errors");
    const second = await import("@/lib/security/errors");
    expect(second.UnsafeUrlError).not.toBe(first.UnsafeUrlError);

    const cases: [Error, number, string][] = [
      [new first.FileTooLargeError(10 * 1024 * 1024, 11 * 1024 * 1024), 413, "file_too_large"],
      [
        new first.UnsupportedMediaTypeError("not_allowed", { detectedType: "image/gif" }),
        415,
        "unsupported_media_type",
      ],
      [new first.ImageTooManyPixelsError(50_000_000, 30_000, 30_000), 400, "invalid_request"],
      [new first.TooManyImagesError(6, 5), 400, "invalid_request"],
      [new first.InvalidDataUriError("bad_base64"), 400, "invalid_request"],
      [new first.UnsafeUrlError("host_not_allowed", "evil.example"), 400, "invalid_request"],
      [new first.ProxyUpstreamError("status", { status: 404 }), 502, "upstream_error"],
    ];
    for (const [error, status, code] of cases) {
      expect(error).toBeInstanceOf(second.SecurityError);
      expect(classifyError(error), error.name).toMatchObject({ status, code, message: error.message });
      expect((error as InstanceType<typeof first.SecurityError>).code).toBe(code);
    }
    expect(new first.UnsafeUrlError("malformed")).not.toBeInstanceOf(second.ProxyUpstreamError);
  });

  it("keeps operator detail out of the message the user sees", async () => {
    const { UnsafeUrlError, ProxyUpstreamError } = await import("@/lib/security/errors");
    const refused = new UnsafeUrlError("forbidden_address", "images.example resolved to 10.1.2.3");
    expect(refused.message).not.toContain("10.1.2.3");
    expect(refused.detail).toContain("10.1.2.3");
    const failed = new ProxyUpstreamError("bad_redirect", { detail: "gopher://internal" });
    expect(failed.message).not.toContain("internal");
  });
});
