/**
 * Uploaded edit inputs (issue 22 items 4 and 13): createTask never waits for our copy of the
 * inputs (a slow store stalls only that copy), and the request's upload spool under
 * DATA_DIR/spool/uploads lives exactly as long as someone reads it — removed after a success and
 * after a failure, never while the background copy still reads it — and what a crashed process
 * left there is swept at start-up and by the reconciler.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { generations } from "@/lib/db";
import { HOST_TAG, spoolDirOf } from "@/lib/storage";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { eventually, jobRow, ledgerOf } from "../jobs/jobKit";
import { generateMultipart, kieWork, pngImage } from "./generateKit";

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Holds every put of an edit input until opened: a store as slow as the test wants, never a fake one. */
function gateInputPuts(h: Harness): { open(): void } {
  const store = h.app.imageStore;
  const put = store.put.bind(store);
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  store.put = async (key, body, options) => {
    if (key.startsWith("inputs/")) await opened;
    return put(key, body, options);
  };
  return {
    open: () => {
      open();
      store.put = put;
    },
  };
}

function editForm(prompt: string, images: Buffer[]): FormData {
  const form = new FormData();
  form.set("prompt", prompt);
  for (const [index, image] of images.entries()) {
    form.append("images", new Blob([new Uint8Array(image)], { type: "image/png" }), `in-${index}.png`);
  }
  return form;
}

describeEachDatabase("upload spools and the edit inputs' copy", (getDb) => {
  let h: Harness;
  let images: Buffer[];
  const spools = () => readdirSync(spoolDirOf(h.app.config.dataDir, "uploads"));
  beforeAll(async () => {
    h = await startHarness({ database: getDb(), env: { RATE_LIMIT_PER_MINUTE: "1000" } });
    images = [
      await pngImage(40, 30, { r: 200, g: 10, b: 10 }),
      await pngImage(30, 40, { r: 10, g: 10, b: 200 }),
    ];
  });
  afterAll(() => h?.close());
  afterEach(() => h.sim.setFaults([]));

  /** The job's stored inputs match what was sent, in order (so the copy read whole files). */
  async function expectInputsStored(taskId: string): Promise<void> {
    const row = await eventually(
      "the edit's inputs to be stored",
      () => jobRow(getDb(), taskId),
      (job) => (job.inputImages?.length ?? 0) === images.length,
      { attempts: 200, intervalMs: 50 },
    );
    expect(row.inputImages?.map((input) => input.sha256)).toEqual(images.map(sha));
  }

  it("createTask does not wait for a stalled input copy; the spool stays until that copy is done", async () => {
    const { token } = await h.signIn();
    const before = kieWork(h);
    const gate = gateInputPuts(h);
    let answered: ReturnType<typeof generateMultipart> | undefined;
    try {
      answered = generateMultipart(h, editForm("edit while the store stalls", images), {
        token,
        prefer: "respond-async",
      });
      await eventually(
        "createTask to reach KIE while our store stalls",
        () => kieWork(h).createTask - before.createTask,
        (created) => created === 1,
        { attempts: 100, intervalMs: 50 },
      );
      const { status, body } = await answered;
      expect(status, JSON.stringify(body)).toBe(202);
      // Answered; the copy still holds the spooled files.
      expect(spools()).toHaveLength(1);
    } finally {
      gate.open();
      await answered;
    }
    const { body } = await answered;
    await expectInputsStored(body.taskId);
    await eventually("the spool to be removed", spools, (left) => left.length === 0);
  });

  it("after a failure the spool goes too, but only once the input copy has read every file", async () => {
    const { token, userId } = await h.signIn();
    h.sim.setFaults("createTask:http=500;times=1");
    const gate = gateInputPuts(h);
    try {
      const { status, body } = await generateMultipart(h, editForm("edit that KIE refuses", images), {
        token,
      });
      expect(status, JSON.stringify(body)).toBe(502);
      expect(spools()).toHaveLength(1); // the request is over; its input copy is not
    } finally {
      gate.open();
    }
    const [row] = await getDb().db.select().from(generations).where(eq(generations.userId, userId));
    expect(row?.status).toBe("failed");
    expect(await ledgerOf(getDb(), row!.id)).toEqual({ reserve: 1, release: 1 });
    await expectInputsStored(row!.id);
    await eventually("the spool to be removed", spools, (left) => left.length === 0);
  });

  it("after a success with nothing held back, no spool is left", async () => {
    const { token } = await h.signIn();
    const { status, body } = await generateMultipart(h, editForm("a plain edit", images), {
      token,
      prefer: "wait",
    });
    expect(status, JSON.stringify(body)).toBe(200);
    await expectInputsStored(body.taskId);
    await eventually("the spool to be removed", spools, (left) => left.length === 0);
  });

  it("the reconciler's sweep removes spools of dead processes here and old ones of any host", async () => {
    const dir = spoolDirOf(h.app.config.dataDir, "uploads");
    const crashed = leaveSpool(dir, HOST_TAG, 99999999); // a pid far above pid_max: gone
    const elsewhere = leaveSpool(dir, `other-${HOST_TAG}`, 99999999); // live, for all we know
    const old = leaveSpool(dir, `other-${HOST_TAG}`, 12);
    const then = new Date(Date.now() - 2 * 3600_000);
    utimesSync(old, then, then);
    await h.app.resultImages.sweepOrphans({ graceMs: 0 });
    expect(existsSync(crashed)).toBe(false);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(elsewhere)).toBe(true);
    rmSync(elsewhere, { recursive: true });
  });
});

describeEachDatabase("upload spools at start-up", (getDb) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "nb-spool-start-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("a spool a crashed process left is removed when the app starts", async () => {
    const crashed = leaveSpool(spoolDirOf(dataDir, "uploads"), HOST_TAG, 99999999);
    const h = await startHarness({ database: getDb(), env: { DATA_DIR: dataDir } });
    try {
      expect(existsSync(crashed)).toBe(false);
    } finally {
      await h.close();
    }
  });
});

/** A request's spool folder as a process killed mid-request leaves it: one part file inside. */
function leaveSpool(dir: string, host: string, pid: number): string {
  const folder = path.join(dir, `${host}-${pid}-${randomBytes(8).toString("hex")}`);
  mkdirSync(folder, { recursive: true });
  writeFileSync(path.join(folder, "part-0"), randomBytes(100));
  return folder;
}
