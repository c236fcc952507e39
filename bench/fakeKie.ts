/**
 * A fake KIE for benchmarks: answers at once, draws nothing, and counts. kie-sim draws real
 * images (sharp), which would take the CPU the server under test needs; this one keeps KIE's own
 * cost near zero so that what is measured is the gateway. A task's duration is written into its
 * prompt as `[bench:ms=<n>]` (default 0); when it ends, the fake posts the callback (if any).
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import sharp from "sharp";

interface Task {
  id: string;
  model: string;
  createdAt: number;
  doneAt: number;
  callBackUrl?: string;
  param: string;
  /** recordInfo reads of this task, with their times. */
  reads: number[];
  /** Time KIE itself spent answering this task's calls (ms). */
  ownMs: number;
}

export interface FakeKie {
  url: string;
  task(id: string): Task | undefined;
  tasks(): Task[];
  /** recordInfo answers, all tasks. */
  reads(): number;
  uploads(): { count: number; bytes: number };
  reset(): void;
  close(): Promise<void>;
}

export async function startFakeKie(): Promise<FakeKie> {
  // Every result is the same small, real image (result storage may decode it).
  const image = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#e8c547" } })
    .png()
    .toBuffer();
  const tasks = new Map<string, Task>();
  let uploads = { count: 0, bytes: 0 };
  let reads = 0;
  let url = "";

  const record = (task: Task, now: number) => {
    const done = now >= task.doneAt;
    return {
      taskId: task.id,
      model: task.model,
      state: done ? "success" : "generating",
      param: task.param,
      resultJson: done ? JSON.stringify({ resultUrls: [`${url}/results/${task.id}.png`] }) : "",
      failCode: "",
      failMsg: "",
      costTime: done ? task.doneAt - task.createdAt : null,
      completeTime: done ? task.doneAt : null,
      createTime: task.createdAt,
      updateTime: now,
    };
  };

  const sendCallback = (task: Task) => {
    if (!task.callBackUrl) return;
    const body = JSON.stringify({
      code: 200,
      msg: "Playground task completed successfully.",
      data: record(task, Date.now()),
    });
    fetch(task.callBackUrl, { method: "POST", headers: { "content-type": "application/json" }, body })
      .then((r) => r.arrayBuffer())
      .catch(() => {});
  };

  const json = (res: ServerResponse, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    let size = 0;
    const chunks: Buffer[] = [];
    const keep = path === "/api/v1/jobs/createTask";
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (keep) chunks.push(chunk as Buffer);
    }
    if (path === "/api/v1/jobs/createTask") {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      const prompt: string = body.input?.prompt ?? "";
      const ms = Number(/\[bench:ms=(\d+)\]/.exec(prompt)?.[1] ?? 0);
      const now = Date.now();
      const task: Task = {
        id: randomBytes(16).toString("hex"),
        model: body.model,
        createdAt: now,
        doneAt: now + ms,
        callBackUrl: body.callBackUrl,
        param: JSON.stringify(body),
        reads: [],
        ownMs: 0,
      };
      tasks.set(task.id, task);
      setTimeout(() => sendCallback(task), ms).unref();
      json(res, { code: 200, msg: "success", data: { taskId: task.id } });
      task.ownMs += performance.now() - started;
      return;
    }
    if (path === "/api/v1/jobs/recordInfo") {
      const id = new URL(req.url ?? "", "http://x").searchParams.get("taskId") ?? "";
      const task = tasks.get(id);
      reads++;
      if (!task) return json(res, { code: 404, msg: `Task not found: ${id}`, data: null });
      const now = Date.now();
      task.reads.push(now);
      json(res, { code: 200, msg: "success", data: record(task, now) });
      task.ownMs += performance.now() - started;
      return;
    }
    if (path.startsWith("/api/file-")) {
      uploads = { count: uploads.count + 1, bytes: uploads.bytes + size };
      const name = `${randomBytes(8).toString("hex")}.png`;
      return json(res, {
        success: true,
        code: 200,
        msg: "File uploaded successfully",
        data: {
          fileName: name,
          filePath: `bench/${name}`,
          downloadUrl: `${url}/files/bench/${name}`,
          fileSize: size,
          mimeType: "image/png",
          uploadedAt: new Date().toISOString(),
        },
      });
    }
    if (path.startsWith("/results/") || path.startsWith("/files/")) {
      res.writeHead(200, { "content-type": "image/png", "content-length": image.length });
      res.end(image);
      return;
    }
    if (path === "/api/v1/chat/credit") return json(res, { code: 200, msg: "success", data: 1_000_000 });
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ code: 404, msg: "not found", data: null }));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  return {
    url,
    task: (id) => tasks.get(id),
    tasks: () => [...tasks.values()],
    reads: () => reads,
    uploads: () => uploads,
    reset: () => {
      tasks.clear();
      reads = 0;
      uploads = { count: 0, bytes: 0 };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
