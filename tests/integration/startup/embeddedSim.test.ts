/**
 * The simulator the server starts itself when KIE_API_KEY is unset (issue 24, item 11). Its
 * `/__sim/` control API has no auth and answers any Host, so on loopback it is a DNS-rebinding
 * target: a page the operator opens could list every user's prompts, zero the KIE balance or
 * inject faults. Nothing in the app uses that API, so the embedded simulator does not serve it.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "@/config";
import { type App, createApp } from "@/lib/app";

describe("the embedded KIE simulator", () => {
  let dataDir: string;
  let app: App;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "nb-embedded-sim-"));
    app = await createApp(loadConfig({ DATA_DIR: path.join(dataDir, "data"), LOG_LEVEL: "silent" }));
  }, 180_000); // a PGlite on disk takes seconds to create, much longer on a loaded machine

  afterAll(async () => {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("serves no /__sim/ control route, whatever the Host (a rebinding page's name included)", async () => {
    const origin = app.imageProxy.trustedOrigin;
    expect(origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    for (const [method, route] of [
      ["GET", "/__sim/tasks"],
      ["GET", "/__sim/health"],
      ["PUT", "/__sim/credits"],
      ["POST", "/__sim/reset"],
    ] as const) {
      const response = await fetch(`${origin}${route}`, {
        method,
        headers: { "content-type": "application/json" },
        body: method === "GET" ? undefined : JSON.stringify({ credits: 0 }),
      });
      expect(response.status, `${method} ${route}`).toBe(404);
      await response.body?.cancel();
    }
  });
});
