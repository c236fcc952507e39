import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningKieSim } from "@/sim/server";
import {
  call,
  createTask,
  fetchImage,
  meanAbsoluteDifference,
  pollUntilFinal,
  resultUrlOf,
  sampleImage,
  startFileHost,
  startTestSim,
  textTask,
} from "./simTestKit";

let sim: RunningKieSim;
let host: Awaited<ReturnType<typeof startFileHost>>;
let input: Buffer;

beforeAll(async () => {
  input = await sampleImage(300, 200, "png");
  host = await startFileHost({
    "/photo.png": { body: input, type: "image/png" },
    "/photo.webp": { body: await sampleImage(120, 120, "webp"), type: "image/webp" },
    "/notes.txt": { body: "just some text, not an image", type: "text/plain" },
  });
  // The file host stands in for "some other host" on the internet; it lives on loopback here.
  sim = await startTestSim({ trustedFetchOrigins: [host.url] });
});
afterAll(async () => {
  await sim.close();
  await host.close();
});

async function streamUpload(bytes: Buffer, fields: Record<string, string>, fileName = "input.png") {
  const form = new FormData();
  form.append("file", new Blob([new Uint8Array(bytes)], { type: "image/png" }), fileName);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return call(sim, "/api/file-stream-upload", { body: form });
}

const uploaders = {
  "file-stream-upload": () => streamUpload(input, { uploadPath: "images/user-uploads" }),
  "file-base64-upload": () =>
    call(sim, "/api/file-base64-upload", {
      body: {
        base64Data: `data:image/png;base64,${input.toString("base64")}`,
        uploadPath: "images/user-uploads",
      },
    }),
  "file-url-upload": () =>
    call(sim, "/api/file-url-upload", {
      body: { fileUrl: `${host.url}/photo.png`, uploadPath: "images/user-uploads" },
    }),
};

describe.each(Object.keys(uploaders) as (keyof typeof uploaders)[])("%s", (endpoint) => {
  it("answers like KIE and serves the stored bytes at data.downloadUrl", async () => {
    const answer = await uploaders[endpoint]();
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      success: true,
      code: 200,
      msg: "File uploaded successfully",
      data: {
        fileName: expect.stringMatching(/^[0-9a-f]{16}\.png$/),
        filePath: expect.stringMatching(/^images\/user-uploads\/[0-9a-f]{16}\.png$/),
        downloadUrl: expect.stringMatching(
          /^http:\/\/127\.0\.0\.1:\d+\/files\/images\/user-uploads\/[0-9a-f]{16}\.png$/,
        ),
        fileSize: input.length,
        mimeType: "image/png",
        uploadedAt: expect.any(String),
      },
    });
    expect(new Date(answer.json.data.uploadedAt).toISOString()).toBe(answer.json.data.uploadedAt);
    const served = await fetch(answer.json.data.downloadUrl);
    expect(served.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await served.arrayBuffer()).equals(input)).toBe(true);
  });

  it("feeds an edit that succeeds with the requested ratio and visibly changes the input", async () => {
    const uploaded = await uploaders[endpoint]();
    const taskId = await createTask(sim, {
      model: "google/nano-banana-edit",
      input: { prompt: "make it pop", image_urls: [uploaded.json.data.downloadUrl], aspect_ratio: "4:3" },
    });
    const { final } = await pollUntilFinal(sim, taskId);
    expect(final.state).toBe("success");
    const output = await fetchImage(resultUrlOf(final));
    expect([output.meta.width, output.meta.height]).toEqual([1184 / 8, 864 / 8]);
    expect(await meanAbsoluteDifference(output.bytes, input)).toBeGreaterThan(25);
  });
});

