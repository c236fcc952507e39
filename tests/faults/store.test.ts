/**
 * The result store failing slowly: S3 (s3rver) behind a loopback proxy that holds every PUT for
 * 30 s. Status reads and `Prefer: wait=N` still answer within their bound while the copies hang
 * (asserted by order: the answer comes while a PUT is still held), every job settles exactly once
 * — stored, or on KIE's URL when the store gives up — the ledger balances, and every charged job
 * has an image its owner can load.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { generations } from "@/lib/db";
import { followImage, startTestS3, type TestS3 } from "../helpers/s3";
import {
  createTestDatabase,
  eventually,
  expectSettledAndBalanced,
  type Harness,
  json,
  pollUntilFinal,
  startHarness,
  TEST_DATABASE_URL,
  type TestDatabase,
} from "./faultKit";
import { startTcpProxy, type TcpProxy } from "./tcpProxy";

const PUT_DELAY_MS = 30_000;

describe.skipIf(!TEST_DATABASE_URL)(
  `faults: the result store${TEST_DATABASE_URL ? "" : " (needs TEST_DATABASE_URL)"}`,
  () => {
    let database: TestDatabase;
    let s3: TestS3;
    let proxy: TcpProxy;
    let h: Harness | undefined;
    beforeAll(async () => {
      database = await createTestDatabase("postgres");
    });
    afterAll(async () => {
      await database?.dispose();
    });
    beforeEach(async () => {
      await database.truncate();
      s3 = await startTestS3();
      const target = new URL(s3.endpoint);
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    });
    afterEach(async () => {
      await h?.close();
      h = undefined;
      await proxy.close();
      await s3.close();
    });

    it("S3 slow (30 s per put): reads answer within their bound, every job settles once, balanced, and its image loads", async () => {
      // No callbacks: the owner's own reads find each success and start its copy.
      h = await startHarness({
        database: database.database,
        env: { ...s3.env, S3_ENDPOINT: `http://127.0.0.1:${proxy.port}` },
      });
      const harness = h;
      const { token } = await harness.signIn();
      const taskIds: string[] = [];
      for (const prompt of ["a slow bucket", "another slow bucket"]) {
        const response = await harness.fetch("/api/generate", {
          token,
          ...json({ prompt }, { prefer: "respond-async" }),
        });
        expect(response.status).toBe(202);
        const { taskId } = (await response.json()) as { taskId: string };
        taskIds.push(taskId);
        await eventually(
          "the KIE task to finish",
          () => harness.sim.task(taskId)?.state,
          (state) => state === "success",
        );
      }
      proxy.delayOn(/^PUT /, PUT_DELAY_MS);

      // Each read finds its job's success and starts the copy, whose PUT is then held 30 s.
      const order: string[] = [];
      const answeredWhen = () => (proxy.held > 0 ? "answered while a PUT is held" : "answered, no PUT held");
      const read = await harness.fetch(`/api/generate/${taskIds[0]}`, { token });
      order.push(answeredWhen());
      expect(read.status).toBe(200);
      const waited = await harness.fetch(`/api/generate/${taskIds[1]}`, {
        token,
        headers: { prefer: "wait=2" },
      });
      order.push(answeredWhen());
      expect(waited.status).toBe(200);
      expect(waited.headers.get("preference-applied")).toBe("wait=2");
      expect(order).toEqual(["answered while a PUT is held", "answered while a PUT is held"]);

      // Both settle through their owner's polls. A PUT held 30 s outlasts the store's request
      // timeout, so a copy may give up after its retries and the job succeed on KIE's URL (copied
      // later), or land stored.
      await pollUntilFinal(harness, token, taskIds, 4_000);
      await expectSettledAndBalanced(database.database);
      for (const taskId of taskIds) {
        const body = (await (await harness.fetch(`/api/generate/${taskId}`, { token })).json()) as {
          status: string;
          creditsUsed: number;
          imageUrl?: string;
        };
        expect(body).toMatchObject({ status: "succeeded", creditsUsed: 1 });
        const url = new URL(body.imageUrl as string, "http://localhost");
        // With S3 the app redirects to the bucket (DESIGN.md §9): followed, as a browser would.
        const image = await followImage(await harness.fetch(url.pathname + url.search, { token }));
        expect(image.status).toBe(200);
        expect(image.headers.get("content-type")).toMatch(/^image\//);
        expect((await image.arrayBuffer()).byteLength).toBeGreaterThan(0);
      }
      const rows = await database.database.db.select({ status: generations.status }).from(generations);
      expect(rows.map((row) => row.status)).toEqual(["succeeded", "succeeded"]);
    }, 480_000);
  },
);
