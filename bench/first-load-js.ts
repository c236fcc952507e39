/**
 * First-load JS of a bare Next.js page (docs/BENCHMARKS.md, "Web UI"): builds a one-page App
 * Router app with one client component from this repository's node_modules, serves it, and sums
 * the gzip sizes of the scripts its HTML references — the same measure the browser suite applies
 * to `/` (tests/browser/quality.spec.ts). Usage: `npx tsx bench/first-load-js.ts [url]`; with a
 * URL it measures that page instead (e.g. a running studio, signed out: the sign-in page).
 */
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { gzipSync } from "node:zlib";

const root = path.resolve(import.meta.dirname, "..");

export async function firstLoadGzipBytes(
  pageUrl: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const html = await (await fetch(pageUrl, { headers })).text();
  const sources = [...html.matchAll(/<script[^>]+src="([^"]+)"/g)].map((match) => match[1]!);
  let total = 0;
  for (const src of sources) {
    const body = Buffer.from(await (await fetch(new URL(src, pageUrl))).arrayBuffer());
    total += gzipSync(body, { level: 9 }).length;
  }
  return total;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

function run(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, "node_modules/next/dist/bin/next"), ...args], {
      cwd,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
      stdio: "inherit",
    });
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`next ${args[0]} exited ${code}`)),
    );
  });
}

async function bareNext(): Promise<number> {
  // Inside the repository so Turbopack resolves `next` from its node_modules.
  const dir = path.join(root, ".bench-bare-next");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, "app"), { recursive: true });
  writeFileSync(path.join(dir, "package.json"), '{ "name": "bare", "private": true, "type": "module" }\n');
  writeFileSync(
    path.join(dir, "next.config.mjs"),
    `export default { turbopack: { root: ${JSON.stringify(root)} } };\n`,
  );
  writeFileSync(
    path.join(dir, "app/layout.js"),
    'export default function L({ children }) { return <html lang="en"><body>{children}</body></html>; }\n',
  );
  writeFileSync(
    path.join(dir, "app/page.js"),
    '"use client";\nimport { useState } from "react";\nexport default function P() { const [n, setN] = useState(0); return <button type="button" onClick={() => setN(n + 1)}>{n}</button>; }\n',
  );
  try {
    await run(["build"], dir);
    const port = await freePort();
    const server = spawn(
      process.execPath,
      [path.join(root, "node_modules/next/dist/bin/next"), "start", "--port", String(port)],
      { cwd: dir, env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" }, stdio: "ignore" },
    );
    try {
      for (let i = 0; i < 120; i++) {
        try {
          if ((await fetch(`http://127.0.0.1:${port}/`)).ok) break;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
      return await firstLoadGzipBytes(`http://127.0.0.1:${port}/`);
    } finally {
      server.kill("SIGTERM");
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.filename === path.resolve(process.argv[1])) {
  const url = process.argv[2];
  const bytes = url ? await firstLoadGzipBytes(url) : await bareNext();
  console.log(`${url ?? "bare Next page"}: ${(bytes / 1024).toFixed(1)} KiB gzip first-load JS`);
}