describe("uploads", () => {
  it("keeps a given fileName (reusing it overwrites the file)", async () => {
    const first = await streamUpload(input, { uploadPath: "keep", fileName: "same.png" });
    const other = await sampleImage(50, 50);
    const second = await streamUpload(other, { uploadPath: "keep", fileName: "same.png" });
    expect(first.json.data.filePath).toBe("keep/same.png");
    expect(second.json.data.downloadUrl).toBe(first.json.data.downloadUrl);
    const served = Buffer.from(await (await fetch(first.json.data.downloadUrl)).arrayBuffer());
    expect(served.equals(other)).toBe(true);
  });

  it("accepts bare base64 without a data: prefix and sniffs the type", async () => {
    const answer = await call(sim, "/api/file-base64-upload", {
      body: { base64Data: input.toString("base64"), uploadPath: "raw", fileName: "x.bin" },
    });
    expect(answer.json.data).toMatchObject({
      fileName: "x.bin",
      mimeType: "image/png",
      fileSize: input.length,
    });
  });

  it.each([
    [
      "stream without file",
      () => call(sim, "/api/file-stream-upload", { body: formWith({ uploadPath: "a" }) }),
      "file",
    ],
    ["stream without uploadPath", () => streamUpload(input, {}), "uploadPath"],
    [
      "stream with a path escaping its folder",
      () => streamUpload(input, { uploadPath: "../etc" }),
      "uploadPath",
    ],
    [
      "stream with a slash in fileName",
      () => streamUpload(input, { uploadPath: "a", fileName: "b/c.png" }),
      "fileName",
    ],
    [
      "stream that is not multipart",
      () => call(sim, "/api/file-stream-upload", { body: { uploadPath: "a" } }),
      "multipart",
    ],
    [
      "base64 without base64Data",
      () => call(sim, "/api/file-base64-upload", { body: { uploadPath: "a" } }),
      "base64Data",
    ],
    [
      "base64 that is not base64",
      () =>
        call(sim, "/api/file-base64-upload", {
          body: { base64Data: "data:image/png;base64,@@@", uploadPath: "a" },
        }),
      "base64Data",
    ],
    [
      "url without fileUrl",
      () => call(sim, "/api/file-url-upload", { body: { uploadPath: "a" } }),
      "fileUrl",
    ],
    [
      "url with a non-http fileUrl",
      () => call(sim, "/api/file-url-upload", { body: { fileUrl: "file:///etc/passwd", uploadPath: "a" } }),
      "fileUrl",
    ],
    [
      "url whose source answers 404",
      () =>
        call(sim, "/api/file-url-upload", { body: { fileUrl: `${host.url}/missing.png`, uploadPath: "a" } }),
      "404",
    ],
  ])("%s → success: false, code 400 naming the problem", async (_name, send, field) => {
    const answer = await send();
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ success: false, code: 400, data: null });
    expect(answer.json.msg).toContain(field);
  });

  it("refuses a file over maxUploadBytes", async () => {
    const tiny = await startTestSim({ maxUploadBytes: 1000 });
    try {
      const answer = await call(tiny, "/api/file-base64-upload", {
        body: { base64Data: Buffer.alloc(2000, 1).toString("base64"), uploadPath: "a" },
      });
      expect(answer.json).toMatchObject({ success: false, code: 400, msg: expect.stringContaining("1000") });
    } finally {
      await tiny.close();
    }
  });

  it("drops the oldest stored files beyond maxStoredBytes (their URLs answer 404)", async () => {
    const small = await startTestSim({ maxStoredBytes: input.length * 2 + 10 });
    try {
      const urls: string[] = [];
      for (let i = 0; i < 3; i++) {
        const answer = await call(small, "/api/file-base64-upload", {
          body: { base64Data: input.toString("base64"), uploadPath: "many" },
        });
        urls.push(answer.json.data.downloadUrl);
      }
      expect((await fetch(urls[0]!)).status).toBe(404);
      expect((await fetch(urls[2]!)).status).toBe(200);
    } finally {
      await small.close();
    }
  });
});

function formWith(fields: Record<string, string>): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return form;
}

