/**
 * The KIE client and kie-sim were both written from kie-api.md; this suite runs one against the
 * other over real HTTP, so a disagreement about the contract shows up here.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KieClient } from "@/lib/kie";
import { type RunningKieSim, startKieSim } from "@/sim/server";
import { pollTask } from "@/tests/helpers/kiePoll";
import { makeKit } from "@/tests/unit/kie/kieTestKit";

const API_KEY = "sim-test-key";

async function fetchImage(url: string) {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  const bytes = Buffer.from(await response.arrayBuffer());
  return { contentType: response.headers.get("content-type"), bytes, meta: await sharp(bytes).metadata() };
}

describe("KieClient against kie-sim", () => {
  let sim: RunningKieSim;
  let client: KieClient;
  const fastPolling = { budgetMs: 20_000, intervalMs: 100 };

  beforeAll(async () => {
    sim = await startKieSim({
      apiKeys: [API_KEY],
      stepMs: 60,
      recordDelayMs: 40,
      imageScale: 0.25,
      logger: false,
    });
    // The kit's fake sleep: a retry's backoff takes no real time; the simulator's own steps do.
    client = makeKit({ server: sim.url, apiKey: API_KEY }).client;
  });

  afterAll(async () => {
    await client?.close();
    await sim?.close();
  });

  it("text-to-image reaches success and the result is an image of the requested aspect ratio", async () => {
    const { taskId, model } = await client.generateImage(
      { prompt: "a banana astronaut above the Earth", aspectRatio: "16:9", outputFormat: "png" },
      { requestId: "it-text" },
    );
    expect(model).toBe("google/nano-banana");
    const record = await pollTask(client, taskId, { requestId: "it-text", ...fastPolling });
    expect(record.state).toBe("success");
    expect(record.resultUrls).toHaveLength(1);
    const image = await fetchImage(record.resultUrls[0]!);
    expect(image.meta.format).toBe("png");
    expect(image.meta.width! / image.meta.height!).toBeCloseTo(16 / 9, 1);
  });

  it("edit: a file uploaded through the client becomes the task's input and a new image comes back", async () => {
    const input = await sharp({
      create: { width: 300, height: 400, channels: 3, background: { r: 20, g: 120, b: 220 } },
    })
      .png()
      .toBuffer();
    const uploaded = await client.uploadFile(
      { data: new Blob([new Uint8Array(input)], { type: "image/png" }), mimeType: "image/png" },
      { requestId: "it-edit" },
    );
    expect(uploaded.downloadUrl).toMatch(/^http/);
    const stored = await fetchImage(uploaded.downloadUrl);
    expect(stored.bytes.equals(input)).toBe(true);

    const { taskId, model } = await client.generateImage(
      {
        prompt: "make it a watercolor",
        images: [],
        imageUrls: [uploaded.downloadUrl],
        aspectRatio: "3:4",
        outputFormat: "jpeg",
      },
      { requestId: "it-edit" },
    );
    expect(model).toBe("google/nano-banana-edit");
    const record = await pollTask(client, taskId, { requestId: "it-edit", ...fastPolling });
    expect(record.state).toBe("success");
    expect(record.param).toMatchObject({ input: { image_urls: [uploaded.downloadUrl] } });
    const result = await fetchImage(record.resultUrls[0]!);
    expect(result.meta.format).toBe("jpeg");
    expect(result.meta.width! / result.meta.height!).toBeCloseTo(3 / 4, 1);
    expect(result.bytes.equals(input)).toBe(false);
  });

  it("a small in-memory file goes through the base64 endpoint and is served back intact", async () => {
    const tiny = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#ff0" } })
      .png()
      .toBuffer();
    const uploaded = await client.uploadFile(
      { data: new Uint8Array(tiny), mimeType: "image/png" },
      { requestId: "it-b64" },
    );
    expect((await fetchImage(uploaded.downloadUrl)).bytes.equals(tiny)).toBe(true);
    expect(sim.stats().calls.fileBase64Upload).toBeGreaterThan(0);
  });

  it("a task that KIE fails is read as failed, with KIE's message", async () => {
    const { taskId } = await client.generateImage(
      { prompt: "[sim:fail=content policy violation] something" },
      { requestId: "it-fail" },
    );
    const record = await pollTask(client, taskId, { requestId: "it-fail", ...fastPolling });
    expect(record.state).toBe("fail");
    expect(record.failMsg).toContain("content policy");
  });

  it("a never-finishing task is still running after several steps", async () => {
    const { taskId } = await client.generateImage(
      { prompt: "[sim:never] forever" },
      { requestId: "it-never" },
    );
    await new Promise((resolve) => setTimeout(resolve, 600));
    const record = await client.getTaskStatus(taskId, { requestId: "it-never" });
    expect(["pending", "waiting", "queuing", "generating"]).toContain(record.state);
  });
});
