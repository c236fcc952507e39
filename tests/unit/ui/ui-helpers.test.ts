import { describe, expect, it } from "vitest";
import { ApiProblem, readApi } from "@/lib/ui/api";
import { failedJobMessage, problemMessage } from "@/lib/ui/errors";
import { fitPixels, sniffImageType } from "@/lib/ui/files";
import { displayUrl, downloadName, ratioLabel } from "@/lib/ui/images";
import { lineLabel, typicalSeconds } from "@/lib/ui/jobs";
import { safeNextPath } from "@/lib/ui/next-path";
import { supabaseBrowserOptions } from "@/lib/ui/supabase";

describe("plain-words error messages (DESIGN.md §3 codes)", () => {
  it("insufficient credits names the cost and the balance, and says nothing was charged", () => {
    expect(problemMessage({ code: "insufficient_credits" }, { balance: 0, cost: 1 })).toBe(
      "Not enough credits: this image costs 1 credit and your balance is 0. You were not charged.",
    );
  });
  it("rate limited says how long to wait", () => {
    expect(problemMessage({ code: "rate_limited", retryAfterSeconds: 12 })).toContain("Wait 12 seconds");
  });
  it("a timeout says the job is still working and will appear in History", () => {
    expect(problemMessage({ code: "upstream_timeout" })).toContain("it will appear in History");
  });
  it("file too large names the limit; wrong type names the accepted types", () => {
    expect(problemMessage({ code: "file_too_large" }, { maxUploadMiB: 10 })).toContain("at most 10 MB");
    expect(problemMessage({ code: "unsupported_media_type" })).toContain("PNG, JPEG or WebP");
  });
  it("a refused generation keeps the model's reason, strips markup, and says not charged", () => {
    const message = failedJobMessage({
      status: "failed",
      error: {
        code: "generation_failed",
        message: 'The image could not be generated: {"x":1} <b>blocked</b>',
      },
    });
    expect(message).toBe(
      `The model refused or could not make this image: "x":1 blocked. You were not charged.`,
    );
    expect(message).not.toMatch(/[{}<>]/);
  });
  it("an unknown code never leaks the raw message", () => {
    expect(problemMessage({ code: "internal_error", message: "TypeError at line 3" })).not.toContain(
      "TypeError",
    );
  });
});

describe("API answers", () => {
  it("turns a §3 error into an ApiProblem with its code and Retry-After", async () => {
    const response = Response.json(
      { success: false, error: { code: "rate_limited", message: "slow down", retryAfterSeconds: 7 } },
      { status: 429 },
    );
    await expect(readApi(response)).rejects.toMatchObject({
      code: "rate_limited",
      retryAfterSeconds: 7,
      status: 429,
    });
  });
  it("an HTML error page is a problem, not a crash", async () => {
    const problem = (await readApi(new Response("<html>502</html>", { status: 502 })).catch(
      (e) => e,
    )) as ApiProblem;
    expect(problem).toBeInstanceOf(ApiProblem);
    expect(problem.code).toBe("http_502");
  });
});

describe("images", () => {
  const origin = "http://127.0.0.1:3000";
  it("shows same-origin URLs as they are and proxies foreign ones", () => {
    expect(displayUrl("/api/images/abc", origin)).toBe("/api/images/abc");
    expect(displayUrl(`${origin}/api/images/abc?variant=thumb`, origin)).toBe(
      "/api/images/abc?variant=thumb",
    );
    expect(displayUrl("https://tempfile.aiquickdraw.com/r/x.png", origin)).toBe(
      "/api/image-proxy?url=https%3A%2F%2Ftempfile.aiquickdraw.com%2Fr%2Fx.png",
    );
    expect(displayUrl("//evil.example/x.png", origin)).toMatch(/^\/api\/image-proxy\?url=/);
    // Our stored images under another spelling of our host (APP_URL): served by this app directly.
    expect(displayUrl("https://studio.example/api/images/abc?sig=1", origin)).toBe("/api/images/abc?sig=1");
  });
  it("names a download after the prompt", () => {
    expect(downloadName("A Banana, astronaut! [sim:delay=10]", "png")).toBe("a-banana-astronaut.png");
    expect(downloadName("Crème brûlée", "jpeg")).toBe("creme-brulee.jpg");
    expect(downloadName("!!!", undefined)).toBe("nano-banana.png");
  });
  it("names the ratio of a size", () => {
    const ratios = ["auto", "1:1", "16:9", "21:9", "3:2"];
    expect(ratioLabel(1344, 768, ratios)).toBe("16:9");
    expect(ratioLabel(1536, 672, ratios)).toBe("21:9");
    expect(ratioLabel(1000, 333, ratios)).toBe("1000:333");
  });
});