describe("edit inputs", () => {
  it("fetches image_urls from another host, composes several inputs and uses the first one's ratio for auto", async () => {
    const taskId = await createTask(sim, {
      model: "google/nano-banana-edit",
      input: {
        prompt: "collage",
        image_urls: [`${host.url}/photo.png`, `${host.url}/photo.webp`],
        aspect_ratio: "auto",
      },
    });
    const { final } = await pollUntilFinal(sim, taskId);
    expect(final.state).toBe("success");
    const output = await fetchImage(resultUrlOf(final));
    expect(output.meta.width! / output.meta.height!).toBeCloseTo(300 / 200, 1);
  });

  it("accepts image_input on nano-banana-pro as an edit", async () => {
    const taskId = await createTask(sim, {
      model: "nano-banana-pro",
      input: {
        prompt: "pro edit",
        image_input: [`${host.url}/photo.png`],
        aspect_ratio: "1:1",
        output_format: "jpg",
      },
    });
    const { final } = await pollUntilFinal(sim, taskId);
    const output = await fetchImage(resultUrlOf(final));
    expect(output.meta.format).toBe("jpeg");
    expect(output.meta.width).toBe(output.meta.height);
    expect(await meanAbsoluteDifference(output.bytes, input)).toBeGreaterThan(25);
  });

  it.each([
    ["an input that is not an image", "/notes.txt", "input.image_urls[0]"],
    ["an input that answers 404", "/missing.png", "HTTP 404"],
  ])("ends the task as fail for %s, with a failMsg", async (_name, path, message) => {
    const taskId = await createTask(sim, {
      model: "google/nano-banana-edit",
      input: { prompt: "broken", image_urls: [`${host.url}${path}`] },
    });
    const { final } = await pollUntilFinal(sim, taskId);
    expect(final).toMatchObject({ state: "fail", resultJson: "", failCode: expect.any(String) });
    expect(final.failCode).not.toBe("");
    expect(final.failMsg).toContain(message);
  });

  it("ends the task as fail when one of its own upload URLs is gone", async () => {
    const taskId = await createTask(sim, {
      model: "google/nano-banana-edit",
      input: { prompt: "gone", image_urls: [`${sim.url}/files/nowhere/missing.png`] },
    });
    const { final } = await pollUntilFinal(sim, taskId);
    expect(final.state).toBe("fail");
    expect(final.failMsg).toContain("404");
  });

  it("draws edits deterministically: same prompt and inputs give the same bytes", async () => {
    const make = async () => {
      const taskId = await createTask(sim, {
        model: "google/nano-banana-edit",
        input: { prompt: "repeatable", image_urls: [`${host.url}/photo.png`], aspect_ratio: "1:1" },
      });
      return (await fetchImage(resultUrlOf((await pollUntilFinal(sim, taskId)).final))).bytes;
    };
    const [a, b] = await Promise.all([make(), make()]);
    expect(a.equals(b)).toBe(true);
  });
});

describe("download-url", () => {
  it("gives a fresh link for a result URL, which serves the same image", async () => {
    const { final } = await pollUntilFinal(sim, await createTask(sim, textTask("download me")));
    const resultUrl = resultUrlOf(final);
    const answer = await call(sim, "/api/v1/common/download-url", { body: { url: resultUrl } });
    expect(answer.json).toMatchObject({
      code: 200,
      msg: "success",
      data: expect.stringContaining(resultUrl),
    });
    const expires = Number(new URL(answer.json.data).searchParams.get("expires"));
    expect(expires).toBeGreaterThan(Date.now() + 19 * 60_000);
    const [direct, fresh] = await Promise.all([fetchImage(resultUrl), fetchImage(answer.json.data)]);
    expect(fresh.bytes.equals(direct.bytes)).toBe(true);
  });

  it("refuses with 422 a URL the simulator did not make", async () => {
    const answer = await call(sim, "/api/v1/common/download-url", { body: { url: `${host.url}/photo.png` } });
    expect(answer.json.code).toBe(422);
  });

  it("answers 403 for an expired link", async () => {
    const { final } = await pollUntilFinal(sim, await createTask(sim, textTask("expired")));
    expect((await fetch(`${resultUrlOf(final)}?expires=1000`)).status).toBe(403);
  });
});

describe("publicUrl", () => {
  it("builds file and result URLs on the public base and still reads its own files for edits", async () => {
    const proxied = await startTestSim({ publicUrl: "http://kie-sim.example.test:9999/" });
    try {
      const uploaded = await call(proxied, "/api/file-base64-upload", {
        body: { base64Data: input.toString("base64"), uploadPath: "p" },
      });
      expect(uploaded.json.data.downloadUrl).toMatch(/^http:\/\/kie-sim\.example\.test:9999\/files\/p\//);
      const taskId = await createTask(proxied, {
        model: "google/nano-banana-edit",
        input: { prompt: "via public url", image_urls: [uploaded.json.data.downloadUrl] },
      });
      const { final } = await pollUntilFinal(proxied, taskId);
      expect(final.state).toBe("success");
      const resultUrl = resultUrlOf(final);
      expect(resultUrl.startsWith("http://kie-sim.example.test:9999/results/")).toBe(true);
      const local = resultUrl.replace("http://kie-sim.example.test:9999", proxied.url);
      expect((await sharp(Buffer.from(await (await fetch(local)).arrayBuffer())).metadata()).format).toBe(
        "png",
      );
    } finally {
      await proxied.close();
    }
  });
});