describe("files", () => {
  it("sniffs PNG, JPEG and WebP by magic bytes, nothing else", () => {
    expect(sniffImageType(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(
      "image/png",
    );
    expect(sniffImageType(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0]))).toBe("image/jpeg");
    expect(sniffImageType(new TextEncoder().encode("RIFF\0\0\0\0WEBPVP8 "))).toBe("image/webp");
    expect(sniffImageType(new TextEncoder().encode("GIF89a......"))).toBeUndefined();
    expect(sniffImageType(new TextEncoder().encode("RIFF\0\0\0\0WAVEfmt "))).toBeUndefined();
  });
  it("scales a 12 MP photo to about 2 MP, keeping its shape", () => {
    const [w, h] = fitPixels(4000, 3000);
    expect(w * h).toBeLessThanOrEqual(2_000_000);
    expect(w * h).toBeGreaterThan(1_990_000);
    expect(w / h).toBeCloseTo(4 / 3, 2);
    expect(fitPixels(1000, 1000)).toEqual([1000, 1000]);
  });
});

describe("after sign-in, only a path on this site", () => {
  it.each([
    ["/history", "/history"],
    ["/?edit=abc", "/?edit=abc"],
    ["//evil.example", "/"],
    ["/\\evil.example", "/"],
    ["https://evil.example", "/"],
    ["/sign-in?next=/", "/"],
    ["/\nx", "/"],
    [undefined, "/"],
    // A Location header takes ASCII only: non-ASCII is percent-encoded (issue 24: it was a 500).
    ["/\u3000/x", "/%E3%80%80/x"],
    ["/history?q=café#é", "/history?q=caf%C3%A9#%C3%A9"],
    // Dot segments are resolved first, so they cannot make a `//host` path.
    ["/x/..//evil.example", "/"],
    ["/./\\evil.example", "/"],
    ["/%2F%2Fevil.example", "/%2F%2Fevil.example"],
    ["/\u007f", "/"],
  ])("%s → %s", (input, expected) => {
    expect(safeNextPath(input)).toBe(expected);
  });

  it("always answers printable ASCII, whatever it is given", () => {
    for (const input of ["/\u3000/x", "/\ud83c\udf4c", "/a b", "/\u00e9?\u00e9=\u00e9", "/\ud800"]) {
      expect(safeNextPath(input), input).toMatch(/^\/[\x21-\x7e]*$/);
    }
  });
});

describe("typical duration", () => {
  it("estimates from the median of recent successful jobs", () => {
    const job = (seconds: number, status = "succeeded") => ({
      taskId: String(seconds),
      prompt: "p",
      status: status as "succeeded",
      createdAt: "2026-01-01T00:00:00.000Z",
      settledAt: new Date(Date.parse("2026-01-01T00:00:00.000Z") + seconds * 1000).toISOString(),
    });
    expect(typicalSeconds([job(10)])).toBeUndefined();
    expect(typicalSeconds([job(10), job(14), job(40), job(2, "failed")])).toBe(14);
  });
});

describe("Supabase's browser session cookie (issue 24)", () => {
  it("is written Secure on an https page, and as before on plain http (localhost)", () => {
    expect(supabaseBrowserOptions("https:").cookieOptions.secure).toBe(true);
    expect(supabaseBrowserOptions("http:").cookieOptions.secure).toBe(false);
    expect(supabaseBrowserOptions(undefined).cookieOptions.secure).toBe(false);
  });
});

describe("a job waiting in line (DESIGN.md §10)", () => {
  it('says its place and about how long: "In line: 3rd, about 8 s"', () => {
    expect(lineLabel(3, 8_000)).toBe("In line: 3rd, about 8 s");
    expect(lineLabel(1, 200)).toBe("In line: 1st, about 1 s");
    expect(lineLabel(2, 1_400)).toBe("In line: 2nd, about 1 s");
    expect(lineLabel(11, 5_500)).toBe("In line: 11th, about 6 s");
    expect(lineLabel(22, undefined)).toBe("In line: 22nd, about 1 s");
    expect(lineLabel(113, 56_500)).toBe("In line: 113th, about 57 s");
  });
});
